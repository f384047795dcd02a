from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpsConfig(AppConfig):
    """Production operations: backups, health checks, metrics, request ids in logs.

    At the top of the app layers: it reads every app's data, and nothing imports it.
    """

    name = "clientarea.ops"
    label = "ops"
    verbose_name = _("Operations")

    def ready(self) -> None:
        from django.conf import settings

        from clientarea.ops import request_id, sentry, worker

        request_id.connect_task_queue()
        worker.connect_task_queue()
        if settings.SENTRY_DSN:
            sentry.init_sentry(dsn=settings.SENTRY_DSN)
