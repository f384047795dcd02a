"""The reports as rows: their columns, their filters, and the CSV and XLSX writers.

Rows come from generators over server-side iterators (``QuerySet.iterator``), so an export of any
size holds one chunk in memory: CSV is streamed to the browser as it is produced; XLSX is written
by openpyxl in write-only mode, row by row, into a file (see ``services.run_export``). Customers
are read as plain values (``selectors.CUSTOMER_VALUES``), never with their login: the two are a
reference cycle that reference counting never frees (``tests/test_export_memory.py``).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from django.utils.translation import gettext as _
from openpyxl import Workbook

from clientarea.billing.models import PaidVia, PaymentMethod
from clientarea.lib.dates import local_today
from clientarea.lib.money import quantize
from clientarea.reports import movements, sales, selectors
from clientarea.reports.models import ReportKind

Cell = str | Decimal | dt.date | dt.datetime | int


@dataclass(frozen=True)
class Filters:
    """What every report may be asked for; each report uses the fields it needs."""

    date_from: dt.date
    date_to: dt.date
    via: str = ""
    method: str = ""

    def as_json(self) -> dict[str, str]:
        return {
            "date_from": self.date_from.isoformat(),
            "date_to": self.date_to.isoformat(),
            "via": self.via,
            "method": self.method,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Filters:
        return cls(
            date_from=dt.date.fromisoformat(data["date_from"]),
            date_to=dt.date.fromisoformat(data["date_to"]),
            via=data.get("via", ""),
            method=data.get("method", ""),
        )


@dataclass(frozen=True)
class Report:
    kind: str
    headers: Callable[[], list[str]]
    rows: Callable[[Filters], Iterator[list[Cell]]]
    count: Callable[[Filters], int]
    dated: bool  # whether the period filters apply


def _sales_headers() -> list[str]:
    return [
        _("Date"),
        _("Document"),
        _("Number"),
        "CUFE",
        _("Buyer document type"),
        _("Buyer NIT / document"),
        _("Buyer"),
        _("Taxable base"),
        _("IVA"),
        _("Withholdings"),
        _("Rounding"),
        _("Total"),
        _("Order / invoice corrected"),
    ]


#: DIAN's names of the documents, as printed on them (not translated: the sales book's column
#: names the fiscal document).
_DOCUMENT_NAMES = {
    "invoice": "Factura electrónica de venta",
    "credit_note": "Nota crédito electrónica",
    "debit_note": "Nota débito electrónica",
}


def _sales_rows(f: Filters) -> Iterator[list[Cell]]:
    for row in sales.sales_book(date_from=f.date_from, date_to=f.date_to):
        yield [
            row.date,
            _DOCUMENT_NAMES.get(row.document, row.document),
            row.number,
            row.cufe,
            row.buyer_document_type,
            row.buyer_nit,
            row.buyer_name,
            row.base,
            row.iva,
            row.withholdings,
            row.rounding,
            row.total,
            row.reference,
        ]


def _label(choices: Iterable[tuple[str, Any]], code: str) -> str:
    """A code's name in the active language (the code itself if it is not a choice)."""
    return str(dict(choices).get(code, code))


def _payments_headers() -> list[str]:
    return [
        _("Paid at"),
        _("Order"),
        _("Customer document"),
        _("Customer"),
        _("Gateway"),
        _("Method"),
        _("Reference"),
        _("Amount"),
        # How the amount was settled: money received, account credit, withholdings.
        _("Received"),
        _("Paid with credit"),
        _("Withheld by the customer"),
        # Stable codes for programs reading the file (the columns above are in the user's language).
        _("Gateway code"),
        _("Method code"),
    ]


