"""Printed representation (representación gráfica) of the invoice, as a PDF.

Content follows what DIAN asks of it (§4 of ``shared/docs/dian-einvoice.md``):
the legal title "Factura electrónica de venta", seller name and NIT, buyer name
and document, authorized numbering (resolution, prefix, range and validity),
the consecutive number, issue date and time, items, tax rate and value per
rate, totals, payment form and means, whether the seller withholds IVA, the
CUFE and a QR code that shows it. The English version keeps the Spanish legal
title next to the English one. Labels and code names are in ``pdf_labels``.

Layout and data are apart: this module turns an :class:`InvoiceDocument` into
the texts to print (formatted and translated here, as plain JSON), and the
Typst template ``typst/invoice.typ`` lays them out. Typst (its Python package,
public ``typst.Compiler`` API) typesets and embeds the bundled DejaVu Sans
fonts, subset, in compiled code. Speed by design:
- one compiler per thread, created once: the fonts are found and parsed once
  and Typst's caches keep the layout of what does not change between invoices
  (seller, resolution, buyer, items, totals). For that, the invoice's data go
  in a small main file that calls the template (``sys.inputs`` stays the same
  for every invoice of a seller: a new value there would be a new standard
  library, and nothing cached would be reused), and the template sets no
  style that depends on the invoice before its body;
- the QR is an SVG path of dark-module runs (sharp at any zoom), the logo is
  wrapped once per file version.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import os
import threading
from decimal import Decimal
from pathlib import Path

import typst
from PIL import Image

from clientarea.einvoice.documents import InvoiceDocument, Line, Party
from clientarea.einvoice.pdf_labels import (
    DOCUMENT_TYPES,
    FISCAL_RESPONSIBILITIES,
    LABELS,
    LEGAL_TITLE,
    NOTE_CONCEPTS,
    NOTE_LABELS,
    NOTE_LEGAL_TITLES,
    PAYMENT_FORMS,
    payment_means_name,
)
from clientarea.einvoice.qr import qr_url
from clientarea.lib.codelists import place_line
from clientarea.lib.money import format_cop
from clientarea.lib.qr import qr_svg

TEMPLATE = Path(__file__).resolve().parent / "typst" / "invoice.typ"
MAIN_IMPORT = f'#import "/{TEMPLATE.name}": invoice\n'  # the main file's first line
FONT_DIR = Path(__file__).resolve().parent / "fonts"
SOFTWARE_NAME = "ClientArea"
QR_QUIET_ZONE = 1  # light modules around the symbol, inside its 34 mm
COLUMNS = (
    "col_no",
    "col_description",
    "col_period",
    "col_qty",
    "col_price",
    "col_tax",
    "col_total",
)  # light modules around the symbol, inside its 34 mm


# -- formatting helpers -------------------------------------------------------------------


def _date(value: dt.date, language: str) -> str:
    return value.strftime("%d/%m/%Y") if language == "es" else value.isoformat()


def _quantity(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text.replace(".", ",")


def _rate(value: Decimal) -> str:
    """``19`` or ``5,5``: a percentage without trailing zeros, Colombian decimal comma."""
    return _quantity(value)


def _document(party: Party, language: str) -> str:
    kind = DOCUMENT_TYPES[language].get(party.document_type, party.document_type)
    return f"{kind} {party.document_label}"


def _payment_means(code: str, language: str) -> str:
    return payment_means_name(code, language) or code


def _line_tax(line: Line, labels: dict[str, str]) -> str:
    if line.tax_treatment == "taxed":
        return f"{_rate(line.tax_rate)} %"
    return labels[line.tax_treatment]


def _period(line: Line, language: str) -> str:
    if line.period_start and line.period_end:
        return f"{_date(line.period_start, language)} – {_date(line.period_end, language)}"
    return ""


def _address(party: Party) -> str:
    place = place_line(party.municipality_name, party.department_name)
    return ", ".join(p for p in (party.address_line, place) if p)


# -- the texts to print, section by section ------------------------------------------------


def _seller(doc: InvoiceDocument, labels: dict[str, str], language: str) -> dict:
    seller = doc.supplier
    phone = f"{labels['phone']} {seller.phone}" if seller.phone else ""
    regime = (
        labels["iva_responsible"] if seller.tax_scheme == "01" else labels["iva_not_responsible"]
    )
    withholder = (
        labels["withholder_yes"]
        if "O-23" in seller.fiscal_responsibilities
        else labels["withholder_no"]
    )
    responsibilities = ", ".join(
        FISCAL_RESPONSIBILITIES[language].get(code, code) for code in seller.fiscal_responsibilities
    )
    lines = (
        _address(seller),
        " · ".join(part for part in (phone, seller.email) if part),
        f"{regime} · {withholder}",
        responsibilities,
    )
    return {
        "name": seller.display_name,
        "identity": f"{seller.legal_name} · NIT {seller.document_label}",
        "lines": [text for text in lines if text],
    }


def _title_lines(doc: InvoiceDocument, labels: dict[str, str], language: str) -> list:
    """(text, size in pt, bold, line height in mm) of the title box."""
    title: list[tuple[str, float, bool, float]] = [(labels["title"], 10.5, True, 5.5)]
    if language != "es":
        title.append((_legal_title(doc), 7, False, 3.8))
    issued = f"{labels['issued']} {_date(doc.issue_date, language)} {doc.issue_time_str}"
    title += [
        (labels["number"], 7.5, False, 4.2),
        (doc.full_id, 15, True, 7.5),
        (issued, 7.5, False, 4.2),
    ]
    return title


def _legal_title(doc: InvoiceDocument) -> str:
    return NOTE_LEGAL_TITLES.get(doc.document_type, LEGAL_TITLE)


def _resolution(doc: InvoiceDocument, labels: dict[str, str], language: str) -> str:
    if doc.reference is not None:  # a note: DIAN numbers invoices only; it names its invoice
        return labels["reference"].format(
            number=doc.reference.number,
            date=_date(doc.reference.issue_date, language),
            cufe=doc.reference.cufe,
        )
    res = doc.resolution
    return labels["resolution"].format(
        number=res.number, prefix=res.prefix or "—", start=res.range_from, end=res.range_to,
        valid_from=_date(res.valid_from, language), valid_to=_date(res.valid_to, language),
    )  # fmt: skip


def _buyer(doc: InvoiceDocument, labels: dict[str, str], language: str) -> dict:
    buyer = doc.customer
    lines = (
        _document(buyer, language),
        _address(buyer),
        buyer.email,
        f"{labels['phone']} {buyer.phone}" if buyer.phone else "",
    )
    return {"name": buyer.legal_name, "lines": [text for text in lines if text]}


def _details(doc: InvoiceDocument, labels: dict[str, str], language: str) -> list:
    rows = [
        (labels["issue_date"], _date(doc.issue_date, language)),
        (labels["issue_time"], doc.issue_time_str),
        (labels["invoice"], doc.reference.number if doc.reference else ""),
        # A note has a due date only when it is owed (credit: a debit note on the account).
        (
            labels["due_date"],
            _date(doc.due, language) if not doc.is_note or doc.payment_form == "2" else "",
        ),
        (labels["payment_form"], PAYMENT_FORMS[language].get(doc.payment_form, doc.payment_form)),
        (labels["payment_means"], _payment_means(doc.payment_means_code, language)),
        (labels["order"], doc.order_reference),
        (labels["currency"], doc.currency),
    ]
    return [row for row in rows if row[1]]


def _description(line: Line) -> str:
    """The line's text; a discounted line says by how much (its value is already net of it)."""
    if not line.allowance:
        return line.description
    return (
        f"{line.description} ({line.allowance_reason}: "
        f"-{format_cop(line.allowance, decimals=True)})"
    )


