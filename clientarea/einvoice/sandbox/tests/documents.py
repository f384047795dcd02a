"""Test-only documents: the product's invoice builder and signer produce realistic input;
credit and debit notes are derived from an invoice by hand; keys are recomputed here with
``hashlib`` straight from the formulas in the docs (not with the simulator's ``keys``)."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import io
import zipfile
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from lxml import etree

from clientarea.einvoice.signing import sign_invoice
from clientarea.einvoice.tests import factories
from clientarea.einvoice.ubl import build_invoice_xml

from . import wss

BOGOTA = ZoneInfo("America/Bogota")
TEST_KEY = "fc8eac422eba16e22ffd8c6f94b3f40a6e38162c"
SOFTWARE_ID = "56f2ae4e-9812-4fad-9255-08fcfcd5ccb0"
PIN = "12345"
NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "sts": "dian:gov:co:facturaelectronica:Structures-2-1",
    "ext": "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2",
}
CBC, CAC = NS["cbc"], NS["cac"]
_numbers = iter(range(990_100_000, 990_999_999))


def next_number() -> int:
    return next(_numbers)


def invoice(number: int | None = None, **overrides) -> etree._Element:
    """An unsigned invoice of today (Bogotá), built by the product's builder."""
    issue = dt.datetime.now(BOGOTA).replace(microsecond=0)
    doc = factories.invoice(
        number=number or next_number(), issue=issue, due=issue.date(),
        software_provider_nit="800123456", software_provider_dv="7", **overrides,
    )  # fmt: skip
    return build_invoice_xml(doc)


def _t(root: etree._Element, path: str) -> str:
    found = root.xpath(path, namespaces=NS)
    return found[0].text.strip() if found and found[0].text else ""


def _trunc(value: str) -> str:
    return str(Decimal(value or "0").quantize(Decimal("0.01"), rounding=ROUND_DOWN))


def _tax(root: etree._Element, code: str) -> str:
    for total in root.xpath("cac:TaxTotal", namespaces=NS):
        if _t(total, "cac:TaxSubtotal/cac:TaxCategory/cac:TaxScheme/cbc:ID") == code:
            return _t(total, "cbc:TaxAmount")
    return "0.00"


def finish(root: etree._Element, secret: str | None = None) -> etree._Element:
    """Recompute SoftwareSecurityCode and the CUFE/CUDE from the document's own fields."""
    name = etree.QName(root).localname
    totals = "cac:RequestedMonetaryTotal" if name == "DebitNote" else "cac:LegalMonetaryTotal"
    number = _t(root, "cbc:ID")
    if secret is None:
        secret = TEST_KEY if name == "Invoice" else PIN
    text = (
        number + _t(root, "cbc:IssueDate") + _t(root, "cbc:IssueTime")
        + _trunc(_t(root, f"{totals}/cbc:LineExtensionAmount"))
        + "01" + _trunc(_tax(root, "01")) + "04" + _trunc(_tax(root, "04"))
        + "03" + _trunc(_tax(root, "03")) + _trunc(_t(root, f"{totals}/cbc:PayableAmount"))
        + _t(root, "cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID")
        + _t(root, "cac:AccountingCustomerParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID")
        + secret + _t(root, "cbc:ProfileExecutionID")
    )  # fmt: skip
    root.find(f"{{{CBC}}}UUID").text = hashlib.sha384(text.encode()).hexdigest()
    code = root.find(".//sts:SoftwareSecurityCode", NS)
    code.text = hashlib.sha384(f"{SOFTWARE_ID}{PIN}{number}".encode()).hexdigest()
    return root


def _rename(el: etree._Element, ns: str, name: str) -> None:
    el.tag = f"{{{ns}}}{name}"


