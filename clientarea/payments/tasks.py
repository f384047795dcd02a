"""Worker tasks: apply stored gateway notifications, sweep the inbox, reconcile with the gateways, and one status query after a browser return."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

logger = logging.getLogger(__name__)


@db_task()
def apply_message_task(message_id: int) -> None:
    """Apply one verified notification the web process stored (queued right after its commit).

    Returns nothing, so Huey stores no result: the outcome is on the inbox row.
    """
    from clientarea.payments import services

    services.apply_message(message_id=message_id)


@db_periodic_task(crontab(minute="*"))
def apply_pending_messages_task() -> dict:
    """Every minute: notifications still waiting (worker was down, or applying failed) are tried again."""
    from clientarea.payments import services

    return services.apply_pending_messages()


@db_periodic_task(crontab(minute="*/10"))
def reconcile_payments_task() -> dict:
    from clientarea.payments import services

    return services.reconcile_payments().as_dict()


@db_task()
def check_payment_task(payment_id: int, verify: bool = False) -> list[str]:
    """Ask the gateway about one payment: an open one the customer just came back from, or
    (``verify``) an approved one that a notification claims was charged twice."""
    from clientarea.payments import services
    from clientarea.payments.gateways.base import GatewayUnavailable
    from clientarea.payments.models import Payment

    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None or not (payment.is_open or verify):
        return []
    try:
        return services.check_payment(payment, close_expired=False)
    except GatewayUnavailable as exc:
        logger.info(
            "payment %s: gateway unavailable after return (%s); reconciliation will retry",
            payment.reference,
            exc,
        )
        return []
