"""XSD validation of invoices and AttachedDocuments (§3 of ``shared/docs/dian-einvoice.md``).

- Hard gate: ``UBL-Invoice-2.1.xsd`` (the lax extension wildcard skips
  ``sts:DianExtensions`` but does validate ``ds:Signature``/XAdES).
- Then ``sts:DianExtensions`` alone against ``DIAN_UBL_Structures.xsd``,
  ignoring exactly one documented quirk (§3): that XSD enumerates document
  types for ``sts:ProviderID/@schemeID`` and ``sts:AuthorizationProviderID/@schemeID``
  while DIAN's samples and DIAN-accepted invoices put the NIT check digit there.

Schemas are compiled once, lazily, under a lock; validation calls are also
serialized per schema because an lxml ``XMLSchema`` keeps its error log on the
object.
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path

from lxml import etree

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas" / "ubl21" / "maindoc"
INVOICE_XSD = SCHEMA_DIR / "UBL-Invoice-2.1.xsd"
DIAN_XSD = SCHEMA_DIR / "DIAN_UBL_Structures.xsd"
ATTACHED_XSD = SCHEMA_DIR / "UBL-AttachedDocument-2.1.xsd"
AR_XSD = SCHEMA_DIR / "UBL-ApplicationResponse-2.1.xsd"
AR_NS = "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
ATTACHED_NS = "urn:oasis:names:specification:ubl:schema:xsd:AttachedDocument-2"
STS = "dian:gov:co:facturaelectronica:Structures-2-1"
NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "ext": "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2",
    "sts": STS,
}

# §3 quirk: the only DIAN-XSD errors we tolerate, and only when the attribute
# holds a single digit (a DV), so any other bad value is still reported.
_QUIRK_ELEMENTS = {f"{{{STS}}}ProviderID", f"{{{STS}}}AuthorizationProviderID"}


class NotAnInvoice(ValueError):
    """The bytes are not well-formed XML, or the root is not a UBL Invoice."""


class _LazySchema:
    """An XSD compiled on first use; thread-safe compile and validate."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._schema: etree.XMLSchema | None = None
        self._lock = threading.Lock()

    def _get(self) -> etree.XMLSchema:
        if self._schema is None:
            parser = etree.XMLParser(no_network=True, resolve_entities=False)
            self._schema = etree.XMLSchema(etree.parse(str(self._path), parser))
        return self._schema

    def errors(self, tree: etree._Element | etree._ElementTree) -> list[etree._LogEntry]:
        """Validation errors of ``tree`` (empty when valid)."""
        with self._lock:
            schema = self._get()
            if schema.validate(tree):
                return []
            return list(schema.error_log)


_invoice_schema = _LazySchema(INVOICE_XSD)
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
DEBIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:DebitNote-2"
#: The documents DIAN validates, by root element, with their UBL 2.1 schema.
_DOCUMENT_SCHEMAS = {
    f"{{{INVOICE_NS}}}Invoice": _invoice_schema,
    f"{{{CREDIT_NOTE_NS}}}CreditNote": _LazySchema(SCHEMA_DIR / "UBL-CreditNote-2.1.xsd"),
    f"{{{DEBIT_NOTE_NS}}}DebitNote": _LazySchema(SCHEMA_DIR / "UBL-DebitNote-2.1.xsd"),
}
_dian_schema = _LazySchema(DIAN_XSD)
_attached_schema = _LazySchema(ATTACHED_XSD)
_ar_schema = _LazySchema(AR_XSD)


def _parse(xml: bytes | str | etree._Element | etree._ElementTree) -> etree._Element:
    if isinstance(xml, etree._ElementTree):
        return xml.getroot()
    if isinstance(xml, etree._Element):
        return xml
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    parser = etree.XMLParser(no_network=True, resolve_entities=False, huge_tree=False)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise NotAnInvoice(f"malformed XML: {exc}") from exc


def _format(entry: etree._LogEntry) -> str:
    where = f"line {entry.line}" if entry.line else entry.path
    return f"{where}: {entry.message}"


def _is_schemeid_quirk(entry: etree._LogEntry, block: etree._Element) -> bool:
    """True for the documented DV-in-schemeID error on the two provider IDs (§3)."""
    if (
        entry.type_name != "SCHEMAV_CVC_ENUMERATION_VALID"
        or "attribute 'schemeID'" not in entry.message
    ):
        return False
    try:
        found = block.getroottree().xpath(entry.path, namespaces=NS)
    except etree.XPathError:
        return False
    if len(found) != 1 or found[0].tag not in _QUIRK_ELEMENTS:
        return False
    value = found[0].get("schemeID", "")
    return len(value) == 1 and value.isdigit()


