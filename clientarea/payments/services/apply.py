"""Applying one verified gateway statement to its payment: the exactly-once rules.

A gateway statement changes a payment only through :func:`apply_update`
(notifications, status queries and the back office all reach it), and an order
changes only through ``billing.services.mark_order_paid`` (reached through the customer's
account, ``billing.ledger.record_payment``). The customer row, the payment's order rows,
then the payment row, are locked while a statement is applied, and ``mark_order_paid`` pays
an order at most once: a second, different approved transaction for a paid order becomes
the customer's credit, never a second payment of the order.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from clientarea.accounts.models import Customer
from clientarea.billing import ledger
from clientarea.billing import selectors as billing_selectors
from clientarea.billing import services as billing_services
from clientarea.billing.models import Order, OrderState
from clientarea.payments import jobs
from clientarea.payments.gateways.base import (
    Gateway,
    GatewayStatus,
    PaymentUpdate,
    TransactionKind,
)
from clientarea.payments.models import (
    OPEN_STATUSES,
    MessageKind,
    Outcome,
    Payment,
    PaymentStatus,
)
from clientarea.payments.reasons import Reason
from clientarea.payments.services.notes import DETAIL_FIELDS, alert_staff, flag, note_details
from clientarea.payments.services.refunds import apply_reported_refund
from clientarea.payments.status_notes import (
    STATUS_FIELDS,
    Mismatch,
    StatusNote,
    gateway_note,
    status_fields,
)

logger = logging.getLogger(__name__)

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
    """What one gateway statement did: ``code`` for programs, ``outcome`` the inbox text with details."""

    code: Outcome
    outcome: str
    payment: Payment | None = None
    order_paid: bool = False


@dataclass
class Statement:
    """One verified statement about one locked payment, as the handlers see it."""

    gateway: Gateway
    update: PaymentUpdate
    source: str
    #: The orders the payment is meant for, locked (none when it adds funds).
    orders: list[Order]
    payment: Payment
    transaction_id: str
    now: dt.datetime
    #: The transactions the gateway itself lists as approved (a status query's whole answer), else None.
    confirmed: frozenset[str] | None
    #: The payment's basket, read once with the locks: what it is meant to pay, per order.
    basket: list[ledger.Allocation]
    #: The customer, locked first (its credit): the ledger takes it as it is.
    customer: Customer | None = None
    #: Whether another attempt for these orders is still open (read with the payment's lock).
    others_open: bool = True

    @property
    def status(self) -> GatewayStatus:
        return self.update.status

    def trusts(self, name: str) -> bool:
        """Whether the field ``name`` of this statement is vouched for: answers to our own
        queries are; a notification only for the fields its signature covers."""
        return self.source == MessageKind.QUERY or name in self.gateway.signed_fields

    def result(self, code: Outcome, outcome: str, *, order_paid: bool = False) -> ApplyResult:
        return ApplyResult(code=code, outcome=outcome, payment=self.payment, order_paid=order_paid)


def _expected_merchant(gateway: Gateway) -> str | None:
    config = getattr(gateway, "config", None)
    return getattr(config, "merchant_id", None) or None


def _mismatch(
    payment: Payment, update: PaymentUpdate, gateway: Gateway
) -> tuple[Mismatch | None, str]:
    """Why an approval cannot pay this attempt, and the field at fault (``(None, "")`` when
    amount, currency and merchant match)."""
    if update.amount is None:
        return Mismatch("amount_missing"), "amount"
    if update.amount != payment.amount:
        return Mismatch("amount", {"got": update.amount, "expected": payment.amount}), "amount"
    if not update.currency:
        return Mismatch("currency_missing", {"expected": payment.currency}), "currency"
    if update.currency.upper() != payment.currency.upper():
        return (
            Mismatch("currency", {"got": update.currency, "expected": payment.currency}),
            "currency",
        )
    expected = _expected_merchant(gateway)
    if update.merchant_id and expected and update.merchant_id != expected:
        return Mismatch("merchant", {"got": update.merchant_id}), "merchant_id"
    return None, ""


def _ask_gateway(s: Statement, claim: str) -> ApplyResult:
    """A notification claims something its signature does not vouch for: hold it, ask the gateway.

    Only the gateway's answer to our own query may then flag a refund or a reversal.
    """
    s.payment.next_check_at = s.now
    s.payment.save(update_fields=["next_check_at", "updated_at"])
    payment_id = s.payment.pk
    transaction.on_commit(lambda: jobs.enqueue_check(payment_id, verify=True))
    return s.result(Outcome.HELD, f"held: {claim}, asking the gateway")


# -- handlers, one per allowed (payment status, gateway status) pair ---------------------------


def _approval_again(s: Statement) -> ApplyResult:
    """approved + approved: the same transaction again, or a claim of a second charge."""
    payment, transaction_id = s.payment, s.transaction_id
    if transaction_id == payment.gateway_transaction_id:
        return s.result(Outcome.ALREADY_APPLIED, "already applied")
    if not s.trusts("transaction_id"):
        # PayU's sign and Payvalida's checksum leave the transaction id out: a replayed
        # approval with an edited id would look like a second charge.
        return _ask_gateway(s, f"second approved transaction {transaction_id}")
    if s.confirmed is not None and payment.gateway_transaction_id not in s.confirmed:
        # The id we recorded came from a notification and the gateway does not list it: it was
        # never a charge (a copy with a made-up id arrived first). The gateway's id is the one.
        old = payment.gateway_transaction_id
        payment.gateway_transaction_id = transaction_id
        payment.save(update_fields=["gateway_transaction_id", "updated_at"])
        logger.warning(
            "payment %s: transaction %r is unknown at %s, %s is the approved one",
            payment.reference,
            old,
            s.gateway.code,
            transaction_id,
        )
        return s.result(
            Outcome.CORRECTED,
            f"corrected: transaction {old} unknown at the gateway, approved as {transaction_id}",
        )
    reason = Reason(
        "second_approval", {"transaction": transaction_id, "first": payment.gateway_transaction_id}
    )
    credited_reference = f"{s.gateway.code}:{transaction_id}"
    if billing_selectors.payment_recorded(
        customer_id=payment.customer_id, reference=credited_reference
    ):
        return s.result(Outcome.ALREADY_APPLIED, "already kept as credit")
    # Money received twice: the customer's credit (staff may refund it instead).
    ledger.record_payment(
        customer_id=payment.customer_id,
        amount=payment.amount,
        reference=credited_reference,
        via=s.gateway.code,
        method=payment.method,
        paid_at=s.now,
        memo=payment.reference,
    )
    if flag(payment, review=reason, duplicate=True):
        payment.save()
        alert_staff(payment, reason)
    return s.result(Outcome.CREDITED, "duplicate: second approved transaction, kept as credit")


def _negative_after_approval(s: Statement) -> ApplyResult:
    """approved + declined/expired/error: a void of the approved transaction, or an old try's report."""
    payment = s.payment
    if not (s.transaction_id and s.transaction_id == payment.gateway_transaction_id):
        return _late_after_approval(s)
    if s.source != MessageKind.QUERY:
        return _ask_gateway(s, f"{s.status.value} for the approved transaction")
    reason = Reason("negative_after_approval", {"status": s.status.value})
    if flag(payment, review=reason):
        payment.save()
        alert_staff(payment, reason)
    return s.result(Outcome.REVIEW, f"ignored: {s.status.value} after approved, review")


