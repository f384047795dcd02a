from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "clientarea.payments"
    label = "payments"
    verbose_name = _("Payments")

    def ready(self) -> None:
        from clientarea.payments import (  # noqa: F401 - registers the system checks and the jobs
            checks,
            tasks,
        )
