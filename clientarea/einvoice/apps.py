from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EinvoiceConfig(AppConfig):
    name = "clientarea.einvoice"
    label = "einvoice"
    verbose_name = _("Electronic invoices")

    def ready(self) -> None:
        from clientarea.einvoice import checks  # noqa: F401 - registers the system checks
        from clientarea.einvoice.services import invoice_waiting_email_context
        from clientarea.notifications.services import register_context_builder

        # The staff alert of an invoice that waits is written in the paid transaction and
        # rendered by the worker when it is delivered.
        register_context_builder("staff_invoice_waiting", invoice_waiting_email_context)
