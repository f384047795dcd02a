"""Payvalida refunds in the simulator: the order becomes ANULADA.

Payvalida's documentation (notification page, order states) describes two ways an approved
order is refunded, and no merchant API to request one (payment-gateways.md §5.3):

- refund claimed by the customer → ANULADA, notified with status ``cancelled``;
- refund requested by the merchant → ANULADA, **not** notified.

The merchant asks Payvalida for a refund outside the API (its merchant module or support),
so the simulator offers both as dashboard actions, playing Payvalida's back office; the merchant
sees the new state in the query API (``STATE: ANULADA``) and, for a customer claim, in the
notification.
"""

from __future__ import annotations

import logging

from django.db import transaction

from clientarea.payments.sandbox import delivery, payvalida_sim
from clientarea.payments.sandbox import payvalida_protocol as proto
from clientarea.payments.sandbox.models import Gateway, PayvalidaState, SandboxPayvalidaOrder

logger = logging.getLogger(__name__)

BY_MERCHANT = "merchant"
BY_CUSTOMER = "customer"


class NotRefundable(Exception):
    """Only an approved (APROBADA) order can be annulled."""


@transaction.atomic
def annul_order(order: SandboxPayvalidaOrder, *, requested_by: str) -> SandboxPayvalidaOrder:
    """APROBADA → ANULADA; a customer's claim is notified as "cancelled", a merchant's is not."""
    if requested_by not in (BY_MERCHANT, BY_CUSTOMER):
        raise ValueError(f"requested_by must be {BY_MERCHANT!r} or {BY_CUSTOMER!r}")
    order = SandboxPayvalidaOrder.objects.select_for_update().get(pk=order.pk)
    if order.state != PayvalidaState.APROBADA:
        raise NotRefundable(order.state)
    order.state = PayvalidaState.ANULADA
    order.annulled_by = requested_by
    order.save(update_fields=["state", "annulled_by", "updated"])
    if requested_by == BY_CUSTOMER:
        delivery.queue_notification(
            gateway=Gateway.PAYVALIDA,
            url=payvalida_sim.notification_url(),
            payvalida_order=order,
            payload=payvalida_sim.notification_payload(
                order, status=proto.STATUS_CANCELLED, pv_payment=order.payment_method
            ),
        )
    logger.info("Payvalida simulator: order %s annulled (%s)", order.order, requested_by)
    return order
