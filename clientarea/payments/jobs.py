"""Background work the payments services ask for, without importing the task module.

Tasks import services, never the other way round. ``payments.tasks`` registers its
Huey tasks here when it is imported (``PaymentsConfig.ready`` imports it in every
process, the worker's autodiscovery too); the services call :func:`enqueue_apply_message`
and :func:`enqueue_check`, usually from ``transaction.on_commit``. Queueing is best
effort: if it fails, or no task is registered, the inbox sweep and the reconciliation
pick the work up, so nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

#: Set by ``payments.tasks``: apply one stored notification (message id).
_apply_message: Callable[[int], object] | None = None
#: Set by ``payments.tasks``: ask the gateway about one payment (payment id, verify).
_check_payment: Callable[..., object] | None = None
#: Set by ``payments.tasks``: send one recorded refund request to its gateway (refund id).
_send_refund: Callable[[int], object] | None = None


def register(
    *,
    apply_message: Callable[[int], object],
    check_payment: Callable[..., object],
    send_refund: Callable[[int], object] | None = None,
) -> None:
    """Called once by ``payments.tasks`` with its Huey tasks."""
    global _apply_message, _check_payment, _send_refund
    _apply_message, _check_payment, _send_refund = apply_message, check_payment, send_refund


def enqueue_send_refund(refund_id: int) -> None:
    """Queue sending a committed refund request to its gateway (the refunds sweep sends it otherwise)."""
    try:
        if _send_refund is None:
            raise RuntimeError("payments tasks are not loaded")
        _send_refund(refund_id)
    except Exception:
        logger.exception("refund %s recorded but not queued; the sweep will send it", refund_id)


def enqueue_apply_message(message_id: int) -> None:
    """Queue the application of a verified, committed inbox row (the sweep applies it otherwise)."""
    try:
        if _apply_message is None:
            raise RuntimeError("payments tasks are not loaded")
        _apply_message(message_id)
    except Exception:
        logger.exception(
            "payment notification %s stored but not queued; the sweep will apply it", message_id
        )


def enqueue_check(payment_id: int, *, verify: bool = False) -> None:
    """Queue one status query for a payment (reconciliation asks later if this fails)."""
    try:
        if _check_payment is None:
            raise RuntimeError("payments tasks are not loaded")
        _check_payment(payment_id, verify=verify)
    except Exception:
        logger.exception("could not queue a status query for payment %s", payment_id)
