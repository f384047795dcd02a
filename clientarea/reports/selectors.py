"""Reads behind the dashboard and the reports. Every list is a fixed number of queries.

The seams where work in progress elsewhere plugs in:

* :func:`receivables` (aging) and :func:`balances` read the customer ledger: what pending orders
  still owe (after partial payments and account credit applied to them) and the credit held.
* the sales book, in ``reports/sales.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from clientarea.accounts.models import Customer, customer_name
from clientarea.billing.models import ItemKind, LedgerEntry, Order, OrderItem, OrderState
from clientarea.catalog.models import CYCLE_MONTHS
from clientarea.einvoice.models import DELIVERABLE_STATUSES, Invoice, InvoiceStatus
from clientarea.lib.dates import BOGOTA, add_months, local_today
from clientarea.payments.models import MANUAL_GATEWAY, Payment, PaymentStatus
from clientarea.subscriptions.models import (
    Service,
    ServiceEvent,
    ServiceEventKind,
    ServiceStatus,
)

ZERO = Decimal("0.00")
MONEY: DecimalField[Any, Any] = DecimalField(max_digits=16, decimal_places=2)

#: Aging buckets: (key, label, lowest days overdue, highest days overdue or None).
AGING_BUCKETS: tuple[tuple[str, str, int | None, int | None], ...] = (
    ("current", "current", None, 0),
    ("d1_30", "1–30", 1, 30),
    ("d31_60", "31–60", 31, 60),
    ("d61_90", "61–90", 61, 90),
    ("d90", "90+", 91, None),
)
BUCKET_KEYS = tuple(key for key, *_ in AGING_BUCKETS)


#: A customer's ledger entries, from the customer (``receivables``, ``balances``).
_ENTRY = "ledger_entries__"


def _sum(expr: Q | None = None) -> Coalesce:
    """The sum of a customer's ledger entries (those matching ``expr``)."""
    return Coalesce(Sum(f"{_ENTRY}amount", filter=expr), Value(ZERO), output_field=MONEY)


def _bucket_filter(key: str, today: dt.date, *, order: str = f"{_ENTRY}order__") -> Q:
    """The entries of pending orders whose due date falls in aging bucket ``key`` (``order``: the
    path from the queried model to the entry's order)."""
    pending = Q(**{f"{order}state": OrderState.PENDING})
    for bucket_key, _label, low, high in AGING_BUCKETS:
        if bucket_key != key:
            continue
        q = pending
        if high is not None:  # overdue by at most `high` days: due on or after today - high
            q &= Q(**{f"{order}due_date__gte": today - dt.timedelta(days=high)})
        if low is not None:  # overdue by at least `low` days
            q &= Q(**{f"{order}due_date__lte": today - dt.timedelta(days=low)})
        return q
    raise KeyError(key)


def receivables(*, today: dt.date | None = None) -> QuerySet[Customer]:
    """Customers owing money, each annotated with ``balance`` (what their pending orders still
    owe on the ledger: their totals less partial payments and account credit applied to them)
    and that amount per aging bucket. One query, whatever the number of customers or orders.
    """
    today = today or local_today()
    annotations = {key: _sum(_bucket_filter(key, today)) for key in BUCKET_KEYS}
    return (
        Customer.objects.select_related("user")
        .annotate(balance=_sum(Q(**{f"{_ENTRY}order__state": OrderState.PENDING})), **annotations)
        .filter(Q(balance__gt=0))
        .order_by("-balance", "id")
    )


def balances() -> QuerySet[Customer]:
    """Customers whose account is not at zero, each annotated with ``owed`` (what their pending
    orders still owe), ``credit`` (credit available) and ``balance`` (owed − credit, the ledger's
    sum: negative when the provider owes the customer). One query.

    The entries of a debit note's order DIAN is validating are in no balance (not owed until DIAN
    accepts the note), as in ``billing.selectors.account_summary``."""
    held = Q(**{f"{_ENTRY}order__state": OrderState.VALIDATING})
    return (
        Customer.objects.select_related("user")
        .annotate(
            balance=_sum(~held),
            owed=_sum(Q(**{f"{_ENTRY}order__state": OrderState.PENDING})),
            credit=-_sum(Q(**{f"{_ENTRY}order__isnull": True})),
        )
        .exclude(balance=0)
        .order_by("-balance", "id")
    )


def customer_document(customer: Customer) -> str:
    """The customer's document number, with the NIT's check digit."""
    return _document(customer.document_number, customer.check_digit)


def _document(number: str, check_digit: str) -> str:
    return f"{number}-{check_digit}" if check_digit else number


#: What the files print of a customer, read as plain values (``values(*CUSTOMER_VALUES)``) where
#: they stream many: a customer read with its login is a reference cycle (each caches the
#: other), which only the cycle collector frees, and which it may free only at a full
#: collection when the customer has outlived a young one; plain values are freed row by row.
CUSTOMER_VALUES = (
    "document_number",
    "check_digit",
    "person_type",
    "legal_name",
    "trade_name",
    "first_name",
    "last_name",
    "user__email",
)


