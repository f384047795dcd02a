"""Read queries for service orders: the customer's Billing pages, the dashboard card and page links.

Every function here runs a fixed number of queries, whatever the number of
orders, items or events (the pages' query-count tests hold them to it).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from django.db import connection
from django.db.models import BooleanField, Count, ExpressionWrapper, Prefetch, Q, QuerySet, Sum
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from clientarea.accounts.models import Customer, DocumentType
from clientarea.billing import event_texts
from clientarea.billing.models import (
    LedgerEntry,
    LedgerKind,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderItem,
    OrderState,
    PaidVia,
    PlanChangeCreditNote,
)
from clientarea.catalog.models import TaxTreatment
from clientarea.einvoice.documents import Prepayment
from clientarea.einvoice.models import DELIVERABLE_STATUSES, DocumentKind, Invoice
from clientarea.helpcenter.selectors import article_url_for
from clientarea.lib.dates import BOGOTA, local_today
from clientarea.lib.money import ZERO, format_cop, quantize
from clientarea.subscriptions.models import Service
from clientarea.withholdings import selectors as withholdings_selectors
from clientarea.withholdings.calculation import RETEFUENTE, RETEICA, RETEIVA, OrderWithholdings
from clientarea.withholdings.models import AgentStatus, WithholdingAgent

ORDERS_PER_PAGE = 25


def _with_overdue(queryset: QuerySet[Order], today: dt.date) -> QuerySet[Order]:
    """Annotate ``is_overdue``: pending and due before today (Colombian date)."""
    return queryset.annotate(
        is_overdue=ExpressionWrapper(
            Q(state=OrderState.PENDING, due_date__lt=today), output_field=BooleanField()
        ),
    )


def orders_for_customer(
    customer: Customer,
    *,
    state: str | None = None,
    today: dt.date | None = None,
    items: bool = True,
) -> QuerySet[Order]:
    """The customer's orders, newest first, each with its items prefetched (for the "what for" column).

    ``state`` filters by one OrderState value; anything else means all orders. ``items=False``
    leaves the items out (``item_descriptions`` reads what a list shows of them, cheaper).
    """
    queryset = Order.objects.filter(customer=customer).defer(
        "seller_snapshot", "buyer_snapshot", "reminders_sent"
    )
    if state in OrderState.values:
        queryset = queryset.filter(state=state)
    queryset = _with_overdue(queryset, today or local_today()).order_by("-issue_date", "-id")
    if not items:
        return queryset
    prefetch = OrderItem.objects.only("id", "order_id", "position", "description").order_by(
        "position", "id"
    )
    return queryset.prefetch_related(Prefetch("items", queryset=prefetch))


def item_descriptions(order_ids: Iterable[int]) -> dict[int, list[str]]:
    """Each order's item descriptions in their order, in one query of plain values (a page of
    orders shows the first two and how many more)."""
    found: dict[int, list[str]] = {pk: [] for pk in order_ids}
    rows = (
        OrderItem.objects.filter(order_id__in=list(found))
        .order_by("order_id", "position", "id")
        .values_list("order_id", "description")
    )
    for order_id, description in rows:
        found[order_id].append(description)
    return found


def order_state_counts(customer: Customer) -> dict[str, int]:
    """Number of orders per state, plus "all", in one query (for the filter links)."""
    return order_summary(customer)["counts"]


def order_summary(customer: Customer, *, today: dt.date | None = None) -> dict:
    """In one query: orders per state (plus "all"), for the filter links, and what the customer
    owes: ``due_total`` (pending orders) and ``overdue_total`` / ``overdue_count`` (pending and
    past their due date, Colombian date).

    What is owed is what the pending orders still owe on the ledger (their totals less partial
    payments and account credit applied to them), not their totals: the back office's customer
    page showed an order's whole total as owed after credit had paid part of it."""
    overdue = Q(state=OrderState.PENDING, due_date__lt=today or local_today())
    # Joined with the orders' ledger entries: the counts are of distinct orders.
    row = Order.objects.filter(customer=customer).aggregate(
        all=Count("id", distinct=True),
        **{state: Count("id", filter=Q(state=state), distinct=True) for state in OrderState.values},
        due_total=Sum("ledger_entries__amount", filter=Q(state=OrderState.PENDING)),
        overdue_total=Sum("ledger_entries__amount", filter=overdue),
        overdue_count=Count("id", filter=overdue, distinct=True),
    )
    return {
        "counts": {key: row[key] or 0 for key in ("all", *OrderState.values)},
        "due_total": _sum(row["due_total"]),
        "overdue_total": _sum(row["overdue_total"]),
        "overdue_count": row["overdue_count"] or 0,
    }


