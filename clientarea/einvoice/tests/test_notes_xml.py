"""CreditNote / DebitNote XML: UBL 2.1 schema, DIAN structure (§4.2) and CUDE (§4.3).

Section numbers refer to ``shared/docs/dian-webservice.md``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from decimal import Decimal
from functools import lru_cache
from typing import Any

import pytest
from lxml import etree

from clientarea.einvoice import attached, builder, ubl
from clientarea.einvoice.cufe import CufeFields, compute_cufe, cufe_from_xml, verify_cufe
from clientarea.einvoice.documents import Line
from clientarea.einvoice.signing import create_demo_certificate, load_pkcs12, sign_invoice
from clientarea.einvoice.tests import factories
from clientarea.einvoice.validation import validate_attached_document, validate_invoice

NS = {**ubl.NS, "cn": ubl.CREDIT_NOTE_NS, "dn": ubl.DEBIT_NOTE_NS}
PIN = "12345"  # the factories' software PIN
BOGOTA = factories.BOGOTA


def _note(document_type: str, lines=None, **overrides):
    invoice = factories.invoice()
    values: dict[str, Any] = dict(
        invoice=invoice,
        invoice_cufe=ubl.expected_cufe(invoice),
        document_type=document_type,
        prefix="NC" if document_type == "91" else "ND",
        number=7,
        lines=lines or (Line.build(description="Ajuste", quantity=Decimal("1"),
                                   unit_price=Decimal("10000.00")),),
        concept_code="1",
        reason="Devolución parcial del servicio",
        issued_at=dt.datetime(2025, 2, 3, 9, 15, 0, tzinfo=BOGOTA),
    )  # fmt: skip
    values.update(overrides)
    doc = builder.build_note_document(**values)
    return doc.__class__(**{**doc.__dict__, "software_pin": PIN})


@lru_cache(maxsize=1)
def _material():
    path = tempfile.mkdtemp() + "/cert.p12"
    create_demo_certificate(path, "secret", "CONEXCOL S.A.S. (TEST)")
    return load_pkcs12(path, "secret")


@pytest.mark.parametrize("document_type", ["91", "92"])
def test_signed_note_is_valid_against_its_ubl_schema_and_keeps_its_cude(document_type):
    doc = _note(document_type)
    root = ubl.build_invoice_xml(doc)
    assert validate_invoice(root, allow_unsigned=True) == []
    key, cert = _material()
    signed = sign_invoice(root, key, cert)
    assert validate_invoice(signed) == []
    assert verify_cufe(signed, PIN)
    assert not verify_cufe(signed, factories.TEST_TECHNICAL_KEY)  # a CUDE, not a CUFE
    container = attached.build_attached_document(signed, doc, key=key, cert=cert)
    assert validate_attached_document(container) == []


def test_credit_note_structure():
    root = ubl.build_invoice_xml(_note("91"))
    assert root.tag == f"{{{ubl.CREDIT_NOTE_NS}}}CreditNote"
    assert root.findtext("cbc:CustomizationID", namespaces=NS) == "20"
    assert root.findtext("cbc:CreditNoteTypeCode", namespaces=NS) == "91"
    assert root.findtext("cbc:ProfileID", namespaces=NS).startswith("DIAN 2.1: Nota Crédito")
    assert root.find("cbc:UUID", NS).get("schemeName") == "CUDE-SHA384"
    assert root.findtext("cbc:ID", namespaces=NS) == "NC7"
    assert root.find("cbc:DueDate", NS) is None
    assert root.find(".//sts:InvoiceControl", NS) is None
    invoice = factories.invoice()
    reference = root.find("cac:BillingReference/cac:InvoiceDocumentReference", NS)
    assert reference.findtext("cbc:ID", namespaces=NS) == invoice.full_id
    assert reference.findtext("cbc:UUID", namespaces=NS) == ubl.expected_cufe(invoice)
    assert reference.find("cbc:UUID", NS).get("schemeName") == "CUFE-SHA384"
    assert reference.findtext("cbc:IssueDate", namespaces=NS) == "2025-01-15"
    discrepancy = root.find("cac:DiscrepancyResponse", NS)
    assert discrepancy.findtext("cbc:ReferenceID", namespaces=NS) == invoice.full_id
    assert discrepancy.findtext("cbc:ResponseCode", namespaces=NS) == "1"
    assert discrepancy.findtext("cbc:Description", namespaces=NS) == (
        "Devolución parcial del servicio"
    )
    assert root.find("cac:LegalMonetaryTotal", NS) is not None
    assert root.find("cac:CreditNoteLine/cbc:CreditedQuantity", NS) is not None


def test_debit_note_structure_has_requested_total_and_no_type_code():
    root = ubl.build_invoice_xml(_note("92", concept_code="3"))
    assert root.tag == f"{{{ubl.DEBIT_NOTE_NS}}}DebitNote"
    assert root.findtext("cbc:CustomizationID", namespaces=NS) == "30"
    assert root.find("cbc:CreditNoteTypeCode", NS) is None
    assert root.find("cbc:InvoiceTypeCode", NS) is None
    assert root.find("cac:LegalMonetaryTotal", NS) is None
    assert root.findtext("cac:RequestedMonetaryTotal/cbc:PayableAmount", namespaces=NS) == (
        "11900.00"
    )
    assert root.find("cac:DebitNoteLine/cbc:DebitedQuantity", NS) is not None


def test_an_owed_debit_note_names_its_own_order_other_notes_the_invoices():
    """A debit note owed on the account is collected by the order that bears its number; a
    credit note (or a debit note not owed) names the order of the invoice it corrects."""
    invoice_order = factories.invoice().order_reference
    owed = _note("92", concept_code="3", payment_due=dt.date(2025, 2, 10))
    assert owed.order_reference == "ND7"
    root = ubl.build_invoice_xml(owed)
    assert root.findtext("cac:OrderReference/cbc:ID", namespaces=NS) == "ND7"
    assert (
        root.findtext("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", namespaces=NS)
        == factories.invoice().full_id
    )
    assert _note("91").order_reference == invoice_order
    assert _note("92", concept_code="3").order_reference == invoice_order


@pytest.mark.parametrize("document_type", ["91", "92"])
def test_cude_is_the_documented_formula_with_the_software_pin(document_type):
    root = ubl.build_invoice_xml(_note(document_type))
    text = (
        f"{'NC' if document_type == '91' else 'ND'}7" "2025-02-03" "09:15:00-05:00" "10000.00"
        "01" "1900.00" "04" "0.00" "03" "0.00" "11900.00" "900373076" "1020304050" f"{PIN}" "2"
    )  # fmt: skip
    assert root.findtext("cbc:UUID", namespaces=NS) == hashlib.sha384(text.encode()).hexdigest()
    assert cufe_from_xml(root, PIN) == root.findtext("cbc:UUID", namespaces=NS)


def test_cude_of_the_verified_example_in_the_docs():
    """§4.3: CN RSETP/2024/00001 of Odoo's tests, PIN 12345, ambiente 2 → c6f6ea5e…8b14c6."""
    fields = CufeFields(
        num_fac="RSETP/2024/00001", fec_fac="2024-01-29", hor_fac="19:00:00-05:00",
        val_fac="3919109.58", val_imp1="195955.48", val_imp2="0.00", val_imp3="0.00",
        val_tot="4115065.06", nit_ofe="1018419008", num_adq="90010828", tipo_ambie="2",
    )  # fmt: skip
    cude = compute_cufe(fields, PIN)
    assert cude.startswith("c6f6ea5e") and cude.endswith("8b14c6")


