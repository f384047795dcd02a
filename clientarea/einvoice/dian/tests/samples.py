"""DIAN's answers, written by hand from the shapes in ``shared/docs/dian-webservice.md`` §2.

Each envelope follows the response skeleton of §2.1 (WCF's DataContract namespaces, ``i:nil``
for empty values, a Timestamp and no signature); the values are the ones §2.2–§2.9 describe.
"""

from __future__ import annotations

import base64

S = "http://www.w3.org/2003/05/soap-envelope"
CUFE = "6b1f2a0e" * 12  # 96 hex digits, lower case as DIAN returns keys

APPLICATION_RESPONSE = (
    '<?xml version="1.0" encoding="utf-8" standalone="no"?>\r\n'
    '<ApplicationResponse xmlns="urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"'
    ' xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"'
    ' xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2">\r\n'
    "<cbc:UBLVersionID>UBL 2.1</cbc:UBLVersionID><cbc:ID>8812345</cbc:ID>"
    "<cbc:IssueDate>2026-03-01</cbc:IssueDate><cbc:IssueTime>10:03:08-05:00</cbc:IssueTime>"
    "<cac:SenderParty><cac:PartyTaxScheme><cbc:RegistrationName>Unidad Especial Dirección de"
    " Impuestos y Aduanas Nacionales</cbc:RegistrationName><cbc:CompanyID>800197268</cbc:CompanyID>"
    "<cac:TaxScheme><cbc:ID>01</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme></cac:SenderParty>"
    "<cac:ReceiverParty><cac:PartyTaxScheme><cbc:RegistrationName>Conexcol S.A.S.</cbc:RegistrationName>"
    "<cbc:CompanyID>900123456</cbc:CompanyID><cac:TaxScheme><cbc:ID>01</cbc:ID></cac:TaxScheme>"
    "</cac:PartyTaxScheme></cac:ReceiverParty>"
    "<cac:DocumentResponse><cac:Response><cbc:ResponseCode>02</cbc:ResponseCode>"
    "<cbc:Description>Documento validado por la DIAN</cbc:Description></cac:Response>"
    f'<cac:DocumentReference><cbc:ID>SETP990000002</cbc:ID><cbc:UUID schemeName="CUFE-SHA384">{CUFE}</cbc:UUID>'
    "</cac:DocumentReference></cac:DocumentResponse></ApplicationResponse>"
).encode()


def envelope(operation: str, result: str) -> bytes:
    """A WCF answer to ``operation`` whose ``<operation>Result`` is ``result``."""
    return (
        f'<s:Envelope xmlns:s="{S}" xmlns:a="http://www.w3.org/2005/08/addressing"'
        ' xmlns:u="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">'
        "<s:Header>"
        f'<a:Action s:mustUnderstand="1">http://wcf.dian.colombia/IWcfDianCustomerServices/{operation}Response</a:Action>'
        '<o:Security s:mustUnderstand="1" xmlns:o="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">'
        '<u:Timestamp u:Id="_0"><u:Created>2026-03-01T15:03:08.120Z</u:Created>'
        "<u:Expires>2026-03-01T15:08:08.120Z</u:Expires></u:Timestamp></o:Security>"
        "</s:Header>"
        f'<s:Body><{operation}Response xmlns="http://wcf.dian.colombia">{result}</{operation}Response></s:Body>'
        "</s:Envelope>"
    ).encode()


def _value(name: str, value: str | None) -> str:
    if value is None:
        return f'<b:{name} i:nil="true"/>'
    return f"<b:{name}>{value}</b:{name}>"


