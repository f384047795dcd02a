"""DIAN's answers, parsed into frozen dataclasses (``dian-webservice.md`` §1.5, §2).

WCF serializes DataContracts with one namespace per type
(``http://schemas.datacontract.org/2004/07/<Type>``); empty values are ``i:nil="true"``.
Everything here reads elements by namespace and name, never by position or prefix.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from clientarea.einvoice.dian.envelope import SOAP, WCF

DATACONTRACT = "http://schemas.datacontract.org/2004/07/"
DIAN_RESPONSE = DATACONTRACT + "DianResponse"
UPLOAD_RESPONSE = DATACONTRACT + "UploadDocumentResponse"
TRACK_ID = DATACONTRACT + "XmlParamsResponseTrackId"
RANGE_LIST = DATACONTRACT + "NumberRangeResponseList"
RANGE = DATACONTRACT + "NumberRangeResponse"
ARRAYS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

#: Status codes (§2.3).
ACCEPTED = "00"
REJECTED = "99"
IN_PROGRESS = "98"
NOT_FOUND = frozenset({"66", "90"})
REQUEST_ERROR = "89"
SERVER_ERROR = "500"
#: Rule of "Documento procesado anteriormente." (§2.5).
ALREADY_PROCESSED_RULE = "90"


class ParseError(ValueError):
    """The answer is not what DIAN's service contract says it sends."""


class MessageKind(StrEnum):
    REJECTION = "rejection"
    NOTIFICATION = "notification"


# "Regla: FAD06, Rechazo: Valor del CUFE…" (DIAN's server) and "Regla: AA09 Valor del CUFE…"
# (the Anexo's samples, without comma and word): both forms (§2.4).
_RULE = re.compile(
    r"^\s*Regla\s*:\s*(?P<rule>[^\s,]+)\s*,?\s*"
    r"(?:(?P<kind>Rechazo|Notificaci[oó]n)\s*:\s*)?(?P<text>.*)$",
    re.DOTALL | re.IGNORECASE,
)


@dataclass(frozen=True)
class RuleMessage:
    """One ``ErrorMessage`` string: the rule code, whether it rejects or only notifies, the text."""

    rule: str
    kind: MessageKind
    text: str
    raw: str

    @classmethod
    def parse(cls, raw: str, *, is_valid: bool) -> RuleMessage:
        """Split DIAN's string. A message that names no kind is a notification when the
        document is valid and a rejection otherwise (``IsValid`` is true exactly when nothing
        rejects, §2.4)."""
        default = MessageKind.NOTIFICATION if is_valid else MessageKind.REJECTION
        match = _RULE.match(raw)
        if match is None:
            return cls(rule="", kind=default, text=raw.strip(), raw=raw)
        word = (match["kind"] or "").lower()
        if word.startswith("rechazo"):
            kind = MessageKind.REJECTION
        elif word.startswith("notificaci"):
            kind = MessageKind.NOTIFICATION
        else:
            kind = default
        return cls(rule=match["rule"], kind=kind, text=match["text"].strip(), raw=raw)


@dataclass(frozen=True)
class DianResponse:
    """``DianResponse``: the outcome of SendBillSync, GetStatus and each GetStatusZip entry."""

    is_valid: bool
    status_code: str
    status_description: str
    status_message: str
    messages: tuple[RuleMessage, ...]
    #: The document's CUFE/CUDE in lower case: the trackId of GetStatus.
    xml_document_key: str
    xml_file_name: str
    #: DIAN's ApplicationResponse XML (decoded ``XmlBase64Bytes``); empty when DIAN sent none.
    application_response: bytes

    @property
    def errors(self) -> tuple[RuleMessage, ...]:
        return tuple(m for m in self.messages if m.kind == MessageKind.REJECTION)

    @property
    def notifications(self) -> tuple[RuleMessage, ...]:
        return tuple(m for m in self.messages if m.kind == MessageKind.NOTIFICATION)

    @property
    def already_processed(self) -> bool:
        """Rule 90 alone: DIAN accepted this document earlier and sends that outcome again."""
        errors = self.errors
        return len(errors) == 1 and errors[0].rule == ALREADY_PROCESSED_RULE

    @property
    def accepted(self) -> bool:
        """DIAN validated the document (now, or earlier for an "already processed" answer)."""
        return (self.is_valid and self.status_code == ACCEPTED) or self.already_processed

    @property
    def rejected(self) -> bool:
        """Validation found mandatory errors: fix the document, resend with the same number."""
        return self.status_code == REJECTED and not self.is_valid and not self.already_processed

    @property
    def pending(self) -> bool:
        """Received, validation not finished (98; an empty code in GetStatusZip): ask again."""
        return not self.is_valid and self.status_code in (IN_PROGRESS, "")

    @property
    def not_found(self) -> bool:
        """In a GetStatus answer: DIAN has no document with that trackId (66, or 90 in the
        Anexo's table). In a SendBillSync answer 66 means the document lacks its basics."""
        return self.status_code in NOT_FOUND


