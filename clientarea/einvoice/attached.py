"""AttachedDocument container and the ZIP e-mailed to the buyer (§4 of ``shared/docs/dian-einvoice.md``).

DIAN 1.7-2020 (§4): the buyer receives one ``.zip`` with an AttachedDocument,
optionally the PDF, at most 2 MB per message. The AttachedDocument wraps the
signed Invoice in CDATA and, once DIAN has validated it, DIAN's
ApplicationResponse too (S3), in a ``cac:ParentDocumentLineReference`` after the
attachment (``dian-webservice.md`` §2.8). While DIAN has not accepted the invoice
there is no ApplicationResponse, so none is included (the contingency case of §5
does the same).

File names follow the Anexo Técnico pattern quoted by several public
implementations: ``ad`` + NIT (10 digits, zero-padded, no DV) + ``ppp``
(technology-provider code, ``000`` for own software) + ``aa`` (last two
digits of the year) + ``dddddddd`` (8-digit consecutive, hexadecimal, restarted
every 1 January); the ZIP uses the same stem with ``z`` instead of ``ad``. The e-mail's ZIP and
AttachedDocument take the document's row id as that consecutive (``delivery``): one per file
across invoices, credit notes and debit notes, which number themselves apart (it is not
restarted in January, and it has gaps; nobody validates it, but two files never share a name).
"""

from __future__ import annotations

import io
import zipfile

from cryptography import x509
from lxml import etree

from clientarea.einvoice.documents import InvoiceDocument, Party
from clientarea.einvoice.signing import PrivateKey, sign_invoice
from clientarea.einvoice.ubl import CAC, CBC, DIAN_AGENCY, EXT, NS, TAX_SCHEME_NAMES, to_bytes

ATTACHED_NS = "urn:oasis:names:specification:ubl:schema:xsd:AttachedDocument-2"
AR_NS = "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"
DIAN_NAME = "Unidad Especial Dirección de Impuestos y Aduanas Nacionales"
DS = "http://www.w3.org/2000/09/xmldsig#"
NSMAP = {None: ATTACHED_NS, "cac": CAC, "cbc": CBC, "ds": DS, "ext": EXT, "xades": NS["xades"]}
MAX_EMAIL_BYTES = 2 * 1024 * 1024  # §4: 2 MB per message


def _sub(
    parent: etree._Element, ns: str, name: str, text: str | None = None, **attrs: str
) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{name}", attrs or None)
    if text is not None:
        element.text = text
    return element


def _party_tax_scheme(parent: etree._Element, wrapper: str, party: Party) -> None:
    """SenderParty/ReceiverParty: the PartyTaxScheme block of the invoice party (S3)."""
    node = _sub(_sub(parent, CAC, wrapper), CAC, "PartyTaxScheme")
    _sub(node, CBC, "RegistrationName", party.legal_name)
    _sub(
        node, CBC, "CompanyID", party.document_number, **DIAN_AGENCY,
        schemeID=party.check_digit, schemeName=party.document_type,
    )  # fmt: skip
    _sub(node, CBC, "TaxLevelCode", ";".join(party.fiscal_responsibilities),
         listName="48" if party.tax_scheme == "01" else "49")  # fmt: skip
    scheme = _sub(node, CAC, "TaxScheme")
    _sub(scheme, CBC, "ID", party.tax_scheme)
    _sub(scheme, CBC, "Name", TAX_SCHEME_NAMES[party.tax_scheme])


