"""Service orders: creation, the one place for state transitions, and the effects of payment.

Transitions (enforced only here):
    pending → paid       mark_order_paid()      (gateways via payments, or staff manual payment)
    pending → cancelled  cancel_order()         (staff or automation, with a reason)
Paid and cancelled are final.

Why one file: it is an order's whole life, read top-down in two halves. Creation (line
amounts, snapshots, numbers, ``OrderSpec``, ``create_orders`` and the single-order, staff and
new-service paths that call it) comes first; the transitions (``mark_order_paid``,
``cancel_order``, manual payment, resend) follow. Both halves write the same rows, the same
history events and the same emails, and a reader checking an invariant (one live order per
period, numbers without gaps, pending → paid exactly once) needs both. If it grows, the seam
is that line: creation moves to ``billing/ordering.py`` and this module re-exports its names.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, prefetch_related_objects
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from clientarea.accounts.audit import record as audit
from clientarea.accounts.contacts import queue_customer_email
from clientarea.accounts.models import Customer, EmailCategory, ProviderProfile, User
from clientarea.accounts.selectors import get_provider, provider_cached
from clientarea.billing import descriptions, event_texts, ledger
from clientarea.billing.event_texts import EventText
from clientarea.billing.models import (
    Counter,
    ItemKind,
    LedgerEntry,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderItem,
    OrderState,
    PaidVia,
)
from clientarea.billing.run_emails import (
    OrderEmailRenderer,
    attach_items,
    build_email,
    save_emails,
)
from clientarea.billing.selectors import (
    amount_to_charge,
    credit_available,
    net_dues,
    order_balance_due,
    order_prepayments,
    order_settlement,
    pending_withholdings,
    withholding_to_post,
)
from clientarea.catalog.models import CYCLE_MONTHS, Product, TaxTreatment
from clientarea.einvoice.documents import Prepayment
from clientarea.einvoice.models import Invoice
from clientarea.einvoice.services import allocate_invoice_for_order
from clientarea.lib import bulk, sitecache
from clientarea.lib.dates import BOGOTA, add_months, local_today
from clientarea.lib.money import ZERO, format_cop, payable_rounding, quantize, tax_for
from clientarea.lib.text import fold
from clientarea.notifications.models import OutgoingEmail
from clientarea.notifications.services import ContextGone
from clientarea.subscriptions import services as subscription_services
from clientarea.subscriptions.event_texts import ServiceText
from clientarea.subscriptions.models import Service, ServiceStatus
from clientarea.subscriptions.services import notify_services_changed
from clientarea.withholdings.calculation import OrderWithholdings
from clientarea.withholdings.services import fix_order_withholdings

logger = logging.getLogger(__name__)

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    OrderState.PENDING: frozenset({OrderState.PAID, OrderState.CANCELLED, OrderState.VALIDATING}),
    OrderState.VALIDATING: frozenset({OrderState.PENDING}),
    OrderState.PAID: frozenset(),
    OrderState.CANCELLED: frozenset(),
}


class OrderStateError(Exception):
    """A transition that the order's state does not allow (message is for people)."""


@dataclass(frozen=True)
class LineSpec:
    kind: str
    description: str
    unit_price: Decimal
    quantity: Decimal = Decimal("1")
    tax_treatment: str = TaxTreatment.TAXED
    tax_rate: Decimal = Decimal("19.00")
    service: Service | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    #: Taken off quantity × unit price before IVA (a coupon); the invoice's line AllowanceCharge.
    discount: Decimal = ZERO
    discount_reason: str = ""

    @property
    def net(self) -> Decimal:
        """Quantity × unit price, rounded, minus the discount: the line's value before IVA."""
        return quantize(Decimal(self.quantity) * Decimal(self.unit_price)) - quantize(
            Decimal(self.discount)
        )


@dataclass(frozen=True)
class LineAmounts:
    subtotal: Decimal
    tax: Decimal
    total: Decimal


def line_amounts(spec: LineSpec) -> LineAmounts:
    """The project's rounding rule (lib/money.py): round each line once, sum the rounded lines.

    A discount comes off the rounded gross value; IVA is computed on what is left."""
    gross = quantize(Decimal(spec.quantity) * Decimal(spec.unit_price))
    discount = quantize(Decimal(spec.discount))
    if discount < 0 or discount > gross:
        raise OrderStateError(_("A discount cannot be negative nor larger than the line."))
    subtotal = gross - discount
    rate = Decimal(spec.tax_rate) if spec.tax_treatment == TaxTreatment.TAXED else ZERO
    tax = tax_for(subtotal, rate)
    return LineAmounts(subtotal=subtotal, tax=tax, total=subtotal + tax)


def party_snapshot(customer: Customer) -> dict:
    """Buyer data frozen at issue: later profile edits do not change old orders or invoices."""
    return {
        "name": customer.display_name,
        "email": customer.user.email,
        "person_type": customer.person_type,
        "document_type": customer.document_type,
        "document_number": customer.document_number,
        "check_digit": customer.check_digit,
        "legal_name": customer.legal_name,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "trade_name": customer.trade_name,
        "phone": customer.phone,
        "address": customer.address,
        "municipality_code": customer.municipality_code,
        "municipality": customer.municipality_label,
        "fiscal_responsibilities": customer.fiscal_responsibilities,
    }


def seller_snapshot(provider: ProviderProfile | None) -> dict:
    if provider is None:
        return {}
    return {
        "name": provider.legal_name,
        "trade_name": provider.trade_name,
        "person_type": provider.person_type,
        "document_type": provider.document_type,
        "document_number": provider.document_number,
        "check_digit": provider.check_digit,
        "email": provider.email,
        "phone": provider.phone,
        "address": provider.address,
        "municipality_code": provider.municipality_code,
        "municipality": provider.municipality_label,
        "fiscal_responsibilities": provider.fiscal_responsibilities,
    }


def next_numbers(count: int, name: str = "ODS", prefix: str = "ODS-") -> list[str]:
    """``count`` consecutive values of a gap-free counter, under one row lock (caller holds the transaction)."""
    Counter.objects.get_or_create(name=name)
    counter = Counter.objects.select_for_update().get(name=name)
    first = counter.value + 1
    counter.value += count
    counter.save(update_fields=["value"])
    return [f"{prefix}{n:06d}" for n in range(first, first + count)]


