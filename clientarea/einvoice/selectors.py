"""Read queries for electronic invoices."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from clientarea.einvoice import builder
from clientarea.einvoice.models import DocumentKind, Invoice, InvoiceStatus, NumberingResolution
from clientarea.lib.dates import local_today
from clientarea.lib.money import ZERO, payable_rounding, quantize

_HEAVY = ("xml_unsigned", "xml_signed", "attached_document", "pdf", "document")


def customer_invoices(customer) -> QuerySet[Invoice]:
    """The customer's issued invoices, newest first, each with its credit and debit notes."""
    return (
        Invoice.objects.filter(customer=customer, kind=DocumentKind.INVOICE)
        .exclude(status=InvoiceStatus.WAITING)
        .select_related("order")
        .prefetch_related(
            Prefetch(
                "notes",
                queryset=Invoice.objects.defer(*_HEAVY, "application_response").order_by(
                    "issued_at", "id"
                ),
            )
        )
        .defer(*_HEAVY)
        .order_by("-issued_at", "-id")
    )


def invoice_notes(invoice: Invoice) -> QuerySet[Invoice]:
    """The credit and debit notes of an invoice, oldest first."""
    return (
        Invoice.objects.filter(reference=invoice)
        .defer(*_HEAVY, "application_response")
        .order_by("issued_at", "id")
    )


def order_documents(order) -> QuerySet[Invoice]:
    """The electronic documents of an order, oldest first: its invoice, the credit and debit
    notes on that invoice, and the note an order of its own stands for (a debit note owed)."""
    return (
        Invoice.objects.filter(
            Q(order=order) | Q(reference__order=order) | Q(pk=order.debit_note_id)
        )
        .defer(*_HEAVY, "application_response")
        .order_by("created_at", "id")
        .distinct()
    )


def _note_totals(invoice: Invoice) -> tuple[Decimal, Decimal]:
    """What the invoice's credit and debit notes add up to, whatever their DIAN state (a
    rejected note keeps its number and is sent again once fixed)."""
    sums = dict(
        invoice.notes.values_list("kind").annotate(total=Sum("total")).values_list("kind", "total")
    )
    return (
        sums.get(DocumentKind.CREDIT_NOTE) or ZERO,
        sums.get(DocumentKind.DEBIT_NOTE) or ZERO,
    )


def invoice_value_left(invoice: Invoice) -> Decimal:
    """The most a credit note may credit: the invoice's value (IVA included, before the payment
    rounding: notes carry none) plus its debit notes, minus its credit notes."""
    doc = builder.document_from_json(invoice.document)
    credited, debited = _note_totals(invoice)
    return quantize(doc.tax_inclusive_amount + debited - credited)


def invoice_balance(invoice: Invoice) -> Decimal:
    """What is left of an invoice in pesos: its payable total (PayableRoundingAmount included)
    while nothing is credited; once credited, what is left of its value rounded to whole pesos
    the same way (half up), plus its debit notes (their exact totals, collected as such)."""
    doc = builder.document_from_json(invoice.document)
    credited, debited = _note_totals(invoice)
    if not credited:
        return quantize(doc.document_total + debited)
    left = quantize(doc.tax_inclusive_amount - credited)
    return quantize(left + payable_rounding(left) + debited)


def dashboard_summary(customer) -> dict:
    return {
        "invoices_count": Invoice.objects.filter(customer=customer, kind=DocumentKind.INVOICE)
        .exclude(status=InvoiceStatus.WAITING)
        .count()
    }


def numbering_warnings(today: dt.date | None = None) -> list[str]:
    """What staff must know about numbering: little range or validity left, nothing valid at all."""
    today = today or local_today()
    warnings: list[str] = []
    valid = list(
        NumberingResolution.objects.filter(active=True, valid_from__lte=today, valid_to__gte=today)
    )
    usable = [r for r in valid if r.remaining_numbers > 0]
    if not usable:
        warnings.append(
            _(
                "No active numbering resolution can issue invoices today: paid orders' invoices will wait."
            )
        )
    for r in valid:
        if 0 < r.remaining_numbers <= r.warn_remaining_numbers:
            warnings.append(
                _("Resolution %(n)s: only %(left)d numbers left.")
                % {"n": r.number, "left": r.remaining_numbers}
            )
        days = (r.valid_to - today).days
        if days <= r.warn_remaining_days:
            warnings.append(
                _("Resolution %(n)s: valid for %(days)d more day(s), until %(end)s.")
                % {"n": r.number, "days": days, "end": r.valid_to}
            )
    waiting = Invoice.objects.filter(status=InvoiceStatus.WAITING).count()
    if waiting:
        warnings.append(_("%(n)d invoice(s) waiting to be issued.") % {"n": waiting})
    return warnings
