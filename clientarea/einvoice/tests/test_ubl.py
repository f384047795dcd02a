"""The UBL Invoice builder: XSD validity, DIAN fields, CUFE from the XML itself, totals."""

from __future__ import annotations

import copy
import datetime as dt
import tempfile
from decimal import Decimal
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from clientarea.einvoice import ubl
from clientarea.einvoice.cufe import (
    cufe_fields_from_xml,
    cufe_from_xml,
    software_security_code,
    verify_cufe,
)
from clientarea.einvoice.documents import Line
from clientarea.einvoice.signing import create_demo_certificate, sign_invoice
from clientarea.einvoice.tests import factories
from clientarea.einvoice.validation import NotAnInvoice, validate_invoice

NS = ubl.NS
KEY = factories.TEST_TECHNICAL_KEY


def _build(doc=None) -> etree._Element:
    return ubl.build_invoice_xml(doc or factories.invoice())


def _values(root: etree._Element, path: str) -> list[Decimal]:
    return [Decimal(node.text) for node in root.xpath(path, namespaces=NS)]


def test_sample_invoice_is_valid_against_the_xsds():
    xml = ubl.to_bytes(_build())
    assert validate_invoice(xml, allow_unsigned=True) == []


def test_unsigned_invoice_fails_the_strict_gate_only_on_the_empty_signature_slot():
    errors = validate_invoice(ubl.to_bytes(_build()))
    assert len(errors) == 1 and "ExtensionContent" in errors[0] and "Missing child" in errors[0]


def test_top_level_elements_follow_the_xsd_sequence():
    """§2.1: the InvoiceType order; the XSD rejects any other."""
    names = [etree.QName(child).localname for child in _build()]
    assert names == [
        "UBLExtensions", "UBLVersionID", "CustomizationID", "ProfileID", "ProfileExecutionID", "ID", "UUID",
        "IssueDate", "IssueTime", "DueDate", "InvoiceTypeCode", "Note", "DocumentCurrencyCode",
        "LineCountNumeric", "OrderReference", "AccountingSupplierParty", "AccountingCustomerParty",
        "PaymentMeans", "TaxTotal", "LegalMonetaryTotal", "InvoiceLine", "InvoiceLine", "InvoiceLine",
    ]  # fmt: skip


def test_header_values():
    doc = factories.invoice()
    root = _build(doc)
    text = lambda path: root.findtext(path, namespaces=NS)  # noqa: E731
    assert text("cbc:UBLVersionID") == "UBL 2.1"
    assert text("cbc:CustomizationID") == "10"
    assert text("cbc:ProfileID") == "DIAN 2.1: Factura Electrónica de Venta"
    assert text("cbc:ProfileExecutionID") == "2"
    assert text("cbc:ID") == "SETP990000123"
    assert text("cbc:IssueTime") == "14:30:05-05:00"
    assert text("cbc:InvoiceTypeCode") == "01"
    assert text("cbc:LineCountNumeric") == "3"
    assert text("cac:OrderReference/cbc:ID") == "ODS-000123"
    assert text("cac:PaymentMeans/cbc:ID") == "1"
    assert text("cac:PaymentMeans/cbc:PaymentMeansCode") == "48"
    uuid = root.find("cbc:UUID", NS)
    assert uuid.get("schemeID") == "2" and uuid.get("schemeName") == "CUFE-SHA384"
    # the second UBLExtension is left empty for the signature
    extensions = root.findall("ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent", NS)
    assert len(extensions) == 2 and len(extensions[1]) == 0


def test_dian_extensions():
    doc = factories.invoice()
    root = _build(doc)
    sts = root.find(
        "ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sts:DianExtensions", NS
    )
    assert [etree.QName(c).localname for c in sts] == [
        "InvoiceControl", "InvoiceSource", "SoftwareProvider", "SoftwareSecurityCode",
        "AuthorizationProvider", "QRCode",
    ]  # fmt: skip
    assert (
        sts.findtext("sts:InvoiceControl/sts:InvoiceAuthorization", namespaces=NS) == "18760000001"
    )
    assert (
        sts.findtext("sts:InvoiceControl/sts:AuthorizedInvoices/sts:From", namespaces=NS)
        == "990000000"
    )
    provider = sts.find("sts:AuthorizationProvider/sts:AuthorizationProviderID", NS)
    assert (provider.text, provider.get("schemeID"), provider.get("schemeName")) == (
        "800197268",
        "4",
        "31",
    )
    assert sts.findtext("sts:SoftwareSecurityCode", namespaces=NS) == software_security_code(
        doc.software_id, doc.software_pin, "SETP990000123"
    )
    cufe = ubl.invoice_cufe(root)
    assert sts.findtext("sts:QRCode", namespaces=NS) == (
        f"https://catalogo-vpfe-hab.dian.gov.co/document/searchqr?documentkey={cufe}"
    )


