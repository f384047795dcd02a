"""The invoice of an agent's order reports its withholdings as DIAN's UBL allows, without
changing PayableAmount or the CUFE (shared/docs/dian-webservice.md §6.2, §6.3)."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal

import pytest
from lxml import etree

from clientarea.einvoice import builder, qr, ubl
from clientarea.einvoice.documents import Line, Withholding
from clientarea.einvoice.pdf import render_invoice_pdf
from clientarea.einvoice.tests import factories
from clientarea.einvoice.validation import validate_invoice

NS = ubl.NS
LINES = (
    Line.build(
        description="Hosting Empresarial", quantity=Decimal("1"), unit_price=Decimal("1000000")
    ),
)
WITHHELD = (
    Withholding(scheme="06", base=Decimal("1000000.00"), percent=Decimal("4"), amount=Decimal("40000.00")),
    Withholding(scheme="05", base=Decimal("190000.00"), percent=Decimal("15"), amount=Decimal("28500.00")),
    Withholding(scheme="07", base=Decimal("1000000.00"), percent=Decimal("0.966"), amount=Decimal("9660.00")),
)  # fmt: skip


def _doc(withholdings=WITHHELD):
    return factories.invoice(
        customer=factories.company_customer(), lines=LINES, withholdings=withholdings
    )


def test_withholdings_are_schema_valid_and_leave_payable_and_cufe_alone():
    plain = ubl.build_invoice_xml(_doc(()))
    withheld = ubl.build_invoice_xml(_doc())
    assert validate_invoice(ubl.to_bytes(withheld), allow_unsigned=True) == []
    assert ubl.invoice_cufe(withheld) == ubl.invoice_cufe(plain)
    payable = "cac:LegalMonetaryTotal/cbc:PayableAmount"
    assert withheld.findtext(payable, namespaces=NS) == "1190000.00"
    assert plain.findtext(payable, namespaces=NS) == "1190000.00"
    names = [etree.QName(child).localname for child in withheld]
    at = names.index("TaxTotal")
    assert names[at : at + 5] == ["TaxTotal"] + ["WithholdingTaxTotal"] * 3 + ["LegalMonetaryTotal"]


def test_each_scheme_has_its_base_percent_and_amount():
    root = ubl.build_invoice_xml(_doc())
    found = {}
    for total in root.findall("cac:WithholdingTaxTotal", NS):
        sub = total.find("cac:TaxSubtotal", NS)
        found[sub.findtext("cac:TaxCategory/cac:TaxScheme/cbc:ID", namespaces=NS)] = (
            sub.findtext("cac:TaxCategory/cac:TaxScheme/cbc:Name", namespaces=NS),
            sub.findtext("cbc:TaxableAmount", namespaces=NS),
            sub.findtext("cac:TaxCategory/cbc:Percent", namespaces=NS),
            total.findtext("cbc:TaxAmount", namespaces=NS),
        )
    assert found == {
        "06": ("ReteFuente", "1000000.00", "4.00", "40000.00"),
        "05": ("ReteIVA", "190000.00", "15.00", "28500.00"),
        "07": ("ReteICA", "1000000.00", "0.966", "9660.00"),
    }


def test_the_snapshot_keeps_the_withholdings():
    doc = _doc()
    again = builder.document_from_json(builder.document_to_json(doc))
    assert again.withholdings == doc.withholdings
    assert again.net_payable == Decimal("1111840.00")


def test_one_withholding_per_scheme():
    with pytest.raises(ValueError):
        _doc(WITHHELD + WITHHELD[:1])


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext not installed")
def test_the_pdf_shows_the_withholdings_and_the_net(tmp_path):
    doc = _doc()
    cufe = ubl.invoice_cufe(ubl.build_invoice_xml(doc))
    path = tmp_path / "invoice.pdf"
    path.write_bytes(render_invoice_pdf(doc, cufe, qr.qr_text(doc, cufe), language="es"))
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "ReteFuente 4 % de $ 1.000.000,00" in text
    assert "-$ 40.000,00" in text and "-$ 9.660,00" in text
    assert "Neto pagado después de retenciones" in text and "$ 1.111.840,00" in text


@pytest.mark.parametrize("document_type", ["91", "92"])
def test_a_note_on_a_withheld_invoice_carries_no_withholdings_and_is_schema_valid(document_type):
    """UBL 2.1's CreditNote and DebitNote have no WithholdingTaxTotal: a note on an agent's
    invoice without this was refused by the schema (and by DIAN)."""
    invoice = _doc()
    note = builder.build_note_document(
        invoice=invoice,
        invoice_cufe=ubl.expected_cufe(invoice),
        document_type=document_type,
        prefix="NC" if document_type == "91" else "ND",
        number=3,
        lines=LINES,
        concept_code="1",
        reason="Ajuste",
        issued_at=invoice.issue,
    )
    assert note.withholdings == ()
    root = ubl.build_invoice_xml(note)
    assert root.findall("cac:WithholdingTaxTotal", NS) == []
    assert validate_invoice(ubl.to_bytes(root), allow_unsigned=True) == []
    # A note snapshot kept from before still renders without them.
    stale = note.__class__(**{**note.__dict__, "withholdings": invoice.withholdings})
    assert ubl.build_invoice_xml(stale).findall("cac:WithholdingTaxTotal", NS) == []
