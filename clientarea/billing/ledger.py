"""The customer's account: the only writer of ``LedgerEntry`` (append-only).

Every movement of money is one entry: an order's charge (+), its cancellation (-), a
payment allocated to an order (-), money kept as credit (an entry without an order, -),
credit applied to an order (a pair: + without an order, - on the order), a refund of
credit (+), a refund of money that paid an order (a pair on the order: its credit note -, the
money returned +, so the order stays settled), a credit note kept as credit (the note − on the
order, the same amount moved to the credit). Balances are sums (``billing.selectors``); nothing stores them.

Locks, always in this order: the customer row (whoever consumes credit), then the orders
by id, then (in payments) the payment. An order becomes paid only through
``services.mark_order_paid``, here once its balance reaches zero.

``services`` and this module use each other (``create_orders`` posts the charges and applies
credit; a payment settles orders through ``mark_order_paid``), so each refers to the other
as a module, by attribute at call time.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from clientarea.accounts.audit import record
from clientarea.accounts.contacts import queue_customer_email
from clientarea.accounts.models import Customer, EmailCategory
from clientarea.billing import selectors
from clientarea.billing import services as order_services
from clientarea.billing.models import (
    LedgerEntry,
    LedgerKind,
    Order,
    OrderItem,
    OrderState,
    PaidVia,
)
from clientarea.lib import bulk
from clientarea.lib.money import ZERO, format_cop, quantize
from clientarea.notifications.services import ContextGone
from clientarea.withholdings import calculation as withholding_calculation
from clientarea.withholdings import selectors as withholdings_selectors
from clientarea.withholdings import services as withholdings_services
from clientarea.withholdings.calculation import OrderWithholdings

logger = logging.getLogger(__name__)


class LedgerError(Exception):
    """A movement the account does not allow (message is for people)."""


@dataclass(frozen=True)
class Allocation:
    """Part of a payment meant for one order; ``amount`` None means whatever it still owes.

    ``withhold`` False: an approved withholding agent did not withhold on this payment (it
    transferred the gross), so the order is owed, and paid, at its gross: nothing withheld is
    posted, and none is fixed when the payment pays it in full (no certificate is expected)."""

    order_id: int
    amount: Decimal | None = None
    withhold: bool = True


@dataclass
class Posting:
    """What one payment or credit application did to the account."""

    paid: list[Order] = field(default_factory=list)
    partial: list[tuple[Order, Decimal, Decimal]] = field(default_factory=list)  # order, took, left
    allocated: Decimal = ZERO
    credited: Decimal = ZERO
    credit_applied: Decimal = ZERO
    credit_by_order: dict[int, Decimal] = field(default_factory=dict)  # order id → credit it took


def _entry(
    *,
    customer_id: int,
    kind: str,
    amount: Decimal,
    order: Order | None = None,
    reference: str = "",
    via: str = "",
    method: str = "",
    memo: str = "",
    actor=None,
    at: dt.datetime | None = None,
) -> LedgerEntry:
    return LedgerEntry(
        customer_id=customer_id,
        kind=kind,
        amount=quantize(amount),
        order=order,
        reference=reference[:120],
        via=via,
        method=method,
        memo=memo[:300],
        actor=actor if getattr(actor, "pk", None) else None,
        created_at=at or timezone.now(),
    )


def lock_customer(*, customer_id: int) -> Customer:
    """The customer row (and its login's), locked until the transaction ends: who consumes
    credit holds it first. Read with its withholding agent status, if any (not locked), which
    a payment allocated to its orders needs (``selectors.pending_withholdings``)."""
    return (
        Customer.objects.select_for_update(of=("self", "user"))
        .select_related("user", "withholding_agent")
        .get(pk=customer_id)
    )


def post_order_charges(*, orders: Sequence[Order]) -> None:
    """Each new order's total owed (one bulk insert; ``create_orders`` calls it). An order that
    collects a debit note is posted as "debit note" (the order's number is the note's)."""
    bulk.insert(
        [
            _entry(
                customer_id=order.customer_id,
                kind=LedgerKind.DEBIT_NOTE if order.debit_note_id else LedgerKind.ORDER,
                amount=order.total,
                order=order,
                at=order.created_at,
            )
            for order in orders
        ]
    )


def post_settlement(
    *, order: Order, via: str, method: str, reference: str, actor=None, at: dt.datetime
) -> Decimal:
    """The rest of a locked order's balance paid at once (``mark_order_paid`` when it pays an
    order that still owes something: a payment outside ``record_payment``). Returns the amount."""
    due = selectors.order_balances([order.pk])[order.pk]
    if due > 0:
        _entry(
            customer_id=order.customer_id,
            kind=LedgerKind.PAYMENT,
            amount=-due,
            order=order,
            reference=reference,
            via=via,
            method=method,
            actor=actor,
            at=at,
        ).save()
    return due


def post_cancellation(*, order: Order, actor=None, reason: str = "") -> Decimal:
    """A locked order is cancelled: it no longer owes anything, and what was paid on it
    becomes the customer's credit. Returns the credit released."""
    entries = LedgerEntry.objects.filter(order=order)
    charged = sum((e.amount for e in entries if e.amount > 0), ZERO)
    paid = -sum((e.amount for e in entries if e.amount < 0), ZERO)
    rows = [
        _entry(
            customer_id=order.customer_id,
            kind=LedgerKind.ORDER_CANCELLED,
            amount=-charged,
            order=order,
            actor=actor,
            memo=reason,
        )
    ]
    if paid > 0:
        rows += [
            _entry(
                customer_id=order.customer_id,
                kind=LedgerKind.CREDIT_RELEASED,
                amount=paid,
                order=order,
                actor=actor,
            ),
            _entry(
                customer_id=order.customer_id,
                kind=LedgerKind.CREDIT_RELEASED,
                amount=-paid,
                actor=actor,
                memo=order.number,
            ),
        ]
    LedgerEntry.objects.bulk_create(rows)
    return paid