def _items(doc: InvoiceDocument, labels: dict[str, str], language: str) -> list:
    """One row per line. The item code (our service id) is not printed: DIAN does not ask for it."""
    return [
        [
            str(index),
            _description(line),
            _period(line, language),
            _quantity(line.quantity),
            format_cop(line.unit_price, decimals=True),
            _line_tax(line, labels),
            format_cop(line.line_extension, decimals=True),
        ]
        for index, line in enumerate(doc.lines, start=1)
    ]


def _totals(doc: InvoiceDocument, labels: dict[str, str], language: str = "es") -> list:
    """(label, value, bold): informative bases are not bold, amounts that add up are."""
    rows: list[tuple[str, str, bool]] = [
        (labels["subtotal"], format_cop(doc.line_extension_total, decimals=True), True)
    ]
    for sub in doc.iva_subtotals:
        if sub.rate > 0:
            label = labels["iva_on"].format(
                rate=_rate(sub.rate), base=format_cop(sub.taxable_amount, decimals=True)
            )
            rows.append((label, format_cop(sub.tax_amount, decimals=True), False))
        else:
            rows.append(
                (labels["exempt_base"], format_cop(sub.taxable_amount, decimals=True), False)
            )
    if doc.excluded_total:
        rows.append((labels["excluded_base"], format_cop(doc.excluded_total, decimals=True), False))
    rows.append((labels["iva_total"], format_cop(doc.iva_total, decimals=True), True))
    if doc.payable_rounding:
        sign = "-" if doc.payable_rounding < 0 else "+"
        rows.append(
            (labels["rounding"], sign + format_cop(abs(doc.payable_rounding), decimals=True), True)
        )
    if doc.prepayments:  # PrepaidAmount: the total, then each prepayment, then what is left
        rows.append((labels["document_total"], format_cop(doc.document_total, decimals=True), True))
        rows += [
            (
                labels["prepaid"].format(id=p.id, date=_date(p.received, language)),
                "-" + format_cop(p.amount, decimals=True),
                True,
            )
            for p in doc.prepayments
        ]
    return rows


