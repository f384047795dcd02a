from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WithholdingsConfig(AppConfig):
    name = "clientarea.withholdings"
    label = "withholdings"
    verbose_name = _("Withholdings")

    def ready(self) -> None:
        from clientarea.withholdings import checks  # noqa: F401 - registers the system checks
