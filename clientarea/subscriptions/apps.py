from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubscriptionsConfig(AppConfig):
    name = "clientarea.subscriptions"
    label = "subscriptions"
    verbose_name = _("Customer services")

    def ready(self) -> None:
        # Imported here: models can be imported only once the app registry is ready.
        from clientarea.notifications.services import register_context_builder
        from clientarea.subscriptions.services import plan_changed_email_context

        # The "plan changed" email is recorded where the change is applied (the paid transaction
        # of an upgrade) and rendered by the worker when it is delivered.
        register_context_builder("plan_changed", plan_changed_email_context)
