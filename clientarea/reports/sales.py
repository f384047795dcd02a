"""Reads for the exports: the sales book and the payments of a period, streamed.

:func:`sales_book` merges the documents of :data:`SALES_BOOK_SOURCES` in date order, and
:func:`sales_book_totals` sums their totals. Today that is the electronic invoices; credit and
debit notes add a :class:`SalesSource` (rows like :func:`invoice_documents`, totals like
:func:`invoice_totals`), and withholdings fill the ``withholdings`` fields of both.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from clientarea.billing.models import LedgerEntry, LedgerKind, Order, OrderState
from clientarea.einvoice.builder import document_from_json
from clientarea.einvoice.models import DocumentKind, Invoice, InvoiceStatus
from clientarea.lib.dates import BOGOTA
from clientarea.lib.money import quantize
from clientarea.reports.selectors import MONEY, ZERO
from clientarea.withholdings.models import OrderWithholding


@dataclass(frozen=True)
class SalesBookRow:
    """One fiscal document of the sales book, as an accountant reads it for the IVA return."""

    date: dt.date
    document: str  # DocumentKind: "invoice", "credit_note", "debit_note"
    number: str
    cufe: str
    buyer_document_type: str
    buyer_nit: str
    buyer_name: str
    base: Decimal
    iva: Decimal
    rounding: Decimal
    total: Decimal
    withholdings: Decimal = field(default=ZERO)
    reference: str = ""  # the order, or for a note the invoice it corrects

    @property
    def sort_key(self) -> tuple[dt.date, int, str]:
        """A day's invoices first, then its debit notes, then its credit notes."""
        return (self.date, _KIND_ORDER.get(self.document, 9), self.number)


_KIND_ORDER: dict[str, int] = {
    DocumentKind.INVOICE.value: 0,
    DocumentKind.DEBIT_NOTE.value: 1,
    DocumentKind.CREDIT_NOTE.value: 2,
}


def _day_range(date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(date_from, dt.time.min, tzinfo=BOGOTA)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=BOGOTA)
    return start, end


def _documents_in(date_from: dt.date, date_to: dt.date, *kinds: str) -> QuerySet[Invoice]:
    """The issued documents of these kinds in the period (a waiting invoice has no number yet)."""
    start, end = _day_range(date_from, date_to)
    return Invoice.objects.filter(kind__in=kinds, issued_at__gte=start, issued_at__lt=end).exclude(
        status=InvoiceStatus.WAITING
    )


def _invoices_in(date_from: dt.date, date_to: dt.date) -> QuerySet[Invoice]:
    return _documents_in(date_from, date_to, DocumentKind.INVOICE)


