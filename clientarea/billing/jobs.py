"""Worker jobs that billing enqueues after commit (the fast path; the email outbox's sweep
delivers anything whose job was lost)."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from clientarea.notifications.services import deliver_email


@db_task()
def deliver_run_emails_task(email_ids: list[int]) -> int:
    """Deliver the emails one committed batch of the run queued (one task per batch, not per email)."""
    return sum(1 for email_id in email_ids if deliver_email(email_id=email_id))