def test_production_environment_uses_the_production_qr_host():
    root = _build(factories.invoice(environment="1"))
    assert root.findtext("cbc:ProfileExecutionID", namespaces=NS) == "1"
    assert root.findtext(".//sts:QRCode", namespaces=NS).startswith(
        "https://catalogo-vpfe.dian.gov.co/document/searchqr?documentkey="
    )


def test_cufe_is_recomputed_from_the_xml_own_fields():
    root = _build()
    xml = ubl.to_bytes(root)
    assert ubl.invoice_cufe(root) == cufe_from_xml(xml, KEY)
    assert len(ubl.invoice_cufe(root)) == 96
    fields = cufe_fields_from_xml(xml)
    assert (fields.val_fac, fields.val_imp1, fields.val_tot) == (
        "209691.34",
        "19000.00",
        "228691.34",
    )
    assert (fields.nit_ofe, fields.num_adq) == ("900373076", "1020304050")


def test_changing_an_amount_breaks_the_cufe():
    xml = ubl.to_bytes(_build())
    assert verify_cufe(xml, KEY)
    assert not verify_cufe(
        xml.replace(b">228691.34</cbc:PayableAmount>", b">228691.35</cbc:PayableAmount>"), KEY
    )


def test_issue_time_is_rendered_in_bogota():
    """§1.1: a UTC timestamp becomes local time with -05:00 (and may change the date)."""
    utc = dt.datetime(2025, 1, 16, 3, 10, 0, tzinfo=dt.UTC)
    root = _build(factories.invoice(issue=utc, due=dt.date(2025, 1, 15)))
    assert root.findtext("cbc:IssueDate", namespaces=NS) == "2025-01-15"
    assert root.findtext("cbc:IssueTime", namespaces=NS) == "22:10:00-05:00"


def test_exempt_and_excluded_lines():
    root = _build()
    subtotals = root.findall("cac:TaxTotal/cac:TaxSubtotal", NS)
    assert [s.findtext("cac:TaxCategory/cbc:Percent", namespaces=NS) for s in subtotals] == [
        "19.00",
        "0.00",
    ]
    assert [s.findtext("cbc:TaxableAmount", namespaces=NS) for s in subtotals] == [
        "100000.00",
        "85000.00",
    ]
    assert [s.findtext("cbc:TaxAmount", namespaces=NS) for s in subtotals] == ["19000.00", "0.00"]
    lines = root.findall("cac:InvoiceLine", NS)
    assert (
        lines[1].findtext("cac:TaxTotal/cbc:TaxAmount", namespaces=NS) == "0.00"
    )  # exempt: 0 % subtotal
    assert lines[2].find("cac:TaxTotal", NS) is None  # excluded: no tax at all
    # the excluded base is not part of the taxable base
    assert (
        root.findtext("cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount", namespaces=NS) == "185000.00"
    )
    assert (
        root.findtext("cac:LegalMonetaryTotal/cbc:LineExtensionAmount", namespaces=NS)
        == "209691.34"
    )


def test_invoice_with_only_excluded_lines_has_no_tax_total():
    lines = (Line.build(description="Servicio excluido", quantity=Decimal("1"), unit_price=Decimal("5000"),
                        tax_treatment="excluded"),)  # fmt: skip
    doc = factories.invoice(lines=lines)
    root = _build(doc)
    assert root.find("cac:TaxTotal", NS) is None
    assert cufe_fields_from_xml(root).val_imp1 == "0.00"
    assert validate_invoice(root, allow_unsigned=True) == []
    assert verify_cufe(root, KEY)


def test_natural_person_customer():
    root = _build(factories.invoice(customer=factories.natural_customer()))
    party = root.find("cac:AccountingCustomerParty", NS)
    assert party.findtext("cbc:AdditionalAccountID", namespaces=NS) == "2"
    ident = party.find("cac:Party/cac:PartyIdentification/cbc:ID", NS)
    assert (ident.text, ident.get("schemeName")) == ("1020304050", "13")
    company_id = party.find("cac:Party/cac:PartyTaxScheme/cbc:CompanyID", NS)
    assert (company_id.get("schemeID"), company_id.get("schemeName")) == (
        "",
        "13",
    )  # a cédula has no DV (S3)
    assert party.findtext("cac:Party/cac:Person/cbc:FirstName", namespaces=NS) == "María José"
    assert (
        party.findtext("cac:Party/cac:PartyTaxScheme/cbc:TaxLevelCode", namespaces=NS) == "R-99-PN"
    )


