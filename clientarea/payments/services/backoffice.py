"""Back office: the gateway switch, "apply again", "query the gateway again", "refund instead of
credit" / "keep as credit", "mark as refunded".

Each action is audited and goes through the same code path as the gateways' own messages.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clientarea.accounts.audit import record
from clientarea.billing import ledger
from clientarea.payments.gateways import get_gateway
from clientarea.payments.models import (
    GatewaySwitch,
    Payment,
    PaymentMessage,
    PaymentStatus,
    RefundStatus,
)
from clientarea.payments.services.inbox import apply_message
from clientarea.payments.services.notes import PaymentStateError
from clientarea.payments.services.reconcile import check_payment
from clientarea.payments.services.refunds import refundable

logger = logging.getLogger(__name__)


def set_gateway_offered(
    *, gateway_code: str, offered: bool, reason: str = "", actor=None
) -> GatewaySwitch:
    """Back office: stop or resume offering a gateway at Pay now (audited).

    Stopping needs a reason (it is shown to staff, not to customers). Payments already
    started there are still confirmed, queried and applied.
    """
    gateway = get_gateway(gateway_code)  # UnknownGateway for a code not in PAYMENT_GATEWAYS
    reason = " ".join((reason or "").split())[:300]
    if not offered and not reason:
        raise PaymentStateError(
            _('Say why %(gateway)s is switched off, e.g. "outage announced by the gateway".')
            % {"gateway": gateway.name}
        )
    with transaction.atomic():
        switch, _created = GatewaySwitch.objects.select_for_update().get_or_create(
            gateway=gateway.code
        )
        before = switch.offered
        switch.offered, switch.reason = offered, reason if not offered else ""
        switch.updated_by = actor if getattr(actor, "pk", None) else None
        switch.save()
        record(
            action="payment.gateway_switched",
            actor=actor,
            target=gateway.code,
            changes={"offered": [before, offered], "reason": reason},
        )
    logger.info(
        "gateway %s %s at Pay now by %s: %s",
        gateway.code,
        "offered" if offered else "switched off",
        getattr(actor, "email", "system"),
        reason or "-",
    )
    return switch


def retry_message(message: PaymentMessage, *, actor=None) -> str:
    """Back office: apply a stuck notification again now (after its cause was fixed)."""
    if message.processed or not message.signature_valid:
        raise PaymentStateError(
            _("This message was already processed or is not verified; there is nothing to apply.")
        )
    outcome = apply_message(message_id=message.pk)
    record(
        action="payment.message_retried",
        actor=actor,
        target=message.reference or str(message.pk),
        changes={"message": message.pk, "outcome": outcome},
    )
    return outcome


def query_payment_again(payment: Payment, *, actor=None) -> list[str]:
    """Back office: ask the gateway about one payment now, whatever its state and backoff (not
    a payment staff registered: no gateway knows it)."""
    if payment.is_manual:
        raise PaymentStateError(
            _("Payment %(reference)s was registered by staff: there is no gateway to ask.")
            % {"reference": payment.reference}
        )
    outcomes = check_payment(payment, close_expired=False)
    record(
        action="payment.queried",
        actor=actor,
        customer=payment.customer,
        target=payment.reference,
        changes={"outcomes": outcomes[:20]},
    )
    return outcomes


# --------------------------------------------------------------------------------------
# Back office
# --------------------------------------------------------------------------------------


def mark_refunded(payment: Payment, note: str, actor) -> Payment:
    """Record that staff refunded this payment outside the portal (gateway back office, bank transfer).

    Allowed for payments flagged for refund or under review; the order is not touched.
    """
    note = (note or "").strip()
    if not note:
        raise PaymentStateError(_("Write a note: how and when the money was returned."))
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.refund_status == RefundStatus.REFUNDED:
            raise PaymentStateError(
                _("Payment %(reference)s is already marked as refunded.")
                % {"reference": locked.reference}
            )
        if locked.status == PaymentStatus.APPROVED and locked.refund_status != RefundStatus.FLAGGED:
            # Approved money not flagged is the customer's credit: take it back first.
            raise PaymentStateError(
                _(
                    "Payment %(reference)s is kept as the customer's credit: choose “Refund instead of credit” first."
                )
                % {"reference": locked.reference}
            )
        if locked.refund_status != RefundStatus.FLAGGED and not locked.needs_review:
            raise PaymentStateError(
                _(
                    "Payment %(reference)s is not flagged for refund or review: refund it from the order instead."
                )
                % {"reference": locked.reference}
            )
        before = {"refund_status": locked.refund_status, "needs_review": locked.needs_review}
        locked.refund_status = RefundStatus.REFUNDED
        locked.refund_note = note[:2000]
        locked.refunded_at = timezone.now()
        locked.refunded_by = actor if getattr(actor, "pk", None) else None
        locked.needs_review = False
        locked.save()
        record(
            action="payment.refunded",
            actor=actor,
            customer=locked.customer,
            target=locked.reference,
            changes={
                "before": before,
                "after": {"refund_status": locked.refund_status},
                "note": note[:300],
            },
        )
    logger.info("payment %s marked refunded by %s", locked.reference, getattr(actor, "pk", None))
    return locked


def refund_instead_of_credit(payment: Payment, note: str, actor) -> Payment:
    """Staff decide that money kept as the customer's credit (a duplicate payment, a payment for
    a settled order, added funds) is to be returned instead: the credit is taken back in the
    customer's account and the payment is flagged for refund (the refund itself is then done
    at the gateway or by transfer, and recorded with "mark as refunded"). Audited."""
    note = (note or "").strip()
    if not note:
        raise PaymentStateError(_("Write a note: why the money is returned instead of kept."))
    if payment.is_manual:
        # Money staff registered is returned with Refund (manual): the credit and the transfer
        # back in one step, in the money movements the day it is recorded.
        raise PaymentStateError(
            _(
                "Payment %(reference)s was registered by staff: return it with Refund (a manual "
                "refund with the transfer's reference), which takes the credit back."
            )
            % {"reference": payment.reference}
        )
    with transaction.atomic():
        ledger.lock_customer(customer_id=payment.customer_id)
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.status != PaymentStatus.APPROVED or locked.refund_status != RefundStatus.NONE:
            raise PaymentStateError(
                _("Payment %(reference)s is not approved money kept as credit.")
                % {"reference": locked.reference}
            )
        if not (locked.duplicate or locked.needs_review or locked.order_id is None):
            raise PaymentStateError(
                _("Payment %(reference)s paid its orders: there is no credit from it to refund.")
                % {"reference": locked.reference}
            )
        # What is neither refunded nor being refunded: a refund of part of it already took its
        # share out of the credit.
        left = refundable(locked)
        if left <= 0:
            raise PaymentStateError(
                _("Payment %(reference)s is already refunded or being refunded in full.")
                % {"reference": locked.reference}
            )
        try:
            ledger.refund_credit(
                customer_id=locked.customer_id,
                amount=left,
                reference=locked.reference,
                actor=actor,
                memo=note,
            )
        except ledger.LedgerError as exc:
            raise PaymentStateError(str(exc)) from exc
        locked.refund_status = RefundStatus.FLAGGED
        locked.refund_note = note[:2000]
        locked.needs_review = False
        locked.save()
        record(
            action="payment.refund_decided",
            actor=actor,
            customer=locked.customer,
            target=locked.reference,
            changes={"decision": "refund", "amount": str(left), "note": note[:300]},
        )
    return locked


def keep_as_credit(payment: Payment, actor) -> Payment:
    """Staff confirm that money kept as the customer's credit stays credit (clears the review). Audited."""
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.status != PaymentStatus.APPROVED or not locked.needs_review:
            raise PaymentStateError(
                _("Payment %(reference)s has no decision pending.")
                % {"reference": locked.reference}
            )
        locked.needs_review = False
        locked.save(update_fields=["needs_review", "updated_at"])
        record(
            action="payment.refund_decided",
            actor=actor,
            customer=locked.customer,
            target=locked.reference,
            # What stays credit: the payment less what is refunded or being refunded of it.
            changes={"decision": "credit", "amount": str(refundable(locked))},
        )
    return locked
