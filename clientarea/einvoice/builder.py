"""Turn a paid order, the provider and the customer into an InvoiceDocument (pure data)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import fields, is_dataclass, replace
from decimal import Decimal
from typing import Any

from django.conf import settings

from clientarea.accounts.models import Customer, PersonType, ProviderProfile
from clientarea.einvoice.documents import (
    InvoiceDocument,
    InvoiceReference,
    Line,
    Party,
    Prepayment,
    Resolution,
    Withholding,
)
from clientarea.einvoice.models import NumberingResolution
from clientarea.lib import codelists
from clientarea.lib.dates import BOGOTA
from clientarea.lib.nit import check_digit

# DIAN MediosPago-2.1 codes for how the customer paid.
PAYMENT_MEANS = {
    "card": "48",
    "credit_card": "48",
    "debit_card": "49",
    "pse": "47",
    "cash": "10",
    "transfer": "45",
}


#: DIAN's MediosPago code 1, "Instrumento no definido": an amount owed whose means is not known.
UNPAID_MEANS = "1"


def payment_means_code(method: str) -> str:
    return PAYMENT_MEANS.get(method or "", "ZZZ")


def _responsibilities(value: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in (value or "").split(";") if c.strip()) or ("R-99-PN",)


def _party(source, *, legal_name: str, email: str, iva_responsible: bool) -> Party:
    code = source.municipality_code
    return Party(
        person_type=source.person_type,
        document_type=source.document_type,
        document_number=source.document_number,
        check_digit=source.check_digit or "",
        legal_name=legal_name,
        first_name=getattr(source, "first_name", ""),
        last_name=getattr(source, "last_name", ""),
        trade_name=source.trade_name,
        email=email,
        phone=source.phone,
        address_line=source.address,
        municipality_code=code,
        municipality_name=codelists.municipalities().get(code, ""),
        department_code=code[:2],
        department_name=codelists.departments().get(code[:2], ""),
        fiscal_responsibilities=_responsibilities(source.fiscal_responsibilities),
        tax_scheme="01" if iva_responsible else "ZZ",
    )


def supplier_party(provider: ProviderProfile) -> Party:
    # The provider charges IVA, so it is "responsable de IVA" (TaxScheme 01).
    return _party(
        provider, legal_name=provider.legal_name, email=provider.email, iva_responsible=True
    )


def customer_party(customer: Customer) -> Party:
    legal = (
        customer.legal_name
        if customer.person_type == PersonType.JURIDICA
        else f"{customer.first_name} {customer.last_name}".strip()
    )
    iva = any(
        code in ("O-13", "O-15", "O-23", "O-47")
        for code in _responsibilities(customer.fiscal_responsibilities)
    )
    return _party(customer, legal_name=legal, email=customer.einvoice_address, iva_responsible=iva)


def resolution_data(resolution: NumberingResolution) -> Resolution:
    return Resolution(
        number=resolution.number,
        prefix=resolution.prefix,
        range_from=resolution.range_from,
        range_to=resolution.range_to,
        valid_from=resolution.valid_from,
        valid_to=resolution.valid_to,
        technical_key=resolution.technical_key,
        environment=resolution.environment,
    )


def build_document(
    *,
    order,
    customer: Customer,
    provider: ProviderProfile,
    resolution: NumberingResolution,
    number: int,
    issued_at: dt.datetime,
    method: str,
    withholdings: Sequence[Any] | None = None,
    prepayments: tuple[Prepayment, ...] = (),
) -> InvoiceDocument:
    """Raises ValueError when a party lacks data DIAN requires (the invoice then waits).

    ``withholdings``: the order's withholding rows when the caller has them at hand (the paid
    transaction just fixed them); otherwise they are read through ``order.withholdings``.
    ``prepayments``: account credit applied to the order before it was paid (billing says
    which); they become ``cac:PrepaidPayment`` and lower ``PayableAmount``.
    """
    lines = tuple(
        Line.build(
            description=item.description,
            quantity=Decimal(item.quantity),
            unit_price=Decimal(item.unit_price),
            tax_rate=Decimal(item.tax_rate) if item.tax_treatment == "taxed" else Decimal("0"),
            tax_treatment=item.tax_treatment,
            period_start=item.period_start if item.period_end else None,
            period_end=item.period_end if item.period_start else None,
            code=str(item.service_id or ""),
            allowance=Decimal(item.discount),
            allowance_reason=item.discount_reason,
        )
        for item in order.items.all()
    )
    provider_nit = settings.EINVOICE_SOFTWARE_PROVIDER_NIT or provider.document_number
    return InvoiceDocument(
        number=number,
        resolution=resolution_data(resolution),
        issue=issued_at,
        due=issued_at.astimezone(BOGOTA).date(),
        supplier=supplier_party(provider),
        customer=customer_party(customer),
        lines=lines,
        payment_form="1",
        payment_means_code=payment_means_code(method),
        order_reference=order.number,
        software_id=settings.EINVOICE_SOFTWARE_ID,
        software_pin=settings.EINVOICE_SOFTWARE_PIN,
        software_provider_nit=provider_nit,
        software_provider_dv=check_digit(provider_nit),
        payable_rounding=Decimal(order.rounding),
        withholdings=order_withholdings(order, rows=withholdings),
        prepayments=prepayments,
    )


def prepayments_to_json(prepayments: tuple[Prepayment, ...]) -> list[dict]:
    """How an invoice row keeps its prepayments until it is issued (``Invoice.prepayments``)."""
    return [_plain(p) for p in prepayments]


def prepayments_from_json(data) -> tuple[Prepayment, ...]:
    return tuple(
        Prepayment(
            id=str(p["id"]),
            amount=Decimal(p["amount"]),
            received=dt.date.fromisoformat(p["received"]),
        )
        for p in data or ()
    )


def order_withholdings(order, rows: Sequence[Any] | None = None) -> tuple[Withholding, ...]:
    """What the buyer withheld, as the withholdings app fixed it in the paid transaction
    (``rows``, or ``order.withholdings``: its rows, read through the relation). ReteICA's rate
    is per mil."""
    if rows is None:
        related = getattr(order, "withholdings", None)
        if related is None:
            return ()
        rows = related.all()
    return tuple(
        Withholding(
            scheme=row.kind,
            base=Decimal(row.base),
            percent=Decimal(row.rate) / 10 if row.kind == "07" else Decimal(row.rate),
            amount=Decimal(row.amount),
        )
        for row in sorted(rows, key=lambda row: row.kind)
    )


def build_note_document(
    *,
    invoice: InvoiceDocument,
    invoice_cufe: str,
    document_type: str,
    prefix: str,
    number: int,
    lines: tuple[Line, ...],
    concept_code: str,
    reason: str,
    issued_at: dt.datetime,
    payment_due: dt.date | None = None,
) -> InvoiceDocument:
    """A credit (91) or debit (92) note on ``invoice``: same parties and payment means, its own
    number, lines and date, the invoice referenced by number, CUFE and date (§4.2).

    Its order (OrderReference, and "Service order" on the PDF): a note owed (``payment_due``) is
    collected by an order of its own that bears the note's number (``billing.debit_notes``), so it
    names that one; any other note names the order of the invoice it corrects.

    ``payment_due``: a note that is a new amount owed (a debit note collected on the customer's
    account) is a credit sale due then, not the invoice's paid one: PaymentMeans ID 2 (crédito)
    with that PaymentDueDate, and means ``1`` (instrumento no definido: how it will be paid is not
    known yet). Without it the note keeps the invoice's payment form and means.

    Raises ValueError when the data cannot make a valid note."""
    owed = payment_due is not None
    return replace(
        invoice,
        document_type=document_type,
        note_prefix=prefix,
        number=number,
        order_reference=f"{prefix}{number}" if owed else invoice.order_reference,
        lines=lines,
        issue=issued_at,
        due=payment_due if payment_due is not None else issued_at.astimezone(BOGOTA).date(),
        payment_form="2" if owed else invoice.payment_form,
        payment_means_code=UNPAID_MEANS if owed else invoice.payment_means_code,
        note="",
        payable_rounding=Decimal("0"),
        prepayments=(),  # a note corrects the sale, not how it was paid
        # UBL 2.1's CreditNote and DebitNote have no WithholdingTaxTotal (only Invoice has):
        # what the buyer withheld stays on the invoice.
        withholdings=(),
        reference=InvoiceReference(
            number=invoice.full_id, cufe=invoice_cufe, issue_date=invoice.issue_date
        ),
        concept_code=concept_code,
        concept_reason=reason,
        software_id=settings.EINVOICE_SOFTWARE_ID,
        software_pin=settings.EINVOICE_SOFTWARE_PIN,
    )


# --- snapshot (JSON) <-> InvoiceDocument -------------------------------------------------


def _plain(value):
    """JSON values of a document: what ``_plain(dataclasses.asdict(value))`` gives, in one walk
    (``asdict`` deep-copies every leaf first; this runs in the paid transaction)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def document_to_json(doc: InvoiceDocument) -> dict:
    return _plain(doc)