def test_changing_a_note_amount_breaks_its_cude():
    root = ubl.build_invoice_xml(_note("92"))
    root.find("cac:RequestedMonetaryTotal/cbc:PayableAmount", NS).text = "11900.01"
    assert not verify_cufe(root, PIN)


def test_note_document_survives_the_json_snapshot():
    doc = _note("91")
    again = builder.document_from_json(builder.document_to_json(doc))
    assert again == doc
    assert etree.tostring(ubl.build_invoice_xml(again)) == etree.tostring(
        ubl.build_invoice_xml(doc)
    )


def test_a_note_without_reference_or_reason_is_refused():
    with pytest.raises(ValueError):
        _note("91", reason=" ")
    with pytest.raises(ValueError):
        _note("91", prefix="N-C")


def test_the_validate_command_checks_a_note_and_recomputes_its_cude(tmp_path, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    key, cert = _material()
    path = tmp_path / "nc.xml"
    path.write_bytes(sign_invoice(ubl.build_invoice_xml(_note("91")), key, cert))
    call_command("einvoice", "validate", str(path), "--software-pin", PIN)
    out = capsys.readouterr().out
    assert "valid against UBL 2.1 CreditNote" in out and "CUDE matches" in out
    with pytest.raises(CommandError, match="CUDE MISMATCH"):
        call_command("einvoice", "validate", str(path), "--software-pin", "99999")
