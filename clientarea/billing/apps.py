from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "clientarea.billing"
    label = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        # Imported here: models can be imported only once the app registry is ready.
        from clientarea.billing.debit_notes import debit_note_email_context
        from clientarea.einvoice.services import add_note_email_source

        # The debit note's email says what its order still owes: billing feeds einvoice, below it.
        add_note_email_source(debit_note_email_context)
