"""The client against DIAN's answers (handcrafted from the docs), and its failure modes."""

from __future__ import annotations

import base64
import datetime as dt
import io
import socket
import threading
import urllib.error
import zipfile

import pytest
from lxml import etree

from clientarea.einvoice.dian import client as dian_client
from clientarea.einvoice.dian import envelope, files
from clientarea.einvoice.dian.responses import MessageKind
from clientarea.lib import http

from . import samples
from .conftest import URL

NS = {"soap": envelope.SOAP, "wcf": envelope.WCF, "wsa": envelope.WSA}


def body_params(request: bytes, operation: str) -> list[tuple[str, str]]:
    root = etree.fromstring(request)
    node = root.find(f"soap:Body/wcf:{operation}", NS)
    assert node is not None
    return [(etree.QName(e).localname, e.text or "") for e in node]


def package() -> files.Package:
    return files.package(
        b"<Invoice>firmada</Invoice>",
        files.DocumentKind.INVOICE,
        supplier_nit="900373076",
        year=2026,
        sequence=0x1F,
    )


# -- SendBillSync ---------------------------------------------------------------------


def test_send_bill_sync_posts_a_signed_soap_request_and_parses_the_acceptance(client, dian):
    dian.queue(samples.accepted())
    parcel = package()
    reply = client.send_bill_sync(file_name=parcel.file_name, content=parcel.content)

    sent = dian.requests[0]
    assert sent["method"] == "POST" and sent["url"] == URL and sent["timeout"] == 12.5
    assert sent["headers"]["Content-Type"] == (
        "application/soap+xml;charset=UTF-8;"
        'action="http://wcf.dian.colombia/IWcfDianCustomerServices/SendBillSync"'
    )
    params = dict(body_params(sent["body"], "SendBillSync"))
    assert params["fileName"] == "z0900373076000260000001f.zip"
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(params["contentFile"]))) as archive:
        assert archive.namelist() == ["fv0900373076000260000001f.xml"]
        assert archive.read("fv0900373076000260000001f.xml") == b"<Invoice>firmada</Invoice>"

    result = reply.result
    assert result.accepted and result.is_valid and not result.rejected
    assert result.status_code == "00"
    assert result.status_description == "Procesado Correctamente."
    assert result.status_message == "La Factura electrónica SETP990000002, ha sido autorizada."
    assert result.xml_document_key == samples.CUFE
    assert result.xml_file_name == "fv09003730760002600000001"
    assert result.application_response == samples.APPLICATION_RESPONSE
    assert result.errors == ()
    (notification,) = result.notifications
    assert notification.rule == "FAJ44b" and notification.kind == MessageKind.NOTIFICATION
    assert notification.text.startswith("Nit o Documento de Identificación")
    # the raw exchange, for the caller to store
    assert reply.exchange.request == sent["body"]
    assert reply.exchange.response == samples.accepted()
    assert reply.exchange.http_status == 200 and reply.exchange.operation == "SendBillSync"


def test_a_rejection_splits_rejections_from_notifications(client, dian):
    dian.queue(samples.rejected())
    result = client.send_bill_sync(file_name="z.zip", content=b"PK").result
    assert result.rejected and not result.accepted and not result.already_processed
    assert [(m.rule, m.kind) for m in result.messages] == [
        ("FAD06", MessageKind.REJECTION),
        ("FAJ44b", MessageKind.NOTIFICATION),
    ]
    assert [m.text for m in result.errors] == ["Valor del CUFE no está calculado correctamente."]
    assert b"<cbc:ResponseCode>04</cbc:ResponseCode>" in result.application_response


def test_the_anexo_message_form_without_comma_or_kind_is_parsed(client, dian):
    """The Anexo's samples write "Regla: AA09 Valor…": the kind follows IsValid (§2.4)."""
    dian.queue(samples.rejected(errors=("Regla: AA09 Valor del CUFE no es correcto",)))
    (error,) = client.send_bill_sync(file_name="z.zip", content=b"PK").result.errors
    assert (error.rule, error.kind, error.text) == (
        "AA09",
        MessageKind.REJECTION,
        "Valor del CUFE no es correcto",
    )
    dian.queue(samples.accepted(errors=("Regla: FAJ43b Nombre informado no corresponde",)))
    (note,) = client.send_bill_sync(file_name="z.zip", content=b"PK").result.notifications
    assert (note.rule, note.kind) == ("FAJ43b", MessageKind.NOTIFICATION)


