"""SendBillSync: every outcome, answered like DIAN (dian-webservice.md §2)."""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography import x509
from lxml import etree
from signxml.xades import XAdESSignatureConfiguration, XAdESVerifier

from clientarea.einvoice.sandbox.models import ReceivedDocument, SigningIdentity, Software
from clientarea.einvoice.tests import factories

from . import documents
from .documents import CAC, CBC, NS

pytestmark = [pytest.mark.django_db, pytest.mark.urls("clientarea.einvoice.sandbox.tests.urls")]
AR_XSD = (
    Path(__file__).resolve().parents[2]
    / "schemas"
    / "ubl21"
    / "maindoc"
    / "UBL-ApplicationResponse-2.1.xsd"
)
AR = {
    "cbc": CBC,
    "cac": CAC,
    "ar": "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2",
}


def rules(result: dict) -> list[str]:
    return [m.split(",", 1)[0].removeprefix("Regla: ") for m in result["ErrorMessage"]]


def application_response(result: dict) -> etree._Element:
    data = base64.b64decode(result["XmlBase64Bytes"])
    schema = etree.XMLSchema(etree.parse(str(AR_XSD)))
    root = etree.fromstring(data)
    assert schema.validate(root), schema.error_log
    identity = SigningIdentity.objects.get(name="dian")
    XAdESVerifier().verify(
        data,
        x509_cert=x509.load_pem_x509_certificate(bytes(identity.cert_pem)),
        expect_config=XAdESSignatureConfiguration(expect_references=True),
    )
    return root


@pytest.fixture
def send(call):
    def run(xml: bytes, **kwargs) -> dict:
        return call("SendBillSync", documents.package(xml), **kwargs).dian()

    return run


def _resign(root: etree._Element) -> bytes:
    return documents.sign(documents.finish(root))


def test_valid_invoice_is_accepted_with_a_signed_application_response(send, signed_invoice):
    xml, root = signed_invoice()
    number = root.findtext(f"{{{CBC}}}ID")
    result = send(xml)
    assert result["IsValid"] is True
    assert (result["StatusCode"], result["StatusDescription"]) == ("00", "Procesado Correctamente.")
    assert result["StatusMessage"] == f"La Factura electrónica {number}, ha sido autorizada."
    assert result["ErrorMessage"] == []
    assert result["XmlDocumentKey"] == root.findtext(f"{{{CBC}}}UUID").lower()
    assert result["XmlFileName"] == "fv09003730760002600000001"
    ar = application_response(result)
    assert ar.xpath("cac:DocumentResponse/cac:Response/cbc:ResponseCode/text()", namespaces=AR) == [
        "02"
    ]
    assert ar.xpath("cac:DocumentResponse/cac:DocumentReference/cbc:ID/text()", namespaces=AR) == [
        number
    ]
    assert ar.xpath(
        "cac:DocumentResponse/cac:DocumentReference/cbc:UUID/text()", namespaces=AR
    ) == [result["XmlDocumentKey"]]
    descriptions = ar.xpath(
        "cac:DocumentResponse/cac:LineResponse/cac:Response/cbc:Description/text()", namespaces=AR
    )
    assert descriptions == ["0", f"La Factura electrónica SETP-{number[4:]}, ha sido autorizada."]
    assert ar.xpath("cac:ReceiverParty/cac:PartyTaxScheme/cbc:CompanyID/text()", namespaces=AR) == [
        "900373076"
    ]
    assert ReceivedDocument.objects.get(number=number).duplicate_key


def test_payable_rounding_amount_counts_in_the_totals(send):
    root = documents.invoice(payable_rounding=Decimal("-0.34"))
    assert root.find(f"{{{CAC}}}LegalMonetaryTotal/{{{CBC}}}PayableRoundingAmount") is not None
    assert send(documents.sign(root))["StatusCode"] == "00"


