from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "clientarea.reports"
    label = "reports"
    verbose_name = _("Reports")

    def ready(self) -> None:
        from clientarea.reports import tasks  # noqa: F401 - registers the export job