def _withheld() -> Coalesce:
    """What the buyer withheld from an invoice's order: the rows the paid transaction fixed,
    which are the invoice's ``WithholdingTaxTotal``."""
    withheld = (
        OrderWithholding.objects.filter(order_id=OuterRef("order_id"))
        .order_by()
        .values("order_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Coalesce(Subquery(withheld, output_field=MONEY), Value(ZERO), output_field=MONEY)


def invoice_documents(date_from: dt.date, date_to: dt.date) -> Iterator[SalesBookRow]:
    """The issued electronic invoices of the period, streamed in date order (constant memory)."""
    rows = (
        _invoices_in(date_from, date_to)
        .annotate(withheld=_withheld())
        .order_by("issued_at", "id")
        .values_list(
            "issued_at",
            "full_number",
            "cufe",
            "order__buyer_snapshot",
            "order__subtotal",
            "order__tax_total",
            "order__rounding",
            "total",
            "withheld",
            "order__number",
        )
    )
    for (
        issued_at,
        number,
        cufe,
        buyer,
        base,
        iva,
        rounding,
        total,
        withheld,
        order,
    ) in rows.iterator(chunk_size=2000):
        buyer = buyer or {}
        nit = buyer.get("document_number", "")
        if buyer.get("check_digit"):
            nit = f"{nit}-{buyer['check_digit']}"
        yield SalesBookRow(
            date=timezone.localtime(issued_at, BOGOTA).date(),
            document="invoice",
            number=number or "",
            cufe=cufe,
            buyer_document_type=buyer.get("document_type", ""),
            buyer_nit=nit,
            buyer_name=buyer.get("name", ""),
            base=base,
            iva=iva,
            rounding=rounding,
            total=total,
            withholdings=quantize(withheld),  # SQLite sums a subquery without its scale
            reference=order,
        )


def _note_rows(date_from: dt.date, date_to: dt.date, kind: str) -> Iterator[SalesBookRow]:
    """The issued credit and debit notes of the period in date order, with the amounts their
    DIAN documents carry (the snapshot they were issued from): a credit note's negative, since it
    takes back part of a sale. The reference is the invoice the note corrects."""
    rows = (
        _documents_in(date_from, date_to, kind)
        .order_by("issued_at", "id")
        .values_list(
            "issued_at", "kind", "full_number", "cufe", "document", "reference__full_number"
        )
    )
    for issued_at, kind, number, cufe, snapshot, invoice in rows.iterator(chunk_size=500):
        doc = document_from_json(snapshot)
        sign = -1 if kind == DocumentKind.CREDIT_NOTE else 1
        # (+ ZERO: a credit note's zero rounding is 0.00, not -0.00)
        buyer = doc.customer
        yield SalesBookRow(
            date=timezone.localtime(issued_at, BOGOTA).date(),
            document=kind,
            number=number or "",
            cufe=cufe,
            buyer_document_type=buyer.document_type,
            buyer_nit=buyer.document_label,
            buyer_name=buyer.legal_name,
            base=sign * doc.line_extension_total + ZERO,
            iva=sign * doc.iva_total + ZERO,
            rounding=sign * doc.payable_rounding + ZERO,
            total=sign * doc.document_total + ZERO,
            reference=invoice or "",
        )


def credit_notes(date_from: dt.date, date_to: dt.date) -> Iterator[SalesBookRow]:
    return _note_rows(date_from, date_to, DocumentKind.CREDIT_NOTE)


def debit_notes(date_from: dt.date, date_to: dt.date) -> Iterator[SalesBookRow]:
    return _note_rows(date_from, date_to, DocumentKind.DEBIT_NOTE)


@dataclass(frozen=True)
class SalesBookTotals:
    documents: int
    base: Decimal
    iva: Decimal
    rounding: Decimal
    withholdings: Decimal
    total: Decimal

    def __add__(self, other: SalesBookTotals) -> SalesBookTotals:
        return SalesBookTotals(
            documents=self.documents + other.documents,
            base=self.base + other.base,
            iva=self.iva + other.iva,
            rounding=self.rounding + other.rounding,
            withholdings=self.withholdings + other.withholdings,
            total=self.total + other.total,
        )


NO_TOTALS = SalesBookTotals(0, ZERO, ZERO, ZERO, ZERO, ZERO)


def invoice_totals(date_from: dt.date, date_to: dt.date) -> SalesBookTotals:
    """The invoices' totals for the period, summed by the database (one query)."""
    row = (
        _invoices_in(date_from, date_to)
        .annotate(withheld=_withheld())
        .aggregate(
            n=Count("id"),
            base=Coalesce(Sum("order__subtotal"), Value(ZERO), output_field=MONEY),
            iva=Coalesce(Sum("order__tax_total"), Value(ZERO), output_field=MONEY),
            rounding=Coalesce(Sum("order__rounding"), Value(ZERO), output_field=MONEY),
            withholdings=Coalesce(Sum("withheld"), Value(ZERO), output_field=MONEY),
            total=Coalesce(Sum("total"), Value(ZERO), output_field=MONEY),
        )
    )
    return SalesBookTotals(
        documents=row["n"],
        base=row["base"],
        iva=row["iva"],
        rounding=row["rounding"],
        withholdings=quantize(row["withholdings"]),
        total=row["total"],
    )


def _note_totals(rows: Iterator[SalesBookRow]) -> SalesBookTotals:
    """Notes' totals (one query per kind): their amounts live in each note's document snapshot,
    so they are summed from the rows; notes are few beside invoices."""
    totals = NO_TOTALS
    for row in rows:
        totals += SalesBookTotals(1, row.base, row.iva, row.rounding, ZERO, row.total)
    return totals


def credit_note_totals(date_from: dt.date, date_to: dt.date) -> SalesBookTotals:
    return _note_totals(credit_notes(date_from, date_to))


def debit_note_totals(date_from: dt.date, date_to: dt.date) -> SalesBookTotals:
    return _note_totals(debit_notes(date_from, date_to))


@dataclass(frozen=True)
class SalesSource:
    """One kind of fiscal document in the sales book: its rows in date order, and its totals."""

    rows: Callable[[dt.date, dt.date], Iterator[SalesBookRow]]
    totals: Callable[[dt.date, dt.date], SalesBookTotals]


#: The documents of the sales book, merged in date order.
SALES_BOOK_SOURCES: tuple[SalesSource, ...] = (
    SalesSource(rows=invoice_documents, totals=invoice_totals),
    SalesSource(rows=debit_notes, totals=debit_note_totals),
    SalesSource(rows=credit_notes, totals=credit_note_totals),
)


def sales_book(*, date_from: dt.date, date_to: dt.date) -> Iterator[SalesBookRow]:
    """Every fiscal document of the period in date order, merged from :data:`SALES_BOOK_SOURCES`."""
    return heapq.merge(
        *(source.rows(date_from, date_to) for source in SALES_BOOK_SOURCES),
        key=lambda row: row.sort_key,
    )


def sales_book_totals(*, date_from: dt.date, date_to: dt.date) -> SalesBookTotals:
    """The sales book's totals: the sum over its sources (one query each)."""
    return sum((source.totals(date_from, date_to) for source in SALES_BOOK_SOURCES), NO_TOTALS)


def sales_book_count(*, date_from: dt.date, date_to: dt.date) -> int:
    return sales_book_totals(date_from=date_from, date_to=date_to).documents


@dataclass(frozen=True)
class PaymentRow:
    paid_at: dt.datetime
    order: str
    customer_document: str
    customer: str
    via: str
    method: str
    reference: str
    total: Decimal
    #: How the order's total was settled (its ledger): money received, account credit applied,
    #: and what a withholding agent withheld. ``received`` is what reached the bank or gateway.
    received: Decimal = ZERO
    credit: Decimal = ZERO
    withheld: Decimal = ZERO


def _settled(kind: str) -> Coalesce:
    """The sum of the order's ledger entries of ``kind`` (payments, credit applied and
    withholdings are negative on the ledger: the caller turns the sign)."""
    entries = (
        LedgerEntry.objects.filter(order_id=OuterRef("pk"), kind=kind)
        .order_by()
        .values("order_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Coalesce(Subquery(entries, output_field=MONEY), Value(ZERO), output_field=MONEY)


def _paid_orders(
    *, date_from: dt.date, date_to: dt.date, via: str = "", method: str = ""
) -> QuerySet[Order]:
    start, end = _day_range(date_from, date_to)
    qs = Order.objects.filter(state=OrderState.PAID, paid_at__gte=start, paid_at__lt=end)
    if via:
        qs = qs.filter(paid_via=via)
    if method:
        qs = qs.filter(payment_method=method)
    return qs


def payments(
    *, date_from: dt.date, date_to: dt.date, via: str = "", method: str = ""
) -> Iterator[PaymentRow]:
    """Payments received in the period (paid orders, by any gateway or staff), streamed."""
    rows = (
        _paid_orders(date_from=date_from, date_to=date_to, via=via, method=method)
        .annotate(
            received=_settled(LedgerKind.PAYMENT),
            credit=_settled(LedgerKind.CREDIT_APPLIED),
            withheld=_settled(LedgerKind.WITHHOLDING),
        )
        .order_by("paid_at", "id")
        .values_list(
            "paid_at",
            "number",
            "buyer_snapshot",
            "paid_via",
            "payment_method",
            "payment_reference",
            "total",
            "received",
            "credit",
            "withheld",
        )
    )
    for (
        paid_at,
        number,
        buyer,
        paid_via,
        pay_method,
        reference,
        total,
        received,
        credit,
        withheld,
    ) in rows.iterator(chunk_size=2000):
        buyer = buyer or {}
        yield PaymentRow(
            paid_at=timezone.localtime(paid_at, BOGOTA),
            order=number,
            customer_document=buyer.get("document_number", ""),
            customer=buyer.get("name", ""),
            via=paid_via,
            method=pay_method,
            reference=reference,
            total=total,
            # SQLite sums a subquery without its scale: cents as stored.
            received=-quantize(received),
            credit=-quantize(credit),
            withheld=-quantize(withheld),
        )


def payments_count(*, date_from: dt.date, date_to: dt.date, via: str = "", method: str = "") -> int:
    return _paid_orders(date_from=date_from, date_to=date_to, via=via, method=method).count()
