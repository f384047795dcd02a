"""Round trips over real HTTP between our DIAN client and the local DIAN simulator.

The simulator (``clientarea.einvoice.sandbox``) is DIAN's side, written independently from the
docs; these tests only use its public surfaces: its URL, its seed command and its fault-switch
HTTP API. They are skipped where the simulator is not installed.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import time
import urllib.parse
import urllib.request
from decimal import Decimal

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from lxml import etree

from clientarea.billing import services as billing
from clientarea.catalog.models import Product, ProductPrice
from clientarea.einvoice import signing
from clientarea.einvoice.demo import DIAN_TEST_TECHNICAL_KEY
from clientarea.einvoice.dian import files
from clientarea.einvoice.dian.client import DianClient, DianFault
from clientarea.einvoice.dian.transmitter import DianTransmitter
from clientarea.einvoice.models import Invoice, InvoiceStatus, NumberingResolution
from clientarea.test import make_customer, make_provider

from .conftest import make_identity

SIMULATOR = "clientarea.einvoice.sandbox"
pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec(SIMULATOR) is None or not apps.is_installed(SIMULATOR),
        reason="the local DIAN simulator (clientarea.einvoice.sandbox) is not installed",
    ),
    pytest.mark.urls("clientarea.einvoice.dian.tests.sandbox_urls"),
    pytest.mark.django_db(transaction=True),
]
AR = "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
DEMO_SOFTWARE_ID = "56f2ae4e-9812-4fad-9255-08fcfcd5ccb0"  # the product's EINVOICE_SOFTWARE_ID


@pytest.fixture
def endpoint(live_server) -> str:
    call_command("dian_sandbox_seed")  # live-server tests start from an empty database
    return live_server.url + settings.DIAN_SANDBOX_PATH


def arm(live_server, kind: str, **values: str) -> None:
    """Switch a fault on through the simulator's fault API."""
    data = urllib.parse.urlencode({"kind": kind, **values}).encode()
    request = urllib.request.Request(live_server.url + "/sandbox/dian/faults", data=data)
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 201


def issuer_client(endpoint: str, *, timeout: float = 30) -> DianClient:
    """Signs with the same certificate the invoices are signed with (EINVOICE_CERT_PATH)."""
    key, cert = signing.load_pkcs12(settings.EINVOICE_CERT_PATH, settings.EINVOICE_CERT_PASSWORD)
    return DianClient(url=endpoint, key=key, certificate=cert, timeout=timeout)


def paid_invoice(django_capture_on_commit_callbacks, label: str = "cliente.co") -> Invoice:
    if not NumberingResolution.objects.exists():
        make_provider()
        NumberingResolution.objects.create(
            number="18760000001", prefix="SETP", range_from=990000000, range_to=995000000,
            next_number=990000000, valid_from=dt.date(2019, 1, 19), valid_to=dt.date(2030, 1, 19),
            technical_key=DIAN_TEST_TECHNICAL_KEY, environment="2",
        )  # fmt: skip
        hosting = Product.objects.create(code="hosting", name="Hosting Pyme", kind="hosting")
        ProductPrice.objects.create(product=hosting, cycle="annual", price=Decimal("45990"))
    hosting = Product.objects.get(code="hosting")
    order = billing.order_new_service(
        customer=make_customer(), product=hosting, cycle="annual", label=label
    )
    with django_capture_on_commit_callbacks(execute=True):
        billing.mark_order_paid(
            order_id=order.pk, paid_at=timezone.now(), via="payu", method="card", reference=label
        )
    invoice = Invoice.objects.get(order=order)
    assert invoice.xml_signed
    return invoice


def response_code(application_response: bytes) -> tuple[str, str]:
    """(ResponseCode, referenced document key) of an ApplicationResponse."""
    root = etree.fromstring(application_response)
    assert root.tag == f"{{{AR}}}ApplicationResponse"
    code = root.findtext(f"{{{CAC}}}DocumentResponse/{{{CAC}}}Response/{{{CBC}}}ResponseCode")
    key = root.findtext(f"{{{CAC}}}DocumentResponse/{{{CAC}}}DocumentReference/{{{CBC}}}UUID")
    return code, key


def test_an_invoice_is_accepted_and_a_resend_is_already_processed(
    endpoint, django_capture_on_commit_callbacks
):
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    transmitter = DianTransmitter(client=issuer_client(endpoint))

    first = transmitter.transmit(invoice)
    assert first.status == InvoiceStatus.ACCEPTED, (first.message, first.errors)
    assert first.document_key.lower() == invoice.cufe.lower()
    assert response_code(first.application_response) == ("02", invoice.cufe)
    assert first.exchanges[0].response.startswith(b"<")

    again = transmitter.transmit(invoice)  # e.g. after an answer lost on the way back
    assert again.status == InvoiceStatus.ACCEPTED
    assert again.errors == ("Regla: 90, Rechazo: Documento procesado anteriormente.",)
    assert response_code(again.application_response) == ("02", invoice.cufe)

    status = issuer_client(endpoint).get_status(track_id=invoice.cufe).result
    assert status.accepted and response_code(status.application_response)[0] == "02"


def test_a_rejected_invoice_then_accepted_once_resent(
    endpoint, live_server, django_capture_on_commit_callbacks
):
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    transmitter = DianTransmitter(client=issuer_client(endpoint))
    arm(live_server, "reject_next")
    rejected = transmitter.transmit(invoice)
    assert rejected.status == InvoiceStatus.REJECTED and not rejected.retryable
    assert [e.split(",")[0] for e in rejected.errors] == ["Regla: FAD06"]
    accepted = transmitter.transmit(invoice)  # the same number: a rejection does not consume it
    assert accepted.status == InvoiceStatus.ACCEPTED