def next_number(name: str = "ODS", prefix: str = "ODS-") -> str:
    return next_numbers(1, name=name, prefix=prefix)[0]


def order_pay_url(order: Order) -> str:
    return settings.SITE_URL + reverse("billing:order", kwargs={"number": order.number})


def period_key_for(spec: LineSpec) -> str | None:
    if (
        spec.service is None
        or spec.period_start is None
        or spec.kind not in (ItemKind.RENEWAL, ItemKind.NEW_SERVICE, ItemKind.DOMAIN)
    ):
        return None
    return f"{spec.service.pk}:{spec.period_start.isoformat()}"


def order_totals(amounts: Sequence[LineAmounts], *, whole_pesos: bool = True) -> dict[str, Decimal]:
    """Subtotal and IVA (sums of the rounded lines), and the amount to pay in whole pesos with
    its rounding (lib/money.py): ``total = subtotal + tax_total + rounding``. Without
    ``whole_pesos`` (a debit note: its total is what DIAN's document says) no rounding."""
    lines_total = sum((a.total for a in amounts), ZERO)
    rounding = payable_rounding(lines_total) if whole_pesos else ZERO
    return {
        "subtotal": sum((a.subtotal for a in amounts), ZERO),
        "tax_total": sum((a.tax for a in amounts), ZERO),
        "rounding": rounding,
        "total": lines_total + rounding,
    }


@dataclass(frozen=True)
class OrderSpec:
    """One order to create: whom it bills, its lines, its dates, and why (for its history)."""

    customer: Customer
    lines: Sequence[LineSpec]
    issue_date: dt.date | None = None  # default: today in Colombia
    due_date: dt.date | None = None  # default: issue date + BILLING_ORDER_DUE_DAYS
    #: Why it was issued, for its history: typed by a person, or a code and its values
    #: (``event_texts.EventText``), shown in the reader's language.
    reason: str | EventText = ""
    actor: User | None = None
    language: str | None = None  # of the "order created" email (default: the customer's)
    #: The DIAN debit note this order collects (``billing.debit_notes``): the order takes its
    #: number and its exact total (no rounding to whole pesos), and is posted as "debit note".
    debit_note: Invoice | None = None
    #: Created as "being validated by DIAN" (not payable) rather than pending: a debit note
    #: DIAN has not validated yet (``billing.debit_notes``).
    validating: bool = False


@transaction.atomic
def create_orders(
    *,
    specs: Sequence[OrderSpec],
    notify: bool = True,
    provider: ProviderProfile | None = None,
    renderer: OrderEmailRenderer | None = None,
    pay_url: Callable[[Order], str] = order_pay_url,
) -> list[Order]:
    """The one way to create pending ODS: one order per spec, with its items, its "created"
    event and (``notify``) its "order created" email, set-based in one transaction.

    Numbers come from one gap-free allocation for the whole batch (``next_numbers``, under
    the counter's row lock); orders, items, events and emails are each one bulk INSERT.
    Amounts follow lib/money.py (per-line rounding, whole-peso amount to pay); seller and
    buyer data are frozen at issue. Each order's total is posted to its customer's account
    (``billing.ledger``), and a customer's credit pays it at once when
    ``BILLING_AUTO_APPLY_CREDIT`` is on. Raises IntegrityError (from the unique period key,
    and nothing is written) if one of the service periods is already billed by a live
    order. ``renderer`` renders the emails of a large batch cheaply (the billing run);
    without it each email is rendered in full. Returns the orders, in the order of ``specs``.
    """
    if not specs:
        return []
    for spec in specs:
        if not spec.lines:
            raise OrderStateError(_("An order needs at least one item."))
    # The seller snapshot and every email read the provider once, and the emails' templates in
    # force are looked up under one read of the site data's version.
    with provider_cached(), sitecache.request_scope():
        orders, items = _insert_orders(specs=specs, provider=provider)
        ledger.post_order_charges(orders=orders)
        posting = ledger.apply_credit_to_new_orders(orders=orders)
        credit = posting.credit_by_order
        if notify:  # after the credit, so each email says what it paid and what is left
            to_pay = net_dues([o for o in orders if o.pk in credit]) if credit else {}
            save_emails(
                [
                    _order_created_email(
                        order=order,
                        items=order_items,
                        spec=spec,
                        renderer=renderer,
                        url=pay_url(order),
                        credit_applied=credit.get(order.pk, ZERO),
                        to_pay=to_pay.get(order.pk, order.total),
                    )
                    for order, order_items, spec in zip(orders, items, specs, strict=True)
                ]
            )
        # An order the credit paid in full: its "payment received" email after its "order
        # created" one (the email log's order, the customer's inbox's order).
        for paid in posting.paid:
            queue_order_paid_email(order=paid, settled={})
    for order in orders:
        logger.info(
            "order created %s customer=%s total=%s", order.number, order.customer_id, order.total
        )
    return orders


