"""DianTransmitter: a paid order's signed invoice sent with SendBillSync, DIAN's answer turned
into the transmission result the invoice pipeline records."""

from __future__ import annotations

import base64
import datetime as dt
import io
import logging
import zipfile
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone, translation
from lxml import etree

from clientarea.billing import services as billing
from clientarea.catalog.models import Product, ProductPrice
from clientarea.einvoice import attempt_texts, signing
from clientarea.einvoice.demo import DIAN_TEST_TECHNICAL_KEY
from clientarea.einvoice.dian import envelope, transmitter, transport
from clientarea.einvoice.dian.client import DianClient
from clientarea.einvoice.models import Invoice, InvoiceStatus, NumberingResolution
from clientarea.einvoice.services import transmit_invoice
from clientarea.lib import http
from clientarea.test import make_customer, make_provider

from . import samples
from .conftest import URL

pytestmark = pytest.mark.django_db
NS = {"soap": envelope.SOAP, "wcf": envelope.WCF}


@pytest.fixture
def invoice(django_capture_on_commit_callbacks) -> Invoice:
    """A paid order's invoice, issued and rendered (signed) by the worker."""
    make_provider()
    NumberingResolution.objects.create(
        number="18760000001", prefix="SETP", range_from=990000000, range_to=995000000,
        next_number=990000000, valid_from=dt.date(2019, 1, 19), valid_to=dt.date(2030, 1, 19),
        technical_key=DIAN_TEST_TECHNICAL_KEY, environment="2",
    )  # fmt: skip
    hosting = Product.objects.create(code="hosting", name="Hosting Pyme", kind="hosting")
    ProductPrice.objects.create(product=hosting, cycle="annual", price=Decimal("480000"))
    customer = make_customer()
    order = billing.order_new_service(
        customer=customer, product=hosting, cycle="annual", label="cliente.co"
    )
    with django_capture_on_commit_callbacks(execute=True):
        billing.mark_order_paid(
            order_id=order.pk, paid_at=timezone.now(), via="payu", method="card", reference="t"
        )
    invoice = Invoice.objects.get(order=order)
    assert invoice.xml_signed, "the invoice should be rendered by now"
    return invoice


@pytest.fixture
def dian_transmitter(client) -> transmitter.DianTransmitter:
    return transmitter.DianTransmitter(client=client)


def sent_document(request: bytes) -> tuple[str, str, bytes]:
    """(ZIP name, XML entry name, XML) of a SendBillSync request."""
    root = etree.fromstring(request)
    name = root.findtext("soap:Body/wcf:SendBillSync/wcf:fileName", namespaces=NS)
    content = root.findtext("soap:Body/wcf:SendBillSync/wcf:contentFile", namespaces=NS)
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(content))) as archive:
        (entry,) = archive.namelist()
        return name, entry, archive.read(entry)


def test_an_accepted_invoice_carries_dians_answer(invoice, dian_transmitter, dian):
    dian.queue(samples.accepted())
    result = dian_transmitter.transmit(invoice)

    assert result.status == InvoiceStatus.ACCEPTED and not result.retryable
    assert result.application_response == samples.APPLICATION_RESPONSE
    assert result.document_key == samples.CUFE
    assert result.notifications == (
        "Regla: FAJ44b, Notificación: Nit o Documento de Identificación informado No se "
        "encuentra registrado en el RUT.",
    )
    assert result.errors == ()
    assert "Procesado Correctamente." in result.message
    zip_name, xml_name, xml = sent_document(dian.requests[0]["body"])
    assert xml == bytes(invoice.xml_signed)
    stem = f"0900123456000{invoice.issued_at.year % 100:02d}{invoice.number:08x}"
    assert (zip_name, xml_name) == (f"z{stem}.zip", f"fv{stem}.xml")
    (exchange,) = result.exchanges
    assert exchange.operation == "SendBillSync" and exchange.url == URL
    assert exchange.request == dian.requests[0]["body"]
    assert exchange.response == samples.accepted() and exchange.http_status == 200