def _late_after_approval(s: Statement) -> ApplyResult:
    """approved + pending (or another try's decline): a late or replayed report, nothing to do."""
    logger.info(
        "payment %s: %s after approved ignored (%s, transaction %s)",
        s.payment.reference,
        s.status.value,
        s.source,
        s.transaction_id,
    )
    return s.result(Outcome.IGNORED, f"ignored: {s.status.value} after approved")


def _pending_for_closed(s: Statement) -> ApplyResult:
    """expired + pending: closed here and withdrawn at the gateway; only an approval still counts."""
    return s.result(Outcome.IGNORED, "ignored: pending for a closed attempt")


def _negative_while_pending(s: Statement) -> ApplyResult:
    """pending + declined/expired/error: PayU lets the buyer retry under one reference, so a late
    decline of an earlier try must not hide the transaction now pending at the bank."""
    known = s.payment.gateway_transaction_id
    if known and s.transaction_id and s.transaction_id != known:
        return s.result(
            Outcome.IGNORED,
            f"ignored: {s.status.value} of an older transaction, another is pending",
        )
    return _record_status(s)


def _state_words(
    payment: Payment, gateway_words: str | None, note: StatusNote | None = None
) -> None:
    """The gateway's words about the state, and ours if we add any (replacing what was said of
    an earlier state)."""
    for name, value in status_fields(note, gateway_words).items():
        setattr(payment, name, value)


