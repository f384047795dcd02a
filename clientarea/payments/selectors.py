"""Read queries for payments: the Pay now page, the result page, and "payment in process" for the order page."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from clientarea.accounts.models import Customer
from clientarea.billing.models import Order, OrderItem, OrderState
from clientarea.payments.gateways import enabled_gateways
from clientarea.payments.gateways.base import Gateway, PaymentMethod
from clientarea.payments.models import (
    GatewaySwitch,
    Payment,
    PaymentStatus,
    Refund,
    RefundLine,
    RefundMethod,
    RefundState,
)

#: A created attempt this recent may still be in progress at the gateway (customer at the bank's page).
RECENT_ATTEMPT = dt.timedelta(minutes=30)

METHOD_LABELS = {
    PaymentMethod.CARD: _("Credit or debit card"),
    PaymentMethod.PSE: _("PSE (bank transfer)"),
    PaymentMethod.CASH: _("Cash"),
    PaymentMethod.OTHER: _("Other"),
}
METHOD_HELP = {
    PaymentMethod.CARD: _("Visa, Mastercard, American Express, Diners. Approved at once."),
    PaymentMethod.PSE: _("Pay from your bank account. Your bank confirms in a few minutes."),
    PaymentMethod.CASH: _(
        "Print or note a voucher and pay at Efecty, Baloto or another network. Confirmed when you pay, within 7 days."
    ),
    PaymentMethod.OTHER: "",
}


@dataclass(frozen=True)
class MethodOption:
    value: str
    label: str
    help: str


@dataclass(frozen=True)
class GatewayOption:
    code: str
    name: str
    methods: list[MethodOption]
    #: Why this gateway cannot take this order ("" when it can).
    unavailable: str = ""


def switched_off_gateways() -> dict[str, str]:
    """Gateways staff stopped offering at Pay now: code → reason (for staff)."""
    return dict(GatewaySwitch.objects.filter(offered=False).values_list("gateway", "reason"))


def gateway_options(amount: Decimal | None = None) -> list[GatewayOption]:
    """The enabled gateways, in settings order, with the methods each accepts (and whether
    each can take a payment now: not switched off by staff, able to carry ``amount``)."""
    off = switched_off_gateways()
    return [
        _option(gateway, amount, switched_off=gateway.code in off) for gateway in enabled_gateways()
    ]


def unavailable_reason(
    gateway: Gateway, *, amount: Decimal | None = None, switched_off: bool | None = None
) -> str:
    """Why ``gateway`` cannot take a new payment (of ``amount``) now, for the customer; "" when it can.

    ``switched_off``: whether staff stopped offering it, when the caller already knows.
    """
    if switched_off is None:
        switched_off = GatewaySwitch.objects.filter(gateway=gateway.code, offered=False).exists()
    if switched_off:
        return str(_("%(gateway)s is not available right now.") % {"gateway": gateway.name})
    if amount is not None and not gateway.accepts_amount(amount):
        return str(
            _("%(gateway)s only takes amounts in whole pesos, and the amount to pay has cents.")
            % {"gateway": gateway.name}
        )
    return ""


def _option(
    gateway: Gateway, amount: Decimal | None = None, *, switched_off: bool = False
) -> GatewayOption:
    methods = [
        MethodOption(value=m.value, label=str(METHOD_LABELS[m]), help=str(METHOD_HELP[m]))
        for m in gateway.methods
    ]
    return GatewayOption(
        code=gateway.code,
        name=gateway.name,
        methods=methods,
        unavailable=unavailable_reason(gateway, amount=amount, switched_off=switched_off),
    )


def payable_order_for_customer(customer: Customer, number: str) -> Order:
    """One of the customer's orders (any state) with its items, or 404."""
    order = Order.objects.filter(customer=customer, number=number).prefetch_related("items").first()
    if order is None:
        raise Http404("No such order")
    return order


def payment_in_process(order: Order, *, now: dt.datetime | None = None) -> Payment | None:
    """The attempt that may still turn into money for ``order``, or None.

    That is the newest ``pending`` attempt (PSE at the bank, cash voucher issued),
    or an attempt ``created`` in the last 30 minutes (the customer may still be on
    the gateway's page). Only for pending orders.
    """
    if order.state != OrderState.PENDING:
        return None
    now = now or timezone.now()
    return (
        Payment.objects.filter(Q(order=order) | Q(basket__order=order))
        .distinct()
        .filter(
            Q(status=PaymentStatus.PENDING)
            | Q(status=PaymentStatus.CREATED, created_at__gte=now - RECENT_ATTEMPT)
        )
        .order_by("-created_at", "-id")
        .first()
    )


def payment_for_customer(customer: Customer, reference: str) -> Payment:
    """One of the customer's payments with its order, or 404 (unknown, or another customer's)."""
    payment = (
        Payment.objects.select_related("order")
        .filter(customer=customer, reference=reference)
        .first()
    )
    if payment is None:
        raise Http404("No such payment")
    return payment


def order_payments(order: Order) -> QuerySet[Payment]:
    """Every payment attempt for an order, oldest first: those it was the first order of and
    those that paid it with others (pay several), gateway attempts and payments staff
    registered."""
    return (
        Payment.objects.filter(Q(order=order) | Q(basket__order=order))
        .distinct()
        .order_by("created_at", "id")
    )