def _pay_in_full(
    *,
    order: Order,
    via: str,
    method: str,
    reference: str,
    actor,
    at: dt.datetime,
    notify: bool,
    no_credit_applied: bool = False,
    withholdings: OrderWithholdings | None = None,
    credited: Decimal = ZERO,
    not_withheld: bool = False,
) -> None:
    outcome = order_services.mark_order_paid(
        order_id=order.pk,
        paid_at=at,
        via=via,
        method=method,
        reference=reference,
        actor=actor,
        locked=order,
        notify=notify,
        owed=ZERO,  # this payment (and any withholding) was just posted: nothing is left
        # The invoice's prepayments (credit applied) are looked up unless known to be none.
        prepayments=() if no_credit_applied else None,
        withholdings=withholdings,
        credited=credited,
        not_withheld=not_withheld,
    )
    if not outcome.applied:  # pragma: no cover - the order was locked and pending
        raise LedgerError(_("Order %(number)s could not be paid.") % {"number": order.number})


def _post_withholding(*, customer_id: int, order: Order, amount: Decimal, at: dt.datetime) -> None:
    """What a withholding agent withheld from an order it paid (net): it settles that part."""
    _entry(
        customer_id=customer_id,
        kind=LedgerKind.WITHHOLDING,
        amount=-amount,
        order=order,
        memo=_("Withheld by the customer"),
        at=at,
    ).save()


def _lock_orders(*, customer_id: int, order_ids: Sequence[int], locked: dict[int, Order]) -> list:
    orders = []
    for pk in sorted(set(order_ids)):
        order = locked.get(pk) or order_services.lock_order(order_id=pk)
        if order.customer_id != customer_id:
            raise LedgerError(_("This order does not exist."))
        orders.append(order)
    return orders


