"""Hand-written DIAN documents for the simulator's tests: an Invoice, a CreditNote and a DebitNote
typed here from ``shared/docs/dian-webservice.md`` §4.2 (element order of the UBL 2.1 XSDs,
CustomizationID 20/22 and 30/32, CreditNoteTypeCode 91, RequestedMonetaryTotal, BillingReference)
and ``dian-einvoice.md`` (CUFE). Nothing here comes from the product's builder.

Keys are computed with ``hashlib`` from the docs' formulas (§4.3: amounts truncated to 2
decimals, the software PIN for notes, the habilitación technical key for invoices). The XAdES
signature envelope is the only part made by the product (see :func:`signed`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from lxml import etree

from . import documents

BOGOTA = ZoneInfo("America/Bogota")
TEST_KEY = "fc8eac422eba16e22ffd8c6f94b3f40a6e38162c"  # dian-webservice.md §3.2
SOFTWARE_ID = "56f2ae4e-9812-4fad-9255-08fcfcd5ccb0"  # the simulator's demo software
PIN = "12345"
SUPPLIER = ("900373076", "4")  # NIT, check digit
CUSTOMER = ("800197268", "4")
DIAN = "CO, DIAN (Dirección de Impuestos y Aduanas Nacionales)"
_invoice_numbers = iter(range(990_500_000, 990_999_999))


def next_invoice_number() -> str:
    return f"SETP{next(_invoice_numbers)}"


@dataclass
class Doc:
    """One document to type out. ``price`` is the single line's price (IVA 19 % on top)."""

    kind: str  # Invoice | CreditNote | DebitNote
    number: str
    price: Decimal = Decimal("100000.00")
    customization: str = ""
    references: list[tuple[str, str, str]] = field(default_factory=list)  # (number, CUFE, date)
    concept: str = "2"
    type_code: str = "01"  # InvoiceTypeCode of invoices
    issued: dt.datetime = field(
        default_factory=lambda: dt.datetime.now(BOGOTA).replace(microsecond=0)
    )
    software_id: str = SOFTWARE_ID
    pin: str = PIN
    secret: str | None = None  # the key hashed into the CUFE/CUDE; default: per type
    key: str = ""  # filled in by ``render``
    rounding: Decimal = Decimal("0.00")  # PayableRoundingAmount (whole pesos to pay)

    @property
    def tax(self) -> Decimal:
        return (self.price * Decimal("0.19")).quantize(Decimal("0.01"))

    @property
    def total(self) -> Decimal:
        return self.price + self.tax

    @property
    def payable(self) -> Decimal:
        return self.total + self.rounding

    @property
    def date(self) -> str:
        return self.issued.date().isoformat()

    @property
    def time(self) -> str:
        return self.issued.strftime("%H:%M:%S-05:00")


def _t(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_DOWN))


def document_key(doc: Doc) -> str:
    """CUFE (invoice, technical key) or CUDE (notes, software PIN), dian-webservice.md §4.3."""
    secret = (
        doc.secret if doc.secret is not None else (TEST_KEY if doc.kind == "Invoice" else doc.pin)
    )
    text = (
        f"{doc.number}{doc.date}{doc.time}{_t(doc.price)}01{_t(doc.tax)}040.00030.00"
        f"{_t(doc.payable)}{SUPPLIER[0]}{CUSTOMER[0]}{secret}2"
    )
    return hashlib.sha384(text.encode()).hexdigest()


def _party(role: str, nit: str, dv: str, name: str) -> str:
    return (
        f"<cac:{role}><cbc:AdditionalAccountID>1</cbc:AdditionalAccountID><cac:Party>"
        f"<cac:PartyName><cbc:Name>{name}</cbc:Name></cac:PartyName>"
        f"<cac:PartyTaxScheme><cbc:RegistrationName>{name}</cbc:RegistrationName>"
        f'<cbc:CompanyID schemeAgencyID="195" schemeID="{dv}" schemeName="31">{nit}</cbc:CompanyID>'
        f'<cbc:TaxLevelCode listName="48">O-13</cbc:TaxLevelCode>'
        f"<cac:TaxScheme><cbc:ID>01</cbc:ID><cbc:Name>IVA</cbc:Name></cac:TaxScheme>"
        f"</cac:PartyTaxScheme></cac:Party></cac:{role}>"
    )