def payment_orders(payment: Payment) -> list[Order]:
    """The orders one payment is meant for, by number (none when it adds funds)."""
    return list(
        Order.objects.filter(Q(pk=payment.order_id) | Q(payment_baskets__payment=payment))
        .distinct()
        .order_by("number")
    )


def orders_bill_services(orders: list[Order]) -> bool:
    """Whether any of these orders activates or renews a service (a custom order, e.g. a
    migration, bills none)."""
    return OrderItem.objects.filter(order__in=orders, service__isnull=False).exists()


def result_state(payment: Payment, orders: list[Order] | None = None) -> str:
    """What the result page shows (also its ``data-status``).

    approved · credited (funds added) · duplicate (paid twice: kept as credit) · review ·
    pending · processing (no news from the gateway yet) · declined · expired · order-paid
    (paid by another attempt or by staff, this attempt closed) · order-paid-open (paid so, but
    this attempt may still be charged: the customer may have paid it too, so nothing may promise
    it will not be charged) · order-cancelled.
    """
    if orders is None:
        orders = payment_orders(payment)
    states = {order.state for order in orders}
    if payment.status == PaymentStatus.APPROVED:
        if payment.adds_funds:
            return "credited"
        if payment.duplicate:
            return "duplicate"
        if OrderState.PAID in states and not payment.needs_review:
            return "approved"
        return "review"
    if payment.needs_review:
        return "review"
    # Not decided yet: open, or replaced by a newer attempt but not yet withdrawn at the gateway
    # (its checkout may still be open in another tab: reconciliation looks once more, then
    # withdraws it). Such an attempt may still be charged, so no page may say it was not.
    undecided = payment.status in (PaymentStatus.CREATED, PaymentStatus.PENDING) or (
        payment.status == PaymentStatus.EXPIRED and payment.next_check_at is not None
    )
    if states == {OrderState.PAID}:
        return "order-paid-open" if undecided else "order-paid"
    if states == {OrderState.CANCELLED}:
        return "order-cancelled"
    if payment.status == PaymentStatus.PENDING:
        return "pending"
    if payment.status == PaymentStatus.CREATED:
        return "processing"
    if payment.status == PaymentStatus.EXPIRED:
        return "processing" if undecided else "expired"
    return "declined"


def orders_to_pay(customer: Customer, numbers: list[str]) -> list[Order]:
    """The customer's pending orders among ``numbers`` (others' or unknown numbers are left out)."""
    return list(
        Order.objects.filter(customer=customer, number__in=numbers[:100], state=OrderState.PENDING)
        .prefetch_related("items")
        .order_by("due_date", "id")
    )


def method_label(value: str) -> str:
    try:
        return str(METHOD_LABELS[PaymentMethod(value)])
    except ValueError:
        return value


# -- the customer's Refunds page ----------------------------------------------------------------

#: The credit note's and order's large columns, never needed to list refunds.
_REFUND_LINE_DEFER = (
    "credit_note__xml_unsigned",
    "credit_note__xml_signed",
    "credit_note__attached_document",
    "credit_note__pdf",
    "credit_note__document",
    "credit_note__application_response",
    "credit_note__prepayments",
    "order__seller_snapshot",
    "order__buyer_snapshot",
    "order__reminders_sent",
)


def refunded_amount(payment: Payment) -> Decimal:
    """What the payment's completed refunds returned (part of it, or all of it)."""
    total = Refund.objects.filter(payment=payment, state=RefundState.COMPLETED).aggregate(
        total=Sum("amount")
    )["total"]
    return total or Decimal("0")


def customer_refunds(customer: Customer) -> QuerySet[Refund]:
    """The customer's refunds, newest first, each with its payment and its lines (order and credit
    note): three queries per page, whatever the number of refunds."""
    lines = RefundLine.objects.select_related("order", "credit_note").defer(*_REFUND_LINE_DEFER)
    return (
        Refund.objects.filter(customer=customer)
        .select_related("payment")
        .defer("payment__checkout_payload", "payment__instructions")
        .prefetch_related(Prefetch("lines", queryset=lines.order_by("id")))
        .order_by("-requested_at", "-id")
    )


def customer_refund(customer: Customer, pk: int) -> Refund:
    """One of the customer's refunds, or 404 (unknown, or another customer's)."""
    refund = customer_refunds(customer).filter(pk=pk).first()
    if refund is None:
        raise Http404("No such refund")
    return refund


def refund_note_text(note: str) -> str:
    """A payment's refund note in the reader's language. What staff typed stays as typed; the
    line a completed refund adds ("$ 119.000 Manual (bank transfer or the gateway's back office)
    Bancolombia 998877") names its method in the words of whoever's language was active then
    (the staff member who made it, before it was written in English): each method's words, in
    either language, are read as the reader's (a lookup on the text, the note is not changed)."""
    if not note:
        return note
    words: dict[str, str] = {}
    for value, label in RefundMethod.choices:
        for language in ("en", "es"):
            with translation.override(language):
                words[str(label)] = value
    reader = dict(RefundMethod.choices)
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))
    return pattern.sub(lambda found: str(reader[words[found.group(0)]]), note)