# No savepoint inside a caller's transaction (the paid transaction: two statements fewer): it
# raises only before writing (a bad amount, another customer's order), and anything raised
# after a write must undo the caller's whole transaction, which Django then enforces.
@transaction.atomic(savepoint=False)
def record_payment(
    *,
    customer_id: int,
    amount: Decimal,
    allocations: Sequence[Allocation] = (),
    reference: str,
    via: str,
    method: str = "",
    paid_at: dt.datetime | None = None,
    actor=None,
    memo: str = "",
    locked_orders: Sequence[Order] = (),
    locked_customer: Customer | None = None,
    notify: bool = True,
) -> Posting:
    """Money received from a customer: allocated to their orders, the rest kept as credit.

    All or nothing, in one transaction: each allocation takes at most what its order still
    owes; an order whose balance reaches zero becomes paid (``mark_order_paid``: services,
    invoice), one that still owes stays pending with its balance. Orders already paid or
    cancelled take nothing. What is left is the customer's credit, applied at once to their
    other pending orders when ``BILLING_AUTO_APPLY_CREDIT`` is on. Another customer's order
    is refused (``LedgerError``), and nothing is written.

    Emails (``notify``): "several orders paid" when more than one order was paid, "partial
    payment received" per order still owing, "credit added" when credit is left; recorded with
    the ids and amounts of this moment and rendered by the worker (``_payment_emails``).

    ``locked_orders`` / ``locked_customer``: rows the caller already locked in this
    transaction (``lock_order``, ``lock_customer``), so they are not read again.
    """
    amount = quantize(amount)
    if amount <= 0:
        raise LedgerError(_("The amount must be greater than zero."))
    at = paid_at or timezone.now()
    customer = (
        locked_customer
        if locked_customer is not None and locked_customer.pk == customer_id
        else lock_customer(customer_id=customer_id)
    )
    orders = _lock_orders(
        customer_id=customer_id,
        order_ids=[a.order_id for a in allocations],
        locked={o.pk: o for o in locked_orders},
    )
    by_id = {o.pk: o for o in orders}
    dues = selectors.order_balances(by_id)
    # Orders that still owe their whole total had no credit applied: their invoice has no
    # prepayment to look up (the paid transaction stays one query shorter).
    untouched = {pk for pk, due in dues.items() if due == by_id[pk].total}
    posting = Posting()
    remaining = amount
    plan: list[tuple[Order, Decimal]] = []
    withheld: dict[int, Decimal] = {}
    # Each order's withholdings, read once here and handed to the paid transaction.
    computed: dict[int, OrderWithholdings] = {}
    # Orders an agent paid at their gross, without withholding (``Allocation.withhold``).
    not_withheld: set[int] = set()
    for allocation in allocations:
        order = by_id[allocation.order_id]
        due = dues[order.pk] if order.state == OrderState.PENDING else ZERO
        # A withholding agent pays the net: what it withholds is not asked of it.
        keep = ZERO
        if due > 0 and not allocation.withhold:
            not_withheld.add(order.pk)
        elif due > 0:
            computed[order.pk] = selectors.pending_withholdings(order, customer=customer)
            keep = selectors.withholding_to_post(order, computed=computed[order.pk])
        payable = max(due - keep, ZERO)
        wanted = payable if allocation.amount is None else quantize(allocation.amount)
        if wanted < 0:
            raise LedgerError(_("The amount must be greater than zero."))
        take = min(wanted, payable, remaining)
        if take > 0:
            plan.append((order, take))
            remaining -= take
            dues[order.pk] = due - take
            if take == payable and keep > 0:
                withheld[order.pk] = keep
                dues[order.pk] -= keep
    # One "several orders paid" email instead of one per order when more than one is paid.
    several = sum(1 for order, _take in plan if dues[order.pk] == 0) > 1
    # What this payment leaves as credit, stated with the order it paid (its history and its
    # "payment received" email); the "N orders paid" email has the "credit added" beside it.
    kept = remaining if not several else ZERO
    # What the payment's movements (to its orders, the rest as credit) all say.
    common = {
        "customer_id": customer_id,
        "reference": reference,
        "via": via,
        "method": method,
        "memo": memo,
        "actor": actor,
        "at": at,
    }
    for order, take in plan:
        _entry(kind=LedgerKind.PAYMENT, amount=-take, order=order, **common).save()
        posting.allocated += take
        if order.pk in withheld:
            _post_withholding(
                customer_id=customer_id, order=order, amount=withheld[order.pk], at=at
            )
        if dues[order.pk] == 0:
            _pay_in_full(
                order=order,
                via=via,
                method=method,
                reference=reference,
                actor=actor,
                at=at,
                notify=notify and not several,
                no_credit_applied=order.pk in untouched,
                withholdings=computed.get(order.pk),
                credited=kept,
                not_withheld=order.pk in not_withheld,
            )
            posting.paid.append(order)
        else:
            posting.partial.append((order, take, dues[order.pk]))
    if remaining > 0:
        _entry(kind=LedgerKind.CREDIT, amount=-remaining, **common).save()
        posting.credited = remaining
    logger.info(
        "payment %s customer=%s amount=%s paid=%s partial=%s credit=%s",
        reference,
        customer_id,
        amount,
        [o.number for o in posting.paid],
        [o.number for o, _took, _left in posting.partial],
        posting.credited,
    )
    if notify:
        _payment_emails(customer=customer, posting=posting, amount=amount, reference=reference)
    if posting.credited > 0 and settings.BILLING_AUTO_APPLY_CREDIT:
        applied = apply_credit(customer_id=customer_id, actor=actor, notify=notify)
        posting.paid += applied.paid
        posting.credit_applied = applied.credit_applied
    return posting


