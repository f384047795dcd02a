"""Refunds: staff return money of an approved payment, wholly or in part, exactly once.

1. :func:`refund_payment` (the back office's "Refund" action) checks and records the request in
   one transaction, under a lock on the customer and the payment: never more than what was paid
   minus what is already refunded or being refunded (two staff members at once refund once). The
   part that was the customer's credit (a duplicate payment, added funds: never invoiced) leaves
   the credit now; the rest is split over the orders the payment paid (``RefundLine``).
   A **manual** refund (bank transfer, the gateway's back office; Payvalida has no merchant refund
   API) is completed in that same transaction. A **gateway** refund is left ``requested`` and
   the worker is asked to send it after commit.
2. :func:`send_refund` (worker) claims the request with one conditional UPDATE (a lease), calls
   the gateway's refund API outside any transaction, and applies the answer in a second one:
   declined → ``declined`` (the credit taken is given back); pending → ``pending`` (the gateway
   decides later); approved → completed. An unknown answer (timeout, 5xx) leaves it ``sent``:
   :func:`sweep_refunds` first asks the gateway whether the refund exists (a status query lists
   refund transactions) and only then sends it again.
3. The gateway's word on a refund (its confirmation, or a status query) reaches
   :func:`apply_reported_refund` through ``apply_update``: it completes or declines the refund it
   names, and never touches the order's payment state. A refund or chargeback nobody here asked
   for (a customer's claim at Payvalida, a chargeback at PayU) is flagged for staff.
4. Completing (:func:`_complete`): per refunded order, a DIAN credit note (whole order refunded:
   concept 2, annulment; a part: concept 1) and its ledger pair (``billing.ledger``), the services
   shortened or terminated as staff chose (history events, provisioning events), the payment
   marked refunded when nothing is left, an audit entry and the "refund issued" email. A credit
   note DIAN's rules do not allow yet (the invoice is not accepted yet) is retried by the sweep.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Sum
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from clientarea.accounts.audit import record
from clientarea.accounts.contacts import queue_customer_email
from clientarea.accounts.models import EmailCategory
from clientarea.billing import ledger
from clientarea.billing import selectors as billing_selectors
from clientarea.billing import services as billing_services
from clientarea.billing.models import LedgerEntry, LedgerKind, Order
from clientarea.einvoice.services import NoteRefused, issue_refund_credit_note
from clientarea.lib.money import ZERO, format_cop, quantize
from clientarea.payments import jobs
from clientarea.payments.gateways import get_gateway
from clientarea.payments.gateways.base import (
    Gateway,
    GatewayError,
    GatewayStatus,
    GatewayUnavailable,
    PaymentUpdate,
    RefundAnswer,
    RefundRequest,
    TransactionKind,
)
from clientarea.payments.models import (
    ACTIVE_REFUND_STATES,
    IN_FLIGHT_REFUND_STATES,
    Outcome,
    Payment,
    PaymentStatus,
    Refund,
    RefundLine,
    RefundMethod,
    RefundState,
    RefundStatus,
    ServicesAction,
)
from clientarea.payments.reasons import KEPT_AS_CREDIT, Reason
from clientarea.payments.services.notes import PaymentStateError, alert_staff, flag, settle
from clientarea.payments.status_notes import StatusNote, refund_failure
from clientarea.subscriptions import services as subscription_services
from clientarea.subscriptions.event_texts import ServiceText
from clientarea.subscriptions.models import ServiceStatus

logger = logging.getLogger(__name__)

#: How long a worker holds a refund it is sending; past it, the answer counts as unknown.
SEND_LEASE = dt.timedelta(minutes=2)
#: How often a refund the gateway is still deciding is looked at again.
PENDING_RECHECK = dt.timedelta(minutes=10)


class RefundRefused(PaymentStateError):
    """The refund cannot be made as asked (the message is for staff); nothing was written."""


# --------------------------------------------------------------------------------------
# Reads
# --------------------------------------------------------------------------------------


def refunded_so_far(payment: Payment) -> Decimal:
    """What is refunded or being refunded of ``payment`` (requested, sent, pending, completed)."""
    total = Refund.objects.filter(payment=payment, state__in=ACTIVE_REFUND_STATES).aggregate(
        total=Sum("amount")
    )["total"]
    return total or ZERO


def refundable(payment: Payment) -> Decimal:
    """What is left to refund of an approved payment (zero for any other)."""
    if payment.status != PaymentStatus.APPROVED:
        return ZERO
    return max(payment.amount - refunded_so_far(payment), ZERO)


def refundable_now(payment: Payment) -> Decimal:
    """What one refund of ``payment`` may take now: what is left to refund, but no more than the
    customer's credit while part of it was kept as credit (a duplicate, added funds) and the
    customer has since spent that credit on orders (``BILLING_AUTO_APPLY_CREDIT`` pays pending
    orders with it at once). The form offered the whole payment and then refused it."""
    left = refundable(payment)
    if left <= 0 or payment.refund_status == RefundStatus.FLAGGED:
        return left  # "Refund instead of credit" already took it out of the credit
    available = billing_selectors.credit_available(payment.customer)
    if _credit_part(payment, _allocations(payment)) > available:
        return min(left, available)
    return left


def _credit_part(payment: Payment, allocations: list[tuple[Order, Decimal]]) -> Decimal:
    """The part of ``payment`` that was the customer's credit (never invoiced) and no refund took
    yet: a payment kept as credit, or what it left over beyond its orders."""
    allocated = sum((took for _order, took in allocations), ZERO)
    if payment.refund_status == RefundStatus.FLAGGED or not allocations:
        uninvoiced = payment.amount
    else:
        uninvoiced = max(payment.amount - allocated, ZERO)
    earlier = Refund.objects.filter(payment=payment, state__in=ACTIVE_REFUND_STATES)
    credit_used = earlier.aggregate(total=Sum("from_credit"))["total"] or ZERO
    return max(uninvoiced - credit_used, ZERO)


def _paid_reference(payment: Payment) -> str:
    return f"{payment.gateway}:{payment.gateway_transaction_id}"


def _allocations(payment: Payment) -> list[tuple[Order, Decimal]]:
    """The orders this payment paid (in part or in full) and how much of it each took. A
    payment staff registered: its basket, written with it (its ledger movements carry the bank's
    reference, which two payments may share); one registered as credit (no order) has an empty
    basket, so all of it is credit (``_credit_part``), as for added funds."""
    if payment.is_manual:
        return [
            (row.order, row.amount)
            for row in payment.basket.select_related("order").order_by("order_id")
            if row.amount > 0
        ]
    rows = (
        LedgerEntry.objects.filter(
            customer_id=payment.customer_id,
            reference=_paid_reference(payment),
            kind=LedgerKind.PAYMENT,
            order__isnull=False,
        )
        .values("order_id")
        .annotate(total=Sum("amount"))
        .order_by("order_id")
    )
    orders = Order.objects.in_bulk([row["order_id"] for row in rows])
    return [(orders[row["order_id"]], -row["total"]) for row in rows if row["total"] < 0]


# --------------------------------------------------------------------------------------
# 1. The request
# --------------------------------------------------------------------------------------


def _clean_amount(amount) -> Decimal:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise RefundRefused(_("Give the amount to refund in pesos, e.g. 50000."))
    if amount <= 0:
        raise RefundRefused(_("The amount to refund must be greater than zero."))
    if quantize(amount) != amount:
        raise RefundRefused(_("The amount to refund has at most two decimals."))
    return amount


def refund_payment(
    *,
    payment: Payment,
    amount: Decimal,
    method: str,
    bank_reference: str = "",
    reason: str,
    services_action: str = ServicesAction.KEEP,
    actor=None,
) -> Refund:
    """Staff refund ``amount`` of an approved payment (see the module's docstring).

    Raises :class:`RefundRefused` with a message for staff, writing nothing: not approved, more
    than is left to refund, no reason, a manual refund without its bank reference, a gateway
    refund at a gateway without a refund API, credit the customer already used.
    """
    amount = _clean_amount(amount)
    reason = " ".join((reason or "").split())[:300]
    bank_reference = " ".join((bank_reference or "").split())[:100]
    if not reason:
        raise RefundRefused(_("Say why the money is refunded."))
    if method not in RefundMethod.values:
        raise RefundRefused(_("Choose how the money is refunded."))
    if services_action not in ServicesAction.values:
        raise RefundRefused(_("Choose what happens to the services."))
    if method == RefundMethod.MANUAL and not bank_reference:
        raise RefundRefused(
            _("A manual refund needs the bank transfer's reference (or the gateway's refund id).")
        )
    if method == RefundMethod.GATEWAY and payment.is_manual:
        raise RefundRefused(
            _(
                "Payment %(reference)s was registered by staff (a transfer or cash): no gateway "
                "holds it. Return the money by bank transfer and record it as a manual refund "
                "with its reference."
            )
            % {"reference": payment.reference}
        )
    gateway = None if payment.is_manual else get_gateway(payment.gateway)
    if method == RefundMethod.GATEWAY and gateway is not None and not gateway.supports_refunds:
        raise RefundRefused(
            _(
                "%(gateway)s has no refund API for merchants: return the money by bank transfer "
                "(or in %(gateway)s's back office) and record it as a manual refund with its reference."
            )
            % {"gateway": gateway.name}
        )
    with transaction.atomic():
        ledger.lock_customer(customer_id=payment.customer_id)
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.status != PaymentStatus.APPROVED:
            raise RefundRefused(
                _("Payment %(reference)s was not approved: there is no money to refund.")
                % {"reference": locked.reference}
            )
        left = refundable(locked)
        if amount > left:
            raise RefundRefused(
                _(
                    "At most %(left)s of payment %(reference)s can be refunded (paid %(paid)s, "
                    "already refunded or being refunded %(done)s)."
                )
                % {
                    "left": format_cop(left),
                    "reference": locked.reference,
                    "paid": format_cop(locked.amount),
                    "done": format_cop(locked.amount - left),
                }
            )
        if method == RefundMethod.GATEWAY and not (
            locked.gateway_order_id and locked.gateway_transaction_id
        ):
            raise RefundRefused(
                _(
                    "Payment %(reference)s has no order or transaction id at the gateway: refund it "
                    "manually."
                )
                % {"reference": locked.reference}
            )
        refund = Refund(
            payment=locked,
            customer_id=locked.customer_id,
            amount=amount,
            method=method,
            reason=reason,
            bank_reference=bank_reference,
            services_action=services_action,
            requested_by=actor if getattr(actor, "pk", None) else None,
        )
        lines = _split(locked, refund)
        refund.save()
        for line in lines:
            line.refund = refund
        RefundLine.objects.bulk_create(lines)
        if refund.credit_taken > 0:
            try:
                ledger.refund_credit(
                    customer_id=locked.customer_id,
                    amount=refund.credit_taken,
                    reference=f"{locked.reference}/R{refund.pk}",
                    actor=actor,
                    memo=reason,
                )
            except ledger.LedgerError as exc:
                raise RefundRefused(
                    _(
                        "%(error)s The part of this payment kept as credit was already used on "
                        "orders; refund those orders' payments instead."
                    )
                    % {"error": exc}
                ) from exc
        record(
            action="payment.refund_requested",
            actor=actor,
            customer=locked.customer,
            target=locked.reference,
            changes={
                "refund": refund.pk,
                "amount": str(amount),
                "method": method,
                "bank_reference": bank_reference,
                "services": services_action,
                "from_credit": str(refund.from_credit),
                "orders": {line.order.number: str(line.amount) for line in lines},
                "reason": reason,
            },
        )
        if method == RefundMethod.MANUAL:
            _complete(refund, payment=locked, actor=actor)
        else:
            refund_id = refund.pk
            transaction.on_commit(lambda: jobs.enqueue_send_refund(refund_id))
    logger.info(
        "refund %s of payment %s: %s %s by %s",
        refund.pk,
        locked.reference,
        amount,
        method,
        getattr(actor, "pk", None),
    )
    return refund


def _split(payment: Payment, refund: Refund) -> list[RefundLine]:
    """Which part of the refund was the customer's credit and which paid which order.

    Credit first (money not invoiced: no credit note): a payment kept as credit (duplicate,
    settled order, added funds), or what it left over beyond its orders. Money already taken
    out of the credit by "Refund instead of credit" (flagged payment) is not taken twice.
    """
    allocations = _allocations(payment)
    refund.from_credit = min(refund.amount, _credit_part(payment, allocations))
    # "Refund instead of credit" took the whole payment out of the credit already.
    refund.credit_taken = (
        ZERO if payment.refund_status == RefundStatus.FLAGGED else refund.from_credit
    )
    rest = refund.amount - refund.from_credit
    lines: list[RefundLine] = []
    for order, took in allocations:
        if rest <= 0:
            break
        before = (
            RefundLine.objects.filter(
                refund__payment=payment, refund__state__in=ACTIVE_REFUND_STATES, order=order
            ).aggregate(total=Sum("amount"))["total"]
            or ZERO
        )
        share = min(rest, max(took - before, ZERO))
        if share > 0:
            lines.append(RefundLine(order=order, amount=share))
            rest -= share
    if rest > 0:  # pragma: no cover - refundable() bounds the amount by what the payment holds
        raise RefundRefused(_("This payment holds no more money to refund."))
    return lines


# --------------------------------------------------------------------------------------
# 2. Sending it to the gateway (worker), outside any transaction
# --------------------------------------------------------------------------------------


def _claim(refund_id: int, now: dt.datetime) -> bool:
    """One conditional UPDATE: a requested refund, or one whose sender's lease ran out."""
    claimable = Q(state=RefundState.REQUESTED) | Q(state=RefundState.SENT, leased_until__lt=now)
    return bool(
        Refund.objects.filter(claimable, pk=refund_id, method=RefundMethod.GATEWAY).update(
            state=RefundState.SENT, leased_until=now + SEND_LEASE, attempts=F("attempts") + 1
        )
    )


def send_refund(*, refund_id: int, now: dt.datetime | None = None) -> str:
    """Send one gateway refund (worker job and sweep). Returns what happened, in words."""
    now = now or timezone.now()
    before = Refund.objects.filter(pk=refund_id).values_list("attempts", flat=True).first()
    if before is None or not _claim(refund_id, now):
        return "not claimed"
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    payment = refund.payment
    gateway = get_gateway(payment.gateway)
    if before > 0:
        # An earlier call's answer was lost: does the gateway know this refund already?
        found = _find_at_gateway(gateway, refund)
        if found is not None:
            return _apply_answer(refund_id, found)
    whole = refund.amount == payment.amount
    try:
        answer = gateway.refund(
            RefundRequest(
                reference=payment.reference,
                gateway_order_id=payment.gateway_order_id,
                transaction_id=payment.gateway_transaction_id,
                amount=refund.amount,
                currency=payment.currency,
                whole=whole,
                reason=refund.reason,
            )
        )
    except GatewayUnavailable as exc:
        # Unknown: it may have reached the gateway. The sweep asks before sending again.
        note, words = refund_failure(exc)
        Refund.objects.filter(pk=refund_id, state=RefundState.SENT).update(
            gateway_message=words[:200],
            note_code=note.code,
            note_values=dict(note.values),
            leased_until=now + SEND_LEASE,
        )
        logger.warning("refund %s: gateway answer unknown (%s)", refund_id, exc)
        return f"unknown: {exc}"
    except GatewayError as exc:
        note, words = refund_failure(exc)
        logger.warning("refund %s: not made (%s)", refund_id, exc)
        answer = RefundAnswer(status=GatewayStatus.DECLINED, refund_id="", message=words)
        return _apply_answer(refund_id, answer, note=note)
    return _apply_answer(refund_id, answer)


def _find_at_gateway(gateway: Gateway, refund: Refund) -> RefundAnswer | None:
    """A refund transaction of this payment the gateway lists and no refund here claims yet."""
    try:
        updates = gateway.fetch_status(refund.payment.reference)
    except GatewayError:
        return None
    taken = set(
        Refund.objects.filter(payment_id=refund.payment_id)
        .exclude(gateway_refund_id="")
        .values_list("gateway_refund_id", flat=True)
    )
    for update in updates:
        if (
            update.kind == TransactionKind.REFUND
            and update.transaction_id not in taken
            and update.amount == refund.amount
            and update.parent_transaction_id in ("", refund.payment.gateway_transaction_id)
        ):
            return RefundAnswer(
                status=update.status, refund_id=update.transaction_id, message=update.message
            )
    return None


def _lock_for_completion(refund_id: int) -> tuple[Refund, Payment]:
    """Locks in the account's order: customer, the refunded orders, the payment, the refund."""
    row = Refund.objects.values_list("customer_id", "payment_id").get(pk=refund_id)
    ledger.lock_customer(customer_id=row[0])
    for order_id in sorted(
        RefundLine.objects.filter(refund_id=refund_id).values_list("order_id", flat=True)
    ):
        billing_services.lock_order(order_id=order_id)
    payment = Payment.objects.select_for_update().get(pk=row[1])
    refund = Refund.objects.select_for_update().get(pk=refund_id)
    return refund, payment


def _apply_answer(refund_id: int, answer: RefundAnswer, *, note: StatusNote | None = None) -> str:
    """The gateway's answer to our request (``note``: ours, when asking it failed)."""
    with transaction.atomic():
        refund, payment = _lock_for_completion(refund_id)
        if refund.state not in (RefundState.SENT, RefundState.PENDING):
            return f"already {refund.state}"
        if answer.refund_id:
            refund.gateway_refund_id = answer.refund_id[:64]
        _words(refund, answer.message, note)
        refund.leased_until = None
        if answer.status == GatewayStatus.APPROVED:
            _complete(refund, payment=payment, actor=refund.requested_by)
            return "completed"
        if answer.status == GatewayStatus.PENDING:
            refund.state = RefundState.PENDING
            refund.next_check_at = timezone.now() + PENDING_RECHECK
            refund.save()
            return "pending at the gateway"
        _decline(refund, payment=payment)
        return f"declined: {answer.message or (note.english() if note else '')}"


def _words(refund: Refund, gateway_words: str | None, note: StatusNote | None = None) -> None:
    """The gateway's words about the refund, as it sent them, and ours if we add any (replacing
    what was said before)."""
    refund.gateway_message = (gateway_words or "")[:200]
    refund.note_code = note.code if note else ""
    refund.note_values = dict(note.values) if note else {}


def _decline(refund: Refund, *, payment: Payment) -> None:
    refund.state = RefundState.DECLINED
    refund.next_check_at = None
    refund.save()
    if refund.credit_taken > 0:
        ledger.restore_refunded_credit(
            customer_id=refund.customer_id,
            amount=refund.credit_taken,
            reference=f"{payment.reference}/R{refund.pk}",
            memo=_("Refund declined by the gateway"),
        )
    record(
        action="payment.refund_declined",
        customer=payment.customer,
        target=payment.reference,
        changes={
            "refund": refund.pk,
            "amount": str(refund.amount),
            "message": refund.gateway_message,
            **({"note": _note(refund).english()} if refund.note_code else {}),
        },
    )
    said: dict[str, Any] | str = (
        _note(refund).nested() if refund.note_code else (refund.gateway_message or "—")
    )
    alert_staff(
        payment, Reason("refund_declined", {"amount": format_cop(refund.amount), "message": said})
    )
    logger.warning(
        "refund %s of %s declined: %s",
        refund.pk,
        payment.reference,
        refund.gateway_message or _note(refund).english(),
    )


def _note(refund: Refund) -> StatusNote:
    return StatusNote(refund.note_code, refund.note_values)


# --------------------------------------------------------------------------------------
# 3. The gateway's word on a refund (confirmation or status query), from apply_update
# --------------------------------------------------------------------------------------


def apply_reported_refund(
    *, gateway: Gateway, update: PaymentUpdate, payment: Payment, trusted: bool
) -> tuple[Outcome, str] | None:
    """A refund or chargeback the gateway reports for ``payment`` (locked by the caller, with its
    customer and orders). It never changes the payment's status nor its orders. Returns the
    outcome, or None when a notification claims something only a status query can vouch for
    (the caller asks the gateway)."""
    refund = (
        Refund.objects.select_for_update()
        .filter(payment=payment, gateway_refund_id=update.transaction_id)
        .first()
        if update.transaction_id
        else None
    )
    if refund is None and update.kind == TransactionKind.REFUND and trusted and update.amount:
        # The answer to our request was lost, but the gateway lists the refund: adopt it.
        refund = (
            Refund.objects.select_for_update()
            .filter(
                payment=payment,
                gateway_refund_id="",
                state__in=(RefundState.SENT, RefundState.PENDING),
                amount=update.amount,
            )
            .first()
        )
        if refund is not None:
            refund.gateway_refund_id = update.transaction_id[:64]
    if refund is None:
        return _unrequested(gateway, update, payment, trusted=trusted)
    if not trusted and update.amount != refund.amount:
        return None
    if refund.state == RefundState.COMPLETED or refund.state == RefundState.DECLINED:
        if update.status == GatewayStatus.PENDING:
            return (
                Outcome.IGNORED,
                f"ignored: pending for refund {refund.pk} already {refund.state}",
            )
        return Outcome.ALREADY_APPLIED, f"refund {refund.pk} already {refund.state}"
    _words(refund, update.message)
    if update.status == GatewayStatus.APPROVED:
        _complete(refund, payment=payment, actor=refund.requested_by)
        return Outcome.REFUNDED, f"refund {refund.pk} of {refund.amount} completed"
    if update.status == GatewayStatus.PENDING:
        refund.state = RefundState.PENDING
        refund.next_check_at = timezone.now() + PENDING_RECHECK
        refund.save()
        return Outcome.UNCHANGED, f"refund {refund.pk} pending at the gateway"
    _decline(refund, payment=payment)
    return Outcome.REVIEW, f"refund {refund.pk} declined by the gateway"


def _unrequested(
    gateway: Gateway, update: PaymentUpdate, payment: Payment, *, trusted: bool
) -> tuple[Outcome, str] | None:
    """A refund or chargeback nobody here asked the gateway for."""
    if update.status != GatewayStatus.APPROVED:
        return (
            Outcome.IGNORED,
            f"ignored: {update.status.value} {update.kind.value} not requested here",
        )
    if not trusted:
        return None
    recorded = (
        Refund.objects.filter(payment=payment, state=RefundState.COMPLETED).aggregate(
            total=Sum("amount")
        )["total"]
        or ZERO
    )
    amount = update.amount if update.amount is not None else payment.amount
    if update.kind == TransactionKind.REFUND and recorded >= amount:
        # Refunded by hand at the gateway (Payvalida: at the merchant's request) and recorded here.
        return Outcome.ALREADY_APPLIED, f"{update.kind.value} already recorded as a manual refund"
    reason = Reason(
        "unrequested_refund",
        {
            "gateway": gateway.name,
            "kind": update.kind.value,
            "amount": amount,
            "transaction": update.transaction_id,
        },
    )
    if flag(payment, review=reason):
        payment.save()
        alert_staff(payment, reason)
    logger.warning("payment %s: %s", payment.reference, reason.english())
    return Outcome.REVIEW, f"review: {update.kind.value} not requested here"


# --------------------------------------------------------------------------------------
# 4. Completing a refund: credit notes, ledger, services, payment, audit, email
# --------------------------------------------------------------------------------------


def _complete(refund: Refund, *, payment: Payment, actor) -> None:
    """The money went back. The caller holds the locks (customer, orders, payment, refund)."""
    now = timezone.now()
    refund.state = RefundState.COMPLETED
    refund.completed_at = now
    refund.next_check_at = None
    refund.leased_until = None
    refund.save()
    lines = list(refund.lines.select_related("order").order_by("id"))
    for line in lines:
        # An order a withholding agent paid net: the note credits the gross of the money
        # refunded (what it withheld on that part it recovers from DIAN, not from us).
        gross = ledger.refund_note_amount(order=line.order, amount=line.amount)
        _issue_credit_note(line, refund=refund, actor=actor, gross=gross)
        ledger.record_order_refund(
            order=line.order,
            amount=line.amount,
            reference=f"{payment.reference}/R{refund.pk}",
            note=(line.credit_note.full_number or "") if line.credit_note else "",
            actor=actor,
            memo=refund.reason,
            note_amount=gross,
        )
    changed = _services(refund, lines=lines, actor=actor)
    done = (
        Refund.objects.filter(payment=payment, state=RefundState.COMPLETED).aggregate(
            total=Sum("amount")
        )["total"]
        or ZERO
    )
    if done >= payment.amount:
        payment.refund_status = RefundStatus.REFUNDED
        payment.refunded_at = now
        payment.refunded_by = actor if getattr(actor, "pk", None) else None
        payment.needs_review = False
    elif payment.needs_review and payment.review_code in KEPT_AS_CREDIT:
        _keep_the_rest(payment, refunded=done, actor=actor)
    # English, like the other words kept for logs and searches; the payment page reads the
    # method in the reader's words (``selectors.refund_note_text``).
    with translation.override("en"):
        note = f"{format_cop(refund.amount)} {refund.get_method_display()}"
    if refund.bank_reference:
        note += f" {refund.bank_reference}"
    payment.refund_note = "\n".join(filter(None, [payment.refund_note, note]))[:2000]
    payment.save()
    record(
        action="payment.refund_completed",
        actor=actor,
        customer=payment.customer,
        target=payment.reference,
        changes={
            "refund": refund.pk,
            "amount": str(refund.amount),
            "method": refund.method,
            "gateway_refund_id": refund.gateway_refund_id,
            "bank_reference": refund.bank_reference,
            "credit_notes": [
                line.credit_note.full_number for line in lines if line.credit_note is not None
            ],
            "services": {"action": refund.services_action, "changed": changed},
        },
    )
    _email(refund, payment=payment, lines=lines)
    logger.info("refund %s of payment %s completed", refund.pk, payment.reference)


def _keep_the_rest(payment: Payment, *, refunded: Decimal, actor) -> None:
    """A duplicate payment (kept as the customer's credit, flagged for staff to refund it or keep
    it) was refunded in part: staff decided on the whole of it, and the rest, already the
    customer's credit, stays credit. The flag is cleared and its reason says what was refunded and
    what was kept (shown on the payment). Not while another refund of it is on its way: the rest
    is known only once that one completes or is declined. Audited like "Keep as credit"."""
    if Refund.objects.filter(payment=payment, state__in=IN_FLIGHT_REFUND_STATES).exists():
        return
    kept = payment.amount - refunded
    settle(
        payment,
        reason=Reason(
            "partly_refunded_credit",
            {
                "refunded": format_cop(refunded),
                "kept": format_cop(kept),
            },
        ),
    )
    record(
        action="payment.refund_decided",
        actor=actor,
        customer=payment.customer,
        target=payment.reference,
        changes={"decision": "credit", "amount": str(kept), "refunded": str(refunded)},
    )


def review_progress(payment: Payment) -> tuple[Decimal, Decimal]:
    """For a payment still flagged: what of it is refunded or being refunded, and what is left
    to decide (refund or keep as credit)."""
    done = refunded_so_far(payment)
    return done, max(payment.amount - done, ZERO)


def _issue_credit_note(line: RefundLine, *, refund: Refund, actor, gross: Decimal) -> None:
    """The credit note for one refunded order, for ``gross`` (IVA included: the money refunded,
    plus what a withholding agent withheld on that part); a refusal (e.g. DIAN has not accepted
    the invoice yet) is kept on the line for the sweep, and never undoes the refund."""
    invoice = billing_selectors.order_invoice(line.order)
    if invoice is None:
        line.note_error = _("The order has no electronic invoice yet.")[:300]
        line.save(update_fields=["note_error"])
        return
    refunded = (
        RefundLine.objects.filter(order=line.order, refund__state=RefundState.COMPLETED)
        .exclude(pk=line.pk)
        .aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    whole = refunded == 0 and gross >= line.order.total
    reason = _("Refund of payment %(reference)s: %(reason)s") % {
        "reference": refund.payment.reference,
        "reason": refund.reason,
    }
    try:
        line.credit_note = issue_refund_credit_note(
            invoice=invoice, amount=gross, whole=whole, reason=reason, actor=actor
        )
        line.note_error = ""
    except NoteRefused as exc:
        line.note_error = str(exc)[:300]
        logger.warning("refund %s: credit note for %s not issued: %s", refund.pk, line.order, exc)
    line.save(update_fields=["credit_note", "note_error"])


def _services(refund: Refund, *, lines: list[RefundLine], actor) -> list[int]:
    """Shorten or terminate the services the refunded orders paid for, as staff chose."""
    if refund.services_action == ServicesAction.KEEP:
        return []
    changed: list[int] = []
    reason = ServiceText(
        "refund",
        {"amount": format_cop(refund.amount), "reason": refund.reason},
    )
    for line in lines:
        order = line.order
        # The part of the order its credit note credited: the money refunded, plus what a
        # withholding agent withheld on it (all the net it paid is the whole order).
        credited = line.amount + ledger.refund_withholding_reversed(
            order=order, reference=f"{refund.payment.reference}/R{refund.pk}"
        )
        share = min(credited / order.total, Decimal(1)) if order.total > 0 else Decimal(1)
        for item in order.items.select_related("service").filter(service__isnull=False):
            service = item.service
            if service is None or service.pk in changed:
                continue
            if service.status in (ServiceStatus.CANCELLED, ServiceStatus.TERMINATED):
                continue
            if refund.services_action == ServicesAction.TERMINATE:
                subscription_services.terminate_service(service=service, reason=reason, actor=actor)
                changed.append(service.pk)
            elif item.period_start and item.period_end and service.next_due_date:
                days = (item.period_end - item.period_start).days
                back = int((days * share).quantize(Decimal(1), rounding=ROUND_HALF_UP))
                if back <= 0:
                    continue
                new_due = max(service.next_due_date - dt.timedelta(days=back), item.period_start)
                subscription_services.change_due_date(
                    service=service, new_due=new_due, actor=actor, reason=reason
                )
                changed.append(service.pk)
    if changed:
        event = (
            "services.terminated"
            if refund.services_action == ServicesAction.TERMINATE
            else "services.changed"
        )
        subscription_services.notify_services_changed(
            service_ids=changed, event=event, order_number=lines[0].order.number
        )
    return changed


def _email(refund: Refund, *, payment: Payment, lines: list[RefundLine]) -> None:
    customer = payment.customer
    queue_customer_email(
        customer=customer,
        category=EmailCategory.BILLING,
        template="refund_issued",
        context={
            "customer": customer,
            "refund": refund,
            "amount": refund.amount,
            "reference": payment.reference,
            "gateway": payment.gateway_name,
            "through_gateway": refund.method == RefundMethod.GATEWAY,
            "bank_reference": refund.bank_reference,
            "from_credit": refund.from_credit,
            "orders": [line.order.number for line in lines],
            "notes": [line.credit_note.full_number for line in lines if line.credit_note],
            "notes_pending": any(line.credit_note is None for line in lines),
            "services_action": refund.services_action,
            "billing_url": settings.SITE_URL + reverse("billing:orders"),
        },
    )


# --------------------------------------------------------------------------------------
# The sweep (periodic): lost jobs, unknown answers, refunds the gateway still decides, notes
# --------------------------------------------------------------------------------------


def sweep_refunds(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Every few minutes: send requests whose job was lost, resolve unknown answers (ask the
    gateway first, then send again), query refunds the gateway is still deciding, and issue the
    credit notes DIAN's rules did not allow at completion (invoice not accepted yet)."""
    now = now or timezone.now()
    summary = {"sent": 0, "queried": 0, "notes": 0}
    stale = Refund.objects.filter(
        Q(state=RefundState.REQUESTED, requested_at__lt=now - SEND_LEASE)
        | Q(state=RefundState.SENT, leased_until__lt=now),
        method=RefundMethod.GATEWAY,
    ).values_list("pk", flat=True)[:100]
    for refund_id in list(stale):
        send_refund(refund_id=refund_id, now=now)
        summary["sent"] += 1
    waiting = Refund.objects.filter(
        state=RefundState.PENDING, next_check_at__lte=now
    ).select_related("payment")[:100]
    for refund in list(waiting):
        summary["queried"] += 1
        Refund.objects.filter(pk=refund.pk).update(next_check_at=now + PENDING_RECHECK)
        # The status query applies the gateway's word through apply_update (apply_reported_refund).
        jobs.enqueue_check(refund.payment_id, verify=True)
    for line_id in list(
        RefundLine.objects.filter(
            refund__state=RefundState.COMPLETED, credit_note__isnull=True
        ).values_list("pk", flat=True)[:100]
    ):
        if retry_credit_note(line_id=line_id):
            summary["notes"] += 1
    return summary


def retry_credit_note(*, line_id: int) -> bool:
    """Issue the credit note a completed refund could not get yet (its ledger pair was written
    at completion; the note is linked on the refund line)."""
    with transaction.atomic():
        line = (
            RefundLine.objects.select_for_update()
            .select_related("refund__payment", "order")
            .get(pk=line_id)
        )
        if line.credit_note_id is not None:
            return False
        # The note's amount as completion posted it: the money, plus the withholdings on it.
        withheld = ledger.refund_withholding_reversed(
            order=line.order, reference=f"{line.refund.payment.reference}/R{line.refund_id}"
        )
        _issue_credit_note(line, refund=line.refund, actor=None, gross=line.amount + withheld)
        return line.credit_note_id is not None