def test_rule_90_alone_means_already_processed(client, dian):
    dian.queue(samples.already_processed())
    result = client.send_bill_sync(file_name="z.zip", content=b"PK").result
    assert result.already_processed and result.accepted and not result.rejected
    assert result.application_response == samples.APPLICATION_RESPONSE
    assert result.xml_document_key == samples.CUFE


def test_rule_90_among_other_rejections_is_a_rejection(client, dian):
    dian.queue(
        samples.rejected(
            errors=(
                "Regla: 90, Rechazo: Documento procesado anteriormente.",
                "Regla: FAD06, Rechazo: Valor del CUFE no está calculado correctamente.",
            )
        )
    )
    result = client.send_bill_sync(file_name="z.zip", content=b"PK").result
    assert not result.already_processed and result.rejected


def test_a_request_level_error_has_no_application_response(client, dian):
    dian.queue(samples.request_error())
    result = client.send_bill_sync(file_name="z.zip", content=b"PK").result
    assert result.status_code == "89" and not result.accepted and not result.rejected
    assert result.status_description == "NIT de la empresa no informado en el certificado."
    assert result.application_response == b"" and result.xml_document_key == ""


# -- the other operations ---------------------------------------------------------------


def test_get_status_asks_by_cufe(client, dian):
    dian.queue(samples.accepted("GetStatus", errors=None))
    reply = client.get_status(track_id=samples.CUFE)
    assert body_params(dian.requests[0]["body"], "GetStatus") == [("trackId", samples.CUFE)]
    assert reply.result.accepted and reply.result.messages == ()
    dian.queue(samples.not_found())
    missing = client.get_status(track_id=samples.CUFE).result
    assert missing.not_found and not missing.accepted and not missing.pending


def test_get_status_zip_returns_one_response_per_document(client, dian):
    pending = samples.dian_response_fields(
        valid=False,
        code="",
        description="Batch en proceso de validación.",
        application_response=None,
        key=None,
        file_name=None,
    )
    dian.queue(samples.status_zip(pending))
    (only,) = client.get_status_zip(track_id="7d2d6f3c-7a3f-4a51-9d0f-1c9bd4a2f1aa").result
    assert only.pending and only.status_description == "Batch en proceso de validación."
    accepted = samples.dian_response_fields(
        valid=True, code="00", description="Procesado Correctamente."
    )
    rejected = samples.dian_response_fields(
        valid=False,
        code="99",
        description="Validación contiene errores en campos mandatorios.",
        errors=("Regla: FAB27b, Rechazo: Huella no corresponde a un software autorizado",),
    )
    dian.queue(samples.status_zip(accepted, rejected))
    first, second = client.get_status_zip(track_id="7d2d6f3c").result
    assert first.accepted and second.rejected and second.errors[0].rule == "FAB27b"
    dian.queue(samples.status_zip())
    assert client.get_status_zip(track_id="7d2d6f3c").result == ()


def test_send_test_set_async_returns_the_zip_key(client, dian):
    dian.queue(samples.upload("7d2d6f3c-7a3f-4a51-9d0f-1c9bd4a2f1aa"))
    reply = client.send_test_set_async(file_name="z.zip", content=b"PK", test_set_id="set-123")
    assert [name for name, _ in body_params(dian.requests[0]["body"], "SendTestSetAsync")] == [
        "fileName",
        "contentFile",
        "testSetId",
    ]
    assert reply.result.received and reply.result.zip_key == "7d2d6f3c-7a3f-4a51-9d0f-1c9bd4a2f1aa"
    assert reply.result.errors == ()


def test_send_test_set_async_refusal_lists_the_reasons(client, dian):
    dian.queue(
        samples.upload(None, ("Set de prueba con identificador set-123 se encuentra Aceptado.",))
    )
    result = client.send_test_set_async(
        file_name="z.zip", content=b"PK", test_set_id="set-123"
    ).result
    assert not result.received
    (refusal,) = result.errors
    assert not refusal.success and refusal.sender_code == "900373076"
    assert refusal.processed_message.endswith("se encuentra Aceptado.")
    assert refusal.document_key == ""


def test_get_numbering_range_returns_the_resolutions(client, dian):
    dian.queue(samples.numbering_ranges())
    reply = client.get_numbering_range(
        account_code="900373076",
        account_code_t="900373076",
        software_code="56f2ae4e-9812-4fad-9255-08fcfcd5ccb0",
    )
    assert body_params(dian.requests[0]["body"], "GetNumberingRange") == [
        ("accountCode", "900373076"),
        ("accountCodeT", "900373076"),
        ("softwareCode", "56f2ae4e-9812-4fad-9255-08fcfcd5ccb0"),
    ]
    result = reply.result
    assert result.ok and result.operation_description == "Acción completada OK."
    test_set, support = result.ranges
    assert test_set.resolution_number == "18760000001" and test_set.prefix == "SETP"
    assert (test_set.from_number, test_set.to_number) == (990000000, 995000000)
    assert test_set.valid_from == dt.date(2019, 1, 19)
    assert test_set.valid_to == dt.date(2030, 1, 19)
    assert test_set.resolution_date == dt.date(2019, 1, 19)
    assert test_set.technical_key == "fc8eac422eba16e22ffd8c6f94b3f40a6e38162c"
    assert support.technical_key == "" and support.prefix == "DS"