def _payment_emails(*, customer: Customer, posting: Posting, amount: Decimal, reference: str):
    """The payment's emails, recorded with the ids they describe and the values of this moment
    (amounts as exact strings), and rendered by the worker when it delivers them (the
    ``*_email_context`` builders below): no rendering inside the paid transaction."""
    moment = {"customer": customer.pk, "amount": str(amount), "reference": reference}
    if len(posting.paid) > 1:
        queue_customer_email(
            customer=customer,
            category=EmailCategory.BILLING,
            template="orders_paid",
            refs={**moment, "orders": [order.pk for order in posting.paid]},
        )
    for order, took, left in posting.partial:
        queue_customer_email(
            customer=customer,
            category=EmailCategory.BILLING,
            template="payment_partial",
            refs={**moment, "order": order.pk, "took": str(took), "left": str(left)},
        )
    if posting.credited > 0:
        queue_customer_email(
            customer=customer,
            category=EmailCategory.BILLING,
            template="credit_added",
            refs={
                **moment,
                "credited": str(posting.credited),
                # The credit as this payment left it (before any is applied to other orders).
                "credit": str(selectors.credit_available(customer)),
                "auto_apply": settings.BILLING_AUTO_APPLY_CREDIT,
            },
        )


# The payment's emails, rendered after commit from what ``_payment_emails`` stored. The amounts
# are the payment's (read back as the exact Decimals they were); only the customer and the orders
# are read again, by id: their names and numbers, and whether they still are what the email says.


def _email_customer(refs: Mapping[str, Any]) -> Customer:
    customer = Customer.objects.select_related("user").filter(pk=refs["customer"]).first()
    if customer is None:
        raise ContextGone(f"customer {refs['customer']} no longer exists")
    return customer


def _payment_moment(refs: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "customer": _email_customer(refs),
        "amount": Decimal(refs["amount"]),
        "reference": refs["reference"],
    }


def orders_paid_email_context(refs: Mapping[str, Any]) -> dict[str, Any]:
    """The "payment received for N orders" email: the orders in the order the payment paid them.
    One that is gone or no longer paid (or another customer's) raises ``ContextGone``."""
    context = _payment_moment(refs)
    found = Order.objects.filter(pk__in=refs["orders"]).in_bulk()
    orders = []
    for pk in refs["orders"]:
        order = found.get(pk)
        if order is None or order.customer_id != refs["customer"]:
            raise ContextGone(f"order {pk} no longer exists")
        if order.state != OrderState.PAID:
            raise ContextGone(f"order {order.number} is not paid ({order.state})")
        order.customer = context["customer"]
        orders.append(order)
    return {
        **context,
        "orders": orders,
        "orders_url": settings.SITE_URL + reverse("billing:orders"),
        # Whether any of them activates or renews a service (a custom order bills none).
        "bills_services": OrderItem.objects.filter(
            order__in=orders, service__isnull=False
        ).exists(),
    }


def payment_partial_email_context(refs: Mapping[str, Any]) -> dict[str, Any]:
    """The "partial payment received" email: what this payment took from the order and what it
    left due. An order paid in full since (the rest the email asks for) still gets it: it reports
    this payment, with what was left then. An order that is gone or cancelled (nothing is due on it
    any more) raises ``ContextGone``."""
    context = _payment_moment(refs)
    order = Order.objects.filter(pk=refs["order"], customer_id=refs["customer"]).first()
    if order is None:
        raise ContextGone(f"order {refs['order']} no longer exists")
    if order.state == OrderState.CANCELLED:
        raise ContextGone(f"order {order.number} was cancelled")
    order.customer = context["customer"]
    return {
        **context,
        "order": order,
        "took": Decimal(refs["took"]),
        "left": Decimal(refs["left"]),
        "order_url": order_services.order_pay_url(order),
    }


