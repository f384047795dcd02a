"""Build the UBL 2.1 Invoice XML of a DIAN factura electrónica de venta, and the CreditNote /
DebitNote XML of a nota crédito / débito on one (``dian-webservice.md`` §4.2).

The element order is the XSD sequence of ``InvoiceType`` (§2.1 of
``shared/docs/dian-einvoice.md``); the field contents follow §2.2. The CUFE is
computed last, by reading back the strings that were written into the tree
(:func:`clientarea.einvoice.cufe.cufe_fields_from_xml`), so the hash always
matches the document byte for byte.

The result has two ``ext:UBLExtension``: the first holds ``sts:DianExtensions``,
the second an empty ``ext:ExtensionContent`` that
:func:`clientarea.einvoice.signing.sign_invoice` fills with the signature.
"""

from __future__ import annotations

from lxml import etree

from clientarea.einvoice.cufe import (
    CufeFields,
    compute_cufe,
    cufe_fields_from_xml,
    software_security_code,
)
from clientarea.einvoice.documents import InvoiceDocument, Line, Party, decimal_str, money_str
from clientarea.einvoice.qr import qr_url

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
DEBIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:DebitNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
EXT = "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"
STS = "dian:gov:co:facturaelectronica:Structures-2-1"
DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"

NSMAP = {None: INVOICE_NS, "cac": CAC, "cbc": CBC, "ds": DS, "ext": EXT, "sts": STS, "xades": XADES}


class _Kind:
    """What changes with the document type (§4.2 of ``dian-webservice.md``)."""

    def __init__(
        self, *, ns: str, root: str, customization: str, profile: str, key: str, line: str,
        quantity: str, totals: str, type_code: str,
    ) -> None:  # fmt: skip
        self.ns, self.root, self.customization, self.profile = ns, root, customization, profile
        self.key, self.line, self.quantity, self.totals = key, line, quantity, totals
        self.type_code = type_code


KINDS = {
    "01": _Kind(
        ns=INVOICE_NS, root="Invoice", customization="10",
        profile="DIAN 2.1: Factura Electrónica de Venta", key="CUFE-SHA384", line="InvoiceLine",
        quantity="InvoicedQuantity", totals="LegalMonetaryTotal", type_code="InvoiceTypeCode",
    ),
    # 20 / 30: a note that references an invoice (22 / 32 would be without reference).
    "91": _Kind(
        ns=CREDIT_NOTE_NS, root="CreditNote", customization="20",
        profile="DIAN 2.1: Nota Crédito de Factura Electrónica de Venta", key="CUDE-SHA384",
        line="CreditNoteLine", quantity="CreditedQuantity", totals="LegalMonetaryTotal",
        type_code="CreditNoteTypeCode",
    ),
    "92": _Kind(
        ns=DEBIT_NOTE_NS, root="DebitNote", customization="30",
        profile="DIAN 2.1: Nota Débito de Factura Electrónica de Venta", key="CUDE-SHA384",
        line="DebitNoteLine", quantity="DebitedQuantity", totals="RequestedMonetaryTotal",
        type_code="",  # UBL 2.1 DebitNote has no type-code element; 92 is implied
    ),
}  # fmt: skip
NS = {"inv": INVOICE_NS, "cac": CAC, "cbc": CBC, "ds": DS, "ext": EXT, "sts": STS, "xades": XADES}

DIAN_AGENCY = {
    "schemeAgencyID": "195",
    "schemeAgencyName": "CO, DIAN (Dirección de Impuestos y Aduanas Nacionales)",
}
DIAN_NIT = "800197268"  # §2.2 AuthorizationProvider, DV 4 (§6.1)
DIAN_NIT_DV = "4"
PROFILE_ID = "DIAN 2.1: Factura Electrónica de Venta"  # §2.2 (S3, facho)
CUSTOMIZATION_ID = "10"  # §2.2 tipo de operación 10 = Estándar
UNIT_CODE = "94"  # §2.2 UnidadesMedida-2.1 "unidad"
TAX_SCHEME_NAMES = {"01": "IVA", "ZZ": "No aplica"}
COUNTRY_NAMES = {"CO": "Colombia"}


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _el(
    parent: etree._Element, ns: str, name: str, text: str | None = None, **attrs: str
) -> etree._Element:
    """Append ``<ns:name attrs>text</ns:name>`` to ``parent`` and return it."""
    element = etree.SubElement(parent, _q(ns, name), attrs or None)
    if text is not None:
        element.text = text
    return element