def document_from_json(data: dict) -> InvoiceDocument:
    def party(p: dict) -> Party:
        return Party(**{**p, "fiscal_responsibilities": tuple(p["fiscal_responsibilities"])})

    def line(item: dict) -> Line:
        return Line(
            **{
                **item,
                **{
                    k: Decimal(item[k])
                    for k in ("quantity", "unit_price", "line_extension", "tax_rate", "tax_amount")
                },
                "allowance": Decimal(item.get("allowance", "0")),  # absent from older snapshots
                "period_start": dt.date.fromisoformat(item["period_start"])
                if item.get("period_start")
                else None,
                "period_end": dt.date.fromisoformat(item["period_end"])
                if item.get("period_end")
                else None,
            }
        )

    res = data["resolution"]
    return InvoiceDocument(
        **{
            **data,
            "resolution": Resolution(
                **{
                    **res,
                    "valid_from": dt.date.fromisoformat(res["valid_from"]),
                    "valid_to": dt.date.fromisoformat(res["valid_to"]),
                }
            ),
            "issue": dt.datetime.fromisoformat(data["issue"]),
            "due": dt.date.fromisoformat(data["due"]),
            "supplier": party(data["supplier"]),
            "customer": party(data["customer"]),
            "lines": tuple(line(item) for item in data["lines"]),
            "payable_rounding": Decimal(
                data.get("payable_rounding", "0")
            ),  # absent from older snapshots
            "reference": InvoiceReference(
                number=data["reference"]["number"],
                cufe=data["reference"]["cufe"],
                issue_date=dt.date.fromisoformat(data["reference"]["issue_date"]),
            )
            if data.get("reference")
            else None,
            "withholdings": tuple(
                Withholding(
                    scheme=w["scheme"],
                    base=Decimal(w["base"]),
                    percent=Decimal(w["percent"]),
                    amount=Decimal(w["amount"]),
                )
                for w in data.get("withholdings", ())  # absent from older snapshots
            ),
            "prepayments": prepayments_from_json(data.get("prepayments")),
        }
    )
