"""The worker job that sends one provisioning event at once after commit (the fast path).

Services enqueue it through ``transaction.on_commit``; if that never happens, the
outbox row is still there and the sweep in ``tasks.py`` sends it.
"""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from clientarea.subscriptions import provisioning


@db_task()
def deliver_provisioning_job(delivery_id: int) -> None:
    """Returns nothing, so Huey stores no result (nobody reads it): the outbox row is the record."""
    provisioning.deliver_provisioning_event(delivery_id=delivery_id)