def _record_status(s: Statement) -> ApplyResult:
    """Any open or failed attempt takes a pending, declined, expired or error report as it is."""
    payment = s.payment
    note_details(payment, s.update)
    new_status = _STATUS_FROM_GATEWAY[s.status]
    if s.transaction_id:
        payment.gateway_transaction_id = s.transaction_id
    _state_words(payment, s.update.message, gateway_note(s.update, s.payment.gateway))
    unchanged = payment.status == new_status
    payment.status = new_status
    payment.save()
    if unchanged:
        return s.result(Outcome.UNCHANGED, f"unchanged: {new_status}")
    return s.result(Outcome.RECORDED, f"recorded: {new_status}")


#: What an approval changes on the attempt (the details, then its state).
_APPROVED_FIELDS = (
    *DETAIL_FIELDS,
    "status",
    "gateway_transaction_id",
    "approved_at",
    *STATUS_FIELDS,
    "next_check_at",
    "updated_at",
)


def _approve(s: Statement) -> ApplyResult:
    """Any attempt not yet approved + approved: check it, then pay the order (exactly once)."""
    payment, transaction_id, gateway = s.payment, s.transaction_id, s.gateway
    mismatch, field_name = _mismatch(payment, s.update, gateway)
    problem = mismatch.english() if mismatch else ""
    if mismatch and not s.trusts(field_name):
        # The signature does not cover this field (Payvalida's amount): a copy with the field
        # changed must not close the attempt nor hide the genuine approval, nor leave its other
        # unsigned details (method) on the attempt. Flag it, ask the gateway.
        reason = Reason(
            "mismatch_not_signed", {"problem": mismatch.nested(), "transaction": transaction_id}
        )
        if flag(payment, review=reason):
            payment.save()
            alert_staff(payment, reason)
        logger.warning("payment %s approval held: %s (not signed)", payment.reference, problem)
        _ask_gateway(s, problem)
        return s.result(Outcome.REVIEW, f"review: {problem} (not signed), asking the gateway")
    note_details(payment, s.update)
    if mismatch:
        payment.status = PaymentStatus.ERROR
        _state_words(
            payment,
            s.update.message,
            StatusNote("approved_not_applied", {"problem": mismatch.nested()}),
        )
        reason = Reason("mismatch", {"problem": mismatch.nested(), "transaction": transaction_id})
        alert = flag(payment, review=reason)
        payment.save()
        if alert:
            alert_staff(payment, reason)
        logger.warning("payment %s approval not applied: %s", payment.reference, problem)
        return s.result(Outcome.REVIEW, f"review: {problem}")

    payment.status = PaymentStatus.APPROVED
    payment.gateway_transaction_id = transaction_id
    payment.approved_at = s.now
    _state_words(payment, s.update.message, gateway_note(s.update, s.payment.gateway))
    payment.next_check_at = None
    if not payment.method and payment.requested_method:
        payment.method = payment.requested_method
    try:
        with transaction.atomic():
            payment.save(update_fields=_APPROVED_FIELDS)
    except IntegrityError:
        # The same gateway transaction already approved another attempt.
        payment = s.payment = Payment.objects.select_for_update().get(pk=payment.pk)
        reason = Reason("transaction_reused", {"transaction": transaction_id})
        payment.status = PaymentStatus.ERROR
        _state_words(
            payment,
            s.update.message,
            StatusNote("transaction_reused", {"transaction": transaction_id}),
        )
        flag(payment, review=reason)
        payment.save()
        alert_staff(payment, reason)
        return s.result(Outcome.REVIEW, "review: transaction already used by another payment")
    return _pay_order(s)


