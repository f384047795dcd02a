"""CUFE (código único de factura electrónica) and SoftwareSecurityCode.

The CUFE is a SHA-384 over a plain concatenation of strings taken from the
invoice XML (§1.1 of ``shared/docs/dian-einvoice.md``). These functions take
the *exact strings* written in the XML, never numbers, so that what we hash is
byte-for-byte what DIAN reads back; :func:`cufe_from_xml` re-reads those
strings from a document to check it independently of how it was built.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass

from lxml import etree

NS = {
    "inv": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "cn": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
    "dn": "urn:oasis:names:specification:ubl:schema:xsd:DebitNote-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}

# §1.1: the three tax slots, in this order, with these codes (IVA, INC, ICA).
# The 2019 slide deck still said "02" for the second one; DIAN's own sample
# and the Anexo example use "04".
TAX_CODES = ("01", "04", "03")

_AMOUNT = re.compile(r"^\d+\.\d{2}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}:\d{2}-05:00$")


class CufeInputError(ValueError):
    """A CUFE field is not in the format DIAN hashes (§1.1)."""


@dataclass(frozen=True)
class CufeFields:
    """The CUFE inputs as they appear in the XML, in DIAN's order (§1.1)."""

    num_fac: str
    fec_fac: str
    hor_fac: str
    val_fac: str
    val_imp1: str
    val_imp2: str
    val_imp3: str
    val_tot: str
    nit_ofe: str
    num_adq: str
    tipo_ambie: str


def _check(fields: CufeFields, cl_tec: str) -> None:
    """Reject values that cannot be what the XML carries, e.g. a Decimal('1E+3')."""
    if not fields.num_fac:
        raise CufeInputError("NumFac is empty")
    if not _DATE.match(fields.fec_fac):
        raise CufeInputError(f"FecFac must be YYYY-MM-DD, got {fields.fec_fac!r}")
    if not _TIME.match(fields.hor_fac):
        raise CufeInputError(f"HorFac must be HH:MM:SS-05:00, got {fields.hor_fac!r}")
    for name in ("val_fac", "val_imp1", "val_imp2", "val_imp3", "val_tot"):
        value = getattr(fields, name)
        if not isinstance(value, str) or not _AMOUNT.match(value):
            raise CufeInputError(
                f"{name} must be a string with 2 decimals like '1500000.00', got {value!r}"
            )
    if not fields.nit_ofe.isdigit():
        raise CufeInputError("NitOFE must be the supplier NIT, digits only and without DV")
    if not fields.num_adq:
        raise CufeInputError("NumAdq is empty")
    if not cl_tec:
        raise CufeInputError("ClTec (technical key) is empty")
    if fields.tipo_ambie not in ("1", "2"):
        raise CufeInputError("TipoAmbie must be '1' (producción) or '2' (pruebas)")


def cufe_input(fields: CufeFields, technical_key: str) -> str:
    """The string DIAN hashes: the fields with the tax codes and the technical key (ClTec; a
    note's software PIN), concatenated without separators."""
    _check(fields, technical_key)
    return "".join(
        (
            fields.num_fac,
            fields.fec_fac,
            fields.hor_fac,
            fields.val_fac,
            TAX_CODES[0],
            fields.val_imp1,
            TAX_CODES[1],
            fields.val_imp2,
            TAX_CODES[2],
            fields.val_imp3,
            fields.val_tot,
            fields.nit_ofe,
            fields.num_adq,
            technical_key,
            fields.tipo_ambie,
        )
    )


def compute_cufe(fields: CufeFields, technical_key: str) -> str:
    """CUFE = SHA-384 of :func:`cufe_input`, 96 lower-case hex characters (§1.1)."""
    return hashlib.sha384(cufe_input(fields, technical_key).encode("utf-8")).hexdigest()


def software_security_code(software_id: str, pin: str, number: str) -> str:
    """SHA-384(software id + software PIN + document cbc:ID) (§1.4)."""
    if not software_id or not pin or not number:
        raise ValueError("software_id, pin and number are all required")
    return hashlib.sha384(f"{software_id}{pin}{number}".encode()).hexdigest()


# -- reading the fields back from a document -----------------------------------