def customer_labels(row: Mapping[str, Any]) -> tuple[str, str]:
    """(document, name) of a customer read as ``values(*CUSTOMER_VALUES)``, as
    :func:`customer_document` and ``Customer.display_name`` write them."""
    name = customer_name(
        person_type=row["person_type"],
        legal_name=row["legal_name"],
        trade_name=row["trade_name"],
        first_name=row["first_name"],
        last_name=row["last_name"],
    )
    return _document(row["document_number"], row["check_digit"]), name or row["user__email"]


@dataclass(frozen=True)
class AgingTotals:
    buckets: dict[str, Decimal]
    customers: dict[str, int]

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), ZERO)


def aging_totals(*, today: dt.date | None = None) -> AgingTotals:
    """Amount and number of customers per aging bucket (one query)."""
    today = today or local_today()
    # What pending orders still owe: their ledger entries (totals less partial payments and
    # credit applied), not their totals.
    pending = LedgerEntry.objects.filter(order__state=OrderState.PENDING)
    aggregates: dict[str, Coalesce | Count] = {}
    for key in BUCKET_KEYS:
        q = _bucket_filter(key, today, order="order__")
        aggregates[f"amount_{key}"] = Coalesce(
            Sum("amount", filter=q), Value(ZERO), output_field=MONEY
        )
        aggregates[f"customers_{key}"] = Count("customer", filter=q, distinct=True)
    row = pending.aggregate(**aggregates)
    return AgingTotals(
        buckets={key: row[f"amount_{key}"] for key in BUCKET_KEYS},
        customers={key: row[f"customers_{key}"] for key in BUCKET_KEYS},
    )


def customers_in_bucket(*, bucket: str, today: dt.date | None = None) -> QuerySet[Customer]:
    """The aging drill-down: customers with money in ``bucket``, largest first."""
    if bucket not in BUCKET_KEYS:
        raise KeyError(bucket)
    return receivables(today=today).filter(**{f"{bucket}__gt": 0}).order_by(f"-{bucket}", "id")


# --- income, recurring revenue ---------------------------------------------------------------


@dataclass(frozen=True)
class IncomeRow:
    month: dt.date
    via: str
    method: str
    amount: Decimal
    orders: int


def income_by_month(*, months: int = 12, today: dt.date | None = None) -> list[IncomeRow]:
    """Paid orders per Bogotá calendar month, gateway and method, for the last ``months`` months."""
    today = today or local_today()
    first = add_months(today.replace(day=1), -(months - 1))
    start = dt.datetime.combine(first, dt.time.min, tzinfo=BOGOTA)
    rows = (
        Order.objects.filter(state=OrderState.PAID, paid_at__gte=start)
        .annotate(month=TruncMonth("paid_at", tzinfo=BOGOTA))
        .values("month", "paid_via", "payment_method")
        .annotate(amount=Sum("total"), orders=Count("id"))
        .order_by("month", "paid_via", "payment_method")
    )
    return [
        IncomeRow(
            month=row["month"].date() if isinstance(row["month"], dt.datetime) else row["month"],
            via=row["paid_via"],
            method=row["payment_method"],
            amount=row["amount"],
            orders=row["orders"],
        )
        for row in rows
    ]


@dataclass(frozen=True)
class MrrRow:
    product: str
    services: int
    mrr: Decimal


@dataclass(frozen=True)
class MrrChange:
    new: int
    new_mrr: Decimal
    renewed: int
    renewed_amount: Decimal
    cancelled: int


def _monthly(price: Decimal, cycle: str) -> Decimal:
    months = CYCLE_MONTHS.get(cycle)
    if not months:
        return ZERO
    return (price / months).quantize(Decimal("0.01"))


def mrr_by_product() -> list[MrrRow]:
    """Monthly recurring revenue (before IVA) of active and suspended services, per product.

    Grouped in the database by product and cycle (one query), then each cycle's total is
    divided into months.
    """
    rows = (
        Service.objects.filter(status__in=[ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED])
        .values("product__name", "cycle")
        .annotate(n=Count("id"), amount=Sum("price"))
        .order_by("product__name", "cycle")
    )
    by_product: dict[str, tuple[int, Decimal]] = {}
    for row in rows:
        count, mrr = by_product.get(row["product__name"], (0, ZERO))
        by_product[row["product__name"]] = (
            count + row["n"],
            mrr + _monthly(row["amount"], row["cycle"]),
        )
    return sorted(
        (MrrRow(product=name, services=n, mrr=mrr) for name, (n, mrr) in by_product.items()),
        key=lambda r: (-r.mrr, r.product),
    )