def _tax_total(doc: Doc) -> str:
    return (
        f'<cac:TaxTotal><cbc:TaxAmount currencyID="COP">{doc.tax}</cbc:TaxAmount>'
        f'<cac:TaxSubtotal><cbc:TaxableAmount currencyID="COP">{doc.price}</cbc:TaxableAmount>'
        f'<cbc:TaxAmount currencyID="COP">{doc.tax}</cbc:TaxAmount>'
        f"<cac:TaxCategory><cbc:Percent>19.00</cbc:Percent>"
        f"<cac:TaxScheme><cbc:ID>01</cbc:ID><cbc:Name>IVA</cbc:Name></cac:TaxScheme>"
        f"</cac:TaxCategory></cac:TaxSubtotal></cac:TaxTotal>"
    )


def render(doc: Doc) -> bytes:
    """The unsigned XML of ``doc`` (its key is computed and stored in ``doc.key``)."""
    doc.key = document_key(doc)
    security_code = hashlib.sha384(f"{doc.software_id}{doc.pin}{doc.number}".encode()).hexdigest()
    invoice = doc.kind == "Invoice"
    control = (
        "<sts:InvoiceControl><sts:InvoiceAuthorization>18760000001</sts:InvoiceAuthorization>"
        "<sts:AuthorizationPeriod><cbc:StartDate>2019-01-19</cbc:StartDate>"
        "<cbc:EndDate>2030-01-19</cbc:EndDate></sts:AuthorizationPeriod>"
        "<sts:AuthorizedInvoices><sts:Prefix>SETP</sts:Prefix><sts:From>990000000</sts:From>"
        "<sts:To>995000000</sts:To></sts:AuthorizedInvoices></sts:InvoiceControl>"
        if invoice
        else ""
    )
    customization = (
        doc.customization or {"Invoice": "10", "CreditNote": "20", "DebitNote": "30"}[doc.kind]
    )
    profile = {
        "Invoice": "Factura Electrónica de Venta",
        "CreditNote": "Nota Crédito de Factura Electrónica de Venta",
        "DebitNote": "Nota Débito de Factura Electrónica de Venta",
    }[doc.kind]
    scheme = "CUFE-SHA384" if invoice else "CUDE-SHA384"
    type_code = {
        "Invoice": f"<cbc:InvoiceTypeCode>{doc.type_code}</cbc:InvoiceTypeCode>",
        "CreditNote": "<cbc:CreditNoteTypeCode>91</cbc:CreditNoteTypeCode>",
        "DebitNote": "",  # UBL 2.1 DebitNote has no type code (92 is implied)
    }[doc.kind]
    head = ""
    if not invoice:
        if not doc.references:  # 22/32: no BillingReference; the period the note covers
            head += (
                f"<cac:InvoicePeriod><cbc:StartDate>{doc.date}</cbc:StartDate>"
                f"<cbc:EndDate>{doc.date}</cbc:EndDate></cac:InvoicePeriod>"
            )
        head += (
            "<cac:DiscrepancyResponse>"
            f"<cbc:ReferenceID>{doc.references[0][0] if doc.references else ''}</cbc:ReferenceID>"
            f"<cbc:ResponseCode>{doc.concept}</cbc:ResponseCode>"
            "<cbc:Description>Corrección de prueba</cbc:Description></cac:DiscrepancyResponse>"
        )
        for number, key, date in doc.references:
            head += (
                "<cac:BillingReference><cac:InvoiceDocumentReference>"
                f'<cbc:ID>{number}</cbc:ID><cbc:UUID schemeName="CUFE-SHA384">{key}</cbc:UUID>'
                f"<cbc:IssueDate>{date}</cbc:IssueDate>"
                "</cac:InvoiceDocumentReference></cac:BillingReference>"
            )
    totals = "RequestedMonetaryTotal" if doc.kind == "DebitNote" else "LegalMonetaryTotal"
    rounding = (
        f'<cbc:PayableRoundingAmount currencyID="COP">{doc.rounding}</cbc:PayableRoundingAmount>'
        if doc.rounding
        else ""
    )
    line, quantity = {
        "Invoice": ("InvoiceLine", "InvoicedQuantity"),
        "CreditNote": ("CreditNoteLine", "CreditedQuantity"),
        "DebitNote": ("DebitNoteLine", "DebitedQuantity"),
    }[doc.kind]
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<{doc.kind} xmlns="urn:oasis:names:specification:ubl:schema:xsd:{doc.kind}-2"
 xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
 xmlns:ext="urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"
 xmlns:sts="dian:gov:co:facturaelectronica:Structures-2-1">
