"""Read queries for payments: the Pay now page, the result page, and "payment in process" for the order page."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clientarea.accounts.models import Customer
from clientarea.billing.models import Order, OrderState
from clientarea.payments.gateways import enabled_gateways
from clientarea.payments.gateways.base import Gateway, PaymentMethod
from clientarea.payments.models import GatewaySwitch, Payment, PaymentStatus

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


def gateway_options(order: Order | None = None) -> list[GatewayOption]:
    """The enabled gateways, in settings order, with the methods each accepts (and whether
    each can take a payment now: not switched off by staff, able to carry ``order``'s total)."""
    off = switched_off_gateways()
    return [
        _option(gateway, order, switched_off=gateway.code in off) for gateway in enabled_gateways()
    ]


def unavailable_reason(
    gateway: Gateway, order: Order | None = None, *, switched_off: bool | None = None
) -> str:
    """Why ``gateway`` cannot take a new payment (for ``order``) now, for the customer; "" when it can.

    ``switched_off``: whether staff stopped offering it, when the caller already knows.
    """
    if switched_off is None:
        switched_off = GatewaySwitch.objects.filter(gateway=gateway.code, offered=False).exists()
    if switched_off:
        return str(_("%(gateway)s is not available right now.") % {"gateway": gateway.name})
    if order is not None and not gateway.accepts_amount(order.total):
        return str(
            _("%(gateway)s only takes amounts in whole pesos, and this order's total has cents.")
            % {"gateway": gateway.name}
        )
    return ""


def _option(
    gateway: Gateway, order: Order | None = None, *, switched_off: bool = False
) -> GatewayOption:
    methods = [
        MethodOption(value=m.value, label=str(METHOD_LABELS[m]), help=str(METHOD_HELP[m]))
        for m in gateway.methods
    ]
    return GatewayOption(
        code=gateway.code,
        name=gateway.name,
        methods=methods,
        unavailable=unavailable_reason(gateway, order, switched_off=switched_off),
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
        Payment.objects.filter(order=order)
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


def result_state(payment: Payment) -> str:
    """What the result page shows (also its ``data-status``).

    approved · duplicate (paid twice: refund coming) · review · pending · processing
    (no news from the gateway yet) · declined · expired · order-paid (paid by another
    attempt or by staff) · order-cancelled.
    """
    order = payment.order
    if payment.status == PaymentStatus.APPROVED:
        if payment.duplicate:
            return "duplicate"
        if order.state == OrderState.PAID:
            return "approved"
        return "review"
    if payment.needs_review:
        return "review"
    if order.state == OrderState.PAID:
        return "order-paid"
    if order.state == OrderState.CANCELLED:
        return "order-cancelled"
    if payment.status == PaymentStatus.PENDING:
        return "pending"
    if payment.status == PaymentStatus.CREATED:
        return "processing"
    if payment.status == PaymentStatus.EXPIRED:
        return "expired"
    return "declined"


def method_label(value: str) -> str:
    try:
        return str(METHOD_LABELS[PaymentMethod(value)])
    except ValueError:
        return value
