"""Read queries for electronic invoices."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from clientarea.einvoice.models import Invoice, InvoiceStatus, NumberingResolution
from clientarea.lib.dates import local_today


def customer_invoices(customer) -> QuerySet[Invoice]:
    return (
        Invoice.objects.filter(customer=customer)
        .exclude(status=InvoiceStatus.WAITING)
        .select_related("order")
        .defer("xml_unsigned", "xml_signed", "attached_document", "pdf", "document")
        .order_by("-issued_at", "-id")
    )


def dashboard_summary(customer) -> dict:
    return {
        "invoices_count": Invoice.objects.filter(customer=customer)
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