<ext:UBLExtensions>
<ext:UBLExtension><ext:ExtensionContent><sts:DianExtensions>{control}
<sts:InvoiceSource><cbc:IdentificationCode>CO</cbc:IdentificationCode></sts:InvoiceSource>
<sts:SoftwareProvider><sts:ProviderID schemeAgencyID="195" schemeAgencyName="{DIAN}" schemeID="7" schemeName="31">800123456</sts:ProviderID>
<sts:SoftwareID schemeAgencyID="195" schemeAgencyName="{DIAN}">{doc.software_id}</sts:SoftwareID></sts:SoftwareProvider>
<sts:SoftwareSecurityCode schemeAgencyID="195" schemeAgencyName="{DIAN}">{security_code}</sts:SoftwareSecurityCode>
<sts:AuthorizationProvider><sts:AuthorizationProviderID schemeAgencyID="195" schemeAgencyName="{DIAN}" schemeID="4" schemeName="31">800197268</sts:AuthorizationProviderID></sts:AuthorizationProvider>
</sts:DianExtensions></ext:ExtensionContent></ext:UBLExtension>
<ext:UBLExtension><ext:ExtensionContent/></ext:UBLExtension>
</ext:UBLExtensions>
<cbc:UBLVersionID>UBL 2.1</cbc:UBLVersionID>
<cbc:CustomizationID>{customization}</cbc:CustomizationID>
<cbc:ProfileID>DIAN 2.1: {profile}</cbc:ProfileID>
<cbc:ProfileExecutionID>2</cbc:ProfileExecutionID>
<cbc:ID>{doc.number}</cbc:ID>
<cbc:UUID schemeID="2" schemeName="{scheme}">{doc.key}</cbc:UUID>
<cbc:IssueDate>{doc.date}</cbc:IssueDate>
<cbc:IssueTime>{doc.time}</cbc:IssueTime>
{type_code}
<cbc:DocumentCurrencyCode>COP</cbc:DocumentCurrencyCode>
<cbc:LineCountNumeric>1</cbc:LineCountNumeric>
{head}
{_party("AccountingSupplierParty", *SUPPLIER, "CONEXCOL S.A.S.")}
{_party("AccountingCustomerParty", *CUSTOMER, "CLIENTE DE PRUEBAS S.A.S.")}
{_tax_total(doc)}
<cac:{totals}>
<cbc:LineExtensionAmount currencyID="COP">{doc.price}</cbc:LineExtensionAmount>
<cbc:TaxExclusiveAmount currencyID="COP">{doc.price}</cbc:TaxExclusiveAmount>
<cbc:TaxInclusiveAmount currencyID="COP">{doc.total}</cbc:TaxInclusiveAmount>
{rounding}<cbc:PayableAmount currencyID="COP">{doc.payable}</cbc:PayableAmount>
</cac:{totals}>
<cac:{line}><cbc:ID>1</cbc:ID><cbc:{quantity} unitCode="94">1.00</cbc:{quantity}>
<cbc:LineExtensionAmount currencyID="COP">{doc.price}</cbc:LineExtensionAmount>
{_tax_total(doc)}
<cac:Item><cbc:Description>Hosting Pro (mes)</cbc:Description></cac:Item>
<cac:Price><cbc:PriceAmount currencyID="COP">{doc.price}</cbc:PriceAmount>
<cbc:BaseQuantity unitCode="94">1.00</cbc:BaseQuantity></cac:Price>
</cac:{line}>
</{doc.kind}>"""
    return xml.encode()


def signed(doc: Doc) -> bytes:
    """``doc`` typed out and signed (XAdES-EPES, RSA-SHA256).

    The XAdES envelope is the product's signer: signxml's stock XAdES signer emits
    ``SigningCertificateV2``, which the UBL 2.1 schemas (XAdES 1.3.2) refuse, like DIAN does.
    Only the signature comes from the product; every field DIAN validates is typed here.
    """
    return documents.sign(etree.fromstring(render(doc)))


def invoice(**kwargs) -> Doc:
    return Doc(kind="Invoice", number=kwargs.pop("number", None) or next_invoice_number(), **kwargs)


def note(kind: str, number: str, on: Doc | None = None, **kwargs) -> Doc:
    """A CreditNote/DebitNote referencing ``on`` (CustomizationID 20/30), or none (22/32)."""
    references = [(on.number, on.key, on.date)] if on is not None else []
    customization = {"CreditNote": "20", "DebitNote": "30"}[kind] if on else {
        "CreditNote": "22", "DebitNote": "32"}[kind]  # fmt: skip
    return Doc(
        kind=kind,
        number=number,
        references=kwargs.pop("references", references),
        customization=kwargs.pop("customization", customization),
        **kwargs,
    )
