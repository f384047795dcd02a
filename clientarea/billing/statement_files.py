"""The statement of account as files: CSV (for a spreadsheet) and PDF (a Typst template,
``typst/statement.typ``, typeset with the invoice's bundled fonts). Reads only."""

from __future__ import annotations

import csv
import io
import json
import threading
from pathlib import Path

import typst
from django.http import HttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from clientarea.accounts.selectors import get_provider
from clientarea.billing.forms import StatementForm
from clientarea.billing.selectors import AccountStatement, account_statement, movement_label
from clientarea.einvoice.pdf import FONT_DIR
from clientarea.lib.dates import BOGOTA, local_today
from clientarea.lib.money import format_cop

TEMPLATE = Path(__file__).resolve().parent / "typst" / "statement.typ"
_compilers = threading.local()

#: Dates in the CSV stay ISO (sortable, read by spreadsheets and scripts); the PDF, a document a
#: person reads, writes them the Colombian way (day/month/year), as the invoices do.
CSV_MOMENT = "%Y-%m-%d %H:%M"
PDF_DATE = "%d/%m/%Y"
PDF_MOMENT = "%d/%m/%Y %H:%M"


#: The CSV's columns after the date, in order (``_rows``' keys).
_CSV_KEYS = ("movement", "order", "invoice", "reference", "debit", "credit", "balance", "held")


def _rows(statement: AccountStatement) -> list[dict]:
    """Each movement's cells; ``at`` is its moment in Bogotá (each file writes it its way)."""
    rows = []
    for line in statement.lines:
        entry = line.entry
        order = (
            entry.order.number if entry.order else (entry.memo if entry.memo[:4] == "ODS-" else "")
        )
        movement = movement_label(entry)
        rows.append(
            {
                "at": timezone.localtime(entry.created_at, BOGOTA),
                "movement": f"{movement} ({line.held_text})" if line.held else movement,
                "order": order,
                "invoice": statement.invoices.get(entry.order_id or 0, ""),
                "reference": line.customer_reference,  # a document for the customer
                "debit": str(line.debit) if line.debit else "",
                "credit": str(line.credit) if line.credit else "",
                "balance": str(line.balance),
                "held": str(line.held_amount) if line.held else "",
            }
        )
    return rows


def statement_csv(statement: AccountStatement) -> str:
    """One row per movement, plus the opening and closing balances; plain decimals with a dot.
    The last column, "Not in the balance", holds the amount of a movement of a debit note DIAN is
    validating (neither debit nor credit); the closing row, what they add up to."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            _("Date"),
            _("Movement"),
            _("Order"),
            _("Invoice"),
            _("Reference"),
            _("Debit"),
            _("Credit"),
            _("Balance"),
            _("Not in the balance"),
        ]
    )
    writer.writerow(
        [
            statement.start.isoformat(),
            _("Opening balance"),
            "",
            "",
            "",
            "",
            "",
            str(statement.opening),
            "",
        ]
    )
    for row in _rows(statement):
        writer.writerow([row["at"].strftime(CSV_MOMENT), *(row[key] for key in _CSV_KEYS)])
    writer.writerow(
        [
            statement.end.isoformat(),
            _("Closing balance"),
            "",
            "",
            "",
            "",
            "",
            str(statement.closing),
            str(statement.held) if statement.held else "",
        ]
    )
    return out.getvalue()


def _compiler() -> typst.Compiler:
    compiler = getattr(_compilers, "compiler", None)
    if compiler is None:
        compiler = typst.Compiler(
            str(TEMPLATE),
            root=str(TEMPLATE.parent),
            font_paths=[str(FONT_DIR)],
            ignore_system_fonts=True,
        )
        _compilers.compiler = compiler
    return compiler


def statement_pdf(statement: AccountStatement) -> bytes:
    """The statement as a PDF, in the active language."""
    provider = get_provider()
    customer = statement.customer
    data = {
        "lang": (translation.get_language() or "es")[:2],
        "title": _("Statement of account"),
        "provider": (provider.legal_name if provider else "ClientArea"),
        "provider_nit": (f"NIT {provider.nit_display}" if provider else ""),
        "customer": customer.display_name,
        "document": customer.document_display,  # a NIT with its check digit
        "period": _("From %(start)s to %(end)s")
        % {"start": statement.start.strftime(PDF_DATE), "end": statement.end.strftime(PDF_DATE)},
        "generated": _("Generated on %(when)s")
        % {"when": timezone.localtime(timezone.now(), BOGOTA).strftime(PDF_MOMENT)},
        "labels": {
            "date": _("Date"),
            "movement": _("Movement"),
            "document": _("Document"),
            "debit": _("Debit"),
            "credit": _("Credit"),
            "balance": _("Balance"),
            "opening": _("Opening balance"),
            "closing": _("Closing balance"),
            "note": _("A positive balance is owed by the customer; a negative balance is credit."),
        },
        "opening": format_cop(statement.opening, decimals=True),
        "closing": format_cop(statement.closing, decimals=True),
        "held": statement.held_note,
        "rows": [
            {
                "date": row["at"].strftime(PDF_MOMENT),
                "movement": row["movement"],
                "document": " · ".join(
                    part for part in (row["order"], row["invoice"], row["reference"]) if part
                ),
                "debit": format_cop(row["debit"], decimals=True) if row["debit"] else "",
                "credit": format_cop(row["credit"], decimals=True) if row["credit"] else "",
                "balance": format_cop(row["balance"], decimals=True),
            }
            for row in _rows(statement)
        ],
    }
    pdf = _compiler().compile(sys_inputs={"data": json.dumps(data, ensure_ascii=False)})
    if not isinstance(pdf, bytes):
        raise TypeError(f"typst returned {type(pdf).__name__}, not the PDF's bytes")
    return pdf


def download(statement: AccountStatement, *, output: str) -> HttpResponse:
    """The statement as an attachment: ``output`` is "csv" or "pdf". Its file name is in the
    language its contents are written in, the active one ("estado-de-cuenta-…" in Spanish)."""
    # Translators: the start of the statement's file name: lowercase words joined by hyphens,
    # no accents or spaces.
    prefix = pgettext("statement file name", "statement")
    name = f"{prefix}-{statement.customer.document_number}-{statement.start}-{statement.end}"
    if output == "csv":
        response = HttpResponse(
            "\ufeff" + statement_csv(statement), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response
    response = HttpResponse(statement_pdf(statement), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    return response


def from_query(*, customer, params) -> tuple[StatementForm, AccountStatement, HttpResponse | None]:
    """The statement a page asked for (``params``: its query string) and, when it asked for a
    CSV or PDF with a valid range, the download. Default range: this year up to today. Shared by
    the client area and the back office."""
    today = local_today()
    ranged = "start" in params or "end" in params
    form = StatementForm(params if ranged else None, initial_end=today)
    start, end = today.replace(month=1, day=1), today
    if form.is_bound and form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    statement = account_statement(customer, start=start, end=end)
    output = params.get("format", "")
    if output in ("csv", "pdf") and (not form.is_bound or form.is_valid()):
        return form, statement, download(statement, output=output)
    return form, statement, None