def credit_added_email_context(refs: Mapping[str, Any]) -> dict[str, Any]:
    """The "credit added" email: the credit this payment added and the credit it left, as they
    were then (a later payment or refund changes the account, not this email). Only a customer
    that is gone raises ``ContextGone``: the credit was added, whatever became of it since."""
    return {
        **_payment_moment(refs),
        "credited": Decimal(refs["credited"]),
        "credit": Decimal(refs["credit"]),
        "auto_apply": bool(refs["auto_apply"]),
    }


@transaction.atomic
def apply_credit(
    *,
    customer_id: int,
    order_ids: Sequence[int] | None = None,
    actor=None,
    notify: bool = True,
) -> Posting:
    """Use the customer's credit on their pending orders (``order_ids``, or all of them), the
    oldest due first. An order covered in full becomes paid ("via credit"); one covered in part
    keeps the rest due, which is what a gateway then charges. Another customer's orders are
    refused (``LedgerError``). Credit never goes below zero: the customer row is locked."""
    lock_customer(customer_id=customer_id)
    posting = Posting()
    if (
        order_ids is not None
        and Order.objects.filter(pk__in=order_ids).exclude(customer_id=customer_id).exists()
    ):
        raise LedgerError(_("This order does not exist."))
    credit = selectors.credits_available([customer_id]).get(customer_id, ZERO)
    if credit <= 0:
        return posting
    if order_ids is None:
        order_ids = list(
            Order.objects.filter(customer_id=customer_id, state=OrderState.PENDING).values_list(
                "pk", flat=True
            )
        )
    orders = _lock_orders(customer_id=customer_id, order_ids=order_ids, locked={})
    dues = selectors.order_balances([o.pk for o in orders])
    now = timezone.now()
    for order in sorted(orders, key=lambda o: (o.due_date, o.pk)):
        due = dues[order.pk] if order.state == OrderState.PENDING else ZERO
        keep = selectors.withholding_to_post(order) if due > 0 else ZERO
        take = min(max(due - keep, ZERO), credit)
        if take < due - keep:
            # Covered in part: what stays due is paid through a gateway, and cash networks and
            # Payvalida take whole pesos. Credit with cents (a downgrade's, exact as its credit
            # note) pays whole pesos here; its cents stay credit.
            take -= (1 - (due - take) % 1) % 1
        if take <= 0:
            continue
        if take == due - keep and keep > 0:
            _post_withholding(customer_id=customer_id, order=order, amount=keep, at=now)
            due -= keep
        # The credit leaves (+) and pays the order (−): one movement each way.
        common = {
            "customer_id": customer_id,
            "kind": LedgerKind.CREDIT_APPLIED,
            "actor": actor,
            "at": now,
        }
        LedgerEntry.objects.bulk_create(
            [
                _entry(amount=take, memo=order.number, **common),
                _entry(amount=-take, order=order, via=PaidVia.CREDIT, **common),
            ]
        )
        credit -= take
        posting.credit_applied += take
        posting.credit_by_order[order.pk] = take
        if take == due:
            _pay_in_full(
                order=order,
                via=PaidVia.CREDIT,
                method="",
                reference=_("account credit"),
                actor=actor,
                at=now,
                notify=notify,
            )
            posting.paid.append(order)
        else:
            posting.partial.append((order, take, due - take))
    if posting.credit_applied:
        logger.info(
            "credit applied customer=%s amount=%s paid=%s",
            customer_id,
            posting.credit_applied,
            [o.number for o in posting.paid],
        )
    return posting