def test_wrong_cufe_is_rejected_with_fad06_and_an_ar_04(send):
    root = documents.finish(documents.invoice())
    root.find(f"{{{CBC}}}UUID").text = "0" * 96
    result = send(documents.sign(root))
    assert (result["IsValid"], result["StatusCode"]) == (False, "99")
    assert result["StatusDescription"] == "Validación contiene errores en campos mandatorios."
    assert result["ErrorMessage"] == [
        "Regla: FAD06, Rechazo: Valor del CUFE no está calculado correctamente."
    ]
    ar = application_response(result)
    assert ar.xpath("cac:DocumentResponse/cac:Response/cbc:ResponseCode/text()", namespaces=AR) == [
        "04"
    ]
    assert ar.xpath(
        "cac:DocumentResponse/cac:LineResponse[2]/cac:Response/cbc:ResponseCode/text()",
        namespaces=AR,
    ) == ["FAD06"]
    assert ReceivedDocument.objects.get(document_key="0" * 96).duplicate_key is None


def test_cufe_with_the_production_key_is_rejected_in_habilitacion(send):
    assert "FAD06" in rules(send(_resign_with(documents.invoice(), "another-technical-key")))


def _resign_with(root, secret):
    return documents.sign(documents.finish(root, secret))


def test_wrong_software_security_code_is_fab27b(send):
    root = documents.finish(documents.invoice())
    root.find(".//sts:SoftwareSecurityCode", NS).text = "f" * 96
    assert rules(send(documents.sign(root))) == ["FAB27b"]


def test_unknown_software_is_fab24b(send):
    Software.objects.update(software_id="00000000-0000-0000-0000-000000000000")
    assert "FAB24b" in rules(send(documents.sign(documents.invoice())))


def test_software_not_registered_for_the_issuer_is_fab24b(send):
    Software.objects.update(issuer_nits="800123456")
    assert rules(send(documents.sign(documents.invoice()))) == ["FAB24b"]


def test_number_outside_the_range_is_fad05e(send):
    root = documents.invoice()
    root.find(f"{{{CBC}}}ID").text = "SETP995000001"
    assert rules(send(_resign(root))) == ["FAD05e"]


def test_unknown_resolution_is_fab05b(send):
    root = documents.invoice()
    root.find(".//sts:InvoiceAuthorization", NS).text = "18760000999"
    assert rules(send(_resign(root))) == ["FAB05b"]


def test_prefix_not_authorized_is_fab05c(send):
    root = documents.invoice()
    root.find(f"{{{CBC}}}ID").text = "FE990100001"
    assert "FAB05c" in rules(send(_resign(root)))


def _set_dv(root, party: str, dv: str) -> etree._Element:
    for company in root.iterfind(f"{{{CAC}}}{party}/{{{CAC}}}Party//{{{CBC}}}CompanyID"):
        company.set("schemeID", dv)
    return root


def test_wrong_issuer_check_digit_is_faj24(send):
    root = _set_dv(documents.invoice(), "AccountingSupplierParty", "5")
    assert rules(send(documents.sign(root))) == ["FAJ24"]


def test_wrong_buyer_check_digit_is_fak24(send):
    root = documents.invoice(customer=factories.company_customer())
    assert rules(send(documents.sign(_set_dv(root, "AccountingCustomerParty", "9")))) == ["FAK24"]


def test_company_buyer_with_right_check_digit_is_accepted(send):
    assert send(documents.sign(documents.invoice(customer=factories.company_customer())))["IsValid"]


def test_payable_amount_that_does_not_add_up_is_fau14(send):
    root = documents.invoice()
    payable = root.find(f"{{{CAC}}}LegalMonetaryTotal/{{{CBC}}}PayableAmount")
    payable.text = str(Decimal(payable.text) + 1)
    assert rules(send(_resign(root))) == ["FAU14"]


def test_lines_that_do_not_add_up_are_fau02(send):
    root = documents.invoice()
    total = root.find(f"{{{CAC}}}LegalMonetaryTotal")
    for name in ("LineExtensionAmount", "TaxInclusiveAmount", "PayableAmount"):
        el = total.find(f"{{{CBC}}}{name}")
        el.text = str(Decimal(el.text) + 10)
    assert rules(send(_resign(root))) == ["FAU02"]


def test_tax_total_that_is_not_the_sum_of_its_subtotals_is_fas07(send):
    root = documents.invoice()
    subtotal = root.find(f"{{{CAC}}}TaxTotal/{{{CAC}}}TaxSubtotal/{{{CBC}}}TaxAmount")
    subtotal.text = "18000.00"
    assert "FAS07" in rules(send(_resign(root)))


