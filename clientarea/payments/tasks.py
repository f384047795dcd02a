"""Worker tasks: apply stored gateway notifications, sweep the inbox, reconcile with the gateways, and one status query after a browser return.

Each task calls one service; the services queue these tasks through ``payments.jobs``
(registered at the bottom of this module), so they never import this module.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from huey import crontab
from huey.contrib.djhuey import db_task

from clientarea.lib.periodic import periodic_task
from clientarea.payments import jobs
from clientarea.payments.services import inbox, reconcile, refunds


@db_task()
def apply_message_task(message_id: int) -> None:
    """Apply one verified notification the web process stored (queued right after its commit).

    Returns nothing, so Huey stores no result: the outcome is on the inbox row.
    """
    inbox.apply_message(message_id=message_id)


@periodic_task(crontab(minute="*"), label=_("Apply the gateways' waiting notifications"))
def apply_pending_messages_task() -> dict:
    """Every minute: notifications still waiting (worker was down, or applying failed) are tried again."""
    return inbox.apply_pending_messages()


@periodic_task(crontab(minute="*/10"), label=_("Ask the gateways about unconfirmed payments"))
def reconcile_payments_task() -> dict:
    return reconcile.reconcile_payments().as_dict()


@db_task()
def check_payment_task(payment_id: int, verify: bool = False) -> list[str]:
    """Ask the gateway about one payment: an open one the customer just came back from, or
    (``verify``) an approved one that a notification claims was charged twice."""
    return reconcile.check_payment_now(payment_id=payment_id, verify=verify)


@db_task()
def send_refund_task(refund_id: int) -> str:
    """Send one refund request staff recorded to its gateway, and apply the answer."""
    return refunds.send_refund(refund_id=refund_id)


@periodic_task(crontab(minute="*/5"), label=_("Follow the refunds in progress"))
def sweep_refunds_task() -> dict:
    """Every 5 minutes: refunds whose job was lost, whose answer is unknown or that the gateway
    is still deciding; credit notes DIAN's rules did not allow at completion."""
    return refunds.sweep_refunds()


jobs.register(
    apply_message=apply_message_task,
    check_payment=check_payment_task,
    send_refund=send_refund_task,
)