def _pay_order(s: Statement) -> ApplyResult:
    """The approval is the payment's: it is allocated to its orders in one transaction (each
    paid in full becomes paid with its own invoice), and what they no longer owe (paid by
    another payment, cancelled) or a payment that adds funds becomes the customer's credit."""
    payment, gateway = s.payment, s.gateway
    paid_reference = f"{gateway.code}:{s.transaction_id}"
    allocations = s.basket
    if not allocations and payment.order_id is not None:  # an attempt without its basket rows
        allocations = [ledger.Allocation(order_id=payment.order_id, amount=payment.amount)]
    # Orders of the basket another payment settled, or staff cancelled, since this attempt
    # started (read before the posting changes the others).
    settled_before = [o for o in s.orders if o.state != OrderState.PENDING]
    posting = ledger.record_payment(
        customer_id=payment.customer_id,
        amount=payment.amount,
        allocations=allocations,
        reference=paid_reference,
        via=gateway.code,
        method=payment.method,
        paid_at=s.now,
        memo=payment.reference,
        locked_orders=s.orders,
        locked_customer=s.customer,
    )
    settled = [o.pk for o in posting.paid]
    if settled and s.others_open:
        # Other attempts still open for these orders are closed (and withdrawn at their
        # gateway) by the next reconciliation.
        Payment.objects.filter(basket__order__in=settled, status__in=OPEN_STATUSES).exclude(
            pk=payment.pk
        ).update(next_check_at=s.now)
    if not allocations:
        return s.result(Outcome.CREDITED, f"credited: {payment.amount} added to the credit")
    if posting.allocated == 0:
        states = {o.state for o in s.orders}
        numbers = ", ".join(o.number for o in s.orders)
        if "paid" in states:
            reason = Reason("orders_paid_credit", {"numbers": numbers})
            detail = "duplicate: order already paid, kept as credit"
        else:
            reason = Reason("orders_cancelled_credit", {"numbers": numbers})
            detail = "review: order cancelled, kept as credit"
        flag(payment, review=reason, duplicate="paid" in states)
        payment.save()
        alert_staff(payment, reason)
        logger.warning("payment %s approved for settled orders: kept as credit", payment.reference)
        return s.result(Outcome.CREDITED, detail)
    detail = "applied" if not posting.credited else f"applied, {posting.credited} kept as credit"
    if posting.partial:
        detail += f", {len(posting.partial)} order(s) still owing"
    if settled_before:
        # Part of the basket was paid twice (or cancelled): its share is credit, as when the
        # whole basket was; staff decide whether to refund it.
        numbers = ", ".join(o.number for o in settled_before)
        paid_twice = any(o.state == OrderState.PAID for o in settled_before)
        reason = Reason(
            "share_paid_credit" if paid_twice else "share_cancelled_credit", {"numbers": numbers}
        )
        flag(payment, review=reason, duplicate=paid_twice)
        payment.save()
        alert_staff(payment, reason)
        logger.warning(
            "payment %s approved for some settled orders: %s", payment.reference, reason.english()
        )
        detail += "; review: " + reason.english()
    return s.result(Outcome.APPLIED, detail, order_paid=bool(posting.paid))


def _refund_report(s: Statement) -> ApplyResult:
    """A refund or chargeback of the payment: matched with the refund staff asked for (completed
    or declined), or flagged for staff. Never pays, re-pays or un-pays an order."""
    answer = apply_reported_refund(
        gateway=s.gateway,
        update=s.update,
        payment=s.payment,
        trusted=s.source == MessageKind.QUERY,
    )
    if answer is None:
        return _ask_gateway(s, f"{s.update.kind.value} {s.transaction_id} {s.status.value}")
    code, outcome = answer
    return s.result(code, outcome)


Handler = Callable[[Statement], ApplyResult]
_NOT_APPROVED = (
    PaymentStatus.CREATED,
    PaymentStatus.PENDING,
    PaymentStatus.DECLINED,
    PaymentStatus.EXPIRED,
    PaymentStatus.ERROR,
)

#: The allowed (payment status, gateway status) pairs and what each does. Every pair is listed:
#: a missing one is a bug, not a silent no-op (a test walks the whole table).
TRANSITIONS: dict[tuple[PaymentStatus, GatewayStatus], Handler] = {
    **{(state, GatewayStatus.APPROVED): _approve for state in _NOT_APPROVED},
    (PaymentStatus.APPROVED, GatewayStatus.APPROVED): _approval_again,
    **{(PaymentStatus.APPROVED, status): _negative_after_approval for status in _NEGATIVE},
    (PaymentStatus.APPROVED, GatewayStatus.PENDING): _late_after_approval,
    (PaymentStatus.EXPIRED, GatewayStatus.PENDING): _pending_for_closed,
    **{(PaymentStatus.PENDING, status): _negative_while_pending for status in _NEGATIVE},
    **{
        (state, status): _record_status
        for state in (
            PaymentStatus.CREATED,
            PaymentStatus.DECLINED,
            PaymentStatus.EXPIRED,
            PaymentStatus.ERROR,
        )
        for status in _NEGATIVE
    },
    **{
        (state, GatewayStatus.PENDING): _record_status
        for state in (
            PaymentStatus.CREATED,
            PaymentStatus.PENDING,
            PaymentStatus.DECLINED,
            PaymentStatus.ERROR,
        )
    },
}