def test_company_customer():
    root = _build(factories.invoice(customer=factories.company_customer()))
    party = root.find("cac:AccountingCustomerParty", NS)
    assert party.findtext("cbc:AdditionalAccountID", namespaces=NS) == "1"
    assert party.find("cac:Party/cac:PartyIdentification", NS) is None
    assert party.find("cac:Party/cac:Person", NS) is None
    company_id = party.find("cac:Party/cac:PartyLegalEntity/cbc:CompanyID", NS)
    assert (company_id.text, company_id.get("schemeID"), company_id.get("schemeName")) == (
        "900108281",
        "3",
        "31",
    )
    assert cufe_fields_from_xml(root).num_adq == "900108281"
    assert validate_invoice(root, allow_unsigned=True) == []


def test_supplier_party():
    root = _build()
    party = root.find("cac:AccountingSupplierParty", NS)
    assert party.findtext("cbc:AdditionalAccountID", namespaces=NS) == "1"
    tax = party.find("cac:Party/cac:PartyTaxScheme", NS)
    assert tax.findtext("cbc:TaxLevelCode", namespaces=NS) == "O-13;O-15"
    assert tax.findtext("cac:RegistrationAddress/cbc:ID", namespaces=NS) == "11001"
    assert tax.findtext("cac:RegistrationAddress/cbc:CountrySubentityCode", namespaces=NS) == "11"
    # Bogotá is both municipality and department: the XML names both (only the PDF shows it once)
    assert tax.findtext("cac:RegistrationAddress/cbc:CityName", namespaces=NS) == "Bogotá, D.C."
    assert tax.findtext("cac:RegistrationAddress/cbc:CountrySubentity", namespaces=NS) == "Bogotá"
    assert tax.findtext("cac:TaxScheme/cbc:ID", namespaces=NS) == "01"


def test_credit_payment_carries_the_due_date():
    root = _build(
        factories.invoice(payment_form="2", due=dt.date(2025, 2, 14), payment_means_code="ZZZ")
    )
    assert root.findtext("cac:PaymentMeans/cbc:PaymentDueDate", namespaces=NS) == "2025-02-14"
    assert validate_invoice(root, allow_unsigned=True) == []


def test_dian_extension_quirk_is_whitelisted_exactly():
    """§3: a DV in ProviderID/@schemeID is tolerated; any other bad value is still an error."""
    root = _build()
    assert validate_invoice(root, allow_unsigned=True) == []
    broken = copy.deepcopy(root)
    broken.find(".//sts:ProviderID", NS).set("schemeID", "XX")
    errors = validate_invoice(broken, allow_unsigned=True)
    assert len(errors) == 1 and "ProviderID" in errors[0] and "schemeID" in errors[0]
    broken = copy.deepcopy(root)
    broken.find(".//sts:SoftwareSecurityCode", NS).getparent().remove(
        broken.find(".//sts:SoftwareSecurityCode", NS)
    )
    assert any("SoftwareSecurityCode" in e for e in validate_invoice(broken, allow_unsigned=True))


def test_xsd_negative_controls():
    root = _build()
    wrong_order = copy.deepcopy(root)
    uuid = wrong_order.find("cbc:UUID", NS)
    wrong_order.remove(uuid)
    wrong_order.insert(1, uuid)  # UUID before UBLVersionID
    assert validate_invoice(wrong_order, allow_unsigned=True)
    bad_amount = ubl.to_bytes(root).replace(
        b">228691.34</cbc:PayableAmount>", b">228691,34</cbc:PayableAmount>"
    )
    assert validate_invoice(bad_amount, allow_unsigned=True)


def test_malformed_and_foreign_documents_are_refused():
    with pytest.raises(NotAnInvoice):
        validate_invoice(b"<Invoice><unclosed></Invoice>")
    with pytest.raises(NotAnInvoice):
        validate_invoice(
            b"<ApplicationResponse xmlns="
            b"'urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2'/>"
        )
    # Credit and debit notes are validated against their own schema (an empty one is invalid).
    assert validate_invoice(
        b"<CreditNote xmlns='urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2'/>"
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda: factories.invoice(number=42),  # outside the authorized range
        lambda: factories.invoice(issue=dt.datetime(2031, 1, 1, 10, 0)),  # naive datetime
        lambda: factories.invoice(issue=dt.datetime(2031, 1, 1, 10, 0, tzinfo=factories.BOGOTA),
                                  due=dt.date(2031, 1, 1)),  # after the resolution's validity
        lambda: factories.supplier(check_digit="5"),  # wrong NIT DV
        lambda: factories.natural_customer(municipality_code="5001"),  # DIVIPOLA has 5 digits
        lambda: Line(description="x", quantity=Decimal("1"), unit_price=Decimal("10"),
                     line_extension=Decimal("10.00"), tax_rate=Decimal("19"), tax_amount=Decimal("1.00")),
        lambda: Line(description="x", quantity=Decimal("1"), unit_price=Decimal("10"),
                     line_extension=Decimal("10.00"), tax_treatment="exempt", tax_rate=Decimal("19"),
                     tax_amount=Decimal("1.90")),
        lambda: Line(description="x", quantity=1, unit_price=Decimal("10"), line_extension=Decimal("10.00")),  # type: ignore[arg-type]  # the wrong type, on purpose
    ],
)  # fmt: skip
def test_inconsistent_documents_are_refused(change):
    with pytest.raises((ValueError, TypeError)):
        change()