def _insert_orders(
    *, specs: Sequence[OrderSpec], provider: ProviderProfile | None
) -> tuple[list[Order], list[list[OrderItem]]]:
    seller = seller_snapshot(provider or get_provider())
    today = local_today()
    allocated = iter(next_numbers(sum(1 for spec in specs if spec.debit_note is None)))
    numbers = [
        str(spec.debit_note.full_number) if spec.debit_note is not None else next(allocated)
        for spec in specs
    ]
    amounts = [[line_amounts(line) for line in spec.lines] for spec in specs]
    orders = []
    for number, spec, lines_amounts in zip(numbers, specs, amounts, strict=True):
        issue = spec.issue_date or today
        orders.append(
            Order(
                number=number,
                customer=spec.customer,
                state=OrderState.VALIDATING if spec.validating else OrderState.PENDING,
                issue_date=issue,
                due_date=spec.due_date
                or issue + dt.timedelta(days=settings.BILLING_ORDER_DUE_DAYS),
                **order_totals(lines_amounts, whole_pesos=spec.debit_note is None),
                seller_snapshot=seller,
                buyer_snapshot=party_snapshot(spec.customer),
                created_by=spec.actor if getattr(spec.actor, "pk", None) else None,
                debit_note=spec.debit_note,
            )
        )
    bulk.insert(orders, return_ids=True)  # bulk_create's rows, without its per-value cost
    items = [
        [
            OrderItem(
                order=order,
                position=i,
                service=line.service,
                kind=line.kind,
                description=line.description[:300],
                period_start=line.period_start,
                period_end=line.period_end,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount=quantize(Decimal(line.discount)),
                discount_reason=line.discount_reason[:120] if line.discount else "",
                tax_treatment=line.tax_treatment,
                tax_rate=line.tax_rate if line.tax_treatment == TaxTreatment.TAXED else ZERO,
                subtotal=a.subtotal,
                tax_amount=a.tax,
                total=a.total,
                period_key=period_key_for(line),
            )
            for i, (line, a) in enumerate(zip(spec.lines, lines_amounts, strict=True), start=1)
        ]
        for order, spec, lines_amounts in zip(orders, specs, amounts, strict=True)
    ]
    bulk.insert([item for order_items in items for item in order_items])
    bulk.insert(
        [
            OrderEvent(
                order=order,
                kind=OrderEventKind.CREATED,
                actor=order.created_by,
                message=message,
                data={"total": str(order.total), **text},
            )
            for order, spec in zip(orders, specs, strict=True)
            for message, text in [event_texts.message_and_data(spec.reason)]
        ]
    )
    return orders, items


def _order_created_email(
    *,
    order: Order,
    items: Sequence[OrderItem],
    spec: OrderSpec,
    renderer: OrderEmailRenderer | None,
    url: str,
    credit_applied: Decimal,
    to_pay: Decimal,
) -> OutgoingEmail:
    """``credit_applied``: the account credit the new order took at once; ``to_pay``: what is
    left for Pay now (the total when no credit was applied)."""
    customer = spec.customer
    language = spec.language or customer.preferred_language or settings.LANGUAGE_CODE
    if renderer is not None:
        rendered = renderer.render(
            template="order_created",
            order=order,
            items=items,
            customer=customer,
            pay_url=url,
            language=language,
            credit_applied=credit_applied,
            to_pay=to_pay,
        )
        return build_email(
            customer=customer,
            template="order_created",
            context={},
            language=language,
            rendered=rendered,
        )
    return build_email(
        customer=customer,
        template="order_created",
        context={
            "order": attach_items(order, items),
            "customer": customer,
            "pay_url": url,
            "credit_applied": credit_applied,
            "to_pay": to_pay,
        },
        language=language,
    )


def create_order(
    *,
    customer: Customer,
    lines: Sequence[LineSpec],
    issue_date: dt.date | None = None,
    due_date: dt.date | None = None,
    actor=None,
    reason: str | EventText = "",
    notify: bool = True,
    provider: ProviderProfile | None = None,
) -> Order:
    """One pending ODS (``create_orders`` with one spec): items, totals, the "new order" email.

    Raises IntegrityError (from the unique period key) if one of the service
    periods is already billed by a live order.
    """
    (order,) = create_orders(
        specs=[
            OrderSpec(
                customer=customer,
                lines=lines,
                issue_date=issue_date,
                due_date=due_date,
                reason=reason,
                actor=actor,
            )
        ],
        notify=notify,
        provider=provider,
    )
    return order


def create_manual_order(
    *,
    customer: Customer,
    description: str,
    unit_price: Decimal,
    quantity: Decimal = Decimal("1"),
    tax_treatment: str = TaxTreatment.TAXED,
    tax_rate: Decimal = Decimal("19.00"),
    due_date: dt.date | None = None,
    reason: str = "",
    actor: User | None = None,
    notify: bool = True,
) -> Order:
    """Staff bill a customer for something outside the catalogue (one line, e.g. a migration):
    an ordinary pending ODS through ``create_orders``, with staff as its author."""
    if not description.strip():
        raise OrderStateError(_("Describe what the order bills."))
    if unit_price <= 0 or quantity <= 0:
        raise OrderStateError(_("The price and the quantity must be greater than zero."))
    today = local_today()
    if due_date is not None and due_date < today:
        raise OrderStateError(_("The due date cannot be in the past."))
    line = LineSpec(
        kind=ItemKind.OTHER,
        description=description.strip(),
        unit_price=unit_price,
        quantity=quantity,
        tax_treatment=tax_treatment,
        tax_rate=tax_rate,
    )
    return create_order(
        customer=customer,
        lines=[line],
        issue_date=today,
        due_date=due_date,
        actor=actor,
        reason=reason.strip() or "manual order",
        notify=notify,
    )


def period_end_for(*, cycle: str, start: dt.date, anchor_day: int | None = None) -> dt.date | None:
    months = CYCLE_MONTHS[cycle]
    return add_months(start, months, anchor_day=anchor_day) if months else None


