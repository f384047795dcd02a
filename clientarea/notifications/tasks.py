"""Worker tasks for email delivery: the per-email job (``jobs.py``) and the outbox sweep."""

from django.utils.translation import gettext_lazy as _
from huey import crontab

from clientarea.lib.periodic import periodic_task
from clientarea.notifications import delivery
from clientarea.notifications.jobs import deliver_email_job

__all__ = ["deliver_due_emails_task", "deliver_email_job"]


@periodic_task(crontab(minute="*"), label=_("Send the emails due (retries and interrupted sends)"))
def deliver_due_emails_task() -> int:
    """Every minute: due retries, and emails whose worker died mid-send (expired lease)."""
    return delivery.deliver_due_emails()