def _application_response_reference(
    root: etree._Element, application_response: bytes, doc: InvoiceDocument, cufe: str
) -> None:
    """DIAN's ApplicationResponse, verbatim in CDATA, with its verdict and validation time (§2.8)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    ar = etree.fromstring(application_response, parser)
    if ar.tag != f"{{{AR_NS}}}ApplicationResponse":
        raise ValueError(f"not an ApplicationResponse: {ar.tag[:80]!r}")
    code = ar.findtext(f"{{{CAC}}}DocumentResponse/{{{CAC}}}Response/{{{CBC}}}ResponseCode")
    date = ar.findtext(f"{{{CBC}}}IssueDate")
    time = ar.findtext(f"{{{CBC}}}IssueTime")
    if not (code and date and time):
        raise ValueError("the ApplicationResponse lacks its ResponseCode, IssueDate or IssueTime")
    line = _sub(root, CAC, "ParentDocumentLineReference")
    _sub(line, CBC, "LineID", "1")
    reference = _sub(line, CAC, "DocumentReference")
    _sub(reference, CBC, "ID", doc.full_id)
    _sub(reference, CBC, "UUID", cufe, schemeName="CUDE-SHA384" if doc.is_note else "CUFE-SHA384")
    _sub(reference, CBC, "IssueDate", doc.issue_date_str)
    _sub(reference, CBC, "DocumentType", "ApplicationResponse")
    external = _sub(_sub(reference, CAC, "Attachment"), CAC, "ExternalReference")
    _sub(external, CBC, "MimeCode", "text/xml")
    _sub(external, CBC, "EncodingCode", "UTF-8")
    _sub(external, CBC, "Description").text = etree.CDATA(application_response.decode("utf-8"))
    verification = _sub(reference, CAC, "ResultOfVerification")
    _sub(verification, CBC, "ValidatorID", DIAN_NAME)
    _sub(verification, CBC, "ValidationResultCode", code.strip())
    _sub(verification, CBC, "ValidationDate", date.strip())
    _sub(verification, CBC, "ValidationTime", time.strip())


def build_attached_document(
    signed_invoice_bytes: bytes,
    doc: InvoiceDocument,
    *,
    key: PrivateKey | None = None,
    cert: x509.Certificate | None = None,
    application_response: bytes = b"",
    cufe: str = "",
) -> bytes:
    """AttachedDocument wrapping the signed invoice; signed too when ``key`` and ``cert`` are given.

    ``signed_invoice_bytes`` is embedded verbatim (CDATA keeps its signature
    valid). DIAN-issued AttachedDocuments are signed by the issuer (S3), so
    production callers pass the same key and certificate as for the invoice.
    With ``application_response`` (DIAN's, once it accepted the invoice whose CUFE is
    ``cufe``) the container embeds it too, verbatim, after the invoice (§2.8).
    """
    if (key is None) != (cert is None):
        raise ValueError("pass both key and cert, or neither")
    text = signed_invoice_bytes.decode("utf-8")
    root = etree.Element(f"{{{ATTACHED_NS}}}AttachedDocument", nsmap=NSMAP)
    if key is not None:
        _sub(_sub(_sub(root, EXT, "UBLExtensions"), EXT, "UBLExtension"), EXT, "ExtensionContent")
    _sub(root, CBC, "UBLVersionID", "UBL 2.1")
    _sub(root, CBC, "CustomizationID", "Documentos adjuntos")  # as in S3
    _sub(root, CBC, "ProfileID", "Factura Electrónica de Venta")
    _sub(root, CBC, "ProfileExecutionID", doc.environment)
    _sub(root, CBC, "ID", doc.full_id)
    _sub(root, CBC, "IssueDate", doc.issue_date_str)
    _sub(root, CBC, "IssueTime", doc.issue_time_str)
    _sub(root, CBC, "DocumentType", "Contenedor de Factura Electrónica")
    _sub(root, CBC, "ParentDocumentID", doc.full_id)
    _party_tax_scheme(root, "SenderParty", doc.supplier)
    _party_tax_scheme(root, "ReceiverParty", doc.customer)
    reference = _sub(_sub(root, CAC, "Attachment"), CAC, "ExternalReference")
    _sub(reference, CBC, "MimeCode", "text/xml")
    _sub(reference, CBC, "EncodingCode", "UTF-8")
    _sub(reference, CBC, "Description").text = etree.CDATA(text)
    if application_response:
        if not cufe:
            raise ValueError("the invoice's CUFE is needed to reference DIAN's ApplicationResponse")
        _application_response_reference(root, application_response, doc, cufe)
    if key is None or cert is None:
        return to_bytes(root)
    signed = etree.fromstring(
        sign_invoice(root, key, cert), etree.XMLParser(resolve_entities=False)
    )
    # Signing re-parses the tree, turning the CDATA into escaped text. Canonical
    # XML treats both alike, so restoring the CDATA keeps the signature valid.
    for path in (
        "cac:Attachment/cac:ExternalReference/cbc:Description",
        "cac:ParentDocumentLineReference/cac:DocumentReference/cac:Attachment"
        "/cac:ExternalReference/cbc:Description",
    ):
        description = signed.find(path, NS)
        if description is not None:
            description.text = etree.CDATA(description.text)
    return to_bytes(signed)


def dian_file_stem(supplier_nit: str, year: int, sequence: int, provider_code: str = "000") -> str:
    """``nnnnnnnnnnpppaadddddddd`` of the Anexo naming rule (see module docstring)."""
    if not supplier_nit.isdigit() or len(supplier_nit) > 10:
        raise ValueError("supplier NIT must be at most 10 digits, without DV")
    if not (provider_code.isdigit() and len(provider_code) == 3):
        raise ValueError("provider_code must be 3 digits ('000' = own software)")
    if not (0 < sequence <= 0xFFFFFFFF):
        raise ValueError("sequence must fit in 8 hexadecimal digits")
    return f"{supplier_nit.zfill(10)}{provider_code}{year % 100:02d}{sequence:08x}"


def attached_document_filename(
    supplier_nit: str, year: int, sequence: int, provider_code: str = "000"
) -> str:
    """``ad<stem>.xml``, e.g. ``ad0900373076000250000001b.xml``."""
    return f"ad{dian_file_stem(supplier_nit, year, sequence, provider_code)}.xml"


def email_zip_filename(
    supplier_nit: str, year: int, sequence: int, provider_code: str = "000"
) -> str:
    """``z<stem>.zip``: the attachment name of the e-mail."""
    return f"z{dian_file_stem(supplier_nit, year, sequence, provider_code)}.zip"


def build_email_zip(
    attached_document: bytes,
    doc: InvoiceDocument,
    *,
    sequence: int,
    pdf: bytes | None = None,
    provider_code: str = "000",
) -> bytes:
    """ZIP for the buyer: the AttachedDocument and, if given, the PDF with the same stem.

    ``sequence`` is the issuer's yearly consecutive of such files. Raises
    ``ValueError`` when the result exceeds DIAN's 2 MB e-mail limit (§4).
    """
    xml_name = attached_document_filename(
        doc.supplier.document_number, doc.issue_date.year, sequence, provider_code
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_entry(xml_name, doc), attached_document)
        if pdf is not None:
            archive.writestr(_entry(xml_name[:-4] + ".pdf", doc), pdf)
    data = buffer.getvalue()
    if len(data) > MAX_EMAIL_BYTES:
        raise ValueError(f"e-mail ZIP is {len(data)} bytes; DIAN allows at most {MAX_EMAIL_BYTES}")
    return data


def _entry(name: str, doc: InvoiceDocument) -> zipfile.ZipInfo:
    """A ZIP entry dated at the invoice's issue time, so the ZIP is reproducible."""
    local = doc.local_issue
    info = zipfile.ZipInfo(
        name, date_time=(local.year, local.month, local.day, local.hour, local.minute, local.second)
    )
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info