@dataclass(frozen=True)
class Balance:
    """What a customer owes and how much of it is overdue (COP)."""

    due: Decimal
    overdue: Decimal
    overdue_count: int
    #: Account credit not applied yet (overpayments, duplicates, credit notes…).
    credit: Decimal = ZERO


def balance_and_overdue(customer: Customer, *, today: dt.date | None = None) -> Balance:
    """The one place the back office reads what a customer owes: what their pending orders still
    owe on the ledger (``order_summary``), and how much of it is overdue."""
    summary = order_summary(customer, today=today)
    return Balance(
        due=summary["due_total"],
        overdue=summary["overdue_total"],
        overdue_count=summary["overdue_count"],
        credit=credit_available(customer),
    )


@dataclass(frozen=True)
class DueStatus:
    """How an order's due date reads today: days left, or days overdue (Colombian date)."""

    overdue: bool
    days_left: int
    days_overdue: int


def due_status(order: Order, *, today: dt.date | None = None) -> DueStatus:
    days = ((today or local_today()) - order.due_date).days
    overdue = order.state == OrderState.PENDING and days > 0
    return DueStatus(overdue=overdue, days_left=max(-days, 0), days_overdue=max(days, 0))


def find_customer(text: str) -> Customer | None:
    """The customer with this email (any case) or document number, for staff forms."""
    text = (text or "").strip()
    if not text:
        return None
    return (
        Customer.objects.select_related("user")
        .filter(Q(user__email__iexact=text) | Q(document_number=text))
        .order_by("pk")
        .first()
    )


def order_for_customer(customer: Customer, number: str, *, today: dt.date | None = None) -> Order:
    """One of the customer's orders with its items and history, or 404 (unknown, or another customer's)."""
    queryset = _with_overdue(
        Order.objects.filter(customer=customer, number=number), today or local_today()
    ).prefetch_related(
        Prefetch("items", queryset=OrderItem.objects.order_by("position", "id")),
        Prefetch("events", queryset=OrderEvent.objects.order_by("created_at", "id")),
    )
    order = queryset.first()
    if order is None:
        raise Http404("No such order")
    return order


def orders_billing_service(service) -> QuerySet[Order]:
    """Orders with at least one item for ``service``, newest first (one query)."""
    return (
        _with_overdue(Order.objects.filter(items__service=service), local_today())
        .defer("seller_snapshot", "buyer_snapshot", "reminders_sent")
        .distinct()
        .order_by("-issue_date", "-id")
    )


def dashboard_summary(customer: Customer) -> dict:
    """Keys for the dashboard's "Pending orders" card, in one query."""
    row = Order.objects.filter(customer=customer, state=OrderState.PENDING).aggregate(
        count=Count("id"),
        total=Sum("total"),
        overdue=Count("id", filter=Q(due_date__lt=local_today())),
    )
    count = row["count"] or 0
    return {
        "pending_orders": count > 0,
        "pending_orders_count": count,
        "pending_total": row["total"] or ZERO,
        "overdue_orders_count": row["overdue"] or 0,
    }


# --- Presentation helpers (pure: no queries) -----------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    """One line of an order's history; ``when`` is a date (no time) for the issue."""

    when: dt.datetime | dt.date
    label: str
    detail: str = ""

    @property
    def has_time(self) -> bool:
        return isinstance(self.when, dt.datetime)


def _event_label(kind: str) -> str:
    if kind in OrderEventKind.values:
        return str(OrderEventKind(kind).label)
    return kind.replace("_", " ").capitalize()


def event_text(event: OrderEvent) -> str:
    """What an order event says, in the active language (``billing.event_texts``): why it was
    issued or cancelled, a reminder's stage; a resent email is named by its details instead."""
    if event.kind == OrderEventKind.EMAIL_RESENT:
        return ""
    return event_texts.event_message(kind=event.kind, message=event.message, data=event.data)


def order_history(order: Order) -> list[HistoryEntry]:
    """What happened to the order, oldest first, in words for the customer (uses the prefetched events).

    The issue and the payment are dated as the page states them: by the order's issue date
    and payment time (an order can be issued or paid for an earlier moment than it was
    recorded, e.g. a billing run for a past date or a payment staff register later).
    """
    entries: list[HistoryEntry] = []
    for event in order.events.all():
        when: dt.datetime | dt.date = event.created_at
        detail = ""
        if event.kind == OrderEventKind.CREATED:
            when = order.issue_date
        elif event.kind == OrderEventKind.CANCELLED:
            detail = event_text(event)
        elif event.kind == OrderEventKind.PAID:
            when = order.paid_at or event.created_at
            detail = payment_description(
                via=event.data.get("via", ""), method=event.data.get("method", "")
            )
        entries.append(HistoryEntry(when=when, label=_event_label(event.kind), detail=detail))
    return entries


