"""Applying one verified gateway statement to its payment: the exactly-once rules.

A gateway statement changes a payment only through :func:`apply_update`
(notifications, status queries and the back office all reach it), and an order
changes only through ``billing.services.mark_order_paid``. The order row, then the
payment row, are locked while a statement is applied, and ``mark_order_paid`` pays an
order at most once: a second, different approved transaction for a paid order is
flagged for refund, never applied twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from clientarea.accounts.selectors import get_provider
from clientarea.billing import services as billing_services
from clientarea.notifications.services import queue_email
from clientarea.payments import jobs
from clientarea.payments.gateways.base import Gateway, GatewayStatus, PaymentMethod, PaymentUpdate
from clientarea.payments.models import (
    OPEN_STATUSES,
    MessageKind,
    Payment,
    PaymentStatus,
    RefundStatus,
)

logger = logging.getLogger(__name__)

#: Cash networks as customers know them (gateway method codes upper-cased, without spaces or underscores).
CASH_NETWORKS = {
    "EFECTY": "Efecty",
    "BALOTO": "Baloto",
    "SURED": "SuRed",
    "GANA": "Gana",
    "PUNTORED": "PuntoRed",
    "SUPERGIROS": "SuperGIROS",
    "REDSERVI": "Redservi",
    "APOSTAR": "Apostar",
    "SUCHANCE": "SuChance",
}

_STATUS_FROM_GATEWAY = {
    GatewayStatus.APPROVED: PaymentStatus.APPROVED,
    GatewayStatus.DECLINED: PaymentStatus.DECLINED,
    GatewayStatus.EXPIRED: PaymentStatus.EXPIRED,
    GatewayStatus.ERROR: PaymentStatus.ERROR,
    GatewayStatus.PENDING: PaymentStatus.PENDING,
}
_NEGATIVE = (GatewayStatus.DECLINED, GatewayStatus.EXPIRED, GatewayStatus.ERROR)


@dataclass(frozen=True)
class ApplyResult:
    """What one gateway statement did: ``outcome`` is the inbox text ("applied", "duplicate", ...)."""

    outcome: str
    payment: Payment | None = None
    order_paid: bool = False


def _expected_merchant(gateway: Gateway) -> str | None:
    config = getattr(gateway, "config", None)
    return getattr(config, "merchant_id", None) or None


def _mismatch(payment: Payment, update: PaymentUpdate, gateway: Gateway) -> str:
    """Why an approval cannot pay this attempt ("" when amount, currency and merchant match)."""
    if update.amount is None:
        return "amount missing"
    if update.amount != payment.amount:
        return f"amount mismatch: got {update.amount}, expected {payment.amount}"
    if (update.currency or "").upper() != payment.currency.upper():
        return f"currency mismatch: got {update.currency or 'none'}, expected {payment.currency}"
    expected = _expected_merchant(gateway)
    if update.merchant_id and expected and update.merchant_id != expected:
        return f"merchant mismatch: got {update.merchant_id}"
    return ""


def _note_details(payment: Payment, update: PaymentUpdate) -> None:
    """Copy the method and the customer-facing details (bank, CUS, voucher) onto the attempt."""
    if update.method is not None:
        payment.method = update.method.value
    if update.raw_method:
        payment.raw_method = update.raw_method[:60]
    extra = update.extra or {}
    instructions = dict(payment.instructions or {})
    for source, target in (
        ("cus", "cus"),
        ("pse_bank", "bank"),
        ("payment_reference", "voucher_reference"),
        ("pending_reason", "pending_reason"),
        ("reference_pol", "gateway_order"),
    ):
        if extra.get(source):
            instructions[target] = str(extra[source])[:100]
    for source in ("voucher_url", "receipt_url"):
        if str(extra.get(source, "")).startswith("https://") or (
            settings.PAYMENTS_SANDBOX and str(extra.get(source, "")).startswith("http")
        ):
            instructions["checkout_url"] = str(extra[source])[:500]
    network = (
        CASH_NETWORKS.get(update.raw_method.replace(" ", "").replace("_", "").upper())
        if update.raw_method
        else None
    )
    if update.method == PaymentMethod.CASH and network:
        instructions["network"] = network
    payment.instructions = instructions
    if not payment.gateway_order_id and extra.get("reference_pol"):
        payment.gateway_order_id = str(extra["reference_pol"])[:64]


def _flag(
    payment: Payment, *, review: str = "", refund: bool = False, duplicate: bool = False
) -> bool:
    """Set review/refund flags; True when something new needs staff attention."""
    new = False
    if review and not (payment.needs_review and payment.review_reason == review[:300]):
        payment.needs_review = True
        payment.review_reason = review[:300]
        new = True
    if refund and payment.refund_status == RefundStatus.NONE:
        payment.refund_status = RefundStatus.FLAGGED
        if not review:
            payment.review_reason = payment.review_reason or "refund needed"
        new = True
    if duplicate:
        payment.duplicate = True
    return new


def alert_staff(payment: Payment, reason: str) -> None:
    """Email the provider's billing address about a payment that needs a person (after commit)."""
    provider = get_provider()
    if provider is None or not provider.email:
        return
    admin_url = settings.SITE_URL + reverse("admin:payments_payment_change", args=[payment.pk])
    queue_email(
        to=provider.email,
        template="payment_review",
        language=settings.LANGUAGE_CODE,
        context={
            "payment": payment,
            "order": payment.order,
            "reason": reason,
            "admin_url": admin_url,
        },
    )


