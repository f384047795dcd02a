"""Worker tasks of provisioning: the per-event job (``jobs.py``) and the outbox sweep."""

from django.utils.translation import gettext_lazy as _
from huey import crontab

from clientarea.lib.periodic import periodic_task
from clientarea.subscriptions import provisioning
from clientarea.subscriptions.jobs import deliver_provisioning_job

__all__ = ["deliver_due_provisioning_events_task", "deliver_provisioning_job"]


@periodic_task(crontab(minute="*"), label=_("Send the due changes to the provisioners"))
def deliver_due_provisioning_events_task() -> int:
    """Every minute: due retries, lost jobs, and events whose worker died (expired lease)."""
    return provisioning.deliver_due_provisioning_events()