def _cbc(
    parent: etree._Element, name: str, text: str | None = None, **attrs: str
) -> etree._Element:
    return _el(parent, CBC, name, text, **attrs)


def _cac(parent: etree._Element, name: str) -> etree._Element:
    return _el(parent, CAC, name)


def _amount(parent: etree._Element, name: str, value, currency: str) -> etree._Element:
    return _cbc(parent, name, money_str(value), currencyID=currency)


# -- sts:DianExtensions ------------------------------------------------------------


def _dian_extensions(parent: etree._Element, doc: InvoiceDocument) -> etree._Element:
    """``sts:DianExtensions`` in the order of DIAN_UBL_Structures.xsd (§2.2).

    ``sts:QRCode`` is left empty here and set once the CUFE is known.
    """
    ext = _el(parent, STS, "DianExtensions")
    if not doc.is_note:  # DIAN authorizes invoice numbering only; notes have no InvoiceControl
        _invoice_control(ext, doc)
    _source_and_provider(ext, doc)
    return ext


def _invoice_control(ext: etree._Element, doc: InvoiceDocument) -> None:
    res = doc.resolution
    control = _el(ext, STS, "InvoiceControl")
    _el(control, STS, "InvoiceAuthorization", res.number)
    period = _el(control, STS, "AuthorizationPeriod")
    _cbc(period, "StartDate", res.valid_from.isoformat())
    _cbc(period, "EndDate", res.valid_to.isoformat())
    authorized = _el(control, STS, "AuthorizedInvoices")
    if res.prefix:
        _el(authorized, STS, "Prefix", res.prefix)
    _el(authorized, STS, "From", str(res.range_from))
    _el(authorized, STS, "To", str(res.range_to))


def _source_and_provider(ext: etree._Element, doc: InvoiceDocument) -> None:
    source = _el(ext, STS, "InvoiceSource")
    _cbc(
        source,
        "IdentificationCode",
        "CO",
        listAgencyID="6",
        listAgencyName="United Nations Economic Commission for Europe",
        listSchemeURI="urn:oasis:names:specification:ubl:codelist:gc:CountryIdentificationCode-2.1",
    )
    provider = _el(ext, STS, "SoftwareProvider")
    # §3 quirk: schemeID carries the DV, as in DIAN's own samples, although the
    # DIAN XSD enumerates document types there (validation.py whitelists it).
    _el(
        provider, STS, "ProviderID", doc.software_provider_nit, **DIAN_AGENCY,
        schemeID=doc.software_provider_dv, schemeName="31",
    )  # fmt: skip
    _el(provider, STS, "SoftwareID", doc.software_id, **DIAN_AGENCY)
    _el(
        ext, STS, "SoftwareSecurityCode",
        software_security_code(doc.software_id, doc.software_pin, doc.full_id), **DIAN_AGENCY,
    )  # fmt: skip
    auth = _el(ext, STS, "AuthorizationProvider")
    _el(
        auth,
        STS,
        "AuthorizationProviderID",
        DIAN_NIT,
        **DIAN_AGENCY,
        schemeID=DIAN_NIT_DV,
        schemeName="31",
    )
    _el(ext, STS, "QRCode")


# -- parties -----------------------------------------------------------------------