def dian_response_fields(
    *,
    valid: bool,
    code: str,
    description: str,
    message: str | None = None,
    errors: tuple[str, ...] | None = None,
    application_response: bytes | None = None,
    key: str | None = CUFE,
    file_name: str | None = "fv09003730760002600000001",
) -> str:
    arrays = 'xmlns:c="http://schemas.microsoft.com/2003/10/Serialization/Arrays"'
    if errors is None:
        error_xml = f'<b:ErrorMessage i:nil="true" {arrays}/>'
    else:
        error_xml = (
            f"<b:ErrorMessage {arrays}>"
            + "".join(f"<c:string>{e}</c:string>" for e in errors)
            + "</b:ErrorMessage>"
        )
    ar = base64.b64encode(application_response).decode() if application_response else None
    return (
        error_xml
        + f"<b:IsValid>{'true' if valid else 'false'}</b:IsValid>"
        + (f"<b:StatusCode>{code}</b:StatusCode>" if code else "<b:StatusCode/>")
        + _value("StatusDescription", description)
        + _value("StatusMessage", message)
        + _value("XmlBase64Bytes", ar)
        + '<b:XmlBytes i:nil="true"/>'
        + _value("XmlDocumentKey", key)
        + _value("XmlFileName", file_name)
    )


DIAN_NS = (
    'xmlns:b="http://schemas.datacontract.org/2004/07/DianResponse"'
    ' xmlns:i="http://www.w3.org/2001/XMLSchema-instance"'
)


def dian_response(operation: str = "SendBillSync", **fields) -> bytes:
    return envelope(
        operation,
        f"<{operation}Result {DIAN_NS}>{dian_response_fields(**fields)}</{operation}Result>",
    )


def accepted(operation: str = "SendBillSync", **overrides) -> bytes:
    fields = dict(
        valid=True,
        code="00",
        description="Procesado Correctamente.",
        message="La Factura electrónica SETP990000002, ha sido autorizada.",
        errors=(
            "Regla: FAJ44b, Notificación: Nit o Documento de Identificación informado No se "
            "encuentra registrado en el RUT.",
        ),
        application_response=APPLICATION_RESPONSE,
    )
    fields.update(overrides)
    return dian_response(operation, **fields)


def rejected(**overrides) -> bytes:
    fields = dict(
        valid=False,
        code="99",
        description="Validación contiene errores en campos mandatorios.",
        message="Documento con errores en campos mandatorios.",
        errors=(
            "Regla: FAD06, Rechazo: Valor del CUFE no está calculado correctamente.",
            "Regla: FAJ44b, Notificación: Nit o Documento de Identificación informado No se "
            "encuentra registrado en el RUT.",
        ),
        application_response=APPLICATION_RESPONSE.replace(b">02<", b">04<"),
    )
    fields.update(overrides)
    return dian_response("SendBillSync", **fields)


def already_processed() -> bytes:
    """Rule 90: the original ApplicationResponse and key come back (§2.5)."""
    return dian_response(
        valid=False,
        code="99",
        description="Validación contiene errores en campos mandatorios.",
        message="Documento con errores en campos mandatorios.",
        errors=("Regla: 90, Rechazo: Documento procesado anteriormente.",),
        application_response=APPLICATION_RESPONSE,
    )


def request_error(message: str = "NIT de la empresa no informado en el certificado.") -> bytes:
    """89: refused before validation, no ApplicationResponse (§2.3, §1.7)."""
    return dian_response(
        valid=False,
        code="89",
        description=message,
        message=None,
        errors=None,
        application_response=None,
        key=None,
        file_name=None,
    )


def not_found(operation: str = "GetStatus") -> bytes:
    return dian_response(
        operation,
        valid=False,
        code="66",
        description="TrackId no existe en los registros de la DIAN.",
        errors=None,
        application_response=None,
        key=None,
        file_name=None,
    )


def status_zip(*responses: str) -> bytes:
    """GetStatusZip: one ``b:DianResponse`` per document."""
    items = "".join(f"<b:DianResponse>{fields}</b:DianResponse>" for fields in responses)
    return envelope("GetStatusZip", f"<GetStatusZipResult {DIAN_NS}>{items}</GetStatusZipResult>")