@pytest.mark.parametrize("kind", ["http_500", "http_503", "garbage"])
def test_dian_down_is_retried_then_recovers(
    endpoint, live_server, django_capture_on_commit_callbacks, kind
):
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    transmitter = DianTransmitter(client=issuer_client(endpoint))
    arm(live_server, kind)
    down = transmitter.transmit(invoice)
    assert down.status == InvoiceStatus.SENT and down.retryable
    assert transmitter.transmit(invoice).status == InvoiceStatus.ACCEPTED


def test_a_timeout_asks_get_status_and_is_retried(
    endpoint, live_server, django_capture_on_commit_callbacks
):
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    transmitter = DianTransmitter(client=issuer_client(endpoint, timeout=1))
    arm(live_server, "timeout", seconds="3")
    started = time.monotonic()
    lost = transmitter.transmit(invoice)
    assert time.monotonic() - started < 10
    assert lost.status == InvoiceStatus.SENT and lost.retryable
    assert [e.operation for e in lost.exchanges] == ["SendBillSync", "GetStatus"]
    assert lost.exchanges[0].http_status is None
    assert transmitter.transmit(invoice).status == InvoiceStatus.ACCEPTED


def test_in_process_status_is_pending(endpoint, live_server, django_capture_on_commit_callbacks):
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    arm(live_server, "in_process")
    status = issuer_client(endpoint).get_status(track_id=invoice.cufe).result
    assert status.pending and status.status_code == "98"


def test_an_expired_certificate_is_a_fault_not_retried(endpoint):
    key, fresh = make_identity()
    now = dt.datetime.now(dt.UTC)
    expired = (
        x509.CertificateBuilder()
        .subject_name(fresh.subject)
        .issuer_name(fresh.issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=400))
        .not_valid_after(now - dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(DianFault) as caught:
        DianClient(url=endpoint, key=key, certificate=expired).get_status(track_id="a" * 96)
    assert not caught.value.retryable
    assert (
        caught.value.exchange.http_status is not None and caught.value.exchange.http_status >= 400
    )


def test_numbering_ranges_of_the_demo_software(endpoint):
    """The simulator's demo software (DIAN's test software id) belongs to a software provider
    (``dian_sandbox_seed --provider-nit``, 800123456 by default): ``accountCodeT``."""
    client = issuer_client(endpoint)
    result = client.get_numbering_range(
        account_code="900123456", account_code_t="800123456", software_code=DEMO_SOFTWARE_ID
    ).result
    assert result.ok, (result.operation_code, result.operation_description)
    setp = next(r for r in result.ranges if r.prefix == "SETP")
    assert (setp.from_number, setp.to_number) == (990000000, 995000000)
    assert (setp.valid_from, setp.valid_to) == (dt.date(2019, 1, 19), dt.date(2030, 1, 19))
    assert setp.technical_key == DIAN_TEST_TECHNICAL_KEY
    unknown = client.get_numbering_range(
        account_code="900123456", account_code_t="900123456", software_code=DEMO_SOFTWARE_ID
    ).result
    assert not unknown.ok and unknown.operation_code == "303" and unknown.ranges == ()


def test_the_test_set_upload_and_its_status(endpoint, django_capture_on_commit_callbacks):
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    client = issuer_client(endpoint)
    assert invoice.issued_at is not None and invoice.number is not None
    parcel = files.package(
        bytes(invoice.xml_signed),
        files.DocumentKind.INVOICE,
        supplier_nit="900123456",
        year=invoice.issued_at.year,
        sequence=invoice.number,
    )
    upload = client.send_test_set_async(
        file_name=parcel.file_name,
        content=parcel.content,
        test_set_id="7c4f0a2e-5b1d-4e8a-9f63-2d8b1e6a0c35",  # the simulator's demo test set
    ).result
    assert upload.received, upload.errors
    for _ in range(20):
        statuses = client.get_status_zip(track_id=upload.zip_key).result
        if statuses and not any(s.pending for s in statuses):
            break
        time.sleep(0.25)
    (status,) = statuses
    assert status.accepted, (status.status_code, status.messages)
    assert status.xml_document_key.lower() == invoice.cufe.lower()


def test_a_slow_answer_within_the_timeout_is_waited_for(
    endpoint, live_server, django_capture_on_commit_callbacks
):
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    arm(live_server, "slow", seconds="1")
    started = time.monotonic()
    result = DianTransmitter(client=issuer_client(endpoint, timeout=10)).transmit(invoice)
    assert result.status == InvoiceStatus.ACCEPTED and time.monotonic() - started >= 1


def test_paying_an_order_ends_accepted_by_the_simulator_with_configuration_only(
    live_server, settings, django_capture_on_commit_callbacks
):
    """EINVOICE_TRANSMITTER and DIAN_SANDBOX: the endpoint comes from SITE_URL."""
    call_command("dian_sandbox_seed")
    settings.EINVOICE_TRANSMITTER = "clientarea.einvoice.dian.transmitter.DianTransmitter"
    settings.DIAN_SANDBOX = True
    settings.DIAN_WS_URL = ""
    settings.SITE_URL = live_server.url
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.ACCEPTED
    attempt = invoice.transmissions.get()
    assert attempt.status == InvoiceStatus.ACCEPTED and not attempt.retryable
    assert attempt.transmitter.endswith("DianTransmitter")