def test_a_rejected_invoice_carries_dians_rules(invoice, dian_transmitter, dian):
    dian.queue(samples.rejected())
    result = dian_transmitter.transmit(invoice)
    assert result.status == InvoiceStatus.REJECTED and not result.retryable
    assert result.errors == (
        "Regla: FAD06, Rechazo: Valor del CUFE no está calculado correctamente.",
    )
    assert len(result.notifications) == 1
    assert result.application_response == b""  # only an accepted answer goes to the buyer


def test_already_processed_is_accepted_with_the_original_answer(invoice, dian_transmitter, dian):
    dian.queue(samples.already_processed())
    result = dian_transmitter.transmit(invoice)
    assert result.status == InvoiceStatus.ACCEPTED
    assert result.application_response == samples.APPLICATION_RESPONSE
    assert len(dian.requests) == 1


def test_already_processed_without_the_answer_asks_get_status(invoice, dian_transmitter, dian):
    dian.queue(
        samples.dian_response(
            valid=False,
            code="99",
            description="Validación contiene errores en campos mandatorios.",
            errors=("Regla: 90, Rechazo: Documento procesado anteriormente.",),
            application_response=None,
        )
    )
    dian.queue(samples.accepted("GetStatus", errors=None))
    result = dian_transmitter.transmit(invoice)
    assert result.status == InvoiceStatus.ACCEPTED
    assert result.application_response == samples.APPLICATION_RESPONSE
    assert [e.operation for e in result.exchanges] == ["SendBillSync", "GetStatus"]


def timeout() -> http.HttpError:
    error = http.HttpError("POST https://vpfe-hab.dian.gov.co/… failed: TimeoutError")
    error.__cause__ = TimeoutError("timed out")
    return error


def test_after_a_timeout_an_accepted_status_is_taken(invoice, dian_transmitter, dian):
    dian.fail(timeout())
    dian.queue(samples.accepted("GetStatus", errors=None))
    result = dian_transmitter.transmit(invoice)
    assert result.status == InvoiceStatus.ACCEPTED
    assert result.application_response == samples.APPLICATION_RESPONSE
    track_id = etree.fromstring(dian.requests[1]["body"]).findtext(".//wcf:trackId", namespaces=NS)
    assert track_id == invoice.cufe
    sent, asked = result.exchanges
    assert (sent.operation, sent.response, sent.http_status) == ("SendBillSync", b"", None)
    assert asked.operation == "GetStatus"


@pytest.mark.parametrize("status_answer", ["not found", "unavailable"])
def test_after_a_timeout_an_unknown_document_is_retried(
    invoice, dian_transmitter, dian, status_answer
):
    dian.fail(timeout())
    if status_answer == "not found":
        dian.queue(samples.not_found())
    else:
        dian.queue(b"Service Unavailable", status=503)
    with translation.override("en"):
        result = dian_transmitter.transmit(invoice)
    assert result.status == InvoiceStatus.SENT and result.retryable
    assert result.message == (
        "DIAN did not answer within 12.5 seconds and does not know the invoice yet; "
        "it will be sent again."
    )
    assert len(result.exchanges) == 2


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (b"<html>Service Unavailable</html>", 503),
        (samples.fault("s:Receiver", "internal error"), 500),
        (
            samples.dian_response(
                valid=False,
                code="500",
                description="Ha ocurrido un error. Por favor inténtentelo de nuevo.",
                errors=None,
                application_response=None,
            ),
            200,
        ),
        (
            samples.dian_response(
                valid=False, code="98", description="En Proceso", application_response=None
            ),
            200,
        ),
    ],
)
def test_dian_unavailable_or_busy_is_retried(invoice, dian_transmitter, dian, answer, status):
    dian.queue(answer, status=status)
    result = dian_transmitter.transmit(invoice)
    assert result.status == InvoiceStatus.SENT and result.retryable
    assert result.exchanges[0].response == answer


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (samples.fault("s:Client", "Certificado se encuentra revocado."), 500),
        (samples.request_error("NIT 900123456 no autorizado a enviar documentos"), 200),
    ],
)
def test_a_refused_request_is_not_retried(invoice, dian_transmitter, dian, answer, status):
    dian.queue(answer, status=status)
    result = dian_transmitter.transmit(invoice)
    assert result.status == InvoiceStatus.REJECTED and not result.retryable
    assert result.message