def _note_labels(doc: InvoiceDocument, labels: dict[str, str], language: str) -> dict[str, str]:
    """The invoice's labels with a note's title, details and CUDE in place."""
    if not doc.is_note:
        return {**labels, "invoice": ""}
    note = NOTE_LABELS[language]
    return {**labels, **note["common"], **note[doc.document_type]}


def _note_text(doc: InvoiceDocument) -> str:
    if not doc.is_note:
        return doc.note
    concept = NOTE_CONCEPTS[doc.document_type].get(doc.concept_code, "")
    return f"{doc.concept_code} · {concept}. {doc.concept_reason}"


def _withholdings(doc: InvoiceDocument, labels: dict[str, str]) -> list:
    """(label, value) rows under the total: what the buyer withheld, and the net it paid."""
    if not doc.withholdings:
        return []
    rows = [(labels["withheld_title"], "")]
    rows += [
        (
            labels["withheld"].format(
                name=w.name,
                rate=_rate(Decimal(w.percent_str)),
                base=format_cop(w.base, decimals=True),
            ),
            "-" + format_cop(w.amount, decimals=True),
        )
        for w in doc.withholdings
    ]
    rows.append((labels["net_paid"], format_cop(doc.net_payable, decimals=True)))
    return rows


def _data(doc: InvoiceDocument, cufe: str, labels: dict[str, str], language: str) -> dict:
    labels = _note_labels(doc, labels, language)
    legal_title = _legal_title(doc)
    software = labels["software"].format(
        name=SOFTWARE_NAME,
        nit=f"{doc.software_provider_nit}-{doc.software_provider_dv}",
        software_id=doc.software_id,
    )
    return {
        "lang": language,
        "region": "co" if language == "es" else None,
        "title": f"{legal_title} {doc.full_id}",
        "author": doc.supplier.legal_name,
        "subject": f"{labels['cufe']} {cufe}",
        "footer": f"{legal_title} {doc.full_id} · {doc.supplier.legal_name} · NIT {doc.supplier.document_label}",
        "page": labels["page"],
        "seller": _seller(doc, labels, language),
        "title-lines": _title_lines(doc, labels, language),
        "resolution": _resolution(doc, labels, language),
        "buyer-title": labels["buyer"],
        "buyer": _buyer(doc, labels, language),
        "details-title": labels["details"],
        "details": _details(doc, labels, language),
        "columns": [labels[key] for key in COLUMNS],
        "rows": _items(doc, labels, language),
        "notes-title": labels["notes"],
        "note": _note_text(doc),
        "totals": _totals(doc, labels, language),
        "payable-title": labels["payable"],
        "payable": format_cop(doc.payable_amount, decimals=True),
        "withholdings": _withholdings(doc, labels),
        "cufe-title": labels["cufe"],
        "cufe": cufe,
        "qr-hint": labels["qr_hint"],
        "qr-url": qr_url(cufe, doc.environment),
        "representation": labels["representation"],
        "software": software,
    }