def payment_method_label(method: str) -> str:
    labels = {"card": _("card"), "pse": "PSE", "cash": _("cash"), "transfer": _("bank transfer")}
    return labels.get(method, method)


def payment_description(*, via: str, method: str) -> str:
    """ "PayU Latam (PSE)", or "bank transfer" for a payment our staff registered."""
    if via == PaidVia.MANUAL:
        return payment_method_label(method) if method else _("payment registered by our team")
    gateway = PaidVia(via).label if via in PaidVia.values else via
    return f"{gateway} ({payment_method_label(method)})" if method else str(gateway)


def party_document(snapshot: dict) -> str:
    """ "NIT 900123456-8" or "Cédula de ciudadanía 1017234567" from an order's party snapshot."""
    doc_type, number = snapshot.get("document_type", ""), snapshot.get("document_number", "")
    if not number:
        return ""
    if doc_type == DocumentType.NIT:
        dv = snapshot.get("check_digit")
        return f"NIT {number}-{dv}" if dv else f"NIT {number}"
    label = DocumentType(doc_type).label if doc_type in DocumentType.values else doc_type
    return f"{label} {number}"


def tax_label(item: OrderItem) -> str:
    """The IVA column of an item: "19%", or why there is none."""
    if item.tax_treatment == TaxTreatment.EXEMPT:
        return _("Exempt")
    if item.tax_treatment == TaxTreatment.EXCLUDED:
        return _("Excluded")
    rate = Decimal(item.tax_rate).normalize()
    return f"{rate:f}%"


def pay_url(order: Order) -> str:
    """Where "Pay now" goes: the payments app's page for this order."""
    return reverse("payments:choose", kwargs={"number": order.number})


def pay_help_url(language: str) -> str | None:
    """The help-center article on paying (None when no such article is published)."""
    return article_url_for("pay", language) or None


def debit_notes_of(order_ids: Iterable[int]) -> dict[int, Invoice]:
    """The debit note each of these orders collects (order id → note; orders that collect none
    are left out), without the note's files (one query)."""
    fields = ("full_number", "kind", "status", "transmitted_at", "rendered_at", "total")
    orders = (
        Order.objects.filter(pk__in=list(order_ids), debit_note__isnull=False)
        .select_related("debit_note__reference")
        .only(
            "id",
            "debit_note_id",
            *(f"debit_note__{name}" for name in fields),
            "debit_note__reference__full_number",
        )
    )
    return {order.pk: order.debit_note for order in orders if order.debit_note is not None}


def order_invoice(order: Order) -> Invoice | None:
    """The electronic invoice of a paid order (None before payment)."""
    return (
        Invoice.objects.filter(order=order, superseded_at__isnull=True)  # not one replaced
        .defer("xml_unsigned", "xml_signed", "attached_document", "pdf", "document")
        .first()
    )


# The emails an order event can name (billing run reminders, resends), in words for staff.
_EMAIL_LABELS = {
    "order_created": _lazy("new order"),
    "order_reminder": _lazy("reminder before the due date"),
    "order_due_today": _lazy("due today"),
    "order_overdue": _lazy("overdue notice"),
    "order_paid": _lazy("payment received"),
    "order_cancelled": _lazy("order cancelled"),
    "service_suspended": _lazy("service suspended"),
}


def event_details_for_staff(event: OrderEvent) -> str:
    """An order event's stored data as words for the back office (never raw JSON).

    "Total $ 142.800", "PayU Latam (card) · services activated or renewed: tienda.co (#3), #4",
    "Email: reminder before the due date".
    """
    data = event.data if isinstance(event.data, dict) else {}
    parts: list[str] = []
    if data.get("total"):
        try:
            parts.append(_("Total %(amount)s") % {"amount": format_cop(Decimal(data["total"]))})
        except ArithmeticError:
            parts.append(_("Total %(amount)s") % {"amount": data["total"]})
    if data.get("via"):
        parts.append(
            payment_description(via=str(data["via"]), method=str(data.get("method") or ""))
        )
    services = data.get("services")
    if isinstance(services, list) and services:
        ids = [s for s in services if isinstance(s, int)]
        labels = dict(Service.objects.filter(pk__in=ids).values_list("pk", "label"))
        parts.append(
            _("services activated or renewed: %(services)s")
            % {
                "services": ", ".join(
                    f"{labels[s]} (#{s})" if labels.get(s) else f"#{s}" for s in services
                )
            }
        )
    if data.get("credited"):
        try:
            credited = format_cop(Decimal(data["credited"]))
        except ArithmeticError:
            credited = str(data["credited"])
        parts.append(
            _("%(amount)s of the payment kept as the customer's credit") % {"amount": credited}
        )
    if data.get("not_withheld"):
        parts.append(_("the customer did not withhold: paid at its total, nothing withheld"))
    email = data.get("email") or (event.message if event.kind == "email_resent" else "")
    if email:
        parts.append(_("Email: %(email)s") % {"email": _EMAIL_LABELS.get(email, email)})
    return " · ".join(str(p) for p in parts)