def dian_extension_errors(root: etree._Element) -> list[str]:
    """Check ``sts:DianExtensions`` against the DIAN XSD, minus the §3 quirk."""
    blocks = root.xpath(
        "ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sts:DianExtensions", namespaces=NS
    )
    if len(blocks) != 1:
        return [f"expected exactly one sts:DianExtensions, found {len(blocks)}"]
    block = copy.deepcopy(blocks[0])  # validated as a document of its own
    tree = etree.ElementTree(block)
    return [
        f"DianExtensions {_format(e)}"
        for e in _dian_schema.errors(tree)
        if not _is_schemeid_quirk(e, block)
    ]


def _without_empty_signature_slot(root: etree._Element) -> etree._Element:
    """A copy without trailing empty ``ext:UBLExtension`` (the unfilled signature slot)."""
    root = copy.deepcopy(root)
    for extension in root.xpath("ext:UBLExtensions/ext:UBLExtension", namespaces=NS):
        content = extension.find("ext:ExtensionContent", NS)
        if content is not None and len(content) == 0 and not (content.text or "").strip():
            extension.getparent().remove(extension)
    return root


def validate_invoice(
    xml: bytes | str | etree._Element | etree._ElementTree, *, allow_unsigned: bool = False
) -> list[str]:
    """Errors of an Invoice, CreditNote or DebitNote against its UBL 2.1 XSD and DIAN's extension
    XSD; [] = valid.

    Raises :class:`NotAnInvoice` for malformed XML or a root other than those three.
    With ``allow_unsigned`` an empty signature slot is tolerated, so a document
    straight out of :func:`clientarea.einvoice.ubl.build_invoice_xml` can be
    checked before signing; by default the XSD reports it as a missing element.
    """
    root = _parse(xml)
    schema = _DOCUMENT_SCHEMAS.get(root.tag)
    if schema is None:
        raise NotAnInvoice(
            f"root element is {root.tag}, not a UBL Invoice, CreditNote or DebitNote"
        )
    target = _without_empty_signature_slot(root) if allow_unsigned else root
    errors = [_format(e) for e in schema.errors(etree.ElementTree(target))]
    errors += dian_extension_errors(root)
    return errors


def embedded_invoice(xml: bytes | str | etree._Element | etree._ElementTree) -> bytes:
    """The invoice carried in CDATA by an AttachedDocument (first Attachment)."""
    root = _parse(xml)
    text = root.findtext("cac:Attachment/cac:ExternalReference/cbc:Description", namespaces=NS)
    if not text:
        raise NotAnInvoice("AttachedDocument carries no document in cac:Attachment")
    return text.encode("utf-8")


_AR_DESCRIPTION = (
    "cac:ParentDocumentLineReference/cac:DocumentReference/cac:Attachment"
    "/cac:ExternalReference/cbc:Description"
)


def embedded_application_response(
    xml: bytes | str | etree._Element | etree._ElementTree,
) -> bytes:
    """DIAN's ApplicationResponse carried by an AttachedDocument (§2.8); b"" when there is none."""
    text = _parse(xml).findtext(_AR_DESCRIPTION, namespaces=NS)
    return text.encode("utf-8") if text else b""


def validate_application_response(
    xml: bytes | str | etree._Element | etree._ElementTree,
) -> list[str]:
    """Errors of an ApplicationResponse against the UBL 2.1 XSD; [] = valid."""
    root = _parse(xml)
    if root.tag != f"{{{AR_NS}}}ApplicationResponse":
        return [f"root element is {root.tag}, not a UBL ApplicationResponse"]
    return [_format(e) for e in _ar_schema.errors(etree.ElementTree(root))]


def validate_attached_document(xml: bytes | str | etree._Element | etree._ElementTree) -> list[str]:
    """Errors of an AttachedDocument (its XSD), of the Invoice it wraps and of DIAN's
    ApplicationResponse when it carries one; [] = valid."""
    root = _parse(xml)
    if root.tag != f"{{{ATTACHED_NS}}}AttachedDocument":
        raise NotAnInvoice(f"root element is {root.tag}, not a UBL AttachedDocument")
    errors = [_format(e) for e in _attached_schema.errors(etree.ElementTree(root))]
    try:
        inner = embedded_invoice(root)
        errors += [f"embedded invoice: {message}" for message in validate_invoice(inner)]
    except NotAnInvoice as exc:
        errors.append(f"embedded invoice: {exc}")
    application_response = embedded_application_response(root)
    if application_response:
        try:
            errors += [
                f"embedded ApplicationResponse: {message}"
                for message in validate_application_response(application_response)
            ]
        except NotAnInvoice as exc:
            errors.append(f"embedded ApplicationResponse: {exc}")
    return errors