@dataclass(frozen=True)
class UploadMessage:
    """``XmlParamsResponseTrackId``: why one document of an asynchronous upload was refused."""

    document_key: str
    processed_message: str
    sender_code: str
    success: bool
    xml_file_name: str


@dataclass(frozen=True)
class UploadResponse:
    """``UploadDocumentResponse`` of SendTestSetAsync/SendBillAsync: the ZipKey to poll."""

    zip_key: str
    errors: tuple[UploadMessage, ...]

    @property
    def received(self) -> bool:
        return bool(self.zip_key)


@dataclass(frozen=True)
class NumberingRange:
    """One ``NumberRangeResponse``: a numbering resolution DIAN authorized for the software."""

    resolution_number: str
    resolution_date: dt.date | None
    prefix: str
    from_number: int
    to_number: int
    valid_from: dt.date | None
    valid_to: dt.date | None
    #: The clave técnica of the CUFE; empty for ranges that have none.
    technical_key: str


@dataclass(frozen=True)
class NumberingRangeResponse:
    """``NumberRangeResponseList``: 100 OK, 301/302/303 nothing for that NIT/software, 401…"""

    operation_code: str
    operation_description: str
    ranges: tuple[NumberingRange, ...]

    @property
    def ok(self) -> bool:
        return self.operation_code == "100"


@dataclass(frozen=True)
class SoapFault:
    """A SOAP 1.2 Fault: ``Code/Value`` (and subcode), ``Reason/Text``."""

    code: str
    subcode: str
    reason: str

    @property
    def sender_error(self) -> bool:
        """The request itself was refused (``Sender``, WCF's ``Client``): sending it again fails again."""
        local = self.code.rpartition(":")[2]
        return local in ("Sender", "Client")


# -- reading -------------------------------------------------------------------------


def _is_nil(element: etree._Element) -> bool:
    return element.get(f"{{{XSI}}}nil") == "true"


def _text(parent: etree._Element, ns: str, name: str) -> str:
    element = parent.find(f"{{{ns}}}{name}")
    if element is None or _is_nil(element):
        return ""
    return (element.text or "").strip()


def _bool(parent: etree._Element, ns: str, name: str) -> bool:
    value = _text(parent, ns, name).lower()
    if value not in ("", "true", "false", "1", "0"):
        raise ParseError(f"{name} is not a boolean: {value[:20]!r}")
    return value in ("true", "1")


def _int(parent: etree._Element, ns: str, name: str) -> int:
    value = _text(parent, ns, name)
    try:
        return int(value) if value else 0
    except ValueError as exc:
        raise ParseError(f"{name} is not a number: {value[:20]!r}") from exc


def _date(parent: etree._Element, ns: str, name: str) -> dt.date | None:
    """A date written as ``YYYY-MM-DD`` (possibly followed by a time); None when empty."""
    value = _text(parent, ns, name)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError as exc:
        raise ParseError(f"{name} is not a date: {value[:30]!r}") from exc


def _base64(parent: etree._Element, ns: str, name: str) -> bytes:
    value = _text(parent, ns, name)
    try:
        return base64.b64decode("".join(value.split()), validate=True) if value else b""
    except (binascii.Error, ValueError) as exc:
        raise ParseError(f"{name} is not base64") from exc


