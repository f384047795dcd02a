from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "clientarea.billing"
    label = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        # Imported here: models can be imported only once the app registry is ready.
        from clientarea.billing.credit_notes import credit_note_email_context
        from clientarea.billing.debit_notes import debit_note_email_context, follow_note_state
        from clientarea.billing.ledger import (
            credit_added_email_context,
            orders_paid_email_context,
            payment_partial_email_context,
        )
        from clientarea.billing.services import order_paid_email_context
        from clientarea.einvoice.services import add_note_email_source, add_note_state_listener
        from clientarea.notifications.services import register_context_builder

        # The debit note's email says what its order still owes: billing feeds einvoice, below it.
        add_note_email_source(debit_note_email_context)
        # Its order is payable only while DIAN has validated the note (or is in contingency).
        add_note_state_listener(follow_note_state)
        # ...and a staff credit note's email, that its total was added to the customer's credit.
        add_note_email_source(credit_note_email_context)
        # The "payment received" email is recorded in the paid transaction with the order's id
        # and rendered by the worker when it is delivered.
        register_context_builder("order_paid", order_paid_email_context)
        # So are the payment's own emails (billing.ledger), with the amounts of that moment.
        register_context_builder("orders_paid", orders_paid_email_context)
        register_context_builder("payment_partial", payment_partial_email_context)
        register_context_builder("credit_added", credit_added_email_context)