@dataclass(frozen=True)
class PaidExtras:
    """What the payment that paid an order did beyond it (its paid event)."""

    credited: Decimal  # the rest of that payment, kept as the customer's credit
    not_withheld: bool  # an approved withholding agent paid the total without withholding


def paid_settlement_extras(order: Order) -> PaidExtras:
    """From the order's paid event (one query): what its payment left as credit and whether an
    agent paid it without withholding (``services.mark_order_paid`` records both)."""
    event = OrderEvent.objects.filter(order_id=order.pk, kind=OrderEventKind.PAID).last()
    data = event.data if event is not None and isinstance(event.data, dict) else {}
    try:
        credited = quantize(Decimal(data.get("credited") or "0"))
    except ArithmeticError:
        credited = ZERO
    return PaidExtras(credited=credited, not_withheld=bool(data.get("not_withheld")))


# -- the customer's account (ledger) ------------------------------------------------------------
# Balances are always computed from ``LedgerEntry`` (billing.ledger writes it); nothing stores them.


#: The entries of orders "being validated by DIAN" (a debit note not accepted yet, or rejected):
#: on the ledger, but neither owed nor part of the balance until DIAN accepts the note.
HELD = Q(order__state=OrderState.VALIDATING)


def withholdings_reversed_by_note(*, order: Order, note_number: str) -> Decimal:
    """What a credit note gave back to the order as withholdings (``WITHHOLDING_REVERSED``): the
    part of the note the withholding agent recovers from DIAN, not owed to it as credit."""
    total = LedgerEntry.objects.filter(
        order=order, reference=note_number, kind=LedgerKind.WITHHOLDING_REVERSED
    ).aggregate(total=Sum("amount"))["total"]
    return _sum(total)


def _sum(value: Decimal | None) -> Decimal:
    """A database SUM of amounts, as exact cents (SQLite adds decimals as floating point)."""
    return quantize(value or ZERO)


def order_balances(order_ids: Iterable[int]) -> dict[int, Decimal]:
    """What each of these orders still owes: the sum of its ledger entries, in one query.

    Paid and cancelled orders owe nothing (their entries sum to zero)."""
    ids = list(order_ids)
    rows = (
        LedgerEntry.objects.filter(order_id__in=ids)
        .values("order_id")
        .annotate(due=Sum("amount"))
        .order_by()
    )
    found = {row["order_id"]: _sum(row["due"]) for row in rows}
    return {pk: max(found.get(pk, ZERO), ZERO) for pk in ids}


def order_balance_due(order: Order) -> Decimal:
    """What is still due on this order (its total minus payments and credit applied to it).

    The one place that answers "how much is left on this order"; zero unless pending."""
    if order.state != OrderState.PENDING:
        return ZERO
    return order_balances([order.pk])[order.pk]


def amount_to_charge(
    orders: Sequence[Order], *, computed: Mapping[int, OrderWithholdings] | None = None
) -> Decimal:
    """What a gateway charges now for these pending orders: what is still due on them, minus
    what a withholding agent withholds (due − withholdings). ``charge_for`` adds its tax split.
    ``computed``: order id → its withholdings (``withholdings.selectors.withholdings_for_order``)
    when the caller has read them already (the order's page), so the agent is not read again."""
    pending = [order for order in orders if order.state == OrderState.PENDING]
    return _net_due(pending, order_balances([o.pk for o in pending]), computed=computed)


def net_dues(orders: Sequence[Order]) -> dict[int, Decimal]:
    """Order id → what a gateway charges now for that pending order (due − withholdings): the
    parts of ``amount_to_charge``, which is their sum, e.g. one row per order at Pay selected."""
    pending = [order for order in orders if order.state == OrderState.PENDING]
    return _net_dues(pending, order_balances([o.pk for o in pending]))


def _net_dues(
    pending: Sequence[Order],
    dues: dict[int, Decimal],
    *,
    computed: Mapping[int, OrderWithholdings] | None = None,
) -> dict[int, Decimal]:
    known = computed or {}
    return {
        o.pk: max(dues[o.pk] - withholding_to_post(o, computed=known.get(o.pk)), ZERO)
        for o in pending
    }


def _net_due(
    pending: Sequence[Order],
    dues: dict[int, Decimal],
    *,
    computed: Mapping[int, OrderWithholdings] | None = None,
) -> Decimal:
    return sum(_net_dues(pending, dues, computed=computed).values(), ZERO)