def apply_credit_to_new_orders(*, orders: Sequence[Order]) -> Posting:
    """``BILLING_AUTO_APPLY_CREDIT``: new orders of customers who have credit use it at once
    (one query for the whole batch; ``create_orders`` calls it). Returns what the credit did:
    ``credit_by_order`` (order id → the credit it took, what the "order created" email states)
    and ``paid`` (the orders it paid in full). Their "payment received" emails are not queued
    here: ``create_orders`` queues them after the "order created" ones, so the customer reads
    them in that order."""
    total = Posting()
    if not settings.BILLING_AUTO_APPLY_CREDIT or not orders:
        return total
    credits = selectors.credits_available({o.customer_id for o in orders})
    for customer_id in sorted(credits):
        posting = apply_credit(
            customer_id=customer_id,
            order_ids=[o.pk for o in orders if o.customer_id == customer_id],
            notify=False,
        )
        total.credit_by_order.update(posting.credit_by_order)
        total.paid.extend(posting.paid)
        total.credit_applied += posting.credit_applied
    return total


@transaction.atomic
def refund_credit(
    *, customer_id: int, amount: Decimal, reference: str, actor, memo: str = "", via: str = ""
) -> LedgerEntry:
    """Staff decide to return part of the customer's credit instead of keeping it (the money
    itself goes back through the gateway or the bank, outside this entry). At most the credit
    available; audited. ``via`` ``manual``: staff paid it out by transfer at once (*Pay out
    credit*, ``services.pay_out_credit``): the money left when the entry was posted."""
    amount = quantize(amount)
    if amount <= 0:
        raise LedgerError(_("The amount must be greater than zero."))
    customer = lock_customer(customer_id=customer_id)
    credit = selectors.credit_available(customer)
    if amount > credit:
        raise LedgerError(
            _("The customer has %(credit)s of credit: a refund cannot be larger.")
            % {"credit": format_cop(credit)}
        )
    entry = _entry(
        customer_id=customer_id,
        kind=LedgerKind.REFUND,
        amount=amount,
        reference=reference,
        via=via,
        memo=memo,
        actor=actor,
    )
    entry.save()
    record(
        action="billing.credit_refunded",
        actor=actor,
        customer=customer,
        target=reference,
        changes={"amount": str(amount), "memo": memo[:300]},
    )
    return entry


def post_plan_change_credit(
    *, customer_id: int, amount: Decimal, memo: str, actor=None
) -> LedgerEntry | None:
    """A downgrade applied at once: the unused days of the dearer plan, less the same days of the
    cheaper one (``billing.planchanges``), become the customer's credit. The caller holds the
    customer's row lock; with ``BILLING_AUTO_APPLY_CREDIT`` it then pays pending orders."""
    amount = quantize(amount)
    if amount <= 0:
        return None
    entry = _entry(
        customer_id=customer_id, kind=LedgerKind.CREDIT, amount=-amount, memo=memo, actor=actor
    )
    entry.save()
    if settings.BILLING_AUTO_APPLY_CREDIT:
        apply_credit(customer_id=customer_id, actor=actor)
    return entry


#: The ledger kinds of a credit note on an order (refund, plan change, staff): what was credited.
NOTE_KINDS = (LedgerKind.CREDIT_NOTE, LedgerKind.CHANGE_NOTE, LedgerKind.INVOICE_NOTE)


def credited_on_order(order: Order) -> Decimal:
    """What the credit notes posted on ``order`` credited so far (IVA included)."""
    entries = LedgerEntry.objects.filter(order=order, kind__in=NOTE_KINDS)
    return -sum((e.amount for e in entries), ZERO)


def withholding_reversal(*, order: Order | None, amount: Decimal) -> Decimal:
    """The part of a credit note of ``amount`` (IVA included) on ``order`` that a withholding
    agent withheld when it paid the order: not owed back (it recovers it from DIAN), so it is not
    credited (``withholdings.calculation.withheld_share``). Zero for an order paid in full."""
    if order is None:
        return ZERO
    withheld = withholdings_selectors.withheld_from_order(order.pk)
    if withheld <= 0:
        return ZERO
    return withholding_calculation.withheld_share(
        withheld=withheld,
        total=quantize(order.total),
        credited_before=credited_on_order(order),
        credited=quantize(amount),
    )