def _payments_rows(f: Filters) -> Iterator[list[Cell]]:
    for row in sales.payments(date_from=f.date_from, date_to=f.date_to, via=f.via, method=f.method):
        yield [
            row.paid_at.replace(tzinfo=None),  # Bogotá wall-clock time; XLSX has no time zones
            row.order,
            row.customer_document,
            row.customer,
            _label(PaidVia.choices, row.via),
            _label(PaymentMethod.choices, row.method),
            row.reference,
            row.total,
            row.received,
            row.credit,
            row.withheld,
            row.via,
            row.method,
        ]


def _customer_headers() -> list[str]:
    """The columns that name the customer, first in the receivables reports."""
    return [_("Customer document"), _("Customer"), _("Email")]


def _by_customer(rows: Iterable[dict[str, Any]]) -> Iterator[tuple[list[Cell], dict[str, Any]]]:
    """Each row of a receivables report (customers as plain values, not with their login: a
    reference cycle, see CUSTOMER_VALUES) with the cells of :func:`_customer_headers`."""
    for row in rows:
        document, name = selectors.customer_labels(row)
        yield [document, name, row["user__email"]], row


def _aging_headers() -> list[str]:
    return [
        *_customer_headers(),
        _("Not yet due"),
        _("1–30 days"),
        _("31–60 days"),
        _("61–90 days"),
        _("Over 90 days"),
        _("Balance"),
    ]


def _aging_rows(f: Filters) -> Iterator[list[Cell]]:
    rows = selectors.receivables().values(
        *selectors.CUSTOMER_VALUES, *selectors.BUCKET_KEYS, "balance"
    )
    for customer, row in _by_customer(rows.iterator(chunk_size=2000)):
        yield [*customer, *(row[key] for key in selectors.BUCKET_KEYS), row["balance"]]


def _balances_headers() -> list[str]:
    return [
        *_customer_headers(),
        _("Phone"),
        _("Owed (pending orders)"),
        _("Credit available"),
        _("Balance"),
    ]


def _balances_rows(f: Filters) -> Iterator[list[Cell]]:
    rows = selectors.balances().values(
        *selectors.CUSTOMER_VALUES, "phone", "owed", "credit", "balance"
    )
    for customer, row in _by_customer(rows.iterator(chunk_size=2000)):
        yield [
            *customer,
            row["phone"],
            # Cents as stored, whatever the database's SUM returns (SQLite drops the scale).
            quantize(row["owed"]),
            quantize(row["credit"]),
            quantize(row["balance"]),
        ]


def _movements_headers() -> list[str]:
    return [
        _("Section"),
        _("Date and time"),
        _("Movement"),
        _("Direction"),
        _("Amount"),
        _("Gateway or method"),
        _("Gateway or bank reference"),
        _("Our reference"),
        _("Customer document"),
        _("Customer"),
        _("Orders"),
        _("Where it went"),
        _("State"),
        _("Ledger entries"),
        # Stable codes for programs reading the file.
        _("Movement code"),
        _("Gateway code"),
        _("Method code"),
    ]


def section_labels() -> dict[str, str]:
    return {
        movements.BANK: _("Bank money"),
        movements.INTERNAL: _("Internal (not bank money)"),
        movements.CHARGES: _("Charges (not money)"),
    }


def direction_labels() -> dict[str, str]:
    return {movements.IN: _("In"), movements.OUT: _("Out"), movements.NET: _("Net"), "": "—"}


def _movements_rows(f: Filters) -> Iterator[list[Cell]]:
    sections, directions = section_labels(), direction_labels()
    for row in movements.movements(
        date_from=f.date_from, date_to=f.date_to, via=f.via, method=f.method
    ):
        yield [
            sections[row.section],
            row.at.replace(tzinfo=None),  # Bogotá wall-clock time; XLSX has no time zones
            row.movement,
            directions[row.direction],
            row.amount,
            row.via_label,
            row.gateway_reference,
            row.our_reference,
            row.customer_document,
            row.customer,
            row.orders,
            row.destination,
            row.state,
            " ".join(f"#{pk}" for pk in row.entry_ids),
            row.kind,
            row.via,
            row.method,
        ]
    totals = movements.summary(date_from=f.date_from, date_to=f.date_to, via=f.via, method=f.method)
    blank = [""] * 9
    for title, label, direction, amount, via, method in movements.summary_rows(totals):
        # The codes' columns: no movement kind, the gateway's and the method's codes.
        yield [_("Summary"), "", title, directions[direction], amount, label, *blank, via, method]