def note(
    invoice_root: etree._Element, kind: str, *, number: str, reference: bool = True
) -> etree._Element:
    """A CreditNote or DebitNote for the whole of ``invoice_root`` (which must be signed or not)."""
    root = copy.deepcopy(invoice_root)
    signature = root.find(".//{http://www.w3.org/2000/09/xmldsig#}Signature")
    if signature is not None:
        signature.getparent().remove(signature)
    inv_number, inv_key, inv_date = (
        _t(root, "cbc:ID"), _t(root, "cbc:UUID"), _t(root, "cbc:IssueDate"),
    )  # fmt: skip
    main = f"urn:oasis:names:specification:ubl:schema:xsd:{kind}-2"
    nsmap = {k: v for k, v in root.nsmap.items() if k is not None}
    new = etree.Element(f"{{{main}}}{kind}", nsmap={None: main, **nsmap})
    new.extend(list(root))
    root = new
    control = root.find(".//sts:InvoiceControl", NS)
    control.getparent().remove(control)
    root.find(f"{{{CBC}}}CustomizationID").text = (
        ("20" if kind == "CreditNote" else "30")
        if reference
        else ("22" if kind == "CreditNote" else "32")
    )
    label = "Nota Crédito" if kind == "CreditNote" else "Nota Débito"
    root.find(f"{{{CBC}}}ProfileID").text = f"DIAN 2.1: {label} de Factura Electrónica de Venta"
    root.find(f"{{{CBC}}}ID").text = number
    root.find(f"{{{CBC}}}UUID").set("schemeName", "CUDE-SHA384")
    root.remove(root.find(f"{{{CBC}}}DueDate"))
    type_code = root.find(f"{{{CBC}}}InvoiceTypeCode")
    if kind == "CreditNote":
        _rename(type_code, CBC, "CreditNoteTypeCode")
        type_code.text = "91"
    else:
        root.remove(type_code)
    discrepancy = etree.Element(f"{{{CAC}}}DiscrepancyResponse")
    etree.SubElement(discrepancy, f"{{{CBC}}}ReferenceID").text = inv_number
    etree.SubElement(discrepancy, f"{{{CBC}}}ResponseCode").text = (
        "2" if kind == "CreditNote" else "4"
    )
    etree.SubElement(discrepancy, f"{{{CBC}}}Description").text = "Anulación de prueba"
    order = root.find(f"{{{CAC}}}OrderReference")
    order.addprevious(discrepancy)
    if reference:
        billing = etree.Element(f"{{{CAC}}}BillingReference")
        doc_ref = etree.SubElement(billing, f"{{{CAC}}}InvoiceDocumentReference")
        etree.SubElement(doc_ref, f"{{{CBC}}}ID").text = inv_number
        etree.SubElement(doc_ref, f"{{{CBC}}}UUID", schemeName="CUFE-SHA384").text = inv_key
        etree.SubElement(doc_ref, f"{{{CBC}}}IssueDate").text = inv_date
        order.addnext(billing)
    if kind == "DebitNote":
        _rename(root.find(f"{{{CAC}}}LegalMonetaryTotal"), CAC, "RequestedMonetaryTotal")
    line, qty = (
        ("CreditNoteLine", "CreditedQuantity")
        if kind == "CreditNote"
        else ("DebitNoteLine", "DebitedQuantity")
    )
    for el in root.findall(f"{{{CAC}}}InvoiceLine"):
        _rename(el, CAC, line)
        _rename(el.find(f"{{{CBC}}}InvoicedQuantity"), CBC, qty)
        period = el.find(f"{{{CAC}}}InvoicePeriod")
        if kind == "DebitNote" and period is not None:  # DebitNoteLine has no InvoicePeriod
            el.remove(period)
    return finish(root)


def sign(root: etree._Element, key=None, cert=None) -> bytes:
    if key is None or cert is None:
        key, cert = wss.identity()
    return sign_invoice(root, key, cert)


def zipped(files: dict[str, bytes]) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return base64.b64encode(buffer.getvalue()).decode()


def package(xml: bytes, name: str = "fv09003730760002600000001") -> dict[str, str]:
    return {"fileName": f"z{name[2:]}.zip", "contentFile": zipped({f"{name}.xml": xml})}
