"""Reads of the simulator's data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum

from .models import (
    Batch,
    DocumentKind,
    NumberingRange,
    ReceivedDocument,
    SimulatorSettings,
    Software,
    TestSet,
)


def simulator_settings() -> SimulatorSettings:
    found = SimulatorSettings.objects.filter(pk=1).first()
    return found if found is not None else SimulatorSettings(pk=1)


def trusted_fingerprints(settings: SimulatorSettings) -> set[str]:
    return {
        line.strip().replace(":", "").lower()
        for line in settings.trusted_fingerprints.splitlines()
        if line.strip()
    }


def software(software_id: str) -> Software | None:
    if not software_id:
        return None
    return Software.objects.filter(software_id__iexact=software_id).first()


def issuer_allowed(sw: Software, issuer_nit: str) -> bool:
    allowed = {n.strip() for n in sw.issuer_nits.replace("\n", ",").split(",") if n.strip()}
    return not allowed or issuer_nit in allowed


def ranges_for(sw: Software, issuer_nit: str) -> QuerySet[NumberingRange]:
    return sw.ranges.filter(Q(issuer_nit="") | Q(issuer_nit=issuer_nit))


def valid_ranges(sw: Software, issuer_nit: str, today: dt.date) -> QuerySet[NumberingRange]:
    return ranges_for(sw, issuer_nit).filter(valid_from__lte=today, valid_to__gte=today)


def accepted(duplicate_key: str) -> ReceivedDocument | None:
    return ReceivedDocument.objects.filter(duplicate_key=duplicate_key).first()


def accepted_invoice(key: str) -> ReceivedDocument | None:
    return ReceivedDocument.objects.filter(
        document_key=key.lower(), kind=DocumentKind.INVOICE, is_valid=True
    ).first()


def remaining_of(invoice: ReceivedDocument) -> Decimal:
    """What remains of an accepted invoice: its total − accepted credit notes + debit notes."""
    notes = ReceivedDocument.objects.filter(
        referenced_key=invoice.document_key, is_valid=True, issuer_nit=invoice.issuer_nit
    )

    def total(kind: str) -> Decimal:
        found = notes.filter(kind=kind).aggregate(total=Sum("payable_amount"))["total"]
        return found or Decimal(0)

    return (
        (invoice.payable_amount or Decimal(0))
        - total(DocumentKind.CREDIT_NOTE)
        + total(DocumentKind.DEBIT_NOTE)
    )


def by_track_id(track_id: str) -> ReceivedDocument | None:
    """The accepted document with this CUFE/CUDE, else the latest answer given for it."""
    found = ReceivedDocument.objects.filter(document_key=track_id.lower())
    return found.filter(is_valid=True).first() or found.first()


def batch(zip_key: str) -> Batch | None:
    return Batch.objects.filter(zip_key=zip_key).first()


def test_set(test_set_id: str) -> TestSet | None:
    return TestSet.objects.filter(test_set_id=test_set_id).first()