@transaction.atomic
def order_new_service(
    *, customer: Customer, product: Product, cycle: str, label: str = "", actor=None
) -> Order:
    """A customer (or staff) orders a product: a pending service and a pending ODS to pay for it.

    Ordering the same product, cycle and label again while that order is still
    pending returns the existing order (a double-submitted form creates one order).
    """
    price = product.prices.filter(cycle=cycle).first()
    if price is None or not product.active:
        raise OrderStateError(_("This product is not available with that billing cycle."))
    Customer.objects.select_for_update().filter(
        pk=customer.pk
    ).first()  # serialize this customer's orders
    existing = (
        Order.objects.filter(
            customer=customer,
            state=OrderState.PENDING,
            items__kind__in=(ItemKind.NEW_SERVICE, ItemKind.DOMAIN),
            items__service__product=product,
            items__service__cycle=cycle,
            items__service__label=label.strip(),
            items__service__status=ServiceStatus.PENDING,
        )
        .order_by("-id")
        .first()
    )
    if existing is not None:
        return existing
    service = Service.objects.create(
        customer=customer,
        product=product,
        cycle=cycle,
        price=price.price,
        label=label.strip(),
        search_label=fold(label),
    )
    subscription_services.record_event(
        service, kind="created", actor=actor, reason=ServiceText("ordered")
    )
    today = local_today()
    texts = descriptions.texts_for(customer)  # the customer's language, not the page's
    end = period_end_for(cycle=cycle, start=today)
    lines = [
        LineSpec(
            kind=ItemKind.DOMAIN if product.kind == "domain" else ItemKind.NEW_SERVICE,
            description=texts.new_service(product=product, label=service.label),
            unit_price=price.price,
            tax_treatment=product.tax_treatment,
            tax_rate=product.effective_tax_rate,
            service=service,
            period_start=today,
            period_end=end,
        )
    ]
    if product.setup_fee:
        lines.append(
            LineSpec(
                kind=ItemKind.SETUP_FEE,
                description=texts.setup_fee_for(product=product),
                unit_price=product.setup_fee,
                tax_treatment=product.tax_treatment,
                tax_rate=product.effective_tax_rate,
                service=service,
            )
        )
    return create_order(
        customer=customer,
        lines=lines,
        actor=actor,
        reason=EventText("new_service"),
        due_date=today + dt.timedelta(days=settings.BILLING_CANCEL_UNPAID_NEW_AFTER_DAYS),
    )


@dataclass(frozen=True)
class PaymentOutcome:
    """What mark_order_paid did: ``applied`` is True exactly once per order."""

    order: Order
    applied: bool
    reason: str  # "paid" | "already_paid" | "cancelled"
    services_changed: list[int] = field(default_factory=list)


def _check_transition(order: Order, target: str) -> None:
    if target not in ALLOWED_TRANSITIONS[order.state]:
        raise OrderStateError(
            _("Order %(number)s is %(state)s and cannot become %(target)s.")
            % {
                "number": order.number,
                "state": order.get_state_display().lower(),
                "target": OrderState(target).label.lower(),
            }
        )


def lock_order(*, order_id: int, customer: Customer | None = None) -> Order:
    """The order row, locked until the caller's transaction ends (with its customer and user, as mark_order_paid needs).

    ``customer``: the order's customer, already read (and locked) by the caller with its user: it
    is attached instead of being read again with the order (an order of another customer keeps
    its own, read when used, and is refused by whoever checks the owner).
    """
    if customer is None:
        return Order.objects.select_for_update().select_related("customer__user").get(pk=order_id)
    order = Order.objects.select_for_update().get(pk=order_id)
    if order.customer_id == customer.pk:
        order.customer = customer
    return order


# No savepoint inside a caller's transaction: it raises only before writing (a state that
# cannot be paid), and anything else it raises must undo the caller's whole transaction.
@transaction.atomic(savepoint=False)
def mark_order_paid(
    *,
    order_id: int,
    paid_at: dt.datetime,
    via: str,
    method: str = "",
    reference: str = "",
    actor=None,
    locked: Order | None = None,
    notify: bool = True,
    owed: Decimal | None = None,
    prepayments: tuple[Prepayment, ...] | None = None,
    withholdings: OrderWithholdings | None = None,
    credited: Decimal = ZERO,
    not_withheld: bool = False,
) -> PaymentOutcome:
    """pending → paid, exactly once, with all its effects in this one transaction.

    Per item: a new service is activated (started on the payment date, due one
    cycle later); a renewal moves the due date one cycle forward from the
    previous due date; a service suspended for non-payment is unsuspended (a
    manual suspension stays). Then the electronic invoice is allocated, the
    "payment received" email is queued and provisioning is told, after commit.
    A second call returns ``applied=False`` and changes nothing.

    ``locked``: the same order as returned by :func:`lock_order` earlier in the
    caller's transaction (payments lock the order before the payment), so it is not
    read twice. Whatever the order still owes in the customer's account is posted as
    paid by this payment (``billing.ledger.record_payment`` posts it first, so nothing is
    left). ``notify``: queue the "payment received" email (off when one email names
    several orders paid together). ``owed``: what the order still owes, when the caller has
    just posted under the lock (``record_payment`` passes zero), so it is not summed again.
    ``prepayments``: the
    account credit applied to the order, for its invoice, when the caller knows it (``()``: none);
    ``None`` reads it from the ledger. ``withholdings``: what an approved agent withholds from
    the order, when the caller has just computed it while the order was pending
    (``billing.selectors.pending_withholdings``), so the agent is not looked up again.
    ``credited``: what the same payment left as the customer's credit (an overpayment), stated
    in the order's history and its "payment received" email. ``not_withheld``: an approved
    withholding agent paid the order's gross without withholding (``ledger.Allocation``):
    nothing withheld is fixed for it, so its invoice carries none and no certificate is
    expected; the history and the email say so.
    """
    order = (
        locked if locked is not None and locked.pk == order_id else lock_order(order_id=order_id)
    )
    if order.state == OrderState.PAID:
        return PaymentOutcome(order=order, applied=False, reason="already_paid")
    if order.state == OrderState.CANCELLED:
        return PaymentOutcome(order=order, applied=False, reason="cancelled")
    _check_transition(order, OrderState.PAID)
    order.state = OrderState.PAID
    order.paid_at = paid_at
    order.paid_via = via
    order.payment_method = method
    order.payment_reference = reference[:120]
    order.save(
        update_fields=["state", "paid_at", "paid_via", "payment_method", "payment_reference"]
    )
    if owed is None or owed > 0:
        ledger.post_settlement(
            order=order, via=via, method=method, reference=reference, actor=actor, at=paid_at
        )
    start = timezone.localtime(paid_at, BOGOTA).date()
    changed: list[int] = []
    # Read the items once: the invoice and the email below use this same list (order.items.all()).
    prefetch_related_objects(
        [order], Prefetch("items", queryset=OrderItem.objects.order_by("position", "id"))
    )
    items = list(order.items.all())
    service_ids = {item.service_id for item in items if item.service_id}
    services = {s.pk: s for s in Service.objects.select_for_update().filter(pk__in=service_ids)}
    for item in items:
        service = services.get(item.service_id) if item.service_id is not None else None
        if service is None or item.kind in (ItemKind.SETUP_FEE, ItemKind.OPTION):
            continue
        if item.kind == ItemKind.PLAN_CHANGE:  # an upgrade: the new plan applies once paid
            if subscription_services.apply_paid_plan_change(
                service=service, order_number=order.number, actor=actor
            ):
                changed.append(service.pk)
            continue
        if service.status == ServiceStatus.PENDING:
            subscription_services.activate_service(
                service=service, start=start, actor=actor, order_number=order.number
            )
            changed.append(service.pk)
        elif item.kind in (ItemKind.RENEWAL, ItemKind.DOMAIN) and item.period_start:
            if subscription_services.renew_service(
                service=service,
                period_start=item.period_start,
                actor=actor,
                order_number=order.number,
            ):
                changed.append(service.pk)
            else:
                logger.warning(
                    "order %s: service %s not renewed (due %s, period %s)",
                    order.number,
                    service.pk,
                    service.next_due_date,
                    item.period_start,
                )
    # How this payment settled the order beyond the order itself: what it left as credit,
    # and an agent that did not withhold (the history and the email state both).
    settled: dict[str, Any] = {}
    if credited > 0:
        settled["credited"] = str(quantize(credited))
    if not_withheld:
        settled["not_withheld"] = True
    OrderEvent.objects.create(
        order=order,
        kind=OrderEventKind.PAID,
        actor=actor if getattr(actor, "pk", None) else None,
        message=reference[:500],
        data={"via": via, "method": method, "services": changed, **settled},
    )
    with provider_cached():  # the invoice and the email read the provider profile once
        _after_paid(
            order=order,
            changed=changed,
            notify=notify,
            prepayments=prepayments,
            withholdings=withholdings,
            actor=actor,
            settled=settled,
        )
    logger.info("order paid %s via=%s method=%s services=%s", order.number, via, method, changed)
    return PaymentOutcome(order=order, applied=True, reason="paid", services_changed=changed)