def mrr_change(*, today: dt.date | None = None) -> MrrChange:
    """This Bogotá month: services started, renewals paid, services cancelled or terminated."""
    today = today or local_today()
    first = today.replace(day=1)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=BOGOTA)
    new = (
        Service.objects.filter(start_date__gte=first)
        .values("cycle")
        .annotate(n=Count("id"), amount=Sum("price"))
    )
    new_count = sum(row["n"] for row in new)
    new_mrr = sum((_monthly(row["amount"], row["cycle"]) for row in new), ZERO)
    renewed = OrderItem.objects.filter(
        kind=ItemKind.RENEWAL, order__state=OrderState.PAID, order__paid_at__gte=start
    ).aggregate(n=Count("id"), amount=Coalesce(Sum("subtotal"), Value(ZERO), output_field=MONEY))
    cancelled = (
        ServiceEvent.objects.filter(
            kind__in=[ServiceEventKind.CANCELLED, ServiceEventKind.TERMINATED],
            created_at__gte=start,
        )
        .values("service")
        .distinct()
        .count()
    )
    return MrrChange(
        new=new_count,
        new_mrr=new_mrr,
        renewed=renewed["n"],
        renewed_amount=renewed["amount"],
        cancelled=cancelled,
    )


# --- operations to watch -------------------------------------------------------------------


@dataclass(frozen=True)
class AboutToSuspend:
    service_id: int
    label: str
    product: str
    customer_id: int
    customer: str
    order_number: str
    due_date: dt.date
    suspends_on: dt.date


def services_about_to_be_suspended(
    *, today: dt.date | None = None, limit: int = 50
) -> list[AboutToSuspend]:
    """Active services on an overdue order that the billing run has not suspended yet (one query)."""
    today = today or local_today()
    after = settings.BILLING_SUSPEND_AFTER_DAYS
    items = (
        OrderItem.objects.filter(
            order__state=OrderState.PENDING,
            order__due_date__lt=today,
            service__status=ServiceStatus.ACTIVE,
        )
        .select_related("order__customer__user", "service__product")
        .order_by("order__due_date", "id")[:limit]
    )
    result = []
    for item in items:
        service = item.service
        assert service is not None
        result.append(
            AboutToSuspend(
                service_id=service.pk,
                label=service.label,
                product=service.product.name,
                customer_id=item.order.customer_id,
                customer=item.order.customer.display_name,
                order_number=item.order.number,
                due_date=item.order.due_date,
                suspends_on=max(today, item.order.due_date + dt.timedelta(days=after)),
            )
        )
    return result


def invoices_not_accepted() -> QuerySet[Invoice]:
    """Invoices that have not reached the customer: waiting, not sent, rejected, in contingency."""
    validated = Q(transmitted_at__isnull=False, status__in=DELIVERABLE_STATUSES)
    return (
        Invoice.objects.exclude(validated)
        .select_related("customer__user", "order")
        .defer(
            "document",
            "xml_unsigned",
            "xml_signed",
            "attached_document",
            "pdf",
            "application_response",
            "order__seller_snapshot",
            "order__buyer_snapshot",
        )
        .order_by("created_at", "id")
    )


def invoices_not_accepted_by_status() -> dict[str, int]:
    validated = Q(transmitted_at__isnull=False, status__in=DELIVERABLE_STATUSES)
    rows = Invoice.objects.exclude(validated).values("status").annotate(n=Count("id"))
    labels = dict(InvoiceStatus.choices)
    return {str(labels.get(row["status"], row["status"])): row["n"] for row in rows}


@dataclass(frozen=True)
class ApprovalRate:
    gateway: str
    method: str
    attempts: int
    approved: int
    declined: int
    #: Closed without the gateway deciding: abandoned at its page and replaced by a new attempt,
    #: a cash voucher or PSE session that ran out, closed by reconciliation.
    expired: int = 0

    @property
    def decided(self) -> int:
        """Attempts the gateway decided (approved, declined, or failed with an error)."""
        return self.attempts - self.expired

    @property
    def rate(self) -> Decimal | None:
        """Approved out of the attempts the gateway decided (None when it decided none): an
        attempt the customer abandoned is not a decline."""
        if not self.decided:
            return None
        return (Decimal(self.approved) * 100 / self.decided).quantize(Decimal("0.1"))


def approval_rates(*, days: int = 30) -> list[ApprovalRate]:
    """Per gateway and method over the last ``days`` days: finished attempts, how many were
    approved, declined, or closed without a decision (expired).

    Attempts still open (created, pending) are left out: they have not been decided yet.
    """
    since = timezone.now() - dt.timedelta(days=days)
    rows = (
        Payment.objects.filter(created_at__gte=since)
        .exclude(status__in=[PaymentStatus.CREATED, PaymentStatus.PENDING])
        # Money staff registered is no attempt at a gateway: it has no approval rate.
        .exclude(gateway=MANUAL_GATEWAY)
        .values("gateway", "method")
        .annotate(
            attempts=Count("id"),
            approved=Count("id", filter=Q(status=PaymentStatus.APPROVED)),
            declined=Count("id", filter=Q(status=PaymentStatus.DECLINED)),
            expired=Count("id", filter=Q(status=PaymentStatus.EXPIRED)),
        )
        .order_by("gateway", "method")
    )
    return [
        ApprovalRate(
            gateway=row["gateway"],
            method=row["method"],
            attempts=row["attempts"],
            approved=row["approved"],
            declined=row["declined"],
            expired=row["expired"],
        )
        for row in rows
    ]