def refund_note_amount(*, order: Order, amount: Decimal) -> Decimal:
    """The credit note (IVA included) for ``amount`` of money that paid ``order`` refunded: the
    amount itself, or, for an order a withholding agent paid net, the amount plus the
    withholdings of that part (``withholdings.calculation.gross_for_net``), so that refunding all
    the net it paid annuls the whole invoice while only the money it paid goes back."""
    withheld = withholdings_selectors.withheld_from_order(order.pk)
    if withheld <= 0:
        return quantize(amount)
    return withholding_calculation.gross_for_net(
        withheld=withheld,
        total=quantize(order.total),
        credited_before=credited_on_order(order),
        net=quantize(amount),
    )


def _reversal_memo(*, note: str, withheld: Decimal, refund: bool = False) -> str:
    """Why the credit (or the money refunded) is less than the note: stored in the site's
    language, as the DIAN documents are."""
    with translation.override(settings.LANGUAGE_CODE):
        values = {
            "note": note or _("(number follows)"),
            "withheld": format_cop(withheld, decimals=True),
        }
        if refund:
            return (
                _(
                    "Refund for credit note %(note)s, less the withholdings on it (%(withheld)s): "
                    "the customer recovers them from DIAN"
                )
                % values
            )
        return (
            _(
                "Credit for credit note %(note)s, less the withholdings on it (%(withheld)s): "
                "the customer recovers them from DIAN"
            )
            % values
        )


def _withholding_reversed(
    *,
    customer_id: int,
    order: Order,
    withheld: Decimal,
    note: str,
    reference: str,
    actor,
    at: dt.datetime,
    refund: bool = False,
) -> LedgerEntry:
    """The movement (unsaved: the caller posts it with the note's) of what a withholding agent
    withheld on the part of ``order`` a credit note ``note`` credits: + on the order, not owed
    back (it recovers it from DIAN), its memo saying why the credit (or the money ``refund``ed) is
    less than the note. ``reference``: the note's number, or the refund's reference for a refund.
    The withholdings app records the same reversal on the order's withheld amounts, in this
    transaction, so no certificate is expected for it (``withholdings.services.record_reversal``)."""
    withholdings_services.record_reversal(
        order_id=order.pk, amount=withheld, note=note, actor=actor
    )
    return _entry(
        customer_id=customer_id,
        kind=LedgerKind.WITHHOLDING_REVERSED,
        amount=withheld,
        order=order,
        reference=reference,
        memo=_reversal_memo(note=note, withheld=withheld, refund=refund),
        actor=actor,
        at=at,
    )


def post_plan_change_credit_note(
    *, order: Order, amount: Decimal, note: str, memo: str, actor=None
) -> LedgerEntry:
    """A downgrade's credit for money ``order`` was paid (``billing.planchanges``): its credit
    note lowers what the order cost (−, on the order, ``note`` its number or empty while DIAN's
    rules do not allow it yet) and the same amount becomes the customer's credit (+ on the
    order, − without), less what a withholding agent withheld on it
    (:func:`withholding_reversal`), so the order stays settled and the statement names the
    document. The caller holds the customer's row lock and applies credit to pending orders
    afterwards. Returns the credit note's movement."""
    return _note_to_credit(
        kind=LedgerKind.CHANGE_NOTE,
        customer_id=order.customer_id,
        order=order,
        amount=amount,
        note=note,
        memo=memo,
        actor=actor,
    )


def post_invoice_credit_note(
    *, customer_id: int, order: Order | None, amount: Decimal, note: str, memo: str, actor=None
) -> LedgerEntry:
    """A credit note staff issued on the invoice of a paid ``order`` (``billing.credit_notes``),
    its total with IVA owed back to the customer as credit: the note lowers what the order cost
    (−, on the order, ``note`` its number) and the same amount becomes the customer's credit (+ on
    the order, − without), less what a withholding agent withheld on the credited part
    (:func:`withholding_reversal`: + on the order, the agent recovers it from DIAN), so the order
    stays settled and the statement names the note. An invoice without an order gets the note's
    movement alone, as credit. The caller holds the customer's row lock and applies credit to
    pending orders afterwards. Returns the note's movement."""
    return _note_to_credit(
        kind=LedgerKind.INVOICE_NOTE,
        customer_id=customer_id,
        order=order,
        amount=amount,
        note=note,
        memo=memo,
        actor=actor,
    )