def test_staff_read_why_in_spanish(invoice, dian_transmitter, dian):
    """Stored as a code and values (the English sentence for logs), read in the reader's
    language whatever the worker's (``einvoice.attempt_texts``); DIAN's reason quoted as DIAN
    wrote it, the client's own English text kept apart as the technical detail."""
    dian.queue(samples.fault("s:Client", "Certificado se encuentra revocado."), status=500)
    result = dian_transmitter.transmit(invoice)
    assert result.message == (
        "DIAN refused the request (in its words: “Certificado se encuentra revocado.”); "
        "it is not sent again until this is fixed."
    )
    assert result.detail == "SOAP fault s:Client: Certificado se encuentra revocado."
    with translation.override("es"):
        assert attempt_texts.describe(result.message_code, result.message_values) == (
            "La DIAN rechazó la solicitud (en sus palabras: «Certificado se encuentra "
            "revocado.»); no se volverá a enviar hasta que esto se corrija."
        )
    dian.queue(b"<html>Service Unavailable</html>", status=503)
    with translation.override("es"):  # the worker's language changes nothing stored
        result = dian_transmitter.transmit(invoice)
    assert (result.message_code, dict(result.message_values)) == (
        "unavailable_http",
        {"status": "503"},
    )
    assert result.message == (
        "DIAN answered with HTTP error 503 and no readable answer; the document will be sent again."
    )
    assert result.detail.startswith("SendBillSync: HTTP 503, not a SOAP answer (")
    with translation.override("es"):
        text = attempt_texts.describe(result.message_code, result.message_values)
    assert text == (
        "La DIAN respondió con el error HTTP 503 y sin una respuesta legible; el documento se "
        "enviará de nuevo."
    )


def refused_connection() -> http.HttpError:
    error = http.HttpError("POST https://vpfe-hab.dian.gov.co/… failed: ConnectionRefusedError")
    error.__cause__ = ConnectionRefusedError(111, "Connection refused")
    return error


@pytest.mark.parametrize(
    ("answer", "status", "code", "values", "detail"),
    [
        (None, None, "unavailable_no_connection", {}, "SendBillSync: POST https://"),
        (b"garbage", 200, "unavailable_unreadable", {}, "SendBillSync: HTTP 200, not a SOAP"),
        (b"<html>Bad gateway</html>", 502, "unavailable_http", {"status": "502"}, "SendBillSync"),
        (
            samples.fault("s:Receiver", "Error interno"),
            500,
            "unavailable_fault",
            {"reason": "Error interno"},
            "SOAP fault s:Receiver: Error interno",
        ),
        (b"<html>Not Found</html>", 404, "refused_http", {"status": "404"}, "SendBillSync"),
    ],
)
def test_what_happened_in_our_words_and_the_detail_apart(
    invoice, dian_transmitter, dian, answer, status, code, values, detail
):
    if answer is None:
        dian.fail(refused_connection())
    else:
        dian.queue(answer, status=status)
    result = dian_transmitter.transmit(invoice)
    assert (result.message_code, dict(result.message_values)) == (code, values)
    assert result.detail.startswith(detail)
    for language in ("en", "es"):
        with translation.override(language):
            words = attempt_texts.describe(result.message_code, result.message_values)
        assert words and "SendBillSync" not in words and "SOAP" not in words


