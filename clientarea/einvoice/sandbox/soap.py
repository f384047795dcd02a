"""SOAP 1.2 envelopes of DIAN's WcfDianCustomerServices, as a WCF service writes them.

Shapes from ``shared/docs/dian-webservice.md`` §1.5 and §2 and the WSDL/XSDs in
``shared/schemas/dian-ws/``: DataContract members in alphabetical order, empty values as
``i:nil="true"``, an unsigned response carrying only a Timestamp (§2.1).
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field

from lxml import etree

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://www.w3.org/2005/08/addressing"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WCF = "http://wcf.dian.colombia"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ARRAYS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
DC = "http://schemas.datacontract.org/2004/07/"
ACTION_PREFIX = "http://wcf.dian.colombia/IWcfDianCustomerServices/"
FAULT_ACTION = "http://www.w3.org/2005/08/addressing/soap/fault"
CONTENT_TYPE = "application/soap+xml; charset=utf-8"

OPERATIONS = (
    "SendBillSync",
    "SendBillAsync",
    "SendTestSetAsync",
    "GetStatus",
    "GetStatusZip",
    "GetNumberingRange",
    "GetXmlByDocumentKey",
)


@dataclass(frozen=True)
class DianResponse:
    """DIAN's ``DianResponse`` DataContract."""

    status_code: str | None
    status_description: str
    is_valid: bool = False
    status_message: str = ""
    errors: tuple[str, ...] = ()
    application_response: bytes = b""
    document_key: str = ""
    xml_file_name: str = ""


@dataclass(frozen=True)
class UploadResponse:
    """DIAN's ``UploadDocumentResponse``: a ZipKey, or refusals in ``ErrorMessageList``."""

    zip_key: str = ""
    refusals: tuple[str, ...] = ()
    xml_file_name: str = ""


@dataclass(frozen=True)
class NumberRange:
    resolution_number: str
    resolution_date: str
    prefix: str
    from_number: int
    to_number: int
    valid_from: str
    valid_to: str
    technical_key: str


