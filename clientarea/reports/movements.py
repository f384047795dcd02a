"""Money movements: every movement of the customers' ledger in a period, for the accountant who
reconciles the bank and the gateways' statements with ClientArea.

The ledger (``billing.LedgerEntry``) is read in three sections, each entry in exactly one:

* **bank**: real money. *Received*: a payment's entries (``payment`` on an order, ``credit`` kept
  as credit) with a gateway or ``manual`` as their ``via``; the entries of one payment (same
  customer, moment, reference, gateway and method) are one row, as the bank sees one deposit.
  *Returned*: ``payment_refunded`` (money that paid an order, posted when the refund completed)
  and ``refund`` (credit given back) once the money left: its refund completed (the gateway
  confirmed it, or staff recorded the transfer), or, for "Refund instead of credit", the payment
  marked refunded; credit staff paid out by transfer (*Pay out credit*: ``refund`` via
  ``manual``) at once. The bank's sign is the ledger's turned round: money in is negative on the
  ledger (the customer gave it), money out positive.
* **internal**: no money moved, but a balance did: credit applied, withholdings, credit notes,
  credit of cancelled orders or plan changes, and credit taken out for a refund whose money has
  not left (requested, sent, pending at the gateway, or declined, with the credit given back).
  One row per entry, with the ledger's sign.
* **charges**: what customers were charged (orders, their cancellation, debit notes). One row per
  entry, with the ledger's sign.

**Dates.** Every entry is dated by when it was posted, except a refund of credit in the bank
section, dated when the money left (``Refund.completed_at``, or the payment's ``refunded_at``):
the date a bank reconciliation needs. The credit leaves the customer's account at the request
(so it cannot be spent twice); until the money goes, the entry is an internal row dated then.

A gateway or method filter keeps the bank section's rows of that gateway or method only. A
refund's gateway is the payment's when it went back through the gateway's refund API, ``manual``
when staff returned it by transfer. Totals are summed by the database (:func:`summary`).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, overload

from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from clientarea.accounts.models import Customer
from clientarea.billing.models import LedgerEntry, LedgerKind, PaidVia, PaymentMethod
from clientarea.lib.dates import BOGOTA
from clientarea.lib.money import format_cop, quantize
from clientarea.payments.models import (
    Payment,
    Refund,
    RefundMethod,
    RefundState,
    RefundStatus,
)
from clientarea.reports.selectors import CUSTOMER_VALUES, MONEY, ZERO, customer_labels

BANK = "bank"
INTERNAL = "internal"
CHARGES = "charges"
SECTIONS = (BANK, INTERNAL, CHARGES)

IN = "in"
OUT = "out"
NET = "net"

#: What customers are charged: on the ledger, but no money and no credit moved.
CHARGE_KINDS = (LedgerKind.ORDER, LedgerKind.ORDER_CANCELLED, LedgerKind.DEBIT_NOTE)
#: Money that went back to the customer.
RETURNED_KINDS = (LedgerKind.REFUND, LedgerKind.PAYMENT_REFUNDED)
#: A payment's ``via`` that is no money (credit applied pays "via credit").
_NO_MONEY_VIAS = ("", PaidVia.CREDIT)

RECEIVED = Q(kind__in=(LedgerKind.PAYMENT, LedgerKind.CREDIT)) & ~Q(via__in=_NO_MONEY_VIAS)
#: A refund the gateway declined gives the credit back (``ledger.restore_refunded_credit``): the
#: only credit without a ``via`` that carries a reference (a plan change's credit has none).
RESTORED = Q(kind=LedgerKind.CREDIT, via="") & ~Q(reference="")
#: Credit staff paid out by transfer (*Pay out credit*): the money left when it was posted.
PAID_OUT = Q(kind=LedgerKind.REFUND, via=PaidVia.MANUAL)
#: Credit refunded whose money left (``money_at``, annotated by :func:`annotated`, is set).
CREDIT_REFUND_PAID = Q(kind=LedgerKind.REFUND, money_at__isnull=False)
SECTION_FILTERS: dict[str, Q] = {
    BANK: RECEIVED | Q(kind=LedgerKind.PAYMENT_REFUNDED) | CREDIT_REFUND_PAID,
    CHARGES: Q(kind__in=CHARGE_KINDS),
}
SECTION_FILTERS[INTERNAL] = ~SECTION_FILTERS[BANK] & ~SECTION_FILTERS[CHARGES]

#: The annotations :func:`entries` adds to bank entries: the money's gateway and method.
_MONEY_FIELDS = ("money_via", "money_method")

#: How many entries are read (and their payments and refunds looked up) at a time.
CHUNK = 500


def _day_range(date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(date_from, dt.time.min, tzinfo=BOGOTA)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=BOGOTA)
    return start, end


def _refund_of_entry() -> QuerySet[Refund]:
    """The refund a returned entry names: its reference is ``<payment reference>/R<refund id>``
    (``payments.services.refunds``)."""
    return Refund.objects.annotate(
        key=Concat("payment__reference", Value("/R"), Cast("pk", CharField()))
    ).filter(key=OuterRef("reference"))


def _money_via_and_method() -> dict[str, Case]:
    """Through which gateway (or ``manual``) and method the money moved: a payment's own; a
    refund's, the payment's gateway and method when it went back through the gateway's API, and
    ``manual`` (no method) when staff returned it by transfer; credit taken out to be refunded
    ("refund instead of credit", reference = the payment's), the payment's."""
    refund = _refund_of_entry()
    payment = Payment.objects.filter(reference=OuterRef("reference"))
    received = Q(kind__in=(LedgerKind.PAYMENT, LedgerKind.CREDIT)) & ~Q(via="")
    manual = Exists(refund.filter(method=RefundMethod.MANUAL))

    def pick(own: str, field: str) -> Case:
        return Case(
            When(received | PAID_OUT, then=F(own)),
            When(manual, then=Value(PaidVia.MANUAL.value if own == "via" else "")),
            default=Coalesce(
                Subquery(refund.values(f"payment__{field}")[:1]),
                Subquery(payment.values(field)[:1]),
                Value(""),
            ),
            output_field=CharField(),
        )

    return {"money_via": pick("via", "gateway"), "money_method": pick("method", "method")}


def _money_at() -> Case:
    """When the money of an entry moved: a refund of credit when its refund completed (or, for
    "Refund instead of credit", when the payment was marked refunded), None while it has not;
    any other entry when it was posted."""
    refund = _refund_of_entry()
    return Case(
        When(PAID_OUT, then=F("created_at")),
        When(
            kind=LedgerKind.REFUND,
            then=Coalesce(
                Subquery(refund.filter(state=RefundState.COMPLETED).values("completed_at")[:1]),
                Subquery(
                    Payment.objects.filter(
                        reference=OuterRef("reference"), refund_status=RefundStatus.REFUNDED
                    ).values("refunded_at")[:1]
                ),
            ),
        ),
        default=F("created_at"),
        output_field=DateTimeField(),
    )


def annotated() -> QuerySet[LedgerEntry]:
    """Ledger entries with ``money_at`` (when their money moved, None for credit taken out for a
    refund whose money has not left) and ``at`` (the date the report uses: ``money_at``, or when
    the entry was posted), which :data:`SECTION_FILTERS` and the period read."""
    return LedgerEntry.objects.annotate(money_at=_money_at()).annotate(
        at=Coalesce(F("money_at"), F("created_at"), output_field=DateTimeField())
    )


def entries(
    section: str, *, date_from: dt.date, date_to: dt.date, via: str = "", method: str = ""
) -> QuerySet[LedgerEntry]:
    """The ledger entries of one section in the period (Bogotá dates of ``at``), annotated with
    ``money_via`` / ``money_method``; a gateway or method filter keeps bank entries only."""
    start, end = _day_range(date_from, date_to)
    # (keywords of the annotation: the type checker only knows the model's fields)
    period: dict[str, Any] = {"at__gte": start, "at__lt": end}
    qs = annotated().filter(SECTION_FILTERS[section], **period)
    if section != BANK:  # no money moved: no gateway, no method
        return qs.none() if via or method else qs
    qs = qs.annotate(**_money_via_and_method())
    if via or method:
        # (keywords of the annotations above: the type checker only knows the model's fields)
        if via:
            qs = qs.filter(**{_MONEY_FIELDS[0]: via})
        if method:
            qs = qs.filter(**{_MONEY_FIELDS[1]: method})
    return qs


@dataclass(frozen=True)
class MovementRow:
    section: str  # BANK, INTERNAL, CHARGES
    at: dt.datetime  # Bogotá
    kind: str  # the (first) ledger kind
    movement: str
    direction: str  # IN, OUT, or "" (internal, charges)
    #: Bank rows: the money, positive (``direction`` says which way). Other rows: the ledger's
    #: signed amount (positive: owed by the customer, negative: paid or credited).
    amount: Decimal
    via: str  # code
    method: str  # code
    gateway_reference: str  # the gateway's transaction or refund id, or the bank's reference
    our_reference: str  # our payment (or refund) reference
    customer_document: str
    customer: str
    orders: str
    destination: str  # where the money went, or which balance the entry moved
    state: str
    entry_ids: tuple[int, ...]

    @property
    def signed(self) -> Decimal:
        """Bank rows: + in, − out. Other rows: the ledger's amount."""
        return -self.amount if self.direction == OUT else self.amount

    @property
    def via_label(self) -> str:
        return via_label(self.via, self.method)


def via_label(via: str, method: str) -> str:
    """ "PayU Latam · Card" in the user's language; empty when neither is known."""
    parts = [str(dict(PaidVia.choices).get(via, via)) if via else ""]
    if method:
        parts.append(str(dict(PaymentMethod.choices).get(method, method)))
    return " · ".join(p for p in parts if p)


def _local(at: dt.datetime) -> dt.datetime:
    return timezone.localtime(at, BOGOTA)


def _is_received(entry: LedgerEntry) -> bool:
    """Money a payment brought in (the Python side of :data:`RECEIVED`)."""
    return entry.kind in (LedgerKind.PAYMENT, LedgerKind.CREDIT) and entry.via not in _NO_MONEY_VIAS


def _payment_ref(entry: LedgerEntry) -> str:
    """Our payment reference an entry names: a payment's (its memo: a gateway's, or money staff
    registered as credit, ``SAL-…``; money staff registered for an order has none), a refund's
    (before ``/R``), or the payment whose credit staff chose to refund (the reference itself)."""
    if _is_received(entry):
        return entry.memo
    if _is_paid_out(entry):
        return ""
    if entry.kind in RETURNED_KINDS or entry.kind == LedgerKind.CREDIT:
        return entry.reference.rsplit("/R", 1)[0]
    return ""


def _is_paid_out(entry: LedgerEntry) -> bool:
    """Credit staff paid out by transfer (the Python side of :data:`PAID_OUT`)."""
    return entry.kind == LedgerKind.REFUND and entry.via == PaidVia.MANUAL


def _refund_id(entry: LedgerEntry) -> int | None:
    if _is_paid_out(entry):
        return None
    head, sep, tail = entry.reference.rpartition("/R")
    return int(tail) if sep and head and tail.isdigit() else None


class _Lookups:
    """The customers, payments and refunds a chunk of entries names, read with one query each.

    A customer read with its login is a reference cycle (each caches the other), which lives on
    until a full garbage collection once it outlives a young one: the customers are read as
    plain values (``selectors.CUSTOMER_VALUES``) and kept as their document and name, and the
    entries are read without them, so the memory of a stream of any length stays that of one
    chunk."""

    def __init__(self, chunk: list[LedgerEntry]) -> None:
        customers = Customer.objects.filter(pk__in={e.customer_id for e in chunk}).values(
            "pk", *CUSTOMER_VALUES
        )
        self.customers: dict[int, tuple[str, str]] = {
            row["pk"]: customer_labels(row) for row in customers
        }
        refs = {_payment_ref(e) for e in chunk} - {""}
        ids = {i for i in (_refund_id(e) for e in chunk if e.kind != LedgerKind.PAYMENT) if i}
        self.payments: dict[str, Payment] = (
            Payment.objects.in_bulk(refs, field_name="reference") if refs else {}
        )
        self.refunds: dict[int, Refund] = Refund.objects.in_bulk(ids) if ids else {}


def _stream(qs: QuerySet[LedgerEntry]) -> Iterator[tuple[LedgerEntry, _Lookups]]:
    rows = (
        qs.select_related("order", "actor")
        .order_by("at", "customer_id", "reference", "via", "method", "id")
        .iterator(chunk_size=CHUNK)
    )
    while chunk := list(itertools.islice(rows, CHUNK)):
        lookups = _Lookups(chunk)
        for entry in chunk:
            yield entry, lookups


def _group_key(entry: LedgerEntry) -> tuple:
    """Entries of one payment received share it; every other entry is its own row."""
    if _is_received(entry):
        return (entry.created_at, entry.customer_id, entry.reference, entry.via, entry.method)
    return (entry.pk,)


def _payment_state(payment: Payment | None) -> str:
    if payment is None:
        return ""
    states = [str(payment.get_status_display())]
    if payment.duplicate:
        states.append(_("duplicate (paid twice)"))
    if payment.needs_review:
        states.append(_("flagged for review: %(reason)s") % {"reason": payment.review_text})
    if payment.refund_status != RefundStatus.NONE:
        states.append(str(payment.get_refund_status_display()))
    return "; ".join(states)


def _refund_state(refund: Refund | None) -> str:
    if refund is None:
        return ""
    state = str(refund.get_state_display())
    if refund.completed_at:
        state += " " + date_format(_local(refund.completed_at), "SHORT_DATETIME_FORMAT")
    return state


def _customer(entry: LedgerEntry, lookups: _Lookups) -> tuple[str, str]:
    return lookups.customers.get(entry.customer_id, ("", ""))


def _received_row(group: list[tuple[LedgerEntry, _Lookups]]) -> MovementRow:
    first, lookups = group[0]
    paid = [(e.order.number, -e.amount) for e, _l in group if e.order is not None]
    credited = -sum((e.amount for e, _l in group if e.order is None), ZERO)
    payment = lookups.payments.get(_payment_ref(first))
    destination = []
    if paid:
        destination.append(_("applied to the orders"))
    if credited:
        destination.append(
            _("%(amount)s kept as the customer's credit")
            % {"amount": format_cop(credited, decimals=True)}
        )
    if first.via == PaidVia.MANUAL:
        gateway_ref = first.reference
        state = _("registered by %(who)s") % {"who": first.actor or _("staff")}
    else:
        gateway_ref = first.reference.split(":", 1)[-1]
        state = _payment_state(payment)
    document, name = _customer(first, lookups)
    return MovementRow(
        section=BANK,
        at=_local(first.created_at),
        kind=first.kind,
        movement=_("Money received"),
        direction=IN,
        amount=-sum((e.amount for e, _l in group), ZERO),
        via=first.via,
        method=first.method,
        gateway_reference=gateway_ref,
        our_reference=_payment_ref(first),
        customer_document=document,
        customer=name,
        orders="; ".join(
            f"{number} ({format_cop(amount, decimals=True)})" for number, amount in paid
        ),
        destination="; ".join(destination),
        state=state,
        entry_ids=tuple(e.pk for e, _l in group),
    )


def _returned_row(entry: LedgerEntry, lookups: _Lookups) -> MovementRow:
    refund = lookups.refunds.get(_refund_id(entry) or 0)
    payment = lookups.payments.get(_payment_ref(entry))
    if _is_paid_out(entry):  # *Pay out credit*: the transfer's reference is the entry's
        gateway_ref = entry.reference
        state = _("paid out by %(who)s") % {"who": entry.actor or _("staff")}
    elif refund is not None:
        gateway_ref = refund.gateway_refund_id or refund.bank_reference
        state = _refund_state(refund)
    else:  # credit taken out to be refunded ("refund instead of credit")
        gateway_ref = payment.gateway_transaction_id if payment is not None else ""
        state = _payment_state(payment)
    if entry.kind == LedgerKind.REFUND:
        movement = str(LedgerKind.REFUND.label)
        destination = _("returned to the customer from their credit")
    else:
        movement = str(LedgerKind.PAYMENT_REFUNDED.label)
        destination = _("returned to the customer")
    document, name = _customer(entry, lookups)
    return MovementRow(
        section=BANK,
        at=_local(entry.at),  # type: ignore[attr-defined]
        kind=entry.kind,
        movement=movement,
        direction=OUT if entry.amount > 0 else IN,
        amount=abs(entry.amount),
        via=entry.money_via,  # type: ignore[attr-defined]
        method=entry.money_method,  # type: ignore[attr-defined]
        gateway_reference=gateway_ref,
        our_reference="" if _is_paid_out(entry) else entry.reference,
        customer_document=document,
        customer=name,
        orders=entry.order.number if entry.order is not None else "",
        destination=destination,
        state=state,
        entry_ids=(entry.pk,),
    )


def _account_row(section: str, entry: LedgerEntry, lookups: _Lookups) -> MovementRow:
    """An entry that moved no money: the balance it moved, with the ledger's sign. Credit taken
    out for a refund whose money has not left, and credit a declined refund gave back, say so
    with the refund's (or the payment's) state."""
    document, name = _customer(entry, lookups)
    movement, state = str(entry.get_kind_display()), ""
    if entry.kind == LedgerKind.REFUND or (
        entry.kind == LedgerKind.CREDIT and not entry.via and entry.reference
    ):
        refund = lookups.refunds.get(_refund_id(entry) or 0)
        payment = lookups.payments.get(_payment_ref(entry))
        state = _refund_state(refund) if refund is not None else _payment_state(payment)
        movement = (
            _("Credit taken out for a refund: the money has not left yet")
            if entry.kind == LedgerKind.REFUND
            else _("Refund declined: back to the customer's credit")
        )
    return MovementRow(
        section=section,
        at=_local(entry.at),  # type: ignore[attr-defined]
        kind=entry.kind,
        movement=movement,
        direction="",
        amount=entry.amount,
        via=entry.via,
        method=entry.method,
        gateway_reference="",
        our_reference=entry.reference,
        customer_document=document,
        customer=name,
        orders=entry.order.number if entry.order is not None else entry.memo[:40],
        destination=_("order balance") if entry.order_id else _("customer's credit"),
        state=state,
        entry_ids=(entry.pk,),
    )


def _bank_rows(qs: QuerySet[LedgerEntry]) -> Iterator[MovementRow]:
    for _key, items in itertools.groupby(_stream(qs), key=lambda pair: _group_key(pair[0])):
        group = list(items)
        entry, lookups = group[0]
        if _is_received(entry):
            yield _received_row(group)
        else:
            yield _returned_row(entry, lookups)


def movements(
    *, date_from: dt.date, date_to: dt.date, via: str = "", method: str = ""
) -> Iterator[MovementRow]:
    """Every movement of the period, section by section, each in time order (streamed)."""
    for section in SECTIONS:
        qs = entries(section, date_from=date_from, date_to=date_to, via=via, method=method)
        if section == BANK:
            yield from _bank_rows(qs)
        else:
            for entry, lookups in _stream(qs):
                yield _account_row(section, entry, lookups)


def movements_count(
    *, date_from: dt.date, date_to: dt.date, via: str = "", method: str = ""
) -> int:
    """The rows :func:`movements` yields (a payment's entries are one row)."""
    kwargs: dict[str, Any] = {
        "date_from": date_from,
        "date_to": date_to,
        "via": via,
        "method": method,
    }
    bank = entries(BANK, **kwargs)
    received = (
        bank.filter(RECEIVED)
        .values("created_at", "customer_id", "reference", "via", "method")
        .distinct()
        .count()
    )
    return (
        received
        + bank.exclude(RECEIVED).count()
        + entries(INTERNAL, **kwargs).count()
        + entries(CHARGES, **kwargs).count()
    )


class MovementPages:
    """The rows as a sequence :class:`django.core.paginator.Paginator` can page: a page reads
    the stream up to its last row (constant memory; a late page reads more rows)."""

    def __init__(self, *, date_from: dt.date, date_to: dt.date, via: str = "", method: str = ""):
        self.filters: dict[str, Any] = {
            "date_from": date_from,
            "date_to": date_to,
            "via": via,
            "method": method,
        }

    def __len__(self) -> int:
        return movements_count(**self.filters)

    def __iter__(self) -> Iterator[MovementRow]:
        return movements(**self.filters)

    @overload
    def __getitem__(self, index: int) -> MovementRow: ...
    @overload
    def __getitem__(self, index: slice) -> list[MovementRow]: ...
    def __getitem__(self, index: int | slice) -> MovementRow | list[MovementRow]:
        if isinstance(index, int):
            return next(itertools.islice(movements(**self.filters), index, None))
        return list(itertools.islice(movements(**self.filters), index.start, index.stop))


@dataclass(frozen=True)
class BankTotal:
    via: str
    method: str
    received: Decimal
    returned: Decimal
    movements: int

    @property
    def net(self) -> Decimal:
        return self.received - self.returned

    @property
    def label(self) -> str:
        return via_label(self.via, self.method) or "—"


@dataclass(frozen=True)
class KindTotal:
    section: str
    kind: str
    amount: Decimal  # the ledger's signed sum
    entries: int

    @property
    def label(self) -> str:
        return str(LedgerKind(self.kind).label)


@dataclass(frozen=True)
class Summary:
    bank: list[BankTotal]
    accounts: list[KindTotal]  # internal, then charges, by kind

    @property
    def received(self) -> Decimal:
        return sum((t.received for t in self.bank), ZERO)

    @property
    def returned(self) -> Decimal:
        return sum((t.returned for t in self.bank), ZERO)

    @property
    def net(self) -> Decimal:
        return self.received - self.returned


def summary(*, date_from: dt.date, date_to: dt.date, via: str = "", method: str = "") -> Summary:
    """The period's totals, summed by the database: money in, out and net per gateway and
    method (one query), and the other sections' sums per ledger kind (one query each)."""
    kwargs: dict[str, Any] = {
        "date_from": date_from,
        "date_to": date_to,
        "via": via,
        "method": method,
    }
    bank = [
        BankTotal(
            via=row["money_via"],
            method=row["money_method"],
            # SQLite sums without the scale: cents as stored.
            received=-quantize(row["received"]),
            returned=quantize(row["returned"]),
            movements=row["n"],
        )
        for row in entries(BANK, **kwargs)
        .order_by()
        .values(*_MONEY_FIELDS)
        .annotate(
            received=Coalesce(
                Sum("amount", filter=Q(amount__lt=0)), Value(ZERO), output_field=MONEY
            ),
            returned=Coalesce(
                Sum("amount", filter=Q(amount__gt=0)), Value(ZERO), output_field=MONEY
            ),
            n=Count("id"),
        )
        .order_by("money_via", "money_method")
    ]
    accounts = [
        KindTotal(
            section=section, kind=row["kind"], amount=quantize(row["total"]), entries=row["n"]
        )
        for section in (INTERNAL, CHARGES)
        for row in entries(section, **kwargs)
        .order_by()
        .values("kind")
        .annotate(total=Sum("amount"), n=Count("id"))
        .order_by("kind")
    ]
    return Summary(bank=bank, accounts=accounts)


def summary_rows(totals: Summary) -> Iterable[tuple[str, str, str, Decimal, str, str]]:
    """The summary as (movement, gateway or method, direction, amount, gateway code, method code)
    lines for the files."""
    for total in totals.bank:
        for direction, amount in ((IN, total.received), (OUT, total.returned), (NET, total.net)):
            yield _("Bank total"), total.label, direction, amount, total.via, total.method
    for direction, amount in ((IN, totals.received), (OUT, totals.returned), (NET, totals.net)):
        yield _("Bank total, every gateway and method"), "", direction, amount, "", ""
    for kind_total in totals.accounts:
        title = _("Internal total") if kind_total.section == INTERNAL else _("Charges total")
        yield f"{title}: {kind_total.label}", "", "", kind_total.amount, "", ""