def test_get_numbering_range_without_ranges(client, dian):
    dian.queue(samples.numbering_ranges("301", "No fue encontrado ningún rango de numeración"))
    result = client.get_numbering_range(
        account_code="900373076", account_code_t="900373076", software_code="x"
    ).result
    assert not result.ok and result.operation_code == "301" and result.ranges == ()


# -- failures -----------------------------------------------------------------------


def test_a_client_fault_is_not_retryable(client, dian):
    dian.queue(samples.fault("s:Client", "Certificado se encuentra expirado."), status=500)
    with pytest.raises(dian_client.DianFault) as caught:
        client.get_status(track_id=samples.CUFE)
    assert not caught.value.retryable
    assert caught.value.fault.reason == "Certificado se encuentra expirado."
    assert caught.value.exchange.http_status == 500
    assert caught.value.exchange.response == samples.fault(
        "s:Client", "Certificado se encuentra expirado."
    )


def test_a_receiver_fault_is_retryable(client, dian):
    dian.queue(
        samples.fault("s:Receiver", "The server was unable to process the request"), status=500
    )
    with pytest.raises(dian_client.DianFault) as caught:
        client.get_status(track_id=samples.CUFE)
    assert caught.value.retryable


@pytest.mark.parametrize("status", [500, 502, 503, 507])
def test_http_5xx_without_soap_is_retryable(client, dian, status):
    dian.queue(b"<html><body>Service Unavailable</body></html>", status=status)
    with pytest.raises(dian_client.DianUnavailable) as caught:
        client.send_bill_sync(file_name="z.zip", content=b"PK")
    assert caught.value.retryable and caught.value.exchange.http_status == status


def test_http_404_is_not_retryable(client, dian):
    dian.queue(b"Not Found", status=404)
    with pytest.raises(dian_client.DianHttpError) as caught:
        client.get_status(track_id=samples.CUFE)
    assert not caught.value.retryable and caught.value.status == 404


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"garbage \x00\xff",
        b"<html>ok</html>",
        samples.envelope("GetStatus", "<GetStatusResult/>"),  # wrong operation's answer
        samples.accepted().replace(b"<b:IsValid>true<", b"<b:IsValid>maybe<"),
        samples.accepted().replace(b"<b:XmlBase64Bytes>", b"<b:XmlBase64Bytes>%%%"),
    ],
)
def test_an_answer_that_is_not_dians_protocol_is_retryable(client, dian, body):
    dian.queue(body)
    with pytest.raises(dian_client.DianUnavailable) as caught:
        client.send_bill_sync(file_name="z.zip", content=b"PK")
    assert caught.value.retryable and caught.value.exchange.response == body


def test_connection_errors_and_timeouts_are_retryable(client, dian):
    refused = http.HttpError("POST failed: URLError")
    refused.__cause__ = urllib.error.URLError(ConnectionRefusedError(111, "refused"))
    dian.fail(refused)
    with pytest.raises(dian_client.DianUnavailable) as caught:
        client.send_bill_sync(file_name="z.zip", content=b"PK")
    assert caught.value.retryable and not isinstance(caught.value, dian_client.DianTimeout)
    assert caught.value.exchange.response == b"" and caught.value.exchange.http_status is None
    assert caught.value.exchange.request.startswith(b"<soap:Envelope")


def test_a_real_timeout_through_the_http_choke_point(identity):
    """A server that accepts the connection and never answers: the client gives up in time."""
    key, cert = identity
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    silent = dian_client.DianClient(
        url=f"http://127.0.0.1:{port}/WcfDianCustomerServices.svc",
        key=key,
        certificate=cert,
        timeout=0.5,
    )
    try:
        with pytest.raises(dian_client.DianTimeout) as caught:
            silent.get_status(track_id=samples.CUFE)
    finally:
        for connection in accepted:
            connection.close()
        listener.close()
    assert caught.value.retryable
    assert 0.4 < caught.value.exchange.duration < 5


def test_repr_shows_no_key(client):
    assert repr(client) == f"DianClient(url={URL!r}, timeout=12.5)"