def test_line_amount_that_is_not_quantity_times_price_is_fav02(send):
    root = documents.invoice()
    root.find(f"{{{CAC}}}InvoiceLine/{{{CAC}}}Price/{{{CBC}}}PriceAmount").text = "99000.00"
    assert rules(send(_resign(root))) == ["FAV02"]


def _set_issue_date(root, day: dt.date) -> etree._Element:
    root.find(f"{{{CBC}}}IssueDate").text = day.isoformat()
    root.find(f"{{{CBC}}}DueDate").text = day.isoformat()
    return root


def test_issue_date_in_the_future_is_fad09a(send):
    tomorrow = dt.datetime.now(documents.BOGOTA).date() + dt.timedelta(days=2)
    assert "FAD09a" in rules(send(_resign(_set_issue_date(documents.invoice(), tomorrow))))


def test_issue_date_too_old_is_fad09c(send):
    old = dt.datetime.now(documents.BOGOTA).date() - dt.timedelta(days=40)
    assert "FAD09c" in rules(send(_resign(_set_issue_date(documents.invoice(), old))))


def test_issue_date_other_than_the_signing_date_is_fad09e(send):
    yesterday = dt.datetime.now(documents.BOGOTA).date() - dt.timedelta(days=1)
    assert rules(send(_resign(_set_issue_date(documents.invoice(), yesterday)))) == ["FAD09e"]


def test_document_changed_after_signing_is_ze02(send, signed_invoice):
    xml, _ = signed_invoice()
    tampered = xml.replace(b"Gracias por su compra", b"Gracias por su compra!")
    assert rules(send(tampered)) == ["ZE02"]


def test_unsigned_document_is_ze02(send):
    root = documents.invoice()
    slot = root.findall(".//ext:UBLExtension", NS)[-1]
    slot.getparent().remove(slot)  # no empty signature slot (the schema would refuse it)
    assert rules(send(etree.tostring(root, encoding="utf-8"))) == ["ZE02"]


def test_schema_invalid_document_is_zb01_without_application_response(send):
    root = documents.invoice()
    root.find(f"{{{CBC}}}IssueDate").addprevious(etree.Element(f"{{{CBC}}}Unknown"))
    result = send(documents.sign(root))
    assert (result["StatusCode"], result["ErrorMessage"]) == (
        "99", ["Regla: ZB01, Rechazo: Fallo en el esquema XML del archivo"],
    )  # fmt: skip
    assert "Unknown" in result["StatusMessage"]
    assert result["XmlBase64Bytes"] == ""


def test_xml_that_is_not_an_electronic_document_is_zb01(send):
    assert rules(send(b"<Order xmlns='urn:x'/>")) == ["ZB01"]


def test_unparseable_xml_is_89(send):
    result = send(b"<Invoice><broken")
    assert result["StatusCode"] == "89" and result["StatusDescription"].startswith(
        "Error al parsear xml."
    )


def test_missing_cufe_is_66(send):
    root = documents.invoice()
    root.find(f"{{{CBC}}}UUID").text = ""
    result = send(documents.sign(root))
    assert result["StatusCode"] == "66" and rules(result) == ["FAD06"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("%%%", "MIMEType del archivo inválido"),
        (base64.b64encode(b"plain text").decode(), "MIMEType del archivo inválido"),
        (documents.zipped({"readme.txt": b"x"}), "No fue encontrado ningun documento XML válido"),
        (documents.zipped({"a.xml": b"<a/>", "b.xml": b"<b/>"}), "solo puede recibir un documento"),
        (documents.zipped({"a.xml": b"  "}), "El xml adjuntado se encuentra vacío."),
        (base64.b64encode(b"PK\x03\x04broken").decode(), "Error descomprimiendo el archivo ZIP"),
        ("", "Archivo no encontrado."),
    ],
)
def test_bad_packages_are_89(call, content, message):
    result = call("SendBillSync", {"fileName": "z.zip", "contentFile": content}).dian()
    assert result["StatusCode"] == "89" and message in result["StatusDescription"]
    assert result["IsValid"] is False