def _movements_count(f: Filters) -> int:
    kwargs: dict[str, Any] = {
        "date_from": f.date_from,
        "date_to": f.date_to,
        "via": f.via,
        "method": f.method,
    }
    totals = movements.summary(**kwargs)
    return movements.movements_count(**kwargs) + sum(1 for _row in movements.summary_rows(totals))


def _receivables_count(f: Filters) -> int:
    return selectors.receivables().count()


REPORTS: dict[str, Report] = {
    ReportKind.SALES_BOOK: Report(
        kind=ReportKind.SALES_BOOK,
        headers=_sales_headers,
        rows=_sales_rows,
        count=lambda f: sales.sales_book_count(date_from=f.date_from, date_to=f.date_to),
        dated=True,
    ),
    ReportKind.PAYMENTS: Report(
        kind=ReportKind.PAYMENTS,
        headers=_payments_headers,
        rows=_payments_rows,
        count=lambda f: sales.payments_count(
            date_from=f.date_from, date_to=f.date_to, via=f.via, method=f.method
        ),
        dated=True,
    ),
    ReportKind.AGING: Report(
        kind=ReportKind.AGING,
        headers=_aging_headers,
        rows=_aging_rows,
        count=_receivables_count,
        dated=False,
    ),
    ReportKind.BALANCES: Report(
        kind=ReportKind.BALANCES,
        headers=_balances_headers,
        rows=_balances_rows,
        count=lambda f: selectors.balances().count(),
        dated=False,
    ),
    ReportKind.MOVEMENTS: Report(
        kind=ReportKind.MOVEMENTS,
        headers=_movements_headers,
        rows=_movements_rows,
        count=_movements_count,
        dated=True,
    ),
}


def file_stem(kind: str, filters: Filters) -> str:
    if REPORTS[kind].dated:
        return f"{kind}-{filters.date_from:%Y%m%d}-{filters.date_to:%Y%m%d}"
    return f"{kind}-{local_today():%Y%m%d}"


def _csv_cell(value: Cell) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    # A cell starting with = + - @ is a formula to a spreadsheet: neutralise text that does.
    if isinstance(value, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def csv_lines(kind: str, filters: Filters) -> Iterator[str]:
    """The report as CSV lines, produced lazily (UTF-8 BOM first, so spreadsheets read accents)."""
    report = REPORTS[kind]
    writer = csv.writer(_Echo())
    yield "\ufeff"
    yield writer.writerow(report.headers())
    for row in report.rows(filters):
        yield writer.writerow([_csv_cell(value) for value in row])


def write_xlsx(
    kind: str,
    filters: Filters,
    out: IO[bytes],
    *,
    progress: Callable[[int], None],
    every: int = 2000,
) -> int:
    """Write the report to ``out`` as XLSX (openpyxl write-only: constant memory); returns rows written."""
    report = REPORTS[kind]
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=str(ReportKind(kind).label)[:31])
    sheet.append(report.headers())
    done = 0
    for row in report.rows(filters):
        sheet.append([_xlsx_cell(value) for value in row])
        done += 1
        if done % every == 0:
            progress(done)
    workbook.save(out)
    return done


def _xlsx_cell(value: Cell) -> Cell:
    if isinstance(value, str) and value[:1] == "=":
        return "'" + value  # text, never a formula
    return value


def iter_rows(kind: str, filters: Filters) -> Iterable[list[Cell]]:
    return REPORTS[kind].rows(filters)
