from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EinvoiceConfig(AppConfig):
    name = "clientarea.einvoice"
    label = "einvoice"
    verbose_name = _("Electronic invoices")

    def ready(self) -> None:
        from clientarea.einvoice import checks  # noqa: F401 - registers the system checks