def parse_envelope(body: bytes) -> etree._Element:
    """The single child of the SOAP Body of an answer (an operation's response or a Fault)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(body, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise ParseError(f"the answer is not XML: {exc}") from exc
    if root.tag != f"{{{SOAP}}}Envelope":
        raise ParseError(f"the answer is not a SOAP 1.2 envelope (root {root.tag[:80]!r})")
    soap_body = root.find(f"{{{SOAP}}}Body")
    if soap_body is None or len(soap_body) != 1:
        raise ParseError("the SOAP Body must hold exactly one element")
    return soap_body[0]


def fault(element: etree._Element) -> SoapFault | None:
    """The Fault if ``element`` is one."""
    if element.tag != f"{{{SOAP}}}Fault":
        return None
    code = element.findtext(f"{{{SOAP}}}Code/{{{SOAP}}}Value", "").strip()
    subcode = element.findtext(f"{{{SOAP}}}Code/{{{SOAP}}}Subcode/{{{SOAP}}}Value", "").strip()
    reason = element.findtext(f"{{{SOAP}}}Reason/{{{SOAP}}}Text", "").strip()
    return SoapFault(code=code, subcode=subcode, reason=reason)


def result_element(element: etree._Element, operation: str) -> etree._Element | None:
    """``<Operation>Result`` inside ``<Operation>Response``; None when DIAN sent it nil."""
    if element.tag != f"{{{WCF}}}{operation}Response":
        raise ParseError(f"expected {operation}Response, got {etree.QName(element).localname!r}")
    result = element.find(f"{{{WCF}}}{operation}Result")
    if result is None or _is_nil(result):
        return None
    return result


def dian_response(node: etree._Element) -> DianResponse:
    is_valid = _bool(node, DIAN_RESPONSE, "IsValid")
    strings = node.findall(f"{{{DIAN_RESPONSE}}}ErrorMessage/{{{ARRAYS}}}string")
    return DianResponse(
        is_valid=is_valid,
        status_code=_text(node, DIAN_RESPONSE, "StatusCode"),
        status_description=_text(node, DIAN_RESPONSE, "StatusDescription"),
        status_message=_text(node, DIAN_RESPONSE, "StatusMessage"),
        messages=tuple(
            RuleMessage.parse(s.text or "", is_valid=is_valid)
            for s in strings
            if not _is_nil(s) and (s.text or "").strip()
        ),
        xml_document_key=_text(node, DIAN_RESPONSE, "XmlDocumentKey"),
        xml_file_name=_text(node, DIAN_RESPONSE, "XmlFileName"),
        application_response=_base64(node, DIAN_RESPONSE, "XmlBase64Bytes"),
    )


def required_dian_response(node: etree._Element | None) -> DianResponse:
    """A ``DianResponse`` that must be there (SendBillSync, GetStatus)."""
    if node is None:
        raise ParseError("DIAN returned no result")
    return dian_response(node)


def dian_responses(node: etree._Element | None) -> tuple[DianResponse, ...]:
    """``ArrayOfDianResponse`` (GetStatusZip)."""
    if node is None:
        return ()
    return tuple(dian_response(item) for item in node.findall(f"{{{DIAN_RESPONSE}}}DianResponse"))


def upload_response(node: etree._Element | None) -> UploadResponse:
    if node is None:
        return UploadResponse(zip_key="", errors=())
    items = node.findall(
        f"{{{UPLOAD_RESPONSE}}}ErrorMessageList/{{{TRACK_ID}}}XmlParamsResponseTrackId"
    )
    return UploadResponse(
        zip_key=_text(node, UPLOAD_RESPONSE, "ZipKey"),
        errors=tuple(
            UploadMessage(
                document_key=_text(item, TRACK_ID, "DocumentKey"),
                processed_message=_text(item, TRACK_ID, "ProcessedMessage"),
                sender_code=_text(item, TRACK_ID, "SenderCode"),
                success=_bool(item, TRACK_ID, "Success"),
                xml_file_name=_text(item, TRACK_ID, "XmlFileName"),
            )
            for item in items
            if not _is_nil(item)
        ),
    )


def numbering_range_response(node: etree._Element | None) -> NumberingRangeResponse:
    if node is None:
        return NumberingRangeResponse(operation_code="", operation_description="", ranges=())
    items = node.findall(f"{{{RANGE_LIST}}}ResponseList/{{{RANGE}}}NumberRangeResponse")
    return NumberingRangeResponse(
        operation_code=_text(node, RANGE_LIST, "OperationCode"),
        operation_description=_text(node, RANGE_LIST, "OperationDescription"),
        ranges=tuple(
            NumberingRange(
                resolution_number=_text(item, RANGE, "ResolutionNumber"),
                resolution_date=_date(item, RANGE, "ResolutionDate"),
                prefix=_text(item, RANGE, "Prefix"),
                from_number=_int(item, RANGE, "FromNumber"),
                to_number=_int(item, RANGE, "ToNumber"),
                valid_from=_date(item, RANGE, "ValidDateFrom"),
                valid_to=_date(item, RANGE, "ValidDateTo"),
                technical_key=_text(item, RANGE, "TechnicalKey"),
            )
            for item in items
            if not _is_nil(item)
        ),
    )