def _after_paid(
    *,
    order: Order,
    changed: list[int],
    notify: bool = True,
    prepayments: tuple[Prepayment, ...] | None = None,
    withholdings: OrderWithholdings | None = None,
    actor=None,
    settled: Mapping[str, Any] | None = None,
) -> None:
    """Effects that belong to the paid transaction: invoice allocation, email, provisioning.

    Each writes its durable record here (the issued invoice, the email log row, the
    provisioning outbox rows); the worker does the work after commit, and its sweeps
    finish anything whose after-commit job was lost. ``settled``: what the paid event
    recorded beyond the order (credit kept, an agent that did not withhold), for the email.
    """
    settled = settled or {}
    if order.debit_note_id is None:
        # Before the invoice: it carries the withholdings fixed here (an approved agent's
        # order), none when the agent did not withhold on this payment.
        withheld = (
            []
            if settled.get("not_withheld")
            else fix_order_withholdings(order=order, computed=withholdings, actor=actor)
        )
        allocate_invoice_for_order(
            order=order,
            withholdings=withheld,
            # Account credit applied to the order (cac:PrepaidPayment); ``prepayments`` is given
            # when the caller knows it (none), else read from the ledger.
            prepayments=order_prepayments(order) if prepayments is None else prepayments,
        )
    # else: the order collects a debit note, which already is the DIAN document: no invoice.
    if notify:
        queue_order_paid_email(order=order, settled=settled)
    if changed:
        notify_services_changed(
            service_ids=changed, event="services.changed", order_number=order.number
        )


def queue_order_paid_email(*, order: Order, settled: Mapping[str, Any]) -> None:
    """The "payment received" email of a paid order. Recorded with the order's id and rendered by
    the worker when it delivers it (order_paid_email_context): no rendering inside the paid
    transaction. ``settled``: what the payment left as credit, an agent's not withholding."""
    queue_customer_email(
        customer=order.customer,
        category=EmailCategory.BILLING,
        template="order_paid",
        refs={"order": order.pk, **settled},
    )


def order_paid_email_context(refs: Mapping[str, Any]) -> dict[str, Any]:
    """The "payment received" email's context, read when the worker renders it (after commit).

    Everything the email states about the order (its number, lines, total, and whether it pays a
    debit note) is fixed once the order is paid (paid is final; a refund is a credit note with its
    own email), so the email read later says what it would have said at commit. The customer's
    name is the one on file when it is rendered. An order that is gone or not paid raises
    ``ContextGone``: the email fails rather than announce a payment that is not there. What the
    payment left as credit and an agent's not withholding are the paid moment's (``refs``).
    """
    order = (
        Order.objects.select_related("customer")
        .prefetch_related(Prefetch("items", queryset=OrderItem.objects.order_by("position", "id")))
        .filter(pk=refs["order"])
        .first()
    )
    if order is None:
        raise ContextGone(f"order {refs['order']} no longer exists")
    if order.state != OrderState.PAID:
        raise ContextGone(f"order {order.number} is not paid ({order.state})")
    # What the customer gave: money, credit, and what an agent withheld (its total is theirs).
    settled = order_settlement(order)
    return {
        "order": order,
        "customer": order.customer,
        "order_url": order_pay_url(order),
        "paid": settled.paid,
        "credit_applied": settled.credit_applied,
        "withheld": settled.withheld,
        # The rest of the same payment, kept as the customer's credit (an overpayment).
        "credited": Decimal(refs.get("credited", "0")),
        # An approved withholding agent paid the total without withholding: no certificate.
        "not_withheld": bool(refs.get("not_withheld", False)),
        # Whether the order activates or renews a service (a custom order, e.g. a migration,
        # bills none): only then does the email say the services are active or renewed.
        "bills_services": any(item.service_id for item in order.items.all()),
    }