def _note_to_credit(
    *,
    kind: LedgerKind,
    customer_id: int,
    order: Order | None,
    amount: Decimal,
    note: str,
    memo: str,
    actor,
) -> LedgerEntry:
    """A credit note (``kind``) that becomes the customer's credit: the note (−, on ``order``),
    what a withholding agent withheld on that part (+, on the order: not owed back), then the
    rest moved off the order to the credit (+ on it, − without); without an order, the note's
    movement alone is the credit. Returns the note's movement."""
    amount = quantize(amount)
    if amount <= 0:
        raise LedgerError(_("The amount must be greater than zero."))
    common = {"customer_id": customer_id, "actor": actor, "at": timezone.now()}
    if order is None:
        entry = _entry(kind=kind, amount=-amount, reference=note, memo=memo, **common)
        entry.save()
        return entry
    withheld = withholding_reversal(order=order, amount=amount)
    credit = amount - withheld
    rows = [_entry(kind=kind, amount=-amount, order=order, reference=note, memo=memo, **common)]
    credit_memo = memo
    if withheld > 0:
        reversal = _withholding_reversed(
            order=order, withheld=withheld, note=note, reference=note, **common
        )
        credit_memo = reversal.memo
        rows.append(reversal)
    if credit > 0:
        rows += [
            _entry(
                kind=LedgerKind.NOTE_TO_CREDIT,
                amount=credit,
                order=order,
                reference=note,
                memo=credit_memo,
                **common,
            ),
            _entry(
                kind=LedgerKind.NOTE_TO_CREDIT,
                amount=-credit,
                reference=order.number,
                memo=credit_memo,
                **common,
            ),
        ]
    return LedgerEntry.objects.bulk_create(rows)[0]  # the credit note's movement


@transaction.atomic
def record_order_refund(
    *,
    order: Order,
    amount: Decimal,
    reference: str,
    note: str,
    actor=None,
    memo: str = "",
    note_amount: Decimal | None = None,
) -> None:
    """Money that paid ``order`` was returned to the customer: the credit note lowers what the
    order cost (−) and the refund gives back what was paid (+), both on the order, so its balance
    and the account's stay as they were (a refund is neither a debt nor a credit). ``note`` is the
    credit note's number (empty until DIAN's rules let it be issued). ``note_amount``: the credit
    note's amount when it is more than the money (``refund_note_amount``: an order a withholding
    agent paid net); the difference, what the agent withheld on that part and recovers from DIAN,
    is posted on the order (+) as not owed back."""
    amount = quantize(amount)
    credited = quantize(note_amount) if note_amount is not None else amount
    if amount <= 0 or credited < amount:
        raise LedgerError(_("The amount must be greater than zero."))
    at = timezone.now()
    common = {"customer_id": order.customer_id, "order": order, "actor": actor, "at": at}
    rows = [
        _entry(kind=LedgerKind.CREDIT_NOTE, amount=-credited, reference=note, memo=memo, **common)
    ]
    if credited > amount:
        rows.append(
            _withholding_reversed(
                withheld=credited - amount, note=note, reference=reference, refund=True, **common
            )
        )
    rows.append(
        _entry(
            kind=LedgerKind.PAYMENT_REFUNDED,
            amount=amount,
            reference=reference,
            memo=memo,
            **common,
        )
    )
    LedgerEntry.objects.bulk_create(rows)


def refund_withholding_reversed(*, order: Order, reference: str) -> Decimal:
    """What :func:`record_order_refund` posted as withheld on a refund's part of ``order``."""
    entries = LedgerEntry.objects.filter(
        order=order, kind=LedgerKind.WITHHOLDING_REVERSED, reference=reference
    )
    return sum((e.amount for e in entries), ZERO)


@transaction.atomic
def restore_refunded_credit(
    *, customer_id: int, amount: Decimal, reference: str, actor=None, memo: str = ""
) -> None:
    """A refund of credit that did not happen (the gateway declined it): the amount taken out
    with :func:`refund_credit` is the customer's credit again."""
    amount = quantize(amount)
    if amount <= 0:
        raise LedgerError(_("The amount must be greater than zero."))
    lock_customer(customer_id=customer_id)
    _entry(
        customer_id=customer_id,
        kind=LedgerKind.CREDIT,
        amount=-amount,
        reference=reference,
        memo=memo,
        actor=actor,
    ).save()