# -- images: the logo once per file version (the QR is drawn by clientarea.lib.qr) ------------


LOGO_MAX_PIXELS_HIGH = 330  # 14 mm high at 600 dpi
_logos: dict[str, tuple[tuple[int, int], str]] = {}
_logos_lock = threading.Lock()


def _logo_svg(path: str) -> str:
    """The logo as an SVG wrapping a PNG no taller than needed, prepared once per file version."""
    stat = os.stat(path)
    version = (stat.st_mtime_ns, stat.st_size)
    cached = _logos.get(path)
    if cached is None or cached[0] != version:
        with Image.open(path) as source:
            image = source.convert("RGBA")
        if image.height > LOGO_MAX_PIXELS_HIGH:
            width = max(1, round(image.width * LOGO_MAX_PIXELS_HIGH / image.height))
            image = image.resize((width, LOGO_MAX_PIXELS_HIGH), Image.Resampling.LANCZOS)
        png = io.BytesIO()
        image.save(png, format="PNG", optimize=False)
        encoded = base64.b64encode(png.getvalue()).decode("ascii")
        svg = (
            f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'viewBox="0 0 {image.width} {image.height}" width="{image.width}" height="{image.height}">'
            f'<image width="{image.width}" height="{image.height}" '
            f'xlink:href="data:image/png;base64,{encoded}"/></svg>'
        )
        cached = (version, svg)
        with _logos_lock:
            if len(_logos) >= 16:
                _logos.clear()
            _logos[path] = cached
    return cached[1]


# -- the compiler -------------------------------------------------------------------------

_compilers = threading.local()


def _compiler() -> typst.Compiler:
    """This thread's compiler: the fonts are loaded once per thread, the template's layout cached."""
    compiler = getattr(_compilers, "compiler", None)
    if compiler is None:
        compiler = typst.Compiler(
            root=str(TEMPLATE.parent),  # the main file of each invoice imports the template
            font_paths=[str(FONT_DIR)],
            ignore_system_fonts=True,  # the same fonts, and so the same PDF, on every machine
        )
        _compilers.compiler = compiler
    return compiler


def _typst_string(text: str) -> str:
    """``text`` as a Typst string literal (``\\`` and ``"`` escaped; no raw line breaks)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r") + '"'


def render_invoice_pdf(
    doc: InvoiceDocument,
    cufe: str,
    qr_text: str,
    logo_path: str | Path | None = None,
    language: str = "es",
) -> bytes:
    """The invoice's printed representation as PDF bytes (Spanish or English labels)."""
    if language not in LABELS:
        raise ValueError(f"language must be one of {sorted(LABELS)}")
    data = json.dumps(_data(doc, cufe, LABELS[language], language), ensure_ascii=False)
    qr_image = qr_svg(qr_text, quiet_zone=QR_QUIET_ZONE)
    main = f"{MAIN_IMPORT}#invoice(json(bytes({_typst_string(data)})), {_typst_string(qr_image)})\n"
    # sys.inputs: only what is the same for every invoice of a seller (see the module's docstring)
    inputs = {"logo": _logo_svg(str(logo_path))} if logo_path else {}
    issued = int(doc.issue.astimezone(dt.UTC).timestamp())  # the PDF's creation date
    pdf = _compiler().compile(main.encode(), sys_inputs=inputs, timestamp=issued)
    if not isinstance(pdf, bytes):  # one document in, one PDF out
        raise TypeError(f"typst returned {type(pdf).__name__}, not the PDF's bytes")
    return pdf