@transaction.atomic
def cancel_order(
    *, order: Order, reason: str | EventText, actor=None, notify: bool = True
) -> Order:
    """pending → cancelled with a reason; the service periods it billed become billable again.

    The order no longer owes anything; what was paid on it (partial payments, credit applied)
    becomes the customer's credit.

    A service that was only waiting for this order (pending activation) is cancelled too.
    ``reason``: typed by a person, or a code and its values (``EventText``: the automatic
    cancellations), which the history shows in the reader's language; the order's reason, its
    ledger memo and the email get its words in the site's language.
    """
    event_message, event_data = event_texts.message_and_data(reason)
    # The cancelled services' history says it in the reader's language (billing's code nested).
    why: str | dict[str, Any] = reason.nested() if isinstance(reason, EventText) else reason
    reason = event_texts.sentence(reason)
    if not reason.strip():
        raise OrderStateError(_("Give a reason for cancelling the order."))
    locked = Order.objects.select_for_update().select_related("customer__user").get(pk=order.pk)
    _check_transition(locked, OrderState.CANCELLED)
    if locked.debit_note_id is not None:
        raise OrderStateError(
            _(
                "%(number)s collects a DIAN debit note and cannot be cancelled: issue a credit "
                "note on the invoice instead."
            )
            % {"number": locked.number}
        )
    locked.state = OrderState.CANCELLED
    locked.cancelled_at = timezone.now()
    locked.cancel_reason = reason[:300]
    locked.save(update_fields=["state", "cancelled_at", "cancel_reason"])
    ledger.post_cancellation(order=locked, actor=actor, reason=reason)
    items = list(locked.items.select_related("service"))
    OrderItem.objects.filter(order=locked).update(period_key=None)
    if any(item.kind == ItemKind.PLAN_CHANGE for item in items):
        subscription_services.close_plan_changes_for_order(order_number=locked.number)
    for item in items:
        if (
            item.service
            and item.service.status == ServiceStatus.PENDING
            and item.kind not in (ItemKind.SETUP_FEE, ItemKind.OPTION)
        ):
            subscription_services.cancel_service(
                service=item.service,
                reason=ServiceText("order_cancelled", {"number": locked.number, "reason": why}),
                actor=actor,
            )
    OrderEvent.objects.create(
        order=locked,
        kind=OrderEventKind.CANCELLED,
        actor=actor if getattr(actor, "pk", None) else None,
        message=event_message,
        data=event_data,
    )
    if notify:
        queue_customer_email(
            customer=locked.customer,
            category=EmailCategory.BILLING,
            template="order_cancelled",
            context={"order": locked, "customer": locked.customer, "reason": reason},
        )
    logger.info("order cancelled %s: %s", locked.number, reason)
    return locked


@dataclass(frozen=True)
class ManualPaymentSplit:
    """How a manual payment larger than the order's balance would be split (staff confirm it).

    ``received`` = ``pays`` (money allocated to the order) + ``excess`` (kept as the customer's
    credit); ``withheld`` is what an approved agent withheld, posted beside it (zero when it
    did not withhold, ``not_withheld``)."""

    received: Decimal
    pays: Decimal
    withheld: Decimal
    excess: Decimal
    not_withheld: bool