def test_resending_an_accepted_document_is_rule_90_with_the_original_answer(send, signed_invoice):
    xml, root = signed_invoice()
    first = send(xml)
    second = send(xml)
    assert (second["IsValid"], second["StatusCode"]) == (False, "99")
    assert second["ErrorMessage"] == ["Regla: 90, Rechazo: Documento procesado anteriormente."]
    assert second["XmlBase64Bytes"] == first["XmlBase64Bytes"]
    assert second["XmlDocumentKey"] == first["XmlDocumentKey"]
    # the same number with other amounts (another CUFE) is still the same document for DIAN
    root.find(f"{{{CBC}}}Note").text = "Otra nota"
    third = send(_resign(root))
    assert third["ErrorMessage"] == second["ErrorMessage"]
    assert third["XmlDocumentKey"] == first["XmlDocumentKey"]


def test_a_rejected_number_can_be_resent_once_fixed(send):
    number = documents.next_number()
    bad = documents.finish(documents.invoice(number=number))
    bad.find(f"{{{CBC}}}UUID").text = "1" * 96
    assert send(documents.sign(bad))["StatusCode"] == "99"
    assert send(documents.sign(documents.invoice(number=number)))["StatusCode"] == "00"


def test_credit_and_debit_notes_on_an_accepted_invoice(send, signed_invoice):
    xml, root = signed_invoice()
    assert send(xml)["IsValid"]
    credit = send(documents.sign(documents.note(root, "CreditNote", number="NC1")))
    assert (credit["StatusCode"], credit["ErrorMessage"]) == ("00", [])
    assert credit["StatusMessage"] == "La Nota crédito electrónica NC1, ha sido autorizada."
    ar = application_response(credit)
    assert ar.xpath(
        "cac:DocumentResponse/cac:DocumentReference/cbc:UUID/@schemeName", namespaces=AR
    ) == ["CUFE-SHA384"]
    debit = send(documents.sign(documents.note(root, "DebitNote", number="ND1")))
    assert (debit["StatusCode"], debit["ErrorMessage"]) == ("00", [])


def test_note_on_an_invoice_dian_never_accepted_is_rejected(send):
    root = documents.invoice()  # never sent
    credit = send(documents.sign(documents.note(root, "CreditNote", number="NC2")))
    assert rules(credit) == ["CBG01"]
    debit = send(documents.sign(documents.note(root, "DebitNote", number="ND2")))
    assert rules(debit) == ["DBG01"]


def test_note_without_reference_needs_none(send):
    root = documents.invoice()
    assert send(documents.sign(documents.note(root, "CreditNote", number="NC3", reference=False)))[
        "IsValid"
    ]


def test_cude_computed_with_the_technical_key_is_cad06(send, signed_invoice):
    xml, root = signed_invoice()
    send(xml)
    note = documents.finish(documents.note(root, "CreditNote", number="NC4"), documents.TEST_KEY)
    assert rules(send(documents.sign(note))) == ["CAD06"]


def test_notification_is_accepted_with_its_message(send, signed_invoice, client):
    client.post("/sandbox/dian/faults", {"kind": "notify_next"})
    xml, _ = signed_invoice()
    result = send(xml)
    assert (result["IsValid"], result["StatusCode"]) == (True, "00")
    assert result["ErrorMessage"] == [
        "Regla: FAJ44b, Notificación: Nombre informado no corresponde al registrado en el RUT con respecto al NIT."
    ]
    ar = application_response(result)
    assert ar.xpath("cac:DocumentResponse/cac:Response/cbc:ResponseCode/text()", namespaces=AR) == [
        "02"
    ]
    assert ar.xpath(
        "cac:DocumentResponse/cac:LineResponse[2]/cac:Response/cbc:ResponseCode/text()",
        namespaces=AR,
    ) == ["FAJ44b"]


def test_reject_next_uses_the_chosen_rule_once(send, signed_invoice, client):
    client.post(
        "/sandbox/dian/faults",
        {"kind": "reject_next", "rule_code": "FAK61", "rule_text": "Correo inválido."},
    )
    xml, _ = signed_invoice()
    assert send(xml)["ErrorMessage"] == ["Regla: FAK61, Rechazo: Correo inválido."]
    assert send(xml)["StatusCode"] == "00"  # the fault was used once; the number was not consumed