def _company_id(parent: etree._Element, name: str, party: Party) -> etree._Element:
    """CompanyID with schemeID = DV and schemeName = document type (§2.2).

    A cédula has no DV: DIAN-accepted invoices write ``schemeID=""`` (S3).
    """
    return _cbc(
        parent, name, party.document_number, **DIAN_AGENCY,
        schemeID=party.check_digit, schemeName=party.document_type,
    )  # fmt: skip


def _address(parent: etree._Element, name: str, party: Party) -> etree._Element:
    """Address with DIVIPOLA municipality in cbc:ID and department code (§6.4)."""
    address = _cac(parent, name)
    _cbc(address, "ID", party.municipality_code)
    _cbc(address, "CityName", party.municipality_name)
    _cbc(address, "CountrySubentity", party.department_name)
    _cbc(address, "CountrySubentityCode", party.department_code)
    if party.address_line:
        _cbc(_cac(address, "AddressLine"), "Line", party.address_line)
    country = _cac(address, "Country")
    _cbc(country, "IdentificationCode", party.country)
    _cbc(country, "Name", COUNTRY_NAMES.get(party.country, party.country), languageID="es")
    return address


def _tax_scheme(parent: etree._Element, code: str) -> None:
    scheme = _cac(parent, "TaxScheme")
    _cbc(scheme, "ID", code)
    _cbc(scheme, "Name", TAX_SCHEME_NAMES[code])