def apply_update(
    *,
    gateway: Gateway,
    update: PaymentUpdate,
    source: str,
    confirmed: frozenset[str] | None = None,
) -> ApplyResult:
    """Apply one verified gateway statement to its payment. The caller holds the transaction.

    The order row, then the payment row, are locked; then the handler for the pair
    (payment status, reported status) in :data:`TRANSITIONS` decides. In short:

    * approved, and amount/currency/merchant match → the payment is allocated to its
      orders (``billing.ledger.record_payment``: each paid in full through
      ``mark_order_paid``, all or none); what they no longer owe (already paid by another
      transaction: duplicate; cancelled) is kept as the customer's credit, for review;
    * approved with a wrong amount/currency/merchant that the signature covers → not
      paid, status ``error``, review; with a field the signature does not cover
      (Payvalida's amount) → review, the attempt stays open and the gateway is asked;
    * the same approval again → "already applied"; another approved transaction, or a
      decline of the approved one, is only a claim in a notification (no signature
      covers the transaction id): the gateway is asked, and a second charge is kept as
      credit only when the gateway lists both transactions (``confirmed``, the approved ids
      of a query's answer); if it does not list the one we recorded, its id is corrected;
    * late reports after approved, and pending for an attempt closed here → ignored;
    * a refund or chargeback (``update.kind``) → ``refunds.apply_reported_refund``: the refund
      staff asked for is completed or declined, one nobody asked for is flagged; the payment's
      status and its orders never change;
    * otherwise the attempt takes the reported status; unknown reference → nothing.
    """
    reference = gateway.gateway_reference(update.reference)
    # The payment (unique per gateway and reference) with its basket, in one read: one row per
    # basket row, in the basket's order (one row of None when it has none). The basket is
    # written with the payment and never changes, so it needs no lock.
    rows = list(
        Payment.objects.filter(gateway=gateway.code, gateway_reference=reference)
        .order_by("basket__id")
        .values_list("pk", "customer_id", "order_id", "basket__order_id", "basket__amount")
    )
    if not rows:
        logger.warning(
            "payment statement from %s for unknown reference %r (%s)",
            gateway.code,
            update.reference,
            source,
        )
        return ApplyResult(code=Outcome.UNKNOWN_REFERENCE, outcome="unknown reference")
    payment_id, customer_id, attempt_order_id = rows[0][:3]
    basket = [
        ledger.Allocation(order_id=order_id, amount=amount)
        for _pk, _customer, _order, order_id, amount in rows
        if order_id is not None
    ]
    # Lock order: the customer (its credit), its orders by id, then the payment.
    customer = ledger.lock_customer(customer_id=customer_id)
    order_ids = {a.order_id for a in basket}
    if attempt_order_id is not None:
        order_ids.add(attempt_order_id)
    orders = [
        billing_services.lock_order(order_id=pk, customer=customer) for pk in sorted(order_ids)
    ]
    # Whether another attempt is still open for these orders, asked with the payment's lock:
    # the orders are locked already, and a new attempt is only started under its orders' lock.
    others_open = Exists(
        Payment.objects.filter(basket__order__in=sorted(order_ids), status__in=OPEN_STATUSES)
        .exclude(pk=OuterRef("pk"))
        .order_by()
    )
    payment = (
        Payment.objects.select_for_update().annotate(others_open=others_open).get(pk=payment_id)
    )
    statement = Statement(
        gateway=gateway,
        update=update,
        source=source,
        orders=orders,
        payment=payment,
        transaction_id=(update.transaction_id or "")[:64],
        now=timezone.now(),
        confirmed=confirmed,
        basket=basket,
        customer=customer,
        others_open=payment.others_open,
    )
    if update.kind != TransactionKind.PAYMENT:
        return _refund_report(statement)
    handler = TRANSITIONS[(PaymentStatus(payment.status), update.status)]
    return handler(statement)
