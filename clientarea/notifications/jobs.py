"""The worker job that delivers one email at once after commit (the fast path).

Services enqueue it through ``transaction.on_commit``; if that never happens (the
process died between commit and enqueue), the row is still in the outbox and the
sweep in ``tasks.py`` delivers it.
"""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from clientarea.notifications import delivery


@db_task()
def deliver_email_job(email_id: int) -> None:
    """Returns nothing, so Huey stores no result (nobody reads it): the email row is the record."""
    delivery.deliver_email(email_id=email_id)