def _party(
    parent: etree._Element, wrapper: str, party: Party, doc: InvoiceDocument, *, supplier: bool
) -> None:
    """AccountingSupplierParty / AccountingCustomerParty (PartyType XSD order)."""
    outer = _cac(parent, wrapper)
    _cbc(outer, "AdditionalAccountID", party.additional_account_id)
    node = _cac(outer, "Party")
    if party.is_natural:
        # §2.2: since 2020-06-04 a natural person needs PartyIdentification
        # (rules FAK61/FAK62), or DIAN rejects the invoice.
        ident = _cac(node, "PartyIdentification")
        attrs = {"schemeName": party.document_type}
        if party.check_digit:
            attrs["schemeID"] = party.check_digit
        _cbc(ident, "ID", party.document_number, **attrs)
    _cbc(_cac(node, "PartyName"), "Name", party.display_name)
    location = _cac(node, "PhysicalLocation")
    _address(location, "Address", party)

    tax = _cac(node, "PartyTaxScheme")
    _cbc(tax, "RegistrationName", party.legal_name)
    _company_id(tax, "CompanyID", party)
    # §6.3: several responsibilities are joined with ";" (common practice,
    # exact rule unconfirmed). listName is the régimen: 48 responsable de IVA,
    # 49 no responsable (RegimenFiscal-2.1.custom.gc).
    _cbc(
        tax, "TaxLevelCode", ";".join(party.fiscal_responsibilities),
        listName="48" if party.tax_scheme == "01" else "49",
    )  # fmt: skip
    _address(tax, "RegistrationAddress", party)
    _tax_scheme(tax, party.tax_scheme)

    legal = _cac(node, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", party.legal_name)
    _company_id(legal, "CompanyID", party)
    if supplier:
        # The supplier's registration scheme names the invoice prefix (S2, S3).
        prefix = doc.note_prefix if doc.is_note else doc.resolution.prefix
        _cbc(_cac(legal, "CorporateRegistrationScheme"), "ID", prefix)

    if party.email or party.phone:
        contact = _cac(node, "Contact")
        if party.phone:
            _cbc(contact, "Telephone", party.phone)
        if party.email:
            _cbc(contact, "ElectronicMail", party.email)
    if party.is_natural and (party.first_name or party.last_name):
        person = _cac(node, "Person")
        if party.first_name:
            _cbc(person, "FirstName", party.first_name)
        if party.last_name:
            _cbc(person, "FamilyName", party.last_name)


# -- taxes, totals, lines ------------------------------------------------------------


def _iva_subtotal(parent: etree._Element, taxable, tax, rate, currency: str) -> None:
    subtotal = _cac(parent, "TaxSubtotal")
    _amount(subtotal, "TaxableAmount", taxable, currency)
    _amount(subtotal, "TaxAmount", tax, currency)
    category = _cac(subtotal, "TaxCategory")
    _cbc(category, "Percent", money_str(rate))
    _tax_scheme(category, "01")


def _document_tax_total(parent: etree._Element, doc: InvoiceDocument) -> None:
    """One TaxTotal for IVA with a subtotal per rate; exempt lines are the 0.00 % group.

    Excluded lines carry no tax, so an invoice with only excluded lines has no TaxTotal.
    """
    subtotals = doc.iva_subtotals
    if not subtotals:
        return
    total = _cac(parent, "TaxTotal")
    _amount(total, "TaxAmount", doc.iva_total, doc.currency)
    for sub in subtotals:
        _iva_subtotal(total, sub.taxable_amount, sub.tax_amount, sub.rate, doc.currency)


def _withholding_totals(parent: etree._Element, doc: InvoiceDocument) -> None:
    """One WithholdingTaxTotal per scheme, after the TaxTotal (dian-webservice.md §6.2).

    Informative: PayableAmount and the CUFE stay those of the full sale (§6.3).
    """
    for withholding in doc.withholdings:
        total = _cac(parent, "WithholdingTaxTotal")
        _amount(total, "TaxAmount", withholding.amount, doc.currency)
        subtotal = _cac(total, "TaxSubtotal")
        _amount(subtotal, "TaxableAmount", withholding.base, doc.currency)
        _amount(subtotal, "TaxAmount", withholding.amount, doc.currency)
        category = _cac(subtotal, "TaxCategory")
        _cbc(category, "Percent", withholding.percent_str)
        scheme = _cac(category, "TaxScheme")
        _cbc(scheme, "ID", withholding.scheme)
        _cbc(scheme, "Name", withholding.name)


def _prepaid_payments(parent: etree._Element, doc: InvoiceDocument) -> None:
    """One PrepaidPayment per amount of account credit applied to the order, after
    PaymentMeans (XSD order); their sum is ``LegalMonetaryTotal/PrepaidAmount``."""
    for prepayment in doc.prepayments:
        node = _cac(parent, "PrepaidPayment")
        _cbc(node, "ID", prepayment.id)
        _amount(node, "PaidAmount", prepayment.amount, doc.currency)
        _cbc(node, "ReceivedDate", prepayment.received.isoformat())
        _cbc(node, "PaidDate", prepayment.received.isoformat())


def _monetary_total(parent: etree._Element, doc: InvoiceDocument) -> None:
    total = _cac(parent, KINDS[doc.document_type].totals)
    _amount(total, "LineExtensionAmount", doc.line_extension_total, doc.currency)
    _amount(total, "TaxExclusiveAmount", doc.tax_exclusive_amount, doc.currency)
    _amount(total, "TaxInclusiveAmount", doc.tax_inclusive_amount, doc.currency)
    if doc.prepayments:
        _amount(total, "PrepaidAmount", doc.prepaid_amount, doc.currency)
    if doc.payable_rounding:  # the one amount DIAN allows to be negative (rule VLR01)
        _amount(total, "PayableRoundingAmount", doc.payable_rounding, doc.currency)
    _amount(total, "PayableAmount", doc.payable_amount, doc.currency)


def _invoice_line(
    parent: etree._Element, index: int, line: Line, currency: str, kind: _Kind
) -> None:
    """InvoiceLine / CreditNoteLine / DebitNoteLine in the XSD order of its type."""
    node = _cac(parent, kind.line)
    _cbc(node, "ID", str(index))
    _cbc(node, kind.quantity, decimal_str(line.quantity), unitCode=UNIT_CODE)
    _amount(node, "LineExtensionAmount", line.line_extension, currency)
    # DebitNoteLineType has no InvoicePeriod.
    if line.period_start and line.period_end and kind.root != "DebitNote":
        period = _cac(node, "InvoicePeriod")
        _cbc(period, "StartDate", line.period_start.isoformat())
        _cbc(period, "EndDate", line.period_end.isoformat())
    if line.allowance:
        # A discount on this line (§2.2 AllowanceCharge): not a document-level allowance, so
        # LegalMonetaryTotal carries no AllowanceTotalAmount and the CUFE's ValFac is the sum of
        # the discounted line values.
        allowance = _cac(node, "AllowanceCharge")
        _cbc(allowance, "ID", "1")
        _cbc(allowance, "ChargeIndicator", "false")
        _cbc(allowance, "AllowanceChargeReason", line.allowance_reason)
        _cbc(allowance, "MultiplierFactorNumeric", f"{line.allowance_percent:.2f}")
        _amount(allowance, "Amount", line.allowance, currency)
        _amount(allowance, "BaseAmount", line.gross_amount, currency)
    if line.has_iva_subtotal:
        total = _cac(node, "TaxTotal")
        _amount(total, "TaxAmount", line.tax_amount, currency)
        _iva_subtotal(total, line.line_extension, line.tax_amount, line.tax_rate, currency)
    item = _cac(node, "Item")
    _cbc(item, "Description", line.description)
    if line.code:
        _cbc(_cac(item, "SellersItemIdentification"), "ID", line.code)
        # schemeID 999 = "Estándar de adopción del contribuyente", as in S3.
        _cbc(_cac(item, "StandardItemIdentification"), "ID", line.code, schemeID="999")
    price = _cac(node, "Price")
    # The unit price keeps its own precision: line value = quantity × price.
    _cbc(price, "PriceAmount", decimal_str(line.unit_price), currencyID=currency)
    # DIAN-accepted invoices (S3) put the invoiced quantity in BaseQuantity.
    _cbc(price, "BaseQuantity", decimal_str(line.quantity), unitCode=UNIT_CODE)


# -- document ----------------------------------------------------------------------


def _note_references(root: etree._Element, doc: InvoiceDocument) -> None:
    """DiscrepancyResponse (the concept) and BillingReference (the invoice corrected), §4.2."""
    reference = doc.reference
    assert reference is not None  # InvoiceDocument checks it for notes
    discrepancy = _cac(root, "DiscrepancyResponse")
    _cbc(discrepancy, "ReferenceID", reference.number)
    _cbc(discrepancy, "ResponseCode", doc.concept_code)
    _cbc(discrepancy, "Description", doc.concept_reason)
    if doc.order_reference:
        _cbc(_cac(root, "OrderReference"), "ID", doc.order_reference)
    invoice = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")
    _cbc(invoice, "ID", reference.number)
    _cbc(invoice, "UUID", reference.cufe, schemeName="CUFE-SHA384")
    _cbc(invoice, "IssueDate", reference.issue_date.isoformat())


def build_invoice_xml(doc: InvoiceDocument) -> etree._Element:
    """Return the unsigned Invoice (or CreditNote / DebitNote) root element, CUFE/CUDE and QR
    included."""
    kind = KINDS[doc.document_type]
    root = etree.Element(_q(kind.ns, kind.root), nsmap={**NSMAP, None: kind.ns})
    extensions = _el(root, EXT, "UBLExtensions")
    _dian_extensions(_el(_el(extensions, EXT, "UBLExtension"), EXT, "ExtensionContent"), doc)
    _el(_el(extensions, EXT, "UBLExtension"), EXT, "ExtensionContent")  # the signature goes here

    _cbc(root, "UBLVersionID", "UBL 2.1")
    _cbc(root, "CustomizationID", kind.customization)
    _cbc(root, "ProfileID", kind.profile)
    _cbc(root, "ProfileExecutionID", doc.environment)
    _cbc(root, "ID", doc.full_id)
    uuid = _cbc(root, "UUID", schemeID=doc.environment, schemeName=kind.key)
    _cbc(root, "IssueDate", doc.issue_date_str)
    _cbc(root, "IssueTime", doc.issue_time_str)
    if not doc.is_note:
        _cbc(root, "DueDate", doc.due.isoformat())
        _cbc(root, kind.type_code, doc.invoice_type_code)
    elif kind.type_code:
        _cbc(root, kind.type_code, doc.document_type)
    if doc.note:
        _cbc(root, "Note", doc.note)
    _cbc(
        root, "DocumentCurrencyCode", doc.currency,
        listAgencyID="6", listAgencyName="United Nations Economic Commission for Europe", listID="ISO 4217 Alpha",
    )  # fmt: skip
    _cbc(root, "LineCountNumeric", str(len(doc.lines)))
    if doc.is_note:
        _note_references(root, doc)
    elif doc.order_reference:
        _cbc(_cac(root, "OrderReference"), "ID", doc.order_reference)

    _party(root, "AccountingSupplierParty", doc.supplier, doc, supplier=True)
    _party(root, "AccountingCustomerParty", doc.customer, doc, supplier=False)

    means = _cac(root, "PaymentMeans")
    _cbc(means, "ID", doc.payment_form)
    _cbc(means, "PaymentMeansCode", doc.payment_means_code)
    if doc.payment_form == "2":
        # Credit sales (and debit notes owed on the account) state when payment is due.
        _cbc(means, "PaymentDueDate", doc.due.isoformat())
    _prepaid_payments(root, doc)

    _document_tax_total(root, doc)
    if not doc.is_note:  # UBL 2.1 notes have no WithholdingTaxTotal
        _withholding_totals(root, doc)
    _monetary_total(root, doc)
    for index, line in enumerate(doc.lines, start=1):
        _invoice_line(root, index, line, doc.currency, kind)

    # The CUFE is computed from the strings now in the tree (§1.1 "as in the XML").
    cufe = compute_cufe(cufe_fields_from_xml(root), document_secret(doc))
    uuid.text = cufe
    root.find(".//sts:QRCode", NS).text = qr_url(cufe, doc.environment)
    return root


def cufe_fields_for(doc: InvoiceDocument) -> CufeFields:
    """The CUFE inputs exactly as :func:`build_invoice_xml` writes them, without building the XML.

    Lets the paid transaction fix the CUFE cheaply; the worker builds the XML later and
    checks that the CUFE read back from it is the same (tests assert both paths agree).
    """
    return CufeFields(
        num_fac=doc.full_id,
        fec_fac=doc.issue_date_str,
        hor_fac=doc.issue_time_str,
        val_fac=money_str(doc.line_extension_total),
        val_imp1=money_str(doc.iva_total),
        val_imp2="0.00",
        val_imp3="0.00",  # no INC or ICA on hosting services
        val_tot=money_str(doc.payable_amount),
        nit_ofe=doc.supplier.document_number,
        num_adq=doc.customer.document_number,
        tipo_ambie=doc.environment,
    )


def document_secret(doc: InvoiceDocument) -> str:
    """The key hashed into the CUFE (the range's clave técnica) or the CUDE of a note (the
    software PIN, §4.3)."""
    return doc.software_pin if doc.is_note else doc.resolution.technical_key


def expected_cufe(doc: InvoiceDocument) -> str:
    """The CUFE (or a note's CUDE) the built XML will carry."""
    return compute_cufe(cufe_fields_for(doc), document_secret(doc))


def invoice_cufe(root: etree._Element) -> str:
    """The CUFE (``cbc:UUID``) of a built invoice."""
    return root.findtext("cbc:UUID", namespaces=NS) or ""


XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>'


def to_bytes(root: etree._Element) -> bytes:
    """Serialize as UTF-8 with the declaration DIAN's samples use, without pretty-printing.

    No indentation is added: whitespace would become part of the signed content.
    """
    return XML_DECLARATION + etree.tostring(root, encoding="UTF-8")