@dataclass(frozen=True)
class NumberingAnswer:
    operation_code: str
    operation_description: str
    ranges: tuple[NumberRange, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class XmlAnswer:
    """DIAN's ``EventResponse`` (GetXmlByDocumentKey)."""

    code: str
    message: str
    xml: bytes = b""


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _envelope(action: str, now: dt.datetime) -> tuple[etree._Element, etree._Element]:
    env = etree.Element(f"{{{SOAP12}}}Envelope", nsmap={"s": SOAP12, "a": WSA, "u": WSU})
    header = etree.SubElement(env, f"{{{SOAP12}}}Header")
    action_el = etree.SubElement(header, f"{{{WSA}}}Action")
    action_el.set(f"{{{SOAP12}}}mustUnderstand", "1")
    action_el.text = action
    security = etree.SubElement(header, f"{{{WSSE}}}Security", nsmap={"o": WSSE})
    security.set(f"{{{SOAP12}}}mustUnderstand", "1")
    stamp = etree.SubElement(security, f"{{{WSU}}}Timestamp")
    stamp.set(f"{{{WSU}}}Id", "_0")
    etree.SubElement(stamp, f"{{{WSU}}}Created").text = _utc(now)
    etree.SubElement(stamp, f"{{{WSU}}}Expires").text = _utc(now + dt.timedelta(minutes=5))
    body = etree.SubElement(env, f"{{{SOAP12}}}Body")
    return env, body


def _value(parent: etree._Element, ns: str, name: str, value: str | None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{name}")
    if value is None or value == "":
        el.set(f"{{{XSI}}}nil", "true")
    else:
        el.text = value
    return el


def _dian_response(parent: etree._Element, tag: str, answer: DianResponse) -> None:
    ns = DC + "DianResponse"
    result = etree.SubElement(parent, tag, nsmap={"b": ns, "i": XSI})
    errors = etree.SubElement(result, f"{{{ns}}}ErrorMessage", nsmap={"c": ARRAYS})
    for message in answer.errors:
        etree.SubElement(errors, f"{{{ARRAYS}}}string").text = message
    _value(result, ns, "IsValid", "true" if answer.is_valid else "false")
    status = etree.SubElement(result, f"{{{ns}}}StatusCode")  # "" (batch in process) is not nil
    if answer.status_code is None:
        status.set(f"{{{XSI}}}nil", "true")
    else:
        status.text = answer.status_code
    _value(result, ns, "StatusDescription", answer.status_description)
    _value(result, ns, "StatusMessage", answer.status_message)
    ar = answer.application_response
    _value(result, ns, "XmlBase64Bytes", base64.b64encode(ar).decode() if ar else None)
    _value(result, ns, "XmlBytes", None)
    _value(result, ns, "XmlDocumentKey", answer.document_key)
    _value(result, ns, "XmlFileName", answer.xml_file_name)


def _serialize(env: etree._Element) -> bytes:
    return etree.tostring(env, encoding="utf-8")


def dian_response(operation: str, answer: DianResponse, now: dt.datetime) -> bytes:
    env, body = _envelope(f"{ACTION_PREFIX}{operation}Response", now)
    wrapper = etree.SubElement(body, f"{{{WCF}}}{operation}Response", nsmap={None: WCF})
    _dian_response(wrapper, f"{{{WCF}}}{operation}Result", answer)
    return _serialize(env)


def status_zip_response(answers: list[DianResponse], now: dt.datetime) -> bytes:
    env, body = _envelope(f"{ACTION_PREFIX}GetStatusZipResponse", now)
    wrapper = etree.SubElement(body, f"{{{WCF}}}GetStatusZipResponse", nsmap={None: WCF})
    ns = DC + "DianResponse"
    result = etree.SubElement(wrapper, f"{{{WCF}}}GetStatusZipResult", nsmap={"b": ns, "i": XSI})
    for answer in answers:
        _dian_response(result, f"{{{ns}}}DianResponse", answer)
    return _serialize(env)


def upload_response(operation: str, answer: UploadResponse, now: dt.datetime) -> bytes:
    env, body = _envelope(f"{ACTION_PREFIX}{operation}Response", now)
    wrapper = etree.SubElement(body, f"{{{WCF}}}{operation}Response", nsmap={None: WCF})
    ns = DC + "UploadDocumentResponse"
    item_ns = DC + "XmlParamsResponseTrackId"
    result = etree.SubElement(wrapper, f"{{{WCF}}}{operation}Result", nsmap={"b": ns, "i": XSI})
    if answer.refusals:
        errors = etree.SubElement(result, f"{{{ns}}}ErrorMessageList", nsmap={"c": item_ns})
        for message in answer.refusals:
            item = etree.SubElement(errors, f"{{{item_ns}}}XmlParamsResponseTrackId")
            _value(item, item_ns, "DocumentKey", None)
            _value(item, item_ns, "ProcessedMessage", message)
            _value(item, item_ns, "SenderCode", None)
            _value(item, item_ns, "Success", "false")
            _value(item, item_ns, "XmlFileName", answer.xml_file_name)
    else:
        _value(result, ns, "ErrorMessageList", None)
    _value(result, ns, "ZipKey", answer.zip_key)
    return _serialize(env)


def numbering_response(answer: NumberingAnswer, now: dt.datetime) -> bytes:
    env, body = _envelope(f"{ACTION_PREFIX}GetNumberingRangeResponse", now)
    wrapper = etree.SubElement(body, f"{{{WCF}}}GetNumberingRangeResponse", nsmap={None: WCF})
    ns = DC + "NumberRangeResponseList"
    item_ns = DC + "NumberRangeResponse"
    result = etree.SubElement(
        wrapper, f"{{{WCF}}}GetNumberingRangeResult", nsmap={"b": ns, "i": XSI}
    )
    _value(result, ns, "OperationCode", answer.operation_code)
    _value(result, ns, "OperationDescription", answer.operation_description)
    if answer.ranges:
        items = etree.SubElement(result, f"{{{ns}}}ResponseList", nsmap={"c": item_ns})
        for r in answer.ranges:
            item = etree.SubElement(items, f"{{{item_ns}}}NumberRangeResponse")
            _value(item, item_ns, "ResolutionNumber", r.resolution_number)
            _value(item, item_ns, "ResolutionDate", r.resolution_date)
            _value(item, item_ns, "Prefix", r.prefix)
            _value(item, item_ns, "FromNumber", str(r.from_number))
            _value(item, item_ns, "ToNumber", str(r.to_number))
            _value(item, item_ns, "ValidDateFrom", r.valid_from)
            _value(item, item_ns, "ValidDateTo", r.valid_to)
            _value(item, item_ns, "TechnicalKey", r.technical_key)
    else:
        _value(result, ns, "ResponseList", None)
    return _serialize(env)


def xml_response(answer: XmlAnswer, now: dt.datetime) -> bytes:
    env, body = _envelope(f"{ACTION_PREFIX}GetXmlByDocumentKeyResponse", now)
    wrapper = etree.SubElement(body, f"{{{WCF}}}GetXmlByDocumentKeyResponse", nsmap={None: WCF})
    ns = DC + "EventResponse"
    result = etree.SubElement(
        wrapper, f"{{{WCF}}}GetXmlByDocumentKeyResult", nsmap={"b": ns, "i": XSI}
    )
    _value(result, ns, "Code", answer.code)
    _value(result, ns, "Message", answer.message)
    _value(result, ns, "ValidationDate", None)
    xml = base64.b64encode(answer.xml).decode() if answer.xml else None
    _value(result, ns, "XmlBytesBase64", xml)
    return _serialize(env)


@dataclass(frozen=True)
class SoapFault(Exception):
    """A SOAP 1.2 Fault as WCF sends it (HTTP 500 unless said otherwise)."""

    code: str  # "Sender" / "Receiver" / "Client" (DIAN's certificate faults, §1.7)
    reason: str
    subcode: str = ""  # e.g. "a:ActionNotSupported", "o:InvalidSecurity"
    detail: str = ""  # the simulator's own explanation (a real WCF service hides it)
    http_status: int = 500

    def __str__(self) -> str:
        return f"{self.code}: {self.reason} ({self.detail})"


def fault_response(fault: SoapFault, now: dt.datetime) -> bytes:
    env = etree.Element(f"{{{SOAP12}}}Envelope", nsmap={"s": SOAP12, "a": WSA})
    header = etree.SubElement(env, f"{{{SOAP12}}}Header")
    action = etree.SubElement(header, f"{{{WSA}}}Action")
    action.set(f"{{{SOAP12}}}mustUnderstand", "1")
    action.text = FAULT_ACTION
    body = etree.SubElement(env, f"{{{SOAP12}}}Body")
    fault_el = etree.SubElement(body, f"{{{SOAP12}}}Fault")
    code = etree.SubElement(fault_el, f"{{{SOAP12}}}Code")
    etree.SubElement(code, f"{{{SOAP12}}}Value").text = f"s:{fault.code}"
    if fault.subcode:
        sub = etree.SubElement(code, f"{{{SOAP12}}}Subcode")
        prefix = fault.subcode.split(":", 1)[0]
        value = etree.SubElement(
            sub, f"{{{SOAP12}}}Value", nsmap={prefix: WSSE if prefix == "o" else WSA}
        )
        value.text = fault.subcode
    reason = etree.SubElement(fault_el, f"{{{SOAP12}}}Reason")
    text = etree.SubElement(reason, f"{{{SOAP12}}}Text")
    text.set("{http://www.w3.org/XML/1998/namespace}lang", "en-US")
    text.text = fault.reason
    if fault.detail:
        detail = etree.SubElement(fault_el, f"{{{SOAP12}}}Detail")
        etree.SubElement(detail, "SimulatorReason").text = fault.detail
    return _serialize(env)