def _root(xml: bytes | str | etree._Element | etree._ElementTree) -> etree._Element:
    if isinstance(xml, etree._ElementTree):
        return xml.getroot()
    if isinstance(xml, etree._Element):
        return xml
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    return etree.fromstring(data, parser)


@functools.lru_cache(maxsize=64)
def _xpath(path: str) -> etree.XPath:
    """Each path is compiled once (the CUFE is read at every render and every check)."""
    return etree.XPath(path, namespaces=NS)


def _text(root: etree._Element, path: str, *, required: bool = True) -> str:
    found = _xpath(path)(root)
    assert isinstance(found, list)
    if not found:
        if required:
            raise CufeInputError(f"missing {path}")
        return ""
    if len(found) > 1:
        raise CufeInputError(f"{path} appears {len(found)} times")
    return (found[0].text or "").strip()


def _tax_total(root: etree._Element, code: str) -> str:
    """TaxTotal/TaxAmount of the TaxTotal whose scheme is ``code``; 0.00 if absent (§1.1)."""
    path = (
        f"cac:TaxTotal[cac:TaxSubtotal/cac:TaxCategory/cac:TaxScheme/cbc:ID='{code}']/cbc:TaxAmount"
    )
    return _text(root, path, required=False) or "0.00"


#: Root element of each document with a CUFE/CUDE, and where its totals are: a debit note's
#: are in ``RequestedMonetaryTotal`` (``dian-webservice.md`` §4.3).
_TOTALS = {
    f"{{{NS['inv']}}}Invoice": "cac:LegalMonetaryTotal",
    f"{{{NS['cn']}}}CreditNote": "cac:LegalMonetaryTotal",
    f"{{{NS['dn']}}}DebitNote": "cac:RequestedMonetaryTotal",
}


def is_note(xml: bytes | str | etree._Element | etree._ElementTree) -> bool:
    """A CreditNote or DebitNote (its key is a CUDE, hashed with the software PIN)."""
    return _root(xml).tag != f"{{{NS['inv']}}}Invoice"


def cufe_fields_from_xml(xml: bytes | str | etree._Element | etree._ElementTree) -> CufeFields:
    """Read the CUFE (or CUDE) inputs from an Invoice's, CreditNote's or DebitNote's own
    elements (XPaths of §1.1; §4.3 of ``dian-webservice.md`` for notes)."""
    root = _root(xml)
    totals = _TOTALS.get(root.tag)
    if totals is None:
        raise CufeInputError(f"not a UBL Invoice or note: root element is {root.tag}")
    party_id = "cac:{}/cac:Party/cac:PartyTaxScheme/cbc:CompanyID"
    return CufeFields(
        num_fac=_text(root, "cbc:ID"),
        fec_fac=_text(root, "cbc:IssueDate"),
        hor_fac=_text(root, "cbc:IssueTime"),
        val_fac=_text(root, f"{totals}/cbc:LineExtensionAmount"),
        val_imp1=_tax_total(root, TAX_CODES[0]),
        val_imp2=_tax_total(root, TAX_CODES[1]),
        val_imp3=_tax_total(root, TAX_CODES[2]),
        val_tot=_text(root, f"{totals}/cbc:PayableAmount"),
        nit_ofe=_text(root, party_id.format("AccountingSupplierParty")),
        num_adq=_text(root, party_id.format("AccountingCustomerParty")),
        tipo_ambie=_text(root, "cbc:ProfileExecutionID"),
    )


def cufe_from_xml(
    xml: bytes | str | etree._Element | etree._ElementTree, technical_key: str
) -> str:
    """Recompute the CUFE of an Invoice from its own fields and the range's ClTec."""
    return compute_cufe(cufe_fields_from_xml(xml), technical_key)


def declared_cufe(xml: bytes | str | etree._Element | etree._ElementTree) -> str:
    """The CUFE the document claims, i.e. its ``cbc:UUID``."""
    return _text(_root(xml), "cbc:UUID")


def verify_cufe(xml: bytes | str | etree._Element | etree._ElementTree, technical_key: str) -> bool:
    """True when ``cbc:UUID`` equals the CUFE recomputed from the document's fields."""
    root = _root(xml)
    return declared_cufe(root) == cufe_from_xml(root, technical_key)