@dataclass(frozen=True)
class Charge:
    """What a gateway is asked for a set of pending orders: the amount, and the IVA and its base
    within it (PayU's ``tax`` / ``taxReturnBase``, Payvalida's ``iva``)."""

    amount: Decimal
    tax: Decimal
    tax_base: Decimal
    #: What each order still owes (order id → due), zero for paid and cancelled orders.
    dues: dict[int, Decimal]


def taxed_base(order: Order) -> Decimal:
    """IVA base for the gateway: the subtotals of the taxed items (exempt and excluded items are
    not part of it)."""
    base = ZERO
    for item in order.items.all():
        if item.tax_treatment == TaxTreatment.TAXED and item.tax_amount > 0:
            base += item.subtotal
    return base


def _cash_split(order: Order) -> tuple[Decimal, Decimal, Decimal]:
    """(amount, tax, tax base) one pending order costs in cash.

    Without withholdings: its total, IVA and taxed base (the base never above the total less the
    IVA: the order's rounding to whole pesos can take up to 49 cents off). For a withholding
    agent: the net, and
    the cash part of each, IVA minus ReteIVA and the base minus ReteFuente and ReteICA, so that
    tax + base never exceed the amount (PayU refuses that)."""
    tax, tax_base = Decimal(order.tax_total), taxed_base(order)
    computed = withholdings_selectors.withholdings_for_order(order)
    if not computed:
        # Whole pesos: a rounding down (10.239,34 → 10.239) leaves the taxed base above what
        # is left of the amount after IVA; the base gives the cents back.
        return computed.total, tax, max(min(tax_base, computed.total - tax), ZERO)
    by_kind = {line.kind: line.amount for line in computed.lines}
    cash_tax = max(quantize(tax - by_kind.get(RETEIVA, ZERO)), ZERO)
    cash_base = quantize(tax_base - by_kind.get(RETEFUENTE, ZERO) - by_kind.get(RETEICA, ZERO))
    cash_base = max(min(cash_base, computed.net - cash_tax), ZERO)
    return computed.net, cash_tax, cash_base


