"""Reading a UBL 2.1 Invoice / CreditNote / DebitNote the way DIAN's parser does (by local name).

Only the fields DIAN's rules need; nothing here is shared with the product's invoice code.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from lxml import etree

from .models import DocumentKind

ROOTS = {
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2": ("Invoice", DocumentKind.INVOICE),
    "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2": (
        "CreditNote",
        DocumentKind.CREDIT_NOTE,
    ),
    "urn:oasis:names:specification:ubl:schema:xsd:DebitNote-2": (
        "DebitNote",
        DocumentKind.DEBIT_NOTE,
    ),
}
# The letter DIAN's rule codes start with: F(actura), C(rédito), D(ébito).
RULE_LETTER = {
    DocumentKind.INVOICE: "F",
    DocumentKind.CREDIT_NOTE: "C",
    DocumentKind.DEBIT_NOTE: "D",
}
TYPE_NAME = {
    DocumentKind.INVOICE: "Factura electrónica",
    DocumentKind.CREDIT_NOTE: "Nota crédito electrónica",
    DocumentKind.DEBIT_NOTE: "Nota débito electrónica",
}

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class NotUbl(ValueError):
    """Not one of the three document types: DIAN's rule ZB01."""


def parse(content: bytes) -> etree._Element:
    """The document root; :class:`etree.XMLSyntaxError` when it is not XML."""
    return etree.fromstring(content, _PARSER)


def _local(path: str) -> str:
    """``a/b`` → ``*[local-name()='a']/*[local-name()='b']``."""
    return "/".join(
        step if step in (".", "..") else f"*[local-name()='{step}']" for step in path.split("/")
    )


@functools.cache
def _xpath(path: str) -> etree.XPath:
    """``path`` compiled once per process (lxml locks each compiled XPath while it evaluates, so
    the threads of a process may share it)."""
    return etree.XPath(_local(path))


def text(root: etree._Element, path: str) -> str:
    found = _xpath(path)(root)
    if not found:
        return ""
    node = found[0]
    return (node.text or "").strip() if isinstance(node, etree._Element) else str(node).strip()


def nodes(root: etree._Element, path: str) -> list[etree._Element]:
    return [n for n in _xpath(path)(root) if isinstance(n, etree._Element)]


def attr(root: etree._Element, path: str, name: str) -> str:
    found = nodes(root, path)
    return (found[0].get(name) or "").strip() if found else ""


@dataclass(frozen=True)
class Facts:
    """What the rules read from a document."""

    kind: DocumentKind
    root_name: str
    type_code: str  # InvoiceTypeCode / CreditNoteTypeCode; "92" for DebitNote
    customization: str
    number: str
    key: str  # cbc:UUID (CUFE/CUDE)
    issue_date: str
    issue_time: str
    environment: str  # ProfileExecutionID
    supplier_nit: str
    supplier_dv: str
    supplier_scheme: str
    supplier_name: str
    customer_id: str
    customer_dv: str
    customer_scheme: str
    software_id: str
    software_provider_nit: str
    security_code: str
    resolution: str
    authorized_prefix: str
    totals_path: str  # LegalMonetaryTotal or RequestedMonetaryTotal
    payable: str  # PayableAmount of the totals above, as written

    @property
    def letter(self) -> str:
        return RULE_LETTER[self.kind]

    @property
    def type_name(self) -> str:
        return TYPE_NAME[self.kind]


def facts(root: etree._Element) -> Facts:
    ns = etree.QName(root).namespace or ""
    if ns not in ROOTS or etree.QName(root).localname != ROOTS[ns][0]:
        raise NotUbl(f"Elemento raíz {etree.QName(root).localname} no es un documento electrónico.")
    root_name, kind = ROOTS[ns]
    type_code = {
        DocumentKind.INVOICE: text(root, "InvoiceTypeCode"),
        DocumentKind.CREDIT_NOTE: text(root, "CreditNoteTypeCode") or "91",
        DocumentKind.DEBIT_NOTE: "92",
    }[kind]
    totals = "RequestedMonetaryTotal" if kind == DocumentKind.DEBIT_NOTE else "LegalMonetaryTotal"
    supplier = "AccountingSupplierParty/Party/PartyTaxScheme/CompanyID"
    customer = "AccountingCustomerParty/Party/PartyTaxScheme/CompanyID"
    dian = "UBLExtensions/UBLExtension/ExtensionContent/DianExtensions"
    return Facts(
        kind=kind,
        root_name=root_name,
        type_code=type_code,
        customization=text(root, "CustomizationID"),
        number=text(root, "ID"),
        key=text(root, "UUID"),
        issue_date=text(root, "IssueDate"),
        issue_time=text(root, "IssueTime"),
        environment=text(root, "ProfileExecutionID"),
        supplier_nit=text(root, supplier),
        supplier_dv=attr(root, supplier, "schemeID"),
        supplier_scheme=attr(root, supplier, "schemeName"),
        supplier_name=text(root, "AccountingSupplierParty/Party/PartyTaxScheme/RegistrationName"),
        customer_id=text(root, customer),
        customer_dv=attr(root, customer, "schemeID"),
        customer_scheme=attr(root, customer, "schemeName"),
        software_id=text(root, f"{dian}/SoftwareProvider/SoftwareID"),
        software_provider_nit=text(root, f"{dian}/SoftwareProvider/ProviderID"),
        security_code=text(root, f"{dian}/SoftwareSecurityCode"),
        resolution=text(root, f"{dian}/InvoiceControl/InvoiceAuthorization"),
        authorized_prefix=text(root, f"{dian}/InvoiceControl/AuthorizedInvoices/Prefix"),
        totals_path=totals,
        payable=text(root, f"{totals}/PayableAmount"),
    )


def tax_total(root: etree._Element, scheme: str) -> str:
    """The document-level TaxTotal/TaxAmount of one tax scheme (01 IVA, 04 INC, 03 ICA)."""
    for total in nodes(root, "TaxTotal"):
        if text(total, "TaxSubtotal/TaxCategory/TaxScheme/ID") == scheme:
            return text(total, "TaxAmount")
    return ""


def billing_references(root: etree._Element) -> list[tuple[str, str, str]]:
    """(ID, UUID, IssueDate) of every BillingReference/InvoiceDocumentReference."""
    return [
        (text(ref, "ID"), text(ref, "UUID"), text(ref, "IssueDate"))
        for ref in nodes(root, "BillingReference/InvoiceDocumentReference")
    ]
