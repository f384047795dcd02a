"""The documents of DIAN's habilitación test set: numbered on the test numbering, built, signed.

A builder (:data:`DOCUMENT_BUILDERS`, one per kind) runs inside the transaction that starts a
run: it takes the next number of the test resolution (locked by the caller) and returns the
document's snapshot and CUFE/CUDE. A signer (:data:`DOCUMENT_SIGNERS`) turns the snapshot into
signed XML in the worker. Invoices are built here; credit and debit notes plug in by adding
their builder and signer for ``TestDocumentKind.CREDIT_NOTE`` / ``DEBIT_NOTE``.

Test documents have no order and no customer account: the buyer is DIAN's *consumidor final*
(document 13, 222222222222), so nothing staff see as a sale is created.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from clientarea.accounts.selectors import get_provider
from clientarea.einvoice import builder, signing, ubl
from clientarea.einvoice.dian import files
from clientarea.einvoice.documents import (
    CREDIT_NOTE_TYPE,
    DEBIT_NOTE_TYPE,
    InvoiceDocument,
    Line,
    Party,
)
from clientarea.einvoice.habilitacion_models import TestDocumentKind
from clientarea.einvoice.models import Environment, NumberingResolution
from clientarea.lib import codelists
from clientarea.lib.dates import BOGOTA
from clientarea.lib.nit import check_digit

#: The buyer of every test document: DIAN's "consumidor final" (no customer account is involved).
TEST_BUYER = dict(
    person_type="natural",
    document_type="13",
    document_number="222222222222",
    legal_name="Consumidor final",
    first_name="Consumidor",
    last_name="final",
    email="",
    municipality_code="11001",
    fiscal_responsibilities=("R-99-PN",),
    tax_scheme="ZZ",
)


class HabilitacionError(Exception):
    """The test set cannot be started; the message says why, for staff."""


@dataclass(frozen=True)
class PlannedDocument:
    """What a builder returns: the number and snapshot of one test document."""

    full_number: str
    document_key: str
    document: dict
    kind: str = TestDocumentKind.INVOICE


#: kind → builder(resolution, position, now, earlier) run inside the start transaction;
#: ``earlier`` holds the documents already planned in this run (a note references an invoice).
Builder = Callable[[NumberingResolution, int, dt.datetime, list[PlannedDocument]], PlannedDocument]
#: kind → signer(snapshot) → (signed XML, files.DocumentKind, sequence for the file name).
Signer = Callable[[dict], tuple[bytes, files.DocumentKind, int]]


def test_resolution(on: dt.date | None = None) -> NumberingResolution | None:
    """The active test-environment resolution valid on ``on`` (DIAN's SETP set), if any."""
    on = on or timezone.localdate(timezone=BOGOTA)
    return (
        NumberingResolution.objects.filter(
            environment=Environment.TEST, active=True, valid_from__lte=on, valid_to__gte=on
        )
        .order_by("valid_from", "id")
        .first()
    )


def _test_buyer() -> Party:
    code = TEST_BUYER["municipality_code"]
    assert isinstance(code, str)
    return Party(
        **TEST_BUYER,  # type: ignore[arg-type]
        municipality_name=codelists.municipalities().get(code, ""),
        department_code=code[:2],
        department_name=codelists.departments().get(code[:2], ""),
    )


def build_test_invoice(
    resolution: NumberingResolution,
    position: int,
    now: dt.datetime,
    earlier: list[PlannedDocument] | None = None,
) -> PlannedDocument:
    """One test invoice on the test numbering; consumes the resolution's next number."""
    provider = get_provider()
    if provider is None:
        raise HabilitacionError(
            _("Fill in the provider profile first (it is the invoices' seller).")
        )
    number = resolution.next_number
    if number > resolution.range_to:
        raise HabilitacionError(
            _("The test numbering %(n)s is used up.") % {"n": resolution.number}
        )
    provider_nit = settings.EINVOICE_SOFTWARE_PROVIDER_NIT or provider.document_number
    try:
        doc = InvoiceDocument(
            number=number,
            resolution=builder.resolution_data(resolution),
            issue=now,
            due=now.astimezone(BOGOTA).date(),
            supplier=builder.supplier_party(provider),
            customer=_test_buyer(),
            lines=(
                Line.build(
                    description=f"Servicio de prueba de habilitación {position}",
                    quantity=Decimal(position),
                    unit_price=Decimal("10000.00"),
                    tax_rate=Decimal("19.00"),
                ),
            ),
            payment_form="1",
            payment_means_code="10",
            order_reference=f"HAB-{position}",
            software_id=settings.EINVOICE_SOFTWARE_ID,
            software_pin=settings.EINVOICE_SOFTWARE_PIN,
            software_provider_nit=provider_nit,
            software_provider_dv=check_digit(provider_nit),
        )
        cufe = ubl.expected_cufe(doc)
    except ValueError as exc:
        raise HabilitacionError(
            _("A test invoice cannot be built: %(error)s") % {"error": exc}
        ) from exc
    resolution.next_number = number + 1
    resolution.save(update_fields=["next_number"])
    return PlannedDocument(
        full_number=doc.full_id, document_key=cufe, document=builder.document_to_json(doc)
    )


def sign_test_invoice(snapshot: dict) -> tuple[bytes, files.DocumentKind, int]:
    doc = builder.document_from_json(snapshot)
    key, cert = signing.load_pkcs12(settings.EINVOICE_CERT_PATH, settings.EINVOICE_CERT_PASSWORD)
    signed = signing.sign_invoice(ubl.to_bytes(ubl.build_invoice_xml(doc)), key, cert)
    return signed, files.DocumentKind.INVOICE, doc.number


#: The notes of a test set: a partial credit note (concept 1) and a debit note (concept 2) on the
#: run's first test invoice, numbered ``NC``/``ND`` + that invoice's number: unique across runs
#: (test invoice numbers never repeat) and apart from the provider's real note numbering.
TEST_NOTES: dict[str, tuple[str, str, str, Decimal]] = {
    TestDocumentKind.CREDIT_NOTE: (CREDIT_NOTE_TYPE, "NC", "1", Decimal("5000.00")),
    TestDocumentKind.DEBIT_NOTE: (DEBIT_NOTE_TYPE, "ND", "2", Decimal("2000.00")),
}


def _note_builder(kind: str) -> Builder:
    document_type, prefix, concept, amount = TEST_NOTES[kind]

    def build(
        resolution: NumberingResolution,
        position: int,
        now: dt.datetime,
        earlier: list[PlannedDocument] | None = None,
    ) -> PlannedDocument:
        invoices = [p for p in earlier or () if p.kind == TestDocumentKind.INVOICE]
        if not invoices:
            raise HabilitacionError(
                _("A test set with notes needs at least one invoice: the notes reference it.")
            )
        source = invoices[0]
        invoice = builder.document_from_json(source.document)
        try:
            doc = builder.build_note_document(
                invoice=invoice,
                invoice_cufe=source.document_key,
                document_type=document_type,
                prefix=prefix,
                number=invoice.number + position,
                lines=(
                    Line.build(
                        description=f"Nota de prueba de habilitación {position}",
                        quantity=Decimal("1"),
                        unit_price=amount,
                        tax_rate=Decimal("19.00"),
                    ),
                ),
                concept_code=concept,
                reason="Documento del set de pruebas de habilitación",
                issued_at=now,
            )
            cude = ubl.expected_cufe(doc)
        except ValueError as exc:
            raise HabilitacionError(
                _("A test note cannot be built: %(error)s") % {"error": exc}
            ) from exc
        return PlannedDocument(
            full_number=doc.full_id,
            document_key=cude,
            document=builder.document_to_json(doc),
            kind=kind,
        )

    return build


def sign_test_document(snapshot: dict) -> tuple[bytes, files.DocumentKind, int]:
    """An invoice or a note of the test set, signed (the file name follows its type)."""
    doc = builder.document_from_json(snapshot)
    key, cert = signing.load_pkcs12(settings.EINVOICE_CERT_PATH, settings.EINVOICE_CERT_PASSWORD)
    signed = signing.sign_invoice(ubl.to_bytes(ubl.build_invoice_xml(doc)), key, cert)
    kind = {
        CREDIT_NOTE_TYPE: files.DocumentKind.CREDIT_NOTE,
        DEBIT_NOTE_TYPE: files.DocumentKind.DEBIT_NOTE,
    }.get(doc.document_type, files.DocumentKind.INVOICE)
    return signed, kind, doc.number


DOCUMENT_BUILDERS: dict[str, Builder] = {
    TestDocumentKind.INVOICE: build_test_invoice,
    TestDocumentKind.CREDIT_NOTE: _note_builder(TestDocumentKind.CREDIT_NOTE),
    TestDocumentKind.DEBIT_NOTE: _note_builder(TestDocumentKind.DEBIT_NOTE),
}
DOCUMENT_SIGNERS: dict[str, Signer] = {
    TestDocumentKind.INVOICE: sign_test_invoice,
    TestDocumentKind.CREDIT_NOTE: sign_test_document,
    TestDocumentKind.DEBIT_NOTE: sign_test_document,
}


def available_kinds() -> list[str]:
    """The document kinds this installation can put in a test set."""
    return [kind for kind in TestDocumentKind.values if kind in DOCUMENT_BUILDERS]