class PaymentAmountError(OrderStateError):
    """A manual payment's amount that does not fit the withholding decision; ``field`` is the
    form field to correct (``amount`` or ``not_withheld``). Nothing was written."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class ExcessNotConfirmed(OrderStateError):
    """A manual payment larger than what the order owes, whose excess staff have not confirmed
    (or confirmed a different amount): nothing was written. ``split`` says what it would do."""

    def __init__(self, message: str, *, split: ManualPaymentSplit) -> None:
        super().__init__(message)
        self.split = split


@dataclass(frozen=True)
class ManualPaymentPosted:
    """What one manual payment did (``post_manual_payment``): the money ``received``, the part
    ``allocated`` to the order, the part ``credited`` (kept as the customer's credit), and the
    ledger's reference, method and moment of it."""

    order: Order
    received: Decimal
    allocated: Decimal
    credited: Decimal
    reference: str
    method: str
    paid_at: dt.datetime


@dataclass(frozen=True)
class ManualPaymentDetails:
    """What staff give for money received outside the gateways for one order (*Register manual
    payment*): the order, the bank's (or the receipt's) reference, when and how it came, the
    amount (None: what the order still owes), whether an approved agent did not withhold on it,
    and the excess staff confirmed (see ``post_manual_payment``)."""

    order: Order
    reference: str
    paid_at: dt.datetime | None = None
    method: str = "transfer"
    amount: Decimal | None = None
    not_withheld: bool = False
    confirmed_excess: Decimal | None = None


def post_manual_payment(
    *, details: ManualPaymentDetails, actor, payment_reference: str = ""
) -> ManualPaymentPosted:
    """Staff record a payment received outside the gateways (a bank transfer, cash at the office).

    ``amount`` None pays what the order still owes, net of what an approved withholding agent
    withholds (the agent transfers the net; ``ledger.record_payment`` posts the withholding). Less
    leaves the order pending with the rest due (a partial payment: its services change only once
    it is paid in full). More pays the order and keeps the excess as the customer's credit
    (``ledger.record_payment``, as a gateway's overpayment; applied to their other pending orders
    when ``BILLING_AUTO_APPLY_CREDIT`` is on), but only once staff confirmed that excess:
    ``confirmed_excess`` must equal it, else ``ExcessNotConfirmed`` (with the split) and nothing
    is written.

    ``not_withheld``: an approved agent did not withhold on this payment (it transferred the
    gross). The order is paid at what it still owes, nothing withheld is posted nor fixed (no
    certificate is expected for it); the amount must cover all of it. Without it, an agent's
    amount equal to the gross still owed is refused: it is the transfer of an agent that did
    not withhold, which read as the net would post a withholding no certificate will cover and
    keep the withheld part as credit a second time.

    Money, state and the audit record (``billing.manual_payment``: the split and the withholding
    decision, and ``payment_reference``, the payment row the caller keeps for it) in one
    transaction under the customer's lock. Returns what it posted, with the order as it is after.
    """
    order, reference, amount = details.order, details.reference, details.amount
    method, paid_at, not_withheld = details.method, details.paid_at, details.not_withheld
    if not reference.strip():
        raise OrderStateError(_("Enter the payment reference (e.g. the bank transfer number)."))
    if order.state != OrderState.PENDING:
        raise OrderStateError(
            _("Order %(number)s is %(state)s: only pending orders can be paid.")
            % {"number": order.number, "state": order.get_state_display().lower()}
        )
    if amount is not None and amount <= 0:
        raise OrderStateError(_("The amount must be greater than zero."))
    with transaction.atomic():
        # The customer first (read once: the ledger takes it as it is), then the order.
        customer = ledger.lock_customer(customer_id=order.customer_id)
        locked = lock_order(order_id=order.pk, customer=customer)
        if locked.state != OrderState.PENDING:
            raise OrderStateError(
                _("Order %(number)s was already %(reason)s.")
                % {"number": order.number, "reason": locked.get_state_display().lower()}
            )
        due = order_balance_due(locked)
        # The agent status came with the customer's lock: not read again here.
        withholding = withholding_to_post(
            locked, computed=pending_withholdings(locked, customer=customer)
        )
        # "Did not withhold" means something only where something would be withheld.
        gross = not_withheld and withholding > 0
        net = due if gross else due - withholding
        received = net if amount is None else quantize(amount)
        if gross and received < due:
            raise PaymentAmountError(
                _(
                    "Without withholdings the payment must cover the %(due)s still owed on order "
                    '%(number)s. For a partial payment leave "The customer did not withhold on '
                    'this payment" unticked.'
                )
                % {"number": locked.number, "due": format_cop(due)},
                field="amount",
            )
        if withholding > 0 and not gross and received == due:
            raise PaymentAmountError(
                _(
                    "%(amount)s is what order %(number)s owes before withholdings. If the customer "
                    'did not withhold, tick "The customer did not withhold on this payment"; if '
                    "it withheld, enter what it transferred (the net is %(net)s)."
                )
                % {
                    "amount": format_cop(received),
                    "number": locked.number,
                    "net": format_cop(net),
                },
                field="not_withheld",
            )
        excess = max(received - net, ZERO)
        if excess > 0 and details.confirmed_excess != excess:
            split = ManualPaymentSplit(
                received=received,
                pays=net,
                withheld=ZERO if gross else withholding,
                excess=excess,
                not_withheld=gross,
            )
            raise ExcessNotConfirmed(
                _excess_warning(number=locked.number, split=split), split=split
            )
        paid_at = paid_at or timezone.now()
        posting = ledger.record_payment(
            customer_id=locked.customer_id,
            amount=received,
            allocations=[ledger.Allocation(order_id=locked.pk, withhold=not gross)],
            reference=reference.strip(),
            via="manual",
            method=method,
            paid_at=paid_at,
            actor=actor,
            locked_orders=[locked],
            locked_customer=customer,
        )
        locked.refresh_from_db()
        paid = locked.state == OrderState.PAID
        if gross:
            decision = "not_withheld"  # paid at the gross: nothing withheld, no certificate
        elif withholding == 0:
            decision = "none"  # not an agent, or nothing withheld from this order
        else:
            decision = "withheld" if paid else "when_paid"  # posted once the net is paid
        # Money staff say they received: who, when, how much and against what, in the audit log
        # (the order's history keeps the event, the ledger the movement).
        audit(
            action="billing.manual_payment",
            actor=actor,
            customer=customer,
            target=locked.number,
            changes={
                "amount": str(received),
                "due_before": str(due),
                "paid_to_order": str(posting.allocated),
                "withheld": str(withholding) if paid and decision == "withheld" else "0",
                "withholding": decision,
                "credited": str(posting.credited),
                # Credit applied at once to the customer's other pending orders (auto-apply).
                "credit_applied": str(posting.credit_applied),
                "orders_paid": [o.number for o in posting.paid],
                "reference": reference.strip()[:120],
                "payment": payment_reference,
                "method": method,
                "paid_at": timezone.localtime(paid_at, BOGOTA).isoformat(),
                "state": locked.state,
            },
        )
    return ManualPaymentPosted(
        order=locked,
        received=received,
        allocated=posting.allocated,
        credited=posting.credited,
        reference=reference.strip(),
        method=method,
        paid_at=paid_at,
    )


class ManualCreditRefused(Exception):
    """Money staff register as a customer's credit that cannot be recorded as given (the message
    is for staff); nothing was written."""


#: The methods money registered as credit arrives by (``post_manual_credit``).
MANUAL_CREDIT_METHODS = ("transfer", "cash")


@dataclass(frozen=True)
class ManualCreditPosted:
    """What ``post_manual_credit`` posted: the money ``received`` (all of it credit), the part of
    the credit applied at once to pending orders (``BILLING_AUTO_APPLY_CREDIT``) and the orders
    it paid, with the bank's reference, method and moment."""

    received: Decimal
    credit_applied: Decimal
    orders_paid: list[Order]
    reference: str
    method: str
    paid_at: dt.datetime


@dataclass(frozen=True)
class ManualCreditDetails:
    """What staff give for money received for no pending order (*Register a transfer as
    credit*): the customer, the amount, the bank's (or the receipt's) reference, how and when it
    came, and a note (see ``post_manual_credit``)."""

    customer: Customer
    amount: Decimal
    reference: str
    method: str = "transfer"
    paid_at: dt.datetime | None = None
    note: str = ""


def post_manual_credit(
    *, details: ManualCreditDetails, actor, payment_reference: str = ""
) -> ManualCreditPosted:
    """Staff record money received outside the gateways for no pending order (a transfer in
    advance, a second transfer for an order already paid, one for an order cancelled meanwhile):
    all of it becomes the customer's credit, posted as a gateway's "add funds" payment is
    (``ledger.record_payment`` without allocations: "credit added" via ``manual`` with the bank's
    reference, the "credit added" email, and the credit applied at once to pending orders when
    ``BILLING_AUTO_APPLY_CREDIT`` is on). Audited (``billing.manual_credit``, with
    ``payment_reference``, the payment row the caller keeps for it); under the customer's lock,
    in one transaction. A refusal (amount, reference, method, a date in the future) writes
    nothing."""
    customer, amount, method = details.customer, details.amount, details.method
    reference = " ".join((details.reference or "").split())[:120]
    note = " ".join((details.note or "").split())[:300]
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise ManualCreditRefused(_("The amount must be greater than zero."))
    if quantize(amount) != amount:
        raise ManualCreditRefused(_("The amount has at most two decimals."))
    if not reference:
        raise ManualCreditRefused(_("Enter the payment reference (e.g. the bank transfer number)."))
    if method not in MANUAL_CREDIT_METHODS:
        raise ManualCreditRefused(_("Choose how the money was received: transfer or cash."))
    now = timezone.now()
    paid_at = details.paid_at or now
    if paid_at > now + dt.timedelta(minutes=5):
        raise ManualCreditRefused(_("The payment date cannot be in the future."))
    with transaction.atomic():
        locked = ledger.lock_customer(customer_id=customer.pk)
        before = credit_available(locked)
        posting = ledger.record_payment(
            customer_id=locked.pk,
            amount=amount,
            allocations=[],
            reference=reference,
            via=PaidVia.MANUAL,
            method=method,
            paid_at=paid_at,
            actor=actor,
            memo=payment_reference,
            locked_customer=locked,
        )
        audit(
            action="billing.manual_credit",
            actor=actor,
            customer=locked,
            target=payment_reference or reference,
            changes={
                "amount": str(amount),
                "payment": payment_reference,
                "reference": reference,
                "method": method,
                "paid_at": timezone.localtime(paid_at, BOGOTA).isoformat(),
                "note": note,
                "credit_before": str(before),
                # Credit applied at once to the customer's pending orders (auto-apply).
                "credit_applied": str(posting.credit_applied),
                "orders_paid": [o.number for o in posting.paid],
            },
        )
    logger.info(
        "manual credit: customer=%s %s (%s, payment %s)",
        customer.pk,
        amount,
        reference,
        payment_reference,
    )
    return ManualCreditPosted(
        received=amount,
        credit_applied=posting.credit_applied,
        orders_paid=list(posting.paid),
        reference=reference,
        method=method,
        paid_at=paid_at,
    )


class CreditPayoutRefused(Exception):
    """A payout of credit that cannot be made as asked (the message is for staff); nothing
    was written."""


def pay_out_credit(
    *, customer: Customer, amount: Decimal, bank_reference: str, reason: str, actor
) -> LedgerEntry:
    """Staff return part of a customer's credit by bank transfer (*Pay out credit*): an
    overpayment's excess, a credit note kept as credit, any credit. Never more than the credit
    available (read under the customer's lock: two payouts at once cannot both take it); the
    ledger's "Credit refunded" (+) via ``manual`` with the transfer's reference, which the
    money movements show as money out that day; audited (``billing.credit_paid_out``). A
    refusal writes nothing."""
    bank_reference = " ".join((bank_reference or "").split())[:120]
    reason = " ".join((reason or "").split())[:300]
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise CreditPayoutRefused(_("The amount must be greater than zero."))
    if quantize(amount) != amount:
        raise CreditPayoutRefused(_("The amount has at most two decimals."))
    if not bank_reference:
        raise CreditPayoutRefused(_("Enter the reference of the transfer that returns the money."))
    if not reason:
        raise CreditPayoutRefused(_("Say why the credit is paid out."))
    with transaction.atomic():
        locked = ledger.lock_customer(customer_id=customer.pk)
        before = credit_available(locked)
        try:
            entry = ledger.refund_credit(
                customer_id=locked.pk,
                amount=amount,
                reference=bank_reference,
                actor=actor,
                memo=reason,
                via=PaidVia.MANUAL,
            )
        except ledger.LedgerError as exc:
            raise CreditPayoutRefused(str(exc)) from exc
        audit(
            action="billing.credit_paid_out",
            actor=actor,
            customer=locked,
            target=bank_reference,
            changes={
                "amount": str(amount),
                "credit_before": str(before),
                "credit_after": str(before - amount),
                "bank_reference": bank_reference,
                "reason": reason,
            },
        )
    logger.info("credit paid out: customer=%s %s (%s)", customer.pk, amount, bank_reference)
    return entry


def _excess_warning(*, number: str, split: ManualPaymentSplit) -> str:
    """What staff confirm before a manual payment larger than the order's balance is saved."""
    text = _(
        "%(received)s is more than order %(number)s owes: %(pays)s pays the order and "
        "%(excess)s will be kept as the customer's credit."
    ) % {
        "received": format_cop(split.received),
        "number": number,
        "pays": format_cop(split.pays),
        "excess": format_cop(split.excess),
    }
    if split.withheld > 0:
        text += " " + _(
            "%(withheld)s is posted as withheld by the customer (a withholding certificate is "
            'expected for it). If the customer did not withhold on this payment, tick "The '
            'customer did not withhold on this payment" instead.'
        ) % {"withheld": format_cop(split.withheld)}
    elif split.not_withheld:
        text += " " + _("The customer did not withhold: nothing withheld is posted.")
    return text


def resend_order_email(*, order: Order, actor=None) -> None:
    """Send the order's email again, as it stands now: a pending order's says what account
    credit already paid and what is left, a paid order's what settled it (the resent copies
    said only the total, and "we received your payment" for an order credit had paid)."""
    template = {"pending": "order_created", "paid": "order_paid", "cancelled": "order_cancelled"}[
        order.state
    ]
    settled = order_settlement(order) if order.state != OrderState.CANCELLED else None
    with transaction.atomic():
        queue_customer_email(
            customer=order.customer,
            category=EmailCategory.BILLING,
            template=template,
            context={
                "order": order,
                "customer": order.customer,
                "pay_url": order_pay_url(order),
                "order_url": order_pay_url(order),
                "reason": order.cancel_reason,
                **(
                    {
                        "paid": settled.paid,
                        "credit_applied": settled.credit_applied,
                        "withheld": settled.withheld,
                        "to_pay": amount_to_charge([order]),
                    }
                    if settled is not None
                    else {}
                ),
            },
        )
        OrderEvent.objects.create(
            order=order, kind=OrderEventKind.EMAIL_RESENT, actor=actor, message=template
        )