def test_nothing_secret_reaches_the_logs(invoice, dian, caplog, settings, monkeypatch, tmp_path):
    """Neither the certificate's password nor its private key, whatever DIAN answers."""
    settings.EINVOICE_CERT_PATH = str(tmp_path / "issuer.p12")
    settings.EINVOICE_CERT_PASSWORD = "Zq7-secreto-del-certificado"
    signing.create_demo_certificate(
        settings.EINVOICE_CERT_PATH, settings.EINVOICE_CERT_PASSWORD, "Conexcol"
    )
    settings.DIAN_WS_URL = URL
    monkeypatch.setattr(transport, "send", dian)
    dian.queue(samples.accepted())
    dian.fail(timeout())
    dian.queue(samples.not_found())
    dian.queue(samples.fault("s:Client", "Certificado se encuentra revocado."), status=500)
    dian.queue(b"garbage", status=503)
    with caplog.at_level(logging.DEBUG):
        for _ in range(4):
            transmitter.DianTransmitter().transmit(invoice)
    key, _cert = signing.load_pkcs12(settings.EINVOICE_CERT_PATH, settings.EINVOICE_CERT_PASSWORD)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    logged = caplog.text
    assert "DIAN SendBillSync answered HTTP 200" in logged
    assert "Zq7-secreto" not in logged
    assert pem.split(b"\n")[1].decode() not in logged and "PRIVATE KEY" not in logged


def test_an_unsigned_invoice_is_not_sent(invoice, dian_transmitter, dian):
    invoice.xml_signed = b""  # as before rendering (not saved: the suite validates saved invoices)
    result = dian_transmitter.transmit(invoice)
    assert result.retryable and dian.requests == []


def test_the_configured_transmitter_signs_with_the_issuers_certificate(
    invoice, dian, monkeypatch, settings
):
    """Through the pipeline's own transmit step, HTTP replaced at the project's choke point."""
    settings.EINVOICE_TRANSMITTER = "clientarea.einvoice.dian.transmitter.DianTransmitter"
    settings.DIAN_WS_URL = URL
    monkeypatch.setattr(transport, "send", dian)
    dian.queue(samples.accepted())
    attempt = transmit_invoice(invoice=invoice)
    assert attempt.status == InvoiceStatus.ACCEPTED
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.ACCEPTED
    token = etree.fromstring(dian.requests[0]["body"]).findtext(
        f".//{{{envelope.WSSE}}}BinarySecurityToken"
    )
    _key, cert = signing.load_pkcs12(settings.EINVOICE_CERT_PATH, settings.EINVOICE_CERT_PASSWORD)
    assert base64.b64decode(token) == cert.public_bytes(serialization.Encoding.DER)
    assert dian.requests[0]["timeout"] == settings.DIAN_WS_TIMEOUT
    assert dian.requests[0]["connect_timeout"] == settings.DIAN_WS_CONNECT_TIMEOUT


# -- the endpoint ---------------------------------------------------------------------


def test_endpoint_url_from_settings(settings):
    settings.DIAN_WS_URL = ""
    settings.DIAN_SANDBOX = False
    settings.EINVOICE_ENVIRONMENT = "habilitacion"
    assert transmitter.endpoint_url() == "https://vpfe-hab.dian.gov.co/WcfDianCustomerServices.svc"
    settings.EINVOICE_ENVIRONMENT = "production"
    assert transmitter.endpoint_url() == "https://vpfe.dian.gov.co/WcfDianCustomerServices.svc"
    settings.DIAN_SANDBOX = True
    settings.SITE_URL = "http://127.0.0.1:8000"
    assert transmitter.endpoint_url() == (
        "http://127.0.0.1:8000/sandbox/dian/WcfDianCustomerServices.svc"
    )
    settings.DIAN_WS_URL = "https://proxy.example/dian.svc"
    assert transmitter.endpoint_url() == "https://proxy.example/dian.svc"
    settings.DIAN_WS_URL = ""
    settings.DIAN_SANDBOX = False
    settings.EINVOICE_ENVIRONMENT = "produccion"
    with pytest.raises(ImproperlyConfigured, match="EINVOICE_ENVIRONMENT"):
        transmitter.endpoint_url()


def test_client_from_settings_uses_the_timeout(settings, invoice):
    settings.DIAN_WS_URL = URL
    settings.DIAN_WS_TIMEOUT = 7.5
    settings.DIAN_WS_CONNECT_TIMEOUT = 2.5
    made = transmitter.client_from_settings()
    assert isinstance(made, DianClient) and made.url == URL and made.timeout == 7.5
    assert made.connect_timeout == 2.5
