from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "clientarea.payments"
    label = "payments"
    verbose_name = _("Payments")

    def ready(self) -> None:
        from clientarea.notifications.services import register_context_builder
        from clientarea.payments import (  # noqa: F401 - registers the system checks and the jobs
            checks,
            tasks,
        )
        from clientarea.payments.services.notes import payment_review_email_context

        # The staff alert of a payment that needs a person is recorded where the payment is
        # flagged (often the paid transaction) and rendered by the worker when it is delivered.
        register_context_builder("payment_review", payment_review_email_context)
