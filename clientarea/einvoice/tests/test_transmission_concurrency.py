"""Real concurrency on PostgreSQL: invoices resent to DIAN while new ones are issued and a
habilitación test set takes numbers from the same test numbering.

Threads (one database connection each) pay new orders (each payment issues an invoice and the
worker's job, run inline, signs it and sends it to the local DIAN simulator over HTTP), send
already accepted invoices again, and start a test set. Afterwards: no number is used twice,
there is no gap, and every request DIAN received for a number carried that number's own
document (its ID and CUFE).
"""

from __future__ import annotations

import base64
import importlib.util
import io
import threading
import zipfile
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from lxml import etree

from clientarea.billing import services as billing
from clientarea.catalog.models import Product, ProductPrice
from clientarea.einvoice import habilitacion
from clientarea.einvoice.delivery import transmit_invoice
from clientarea.einvoice.dian import transport
from clientarea.einvoice.habilitacion_models import TestSetDocument
from clientarea.einvoice.models import Invoice, InvoiceStatus, TransmissionExchange
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.test import make_customer, make_provider

SIMULATOR = "clientarea.einvoice.sandbox"
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        importlib.util.find_spec(SIMULATOR) is None or not apps.is_installed(SIMULATOR),
        reason="the local DIAN simulator (clientarea.einvoice.sandbox) is not installed",
    ),
    pytest.mark.urls("clientarea.einvoice.dian.tests.sandbox_urls"),
    pytest.mark.django_db(transaction=True),
]
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
TEST_SET = "7c4f0a2e-5b1d-4e8a-9f63-2d8b1e6a0c35"
FIRST = 990000000


def _sent_document(request: bytes) -> etree._Element:
    envelope = etree.fromstring(request)
    content = envelope.findtext(".//{http://wcf.dian.colombia}contentFile")
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(content or "")))
    (name,) = archive.namelist()
    return etree.fromstring(archive.read(name))


@pytest.fixture(autouse=True)
def _close_kept_connections():
    """The live server's request thread holds a database connection while ours is kept open."""
    yield
    transport.close_connections()


def test_resends_and_new_invoices_never_share_a_number(live_server, settings, monkeypatch):
    call_command("dian_sandbox_seed")
    settings.EINVOICE_TRANSMITTER = "clientarea.einvoice.dian.transmitter.DianTransmitter"
    settings.DIAN_WS_URL = live_server.url + settings.DIAN_SANDBOX_PATH
    settings.DIAN_WS_TIMEOUT = 30
    monkeypatch.setattr(habilitacion.habilitacion_jobs, "advance_test_set_job", lambda run_id: None)
    make_provider()
    make_resolution()
    product = Product.objects.create(code="h", name="Hosting", kind="hosting")
    ProductPrice.objects.create(product=product, cycle="monthly", price=Decimal("50000"))

    def order(i: int):
        return billing.order_new_service(
            customer=make_customer(), product=product, cycle="monthly", label=f"s{i}.co"
        )

    def pay(order_id: int) -> None:
        billing.mark_order_paid(
            order_id=order_id, paid_at=timezone.now(), via="payu", method="card"
        )

    for earlier in [order(i) for i in range(3)]:
        pay(earlier.pk)  # issued, signed, sent and accepted one after the other
    accepted = list(Invoice.objects.filter(status=InvoiceStatus.ACCEPTED))
    assert len(accepted) == 3
    new_orders = [order(i) for i in range(3, 9)]

    errors: list[BaseException] = []
    tasks: list[tuple] = [(pay, o.pk) for o in new_orders]
    tasks += [(lambda inv: transmit_invoice(invoice=inv), inv) for inv in accepted * 2]
    tasks.append((lambda _: habilitacion.start_test_set(test_set_id=TEST_SET), None))
    barrier = threading.Barrier(len(tasks))

    def work(function, argument) -> None:
        try:
            barrier.wait()
            function(argument)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=task) for task in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []

    invoices = list(Invoice.objects.all())
    test_documents = list(TestSetDocument.objects.all())
    assert len(invoices) == 9 and len(test_documents) == 2
    numbers = sorted(
        [i.number or 0 for i in invoices] + [int(d.full_number[4:]) for d in test_documents]
    )
    assert numbers == list(range(FIRST, FIRST + 11))  # none twice, no gap

    for invoice in invoices:
        assert invoice.status == InvoiceStatus.ACCEPTED, (invoice.full_number, invoice.status)
        exchanges = TransmissionExchange.objects.filter(
            attempt__invoice=invoice, operation="SendBillSync"
        )
        assert exchanges.exists()
        for exchange in exchanges:
            sent = _sent_document(bytes(exchange.request))
            assert sent.findtext(f"{{{CBC}}}ID") == invoice.full_number
            assert sent.findtext(f"{{{CBC}}}UUID") == invoice.cufe
        for attempt in invoice.transmissions.all():
            assert attempt.document_key.lower() == invoice.cufe.lower()
    resent = {i.pk for i in accepted}
    for invoice in invoices:
        expected = 3 if invoice.pk in resent else 1  # first send + two concurrent resends
        assert invoice.transmissions.count() == expected