def _share(value: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    return value if part == whole or whole <= 0 else quantize(value * part / whole)


def charge_for(orders: Sequence[Order]) -> Charge:
    """The one place checkout learns what to charge for these orders and its tax split.

    The amount is ``amount_to_charge`` (after partial payments, credit applied and
    withholdings); the IVA and base are each order's cash part (see ``_cash_split``), shared in
    proportion when part of the orders is already paid. Orders that owe nothing add nothing."""
    pending = [order for order in orders if order.state == OrderState.PENDING]
    dues = order_balances([o.pk for o in pending])
    amount = _net_due(pending, dues)
    cash = [_cash_split(o) for o in pending if dues[o.pk] > 0]
    whole = sum((net for net, _tax, _base in cash), ZERO)
    tax = sum((tax for _net, tax, _base in cash), ZERO)
    base = sum((base for _net, _tax, base in cash), ZERO)
    tax = _share(tax, amount, whole)
    # Each share is rounded to the cent on its own: together never above the amount.
    base = max(min(_share(base, amount, whole), amount - tax), ZERO)
    return Charge(
        amount=amount,
        tax=tax,
        tax_base=base,
        dues={o.pk: dues.get(o.pk, ZERO) for o in orders},
    )


def order_prepayments(order: Order) -> tuple[Prepayment, ...]:
    """The account credit applied to this order, oldest first, as the e-invoice's prepayments
    (``cac:PrepaidPayment``, one query). Payments of the order itself are not prepayments: they
    pay the invoice. ID ``ANT-<movement>`` names the ledger movement; its date is the day the
    credit was applied (Colombian date)."""
    entries = LedgerEntry.objects.filter(
        order_id=order.pk, kind=LedgerKind.CREDIT_APPLIED, amount__lt=0
    ).order_by("created_at", "id")
    return tuple(
        Prepayment(
            id=f"ANT-{entry.pk}",
            amount=-quantize(entry.amount),
            received=entry.created_at.astimezone(BOGOTA).date(),
        )
        for entry in entries
    )


def withholding_to_post(order: Order, *, computed: OrderWithholdings | None = None) -> Decimal:
    """What a withholding agent keeps from this pending order and has not been posted yet.

    The gateway, a staff payment or credit covers the rest; when it does, ``billing.ledger``
    posts this amount as a "withheld by the customer" movement and the order is paid (its
    withholdings are then fixed by the withholdings app in the paid transaction).
    ``computed``: the order's withholdings when the caller has read them already
    (:func:`pending_withholdings`), so the agent is not looked up twice.
    """
    if order.state != OrderState.PENDING:
        return ZERO
    if computed is None:
        computed = withholdings_selectors.withholdings_for_order(order)
    withheld = quantize(computed.total - computed.net)
    if withheld <= 0:
        return ZERO
    if LedgerEntry.objects.filter(order_id=order.pk, kind=LedgerKind.WITHHOLDING).exists():
        return ZERO
    return withheld


def pending_withholdings(order: Order, *, customer: Customer | None = None) -> OrderWithholdings:
    """What an approved agent withholds from this pending order under today's rules (empty for
    anyone else): the ledger reads it once and hands it to the paid transaction. ``customer``:
    the order's customer when the caller has it (not read again with the agent)."""
    return withholdings_selectors.compute_for_order(order, customer=customer)


def credit_available(customer: Customer) -> Decimal:
    """The customer's credit: minus the sum of their ledger entries without an order (never negative)."""
    total = LedgerEntry.objects.filter(customer=customer, order__isnull=True).aggregate(
        s=Sum("amount")
    )["s"]
    return max(-_sum(total), ZERO)


def credits_available(customer_ids: Iterable[int]) -> dict[int, Decimal]:
    """Credit per customer, for the customers that have some (one query; the billing run's batches)."""
    rows = (
        LedgerEntry.objects.filter(customer_id__in=list(customer_ids), order__isnull=True)
        .values("customer_id")
        .annotate(s=Sum("amount"))
        .order_by()
    )
    sums = {row["customer_id"]: _sum(row["s"]) for row in rows}
    return {customer_id: -total for customer_id, total in sums.items() if total < 0}


@dataclass(frozen=True)
class AccountSummary:
    """The customer's account at a glance: ``balance = due - credit``."""

    balance: Decimal
    due: Decimal
    credit: Decimal


def account_summary(customer: Customer) -> AccountSummary:
    """Balance, amount due (pending orders) and credit available, from the ledger in one query.

    The charge of a debit note DIAN has not validated (its order "being validated by DIAN") is
    on the ledger but owed only once DIAN accepts the note: it is in neither the due nor the
    balance."""
    row = LedgerEntry.objects.filter(customer=customer).aggregate(
        balance=Sum("amount", filter=~HELD),
        unassigned=Sum("amount", filter=Q(order__isnull=True)),
        due=Sum("amount", filter=Q(order__state=OrderState.PENDING)),
    )
    return AccountSummary(
        balance=_sum(row["balance"]),
        due=max(_sum(row["due"]), ZERO),
        credit=max(-_sum(row["unassigned"]), ZERO),
    )


@functools.cache
def _account_version_sql() -> str:
    """The statement of :func:`account_version` (table names from the models), built once per
    process: four derived tables, each one aggregate the planner sees once (PostgreSQL plans a
    statement on every execution: six scalar subqueries took it ≈ 0.65–1.1 ms a request, these
    four ≈ 0.45–0.7)."""
    ledger, events = LedgerEntry._meta.db_table, OrderEvent._meta.db_table
    orders, agents = Order._meta.db_table, WithholdingAgent._meta.db_table
    invoices = Invoice._meta.db_table
    statuses = ", ".join(["%s"] * len(DELIVERABLE_STATUSES))
    return (
        "SELECT l.n, l.last, e.n, e.last, a.n, i.n FROM"  # noqa: S608 (table names from the models)
        f" (SELECT COUNT(*) AS n, MAX(id) AS last FROM {ledger} WHERE customer_id = %s) l,"
        f" (SELECT COUNT(*) AS n, MAX(e.id) AS last FROM {events} e JOIN {orders} o"
        "   ON o.id = e.order_id WHERE o.customer_id = %s) e,"
        f" (SELECT COUNT(*) AS n FROM {agents} WHERE customer_id = %s AND status = %s) a,"
        f" (SELECT COUNT(*) AS n FROM {invoices} WHERE customer_id = %s AND kind = %s"
        "   AND transmitted_at IS NOT NULL AND rendered_at IS NOT NULL"
        f"   AND status IN ({statuses})) i"
    )


def account_version(customer: Customer) -> str | None:
    """A stamp of everything the Billing page shows of this customer's account, in one statement:
    the count and newest id of their ledger entries and of their orders' events. Both are
    append-only, and every change an order can go through (issued, paid, cancelled) writes an
    event and every movement of money a ledger entry, so the stamp changes with any of them.
    The count of the customer's debit notes DIAN accepted is part of it too: the page links a
    debit note's PDF and XML once DIAN accepts it, which writes neither.
    None for an approved withholding agent: their net to pay also follows the withholding rules,
    which no stamp covers, so their page is never cached.

    Written as one SQL statement (table names from the models, every value a bound parameter)
    because the same six correlated subqueries built with the ORM cost the Billing request more
    than the rest of it: alternated in-process, 4.7-7.9 ms CPU per cached Billing request against
    2.2-3.0 ms this way (``bench/pages.py --profile FILE --rounds 0``). A revision counter on the
    customer row, bumped by every writer of these rows, would make it free; until then, this."""
    with connection.cursor() as cursor:
        cursor.execute(
            _account_version_sql(),
            [
                customer.pk,
                customer.pk,
                customer.pk,
                str(AgentStatus.APPROVED.value),
                customer.pk,
                str(DocumentKind.DEBIT_NOTE.value),
                *[str(status) for status in DELIVERABLE_STATUSES],
            ],
        )
        entries, last_entry, n_events, last_event, agent, notes = cursor.fetchone()
    if agent:
        return None
    return f"{entries}.{last_entry or 0}.{n_events}.{last_event or 0}.{notes}"


def pending_orders_with_due(customer: Customer) -> list[tuple[Order, Decimal]]:
    """The customer's pending orders, oldest due first, each with what it still owes (two queries)."""
    orders = list(
        Order.objects.filter(customer=customer, state=OrderState.PENDING)
        .defer("seller_snapshot", "buyer_snapshot", "reminders_sent")
        .order_by("due_date", "id")
    )
    dues = order_balances([o.pk for o in orders])
    return [(order, dues[order.pk]) for order in orders if dues[order.pk] > 0]


def order_movements(order: Order) -> list[LedgerEntry]:
    """The payments and credit applied to one order, oldest first (for its page).

    Its own charge (the order, a debit note) and the reversal of that charge when it was
    cancelled are not money received: a cancelled, unpaid order lists nothing.
    """
    return list(
        LedgerEntry.objects.filter(order=order)
        .exclude(kind__in=(LedgerKind.ORDER, LedgerKind.DEBIT_NOTE, LedgerKind.ORDER_CANCELLED))
        .order_by("created_at", "id")
    )


@dataclass(frozen=True)
class Settlement:
    """How a paid order was settled: money received on it, account credit applied to it, and
    what an approved withholding agent withheld from it (its total is their sum)."""

    paid: Decimal = ZERO
    credit_applied: Decimal = ZERO
    withheld: Decimal = ZERO


def order_settlement(order: Order) -> Settlement:
    """What settled ``order``, from its ledger movements (one query): the "payment received"
    email says what the customer paid, not the order's total (an agent pays the net, credit pays
    part or all)."""
    sums = dict(
        LedgerEntry.objects.filter(
            order=order,
            kind__in=(LedgerKind.PAYMENT, LedgerKind.CREDIT_APPLIED, LedgerKind.WITHHOLDING),
        )
        .order_by()
        .values_list("kind")
        .annotate(total=Sum("amount"))
    )
    return Settlement(
        paid=quantize(-_sum(sums.get(LedgerKind.PAYMENT))),
        credit_applied=quantize(-_sum(sums.get(LedgerKind.CREDIT_APPLIED))),
        withheld=quantize(-_sum(sums.get(LedgerKind.WITHHOLDING))),
    )


def customer_reference(entry: LedgerEntry) -> str:
    """The reference a customer knows a movement by. A gateway's payment is posted under
    "<gateway>:<its transaction id>" (the key that keeps it from being posted twice), which the
    customer never saw; they know it by the attempt's reference shown at checkout, on the result
    page and in the gateway's receipt ("ODS-000005-3"), kept in the movement's memo."""
    gateway_key = entry.via in (PaidVia.PAYU, PaidVia.PAYVALIDA) and entry.reference.startswith(
        f"{entry.via}:"
    )
    return entry.memo if gateway_key and entry.memo else entry.reference


@dataclass(frozen=True)
class StatementLine:
    entry: LedgerEntry
    debit: Decimal
    credit: Decimal
    balance: Decimal
    #: The movement's reference, or the number of a downgrade's credit note issued after it.
    reference: str = ""
    #: A movement of a debit note's order DIAN is validating: listed as a memo (its amount in
    #: ``held_amount``, neither debit nor credit), not part of the balance.
    held: bool = False

    @property
    def held_amount(self) -> Decimal:
        return self.entry.amount if self.held else ZERO

    @property
    def held_text(self) -> str:
        """What a held line says instead of a debit or credit ("" for any other line)."""
        if not self.held:
            return ""
        amount = format_cop(abs(self.entry.amount), decimals=True)
        if self.entry.amount > 0:
            return _("Not owed while DIAN validates the debit note: %(amount)s") % {
                "amount": amount
            }
        return _("Not in the balance while DIAN validates the debit note: %(amount)s") % {
            "amount": amount
        }

    @property
    def customer_reference(self) -> str:
        """``reference`` as the customer knows it (``customer_reference``)."""
        if self.reference == self.entry.reference:
            return customer_reference(self.entry)
        return self.reference


@dataclass(frozen=True)
class AccountStatement:
    """Movements between two Colombian dates (inclusive), with the running balance."""

    customer: Customer
    start: dt.date
    end: dt.date
    opening: Decimal
    closing: Decimal
    lines: list[StatementLine]
    debits: Decimal
    credits: Decimal
    #: The electronic invoice number of each paid order in the statement (order id → number).
    invoices: dict[int, str]
    #: What the debit notes DIAN is validating add up to, up to ``end`` (their charges less
    #: anything paid on them): listed, not in the balances (``StatementLine.held``).
    held: Decimal = ZERO

    @property
    def held_note(self) -> str:
        """The line under the closing balance when debit notes DIAN is validating are left out
        of the balances ("" when there are none)."""
        if not self.held:
            return ""
        return _(
            "Not in the balance: %(amount)s of debit notes DIAN is validating (owed once DIAN "
            "accepts them)."
        ) % {"amount": format_cop(self.held, decimals=True)}


def account_statement(customer: Customer, *, start: dt.date, end: dt.date) -> AccountStatement:
    """The statement of account: opening balance (before ``start``), every movement up to the end
    of ``end`` (Colombian dates) with its document, and the closing balance (three queries).

    The movements of a debit note's order DIAN is validating (``HELD``) are listed as memo lines,
    neither debit nor credit, and are in no balance: the closing balance up to today is
    ``account_summary``'s balance. Once DIAN accepts the note they count where they were posted."""
    since = dt.datetime.combine(start, dt.time.min, tzinfo=BOGOTA)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=BOGOTA)
    entries = LedgerEntry.objects.filter(customer=customer)
    before = Q(created_at__lt=since)
    row = entries.aggregate(
        opening=Sum("amount", filter=before & ~HELD), held=Sum("amount", filter=before & HELD)
    )
    opening, held = _sum(row["opening"]), _sum(row["held"])
    balance = opening
    lines = []
    debits = credits = ZERO
    for entry in (
        entries.filter(created_at__gte=since, created_at__lt=until)
        .select_related("order")
        .order_by("created_at", "id")
    ):
        if entry.order is not None and entry.order.state == OrderState.VALIDATING:
            held += entry.amount
            lines.append(
                StatementLine(
                    entry=entry,
                    debit=ZERO,
                    credit=ZERO,
                    balance=balance,
                    reference=entry.reference,
                    held=True,
                )
            )
            continue
        balance += entry.amount
        debit = entry.amount if entry.amount > 0 else ZERO
        credit = -entry.amount if entry.amount < 0 else ZERO
        debits += debit
        credits += credit
        lines.append(
            StatementLine(
                entry=entry, debit=debit, credit=credit, balance=balance, reference=entry.reference
            )
        )
    late = [
        line.entry.pk
        for line in lines
        if line.entry.kind == LedgerKind.CHANGE_NOTE and not line.reference
    ]
    if late:  # credit notes of downgrades issued after their movement (one more query)
        numbers = dict(
            PlanChangeCreditNote.objects.filter(
                entry_id__in=late, credit_note__isnull=False
            ).values_list("entry_id", "credit_note__full_number")
        )
        lines = [
            replace(line, reference=numbers.get(line.entry.pk) or "")
            if line.entry.pk in numbers
            else line
            for line in lines
        ]
    order_ids = {line.entry.order_id for line in lines if line.entry.order_id}
    invoices = {
        order_id: number
        for order_id, number in Invoice.objects.filter(
            order_id__in=order_ids, full_number__isnull=False
        ).values_list("order_id", "full_number")
        if number
    }
    return AccountStatement(
        customer=customer,
        start=start,
        end=end,
        opening=opening,
        closing=balance,
        lines=lines,
        debits=debits,
        credits=credits,
        invoices=invoices,
        held=quantize(held),
    )


def ledger_kind_label(kind: str) -> str:
    try:
        return str(LedgerKind(kind).label)
    except ValueError:
        return kind


def payment_recorded(*, customer_id: int, reference: str) -> bool:
    """Whether money with this reference was already posted to the customer's account."""
    return LedgerEntry.objects.filter(customer_id=customer_id, reference=reference).exists()


def movement_label(entry: LedgerEntry) -> str:
    """One movement in words, for the statement ("Payment PayU Latam (Card) payu:123")."""
    label = ledger_kind_label(entry.kind)
    if entry.kind in (LedgerKind.PAYMENT, LedgerKind.CREDIT) and entry.via:
        label = f"{label}: {payment_description(via=entry.via, method=entry.method)}"
    return label