# -- property test ---------------------------------------------------------------------


@lru_cache(maxsize=1)
def _demo_key():
    """One RSA key for all examples (hypothesis cannot use function-scoped fixtures)."""
    with tempfile.TemporaryDirectory() as directory:
        return create_demo_certificate(f"{directory}/demo.p12", "test", "Hypothesis Demo")


_money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("50000000"), places=2)
_quantity = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("240"), places=2)
_line = st.builds(
    lambda description, quantity, price, rate, treatment, code: Line.build(
        description=description,
        quantity=quantity,
        unit_price=price,
        tax_rate=rate,
        tax_treatment=treatment,
        code=code,
    ),
    st.text(
        alphabet=st.characters(codec="utf-8", categories=("L", "N", "Zs", "P")),
        min_size=1,
        max_size=60,
    ).filter(str.strip),
    _quantity,
    _money,
    st.sampled_from([Decimal("19"), Decimal("16"), Decimal("5")]),
    st.sampled_from(["taxed", "exempt", "excluded"]),
    st.sampled_from(["", "HOST-1", "DOM-CO"]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(_line, min_size=1, max_size=8).map(tuple),
    natural=st.booleans(),
    environment=st.sampled_from(["1", "2"]),
    minute=st.integers(min_value=0, max_value=24 * 60 - 1),
)
def test_random_invoices_are_valid_consistent_and_sign(lines, natural, environment, minute):
    issue = dt.datetime(2025, 3, 1, tzinfo=factories.BOGOTA) + dt.timedelta(minutes=minute)
    customer = factories.natural_customer() if natural else factories.company_customer()
    doc = factories.invoice(lines=lines, customer=customer, environment=environment, issue=issue,
                            due=dt.date(2025, 3, 2))  # fmt: skip
    root = ubl.build_invoice_xml(doc)

    # XSD valid, before and after signing
    assert validate_invoice(root, allow_unsigned=True) == []
    key, cert = _demo_key()
    signed = sign_invoice(root, key, cert)
    assert validate_invoice(signed) == []

    # CUFE recomputes from the signed document's own fields
    assert cufe_from_xml(signed, KEY) == ubl.invoice_cufe(root)

    # the lines add up to the totals
    line_sum = sum(_values(root, "cac:InvoiceLine/cbc:LineExtensionAmount"), Decimal(0))
    line_tax = sum(_values(root, "cac:InvoiceLine/cac:TaxTotal/cbc:TaxAmount"), Decimal(0))
    doc_tax = sum(_values(root, "cac:TaxTotal/cbc:TaxAmount"), Decimal(0))
    sub_tax = sum(_values(root, "cac:TaxTotal/cac:TaxSubtotal/cbc:TaxAmount"), Decimal(0))
    taxable = sum(_values(root, "cac:TaxTotal/cac:TaxSubtotal/cbc:TaxableAmount"), Decimal(0))
    (total_lines,) = _values(root, "cac:LegalMonetaryTotal/cbc:LineExtensionAmount")
    (exclusive,) = _values(root, "cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount")
    (inclusive,) = _values(root, "cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount")
    (payable,) = _values(root, "cac:LegalMonetaryTotal/cbc:PayableAmount")
    assert total_lines == line_sum
    assert doc_tax == line_tax == sub_tax
    taxable_lines = sum(
        (ln.line_extension for ln in lines if ln.tax_treatment != "excluded"), Decimal(0)
    )
    assert exclusive == taxable == taxable_lines
    assert inclusive == payable == total_lines + doc_tax
    assert len(root.findall("cac:InvoiceLine", NS)) == len(lines)
    assert root.findtext("cbc:LineCountNumeric", namespaces=NS) == str(len(lines))
    # every line's value is quantity × price
    for node, line in zip(root.findall("cac:InvoiceLine", NS), lines, strict=True):
        quantity = Decimal(node.findtext("cbc:InvoicedQuantity", namespaces=NS))
        price = Decimal(node.findtext("cac:Price/cbc:PriceAmount", namespaces=NS))
        value = Decimal(node.findtext("cbc:LineExtensionAmount", namespaces=NS))
        assert value == (quantity * price).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
        assert (node.find("cac:TaxTotal", NS) is None) == (line.tax_treatment == "excluded")