def upload(zip_key: str | None, refusals: tuple[str, ...] = ()) -> bytes:
    ns = (
        'xmlns:b="http://schemas.datacontract.org/2004/07/UploadDocumentResponse"'
        ' xmlns:i="http://www.w3.org/2001/XMLSchema-instance"'
    )
    track = 'xmlns:c="http://schemas.datacontract.org/2004/07/XmlParamsResponseTrackId"'
    if refusals:
        items = "".join(
            '<c:XmlParamsResponseTrackId><c:DocumentKey i:nil="true"/>'
            f"<c:ProcessedMessage>{text}</c:ProcessedMessage><c:SenderCode>900373076</c:SenderCode>"
            "<c:Success>false</c:Success><c:XmlFileName>fv09003730760002600000001</c:XmlFileName>"
            "</c:XmlParamsResponseTrackId>"
            for text in refusals
        )
        errors = f"<b:ErrorMessageList {track}>{items}</b:ErrorMessageList>"
    else:
        errors = f'<b:ErrorMessageList i:nil="true" {track}/>'
    key = f"<b:ZipKey>{zip_key}</b:ZipKey>" if zip_key else '<b:ZipKey i:nil="true"/>'
    return envelope(
        "SendTestSetAsync", f"<SendTestSetAsyncResult {ns}>{errors}{key}</SendTestSetAsyncResult>"
    )


def numbering_ranges(code: str = "100", description: str = "Acción completada OK.") -> bytes:
    ns = (
        'xmlns:b="http://schemas.datacontract.org/2004/07/NumberRangeResponseList"'
        ' xmlns:i="http://www.w3.org/2001/XMLSchema-instance"'
    )
    items = (
        "<c:NumberRangeResponse><c:ResolutionNumber>18760000001</c:ResolutionNumber>"
        "<c:ResolutionDate>2019-01-19</c:ResolutionDate><c:Prefix>SETP</c:Prefix>"
        "<c:FromNumber>990000000</c:FromNumber><c:ToNumber>995000000</c:ToNumber>"
        "<c:ValidDateFrom>2019-01-19</c:ValidDateFrom><c:ValidDateTo>2030-01-19</c:ValidDateTo>"
        "<c:TechnicalKey>fc8eac422eba16e22ffd8c6f94b3f40a6e38162c</c:TechnicalKey>"
        "</c:NumberRangeResponse>"
        "<c:NumberRangeResponse><c:ResolutionNumber>18764000000123</c:ResolutionNumber>"
        "<c:ResolutionDate>2026-02-01</c:ResolutionDate><c:Prefix>DS</c:Prefix>"
        "<c:FromNumber>1</c:FromNumber><c:ToNumber>1000</c:ToNumber>"
        "<c:ValidDateFrom>2026-02-01</c:ValidDateFrom><c:ValidDateTo>2027-02-01</c:ValidDateTo>"
        '<c:TechnicalKey i:nil="true"/></c:NumberRangeResponse>'
    )
    ranges = (
        f'<b:ResponseList xmlns:c="http://schemas.datacontract.org/2004/07/NumberRangeResponse">{items}</b:ResponseList>'
        if code == "100"
        else '<b:ResponseList i:nil="true"/>'
    )
    return envelope(
        "GetNumberingRange",
        f"<GetNumberingRangeResult {ns}><b:OperationCode>{code}</b:OperationCode>"
        f"<b:OperationDescription>{description}</b:OperationDescription>{ranges}</GetNumberingRangeResult>",
    )


def fault(code: str = "s:Client", reason: str = "Certificado se encuentra expirado.") -> bytes:
    """A SOAP 1.2 Fault as WCF writes it (HTTP 500)."""
    return (
        f'<s:Envelope xmlns:s="{S}" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header>'
        '<a:Action s:mustUnderstand="1">http://www.w3.org/2005/08/addressing/soap/fault</a:Action>'
        f"</s:Header><s:Body><s:Fault><s:Code><s:Value>{code}</s:Value></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{reason}</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>'
    ).encode()