def apply_update(*, gateway: Gateway, update: PaymentUpdate, source: str) -> ApplyResult:
    """Apply one verified gateway statement to its payment. The caller holds the transaction.

    Rules:
    * approved, and amount/currency/merchant match → the order is paid through
      ``mark_order_paid``; if the order was already paid by another transaction, this
      attempt is marked duplicate and flagged for refund; if it was cancelled, flagged
      for refund and review;
    * approved with a wrong amount/currency/merchant → not paid; status ``error``, review;
    * the same approval again → nothing ("already applied"); another approved
      transaction for an approved attempt, or a decline/expiry of the approved
      transaction itself, is only a claim when it comes in a notification (the
      signatures do not cover every field): the gateway is queried, and its answer
      flags the duplicate for refund, or the reversal for review;
    * any other report after approved (pending, an older try's decline) → ignored;
    * pending for an attempt closed here (replaced, timed out) → ignored;
    * otherwise the attempt takes the reported status;
    * unknown reference → nothing ("unknown reference").
    """
    reference = gateway.gateway_reference(update.reference)
    found = Payment.objects.filter(
        gateway=gateway.code, gateway_reference=reference
    ).order_by()  # unique
    row = next(iter(found.values_list("pk", "order_id")[:1]), None)
    if row is None:
        logger.warning(
            "payment statement from %s for unknown reference %r (%s)",
            gateway.code,
            update.reference,
            source,
        )
        return ApplyResult(outcome="unknown reference")
    payment_id, order_id = row
    # Lock order: the order first, then the payment (start_payment does the same).
    order = billing_services.lock_order(order_id=order_id)
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    status = update.status
    transaction_id = (update.transaction_id or "")[:64]
    now = timezone.now()
    alert = ""

    if payment.status == PaymentStatus.APPROVED:
        second_charge = (
            status == GatewayStatus.APPROVED and transaction_id != payment.gateway_transaction_id
        )
        reversal = (
            status in _NEGATIVE
            and bool(transaction_id)
            and transaction_id == payment.gateway_transaction_id
        )
        if status == GatewayStatus.APPROVED and not second_charge:
            return ApplyResult(outcome="already applied", payment=payment)
        if not (second_charge or reversal):
            # A late or replayed report (an earlier pending, another try's decline): nothing to do.
            logger.info(
                "payment %s: %s after approved ignored (%s, transaction %s)",
                payment.reference,
                status.value,
                source,
                transaction_id,
            )
            return ApplyResult(outcome=f"ignored: {status.value} after approved", payment=payment)
        if source != MessageKind.QUERY:
            # Neither PayU's sign nor Payvalida's checksum covers everything here (PayU's leaves
            # out the transaction id): a replayed message with one field changed would look like
            # a second charge or a void. Only the gateway's answer to our own query may flag a
            # refund or a reversal, so ask it.
            payment.next_check_at = now
            payment.save(update_fields=["next_check_at", "updated_at"])
            transaction.on_commit(lambda: jobs.enqueue_check(payment_id, verify=True))
            claim = (
                f"second approved transaction {transaction_id}"
                if second_charge
                else f"{status.value} for the approved transaction"
            )
            return ApplyResult(outcome=f"held: {claim}, asking the gateway", payment=payment)
        if second_charge:
            reason = f"second approved transaction {transaction_id} for this attempt (first: {payment.gateway_transaction_id})"
            outcome = "duplicate: second approved transaction, flagged for refund"
        else:
            reason = f"gateway now reports {status.value} for the approved transaction (void or refund claim?)"
            outcome = f"ignored: {status.value} after approved, review"
        if _flag(payment, review=reason, refund=second_charge, duplicate=second_charge):
            payment.save()
            alert_staff(payment, reason)
        return ApplyResult(outcome=outcome, payment=payment)

    if payment.status == PaymentStatus.EXPIRED and status == GatewayStatus.PENDING:
        # Closed here (replaced by a newer attempt, or timed out) and withdrawn at the gateway
        # where it can be: only an approval (money taken) still counts.
        return ApplyResult(outcome="ignored: pending for a closed attempt", payment=payment)
    if (
        status in _NEGATIVE
        and payment.status == PaymentStatus.PENDING
        and payment.gateway_transaction_id
        and transaction_id
        and transaction_id != payment.gateway_transaction_id
    ):
        # PayU lets the buyer retry under one reference: a late decline of an earlier try
        # must not hide the transaction now pending at the bank (it reports on its own).
        return ApplyResult(
            outcome=f"ignored: {status.value} of an older transaction, another is pending",
            payment=payment,
        )
    _note_details(payment, update)
    if status != GatewayStatus.APPROVED:
        new_status = _STATUS_FROM_GATEWAY[status]
        if transaction_id:
            payment.gateway_transaction_id = transaction_id
        payment.status_message = (update.message or "")[:200]
        outcome = (
            f"unchanged: {new_status}"
            if payment.status == new_status
            else f"recorded: {new_status}"
        )
        payment.status = new_status
        payment.save()
        return ApplyResult(outcome=outcome, payment=payment)

    problem = _mismatch(payment, update, gateway)
    if problem:
        payment.status = PaymentStatus.ERROR
        payment.status_message = f"approved at the gateway, not applied: {problem}"[:200]
        if _flag(payment, review=f"{problem} (transaction {transaction_id})"):
            alert = problem
        payment.save()
        if alert:
            alert_staff(payment, alert)
        logger.warning("payment %s approval not applied: %s", payment.reference, problem)
        return ApplyResult(outcome=f"review: {problem}", payment=payment)

    payment.status = PaymentStatus.APPROVED
    payment.gateway_transaction_id = transaction_id
    payment.approved_at = now
    payment.status_message = (update.message or "approved")[:200]
    payment.next_check_at = None
    if not payment.method and payment.requested_method:
        payment.method = payment.requested_method
    try:
        with transaction.atomic():
            payment.save()
    except IntegrityError:
        # The same gateway transaction already approved another attempt.
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        reason = f"transaction {transaction_id} already approved another payment"
        payment.status = PaymentStatus.ERROR
        payment.status_message = reason[:200]
        _flag(payment, review=reason)
        payment.save()
        alert_staff(payment, reason)
        return ApplyResult(
            outcome="review: transaction already used by another payment", payment=payment
        )

    paid_reference = f"{gateway.code}:{transaction_id}"
    outcome = billing_services.mark_order_paid(
        order_id=payment.order_id,
        paid_at=now,
        via=gateway.code,
        method=payment.method,
        reference=paid_reference,
        locked=order,
    )
    if outcome.applied:
        # Other attempts still open for this order are closed (and withdrawn at their
        # gateway) by the next reconciliation.
        Payment.objects.filter(order_id=payment.order_id, status__in=OPEN_STATUSES).exclude(
            pk=payment.pk
        ).update(next_check_at=now)
        return ApplyResult(outcome="applied", payment=payment, order_paid=True)
    if outcome.reason == "already_paid":
        if outcome.order.payment_reference == paid_reference[:120]:
            return ApplyResult(outcome="already applied", payment=payment)
        reason = f"order {outcome.order.number} was already paid ({outcome.order.payment_reference or outcome.order.paid_via})"
        _flag(payment, refund=True, duplicate=True)
        payment.review_reason = reason[:300]
        payment.save()
        alert_staff(payment, reason)
        logger.warning(
            "payment %s approved for an order already paid: flagged for refund", payment.reference
        )
        return ApplyResult(
            outcome="duplicate: order already paid, flagged for refund", payment=payment
        )
    reason = f"approved after order {outcome.order.number} was cancelled"
    _flag(payment, review=reason, refund=True)
    payment.save()
    alert_staff(payment, reason)
    logger.warning(
        "payment %s approved for a cancelled order: flagged for refund", payment.reference
    )
    return ApplyResult(outcome="review: order cancelled, flagged for refund", payment=payment)
