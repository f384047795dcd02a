"""End to end in a real browser: pay through the PayU simulator, the invoice waits for DIAN, the
worker sends it to the local DIAN simulator over HTTP, DIAN accepts it, and the customer gets the
email whose ZIP holds the AttachedDocument with DIAN's ApplicationResponse, then downloads the
PDF and the XML.

The worker's after-commit job for the invoice is held back (as if the worker were busy), so the
customer sees the "being validated by DIAN" state; the test then runs the worker's sweep, which
signs, sends and emails it.
"""

from __future__ import annotations

import importlib.util
import io
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.urls import reverse
from lxml import etree

from clientarea.billing import services as billing
from clientarea.catalog.models import Product, ProductPrice
from clientarea.einvoice import delivery, services
from clientarea.einvoice.dian import transport
from clientarea.einvoice.models import Invoice, InvoiceStatus
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.notifications.models import OutgoingEmail
from clientarea.test import ACCESS_CODE, make_customer, make_provider

SIMULATOR = "clientarea.einvoice.sandbox"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        importlib.util.find_spec(SIMULATOR) is None or not apps.is_installed(SIMULATOR),
        reason="the local DIAN simulator (clientarea.einvoice.sandbox) is not installed",
    ),
    pytest.mark.urls("clientarea.einvoice.dian.tests.sandbox_urls"),
    pytest.mark.django_db(transaction=True),
]
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
AR = "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"


@pytest.fixture
def dian_on(live_site, settings, monkeypatch):
    """The product sends invoices to the simulator (configuration only); the job is held back."""
    call_command("dian_sandbox_seed")
    settings.EINVOICE_TRANSMITTER = "clientarea.einvoice.dian.transmitter.DianTransmitter"
    settings.DIAN_WS_URL = live_site.url + settings.DIAN_SANDBOX_PATH
    settings.DIAN_WS_TIMEOUT = 30
    monkeypatch.setattr(services, "_schedule_render", lambda invoice_id: None)
    yield
    transport.close_connections()


def test_pay_validate_accept_email_and_download(page, live_site, dian_on, tmp_path: Path):
    make_provider()
    make_resolution()
    product = Product.objects.create(code="hosting-pyme", name="Hosting Pyme", kind="hosting")
    ProductPrice.objects.create(product=product, cycle="annual", price=Decimal("480000"))
    alice = make_customer(
        "alice@example.com", first_name="Alice", last_name="Gómez", document_number="1020304050"
    )
    order = billing.order_new_service(
        customer=alice, product=product, cycle="annual", label="alice.co"
    )

    # Pay through the PayU simulator.
    page.goto(live_site.url + "/")
    page.click("#client-access")
    page.fill("#id_username", "alice@example.com")
    page.fill("#id_password", ACCESS_CODE)
    page.click("main button[type=submit]")
    page.wait_for_url(live_site.url + "/clientarea/")
    page.goto(live_site.url + f"/clientarea/billing/{order.number}/")
    page.click("#pay-now")
    page.wait_for_url(re.compile(r"/payments/pay/"))
    page.click("#gateway-payu")
    page.get_by_label("Nombre en la tarjeta").fill("Alice Gomez")
    page.get_by_label("Número de la tarjeta").fill("4111111111111111")
    page.get_by_label("Fecha de vencimiento (MM/AA)").fill("12/39")
    page.get_by_label("Código de seguridad (CVV)").fill("123")
    page.get_by_role("button", name="Pagar con tarjeta").click()
    page.wait_for_url(re.compile(r"/payments/result/"))
    page.wait_for_selector("#payment-status[data-status='approved']", timeout=20000)

    # Paid; the invoice is numbered and waits for DIAN: the customer is told so.
    invoice = Invoice.objects.get(order=order)
    assert invoice.full_number and invoice.awaiting_dian and not invoice.transmitted_at
    page.goto(live_site.url + f"/clientarea/billing/{order.number}/")
    assert page.locator("#order-invoice-validating").is_visible()
    assert invoice.full_number in page.inner_text("#order-invoice-validating")
    page.goto(live_site.url + "/clientarea/invoices/")
    assert page.locator(".dian-validating").first.is_visible()
    assert page.locator(f"a[href='/clientarea/invoices/{invoice.full_number}/pdf/']").count() == 0
    assert not OutgoingEmail.objects.filter(template="invoice_issued").exists()

    # The worker: signs it, sends it to DIAN (the simulator, over HTTP), DIAN accepts, emails.
    assert delivery.process_pending_invoices() == {"done": 1, "failed": 0}
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.ACCEPTED and invoice.application_response

    # My emails: the invoice email; its ZIP holds the AttachedDocument with DIAN's answer.
    page.goto(live_site.url + reverse("accounts:emails"))
    email = OutgoingEmail.objects.get(template="invoice_issued", customer=alice)
    page.click(f"a[href='{reverse('accounts:email_detail', args=[email.pk])}']")
    zip_link = page.locator("a", has_text=re.compile(r"\.zip$"))
    with page.expect_download() as download:
        zip_link.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    archive = zipfile.ZipFile(io.BytesIO(saved.read_bytes()))
    (name,) = [n for n in archive.namelist() if n.endswith(".xml")]
    attached = etree.fromstring(archive.read(name))
    assert etree.QName(attached).localname == "AttachedDocument"
    embedded = attached.findtext(
        f"{{{CAC}}}ParentDocumentLineReference/{{{CAC}}}DocumentReference/{{{CAC}}}Attachment"
        f"/{{{CAC}}}ExternalReference/{{{CBC}}}Description"
    )
    assert embedded, "the AttachedDocument carries no ApplicationResponse"
    answer = etree.fromstring(embedded.strip().encode())
    assert answer.tag == f"{{{AR}}}ApplicationResponse"
    response = answer.find(f"{{{CAC}}}DocumentResponse")
    assert response is not None
    assert response.findtext(f"{{{CAC}}}Response/{{{CBC}}}ResponseCode") == "02"  # accepted
    reference = response.findtext(f"{{{CAC}}}DocumentReference/{{{CBC}}}UUID")
    assert reference == invoice.cufe
    stored = etree.fromstring(bytes(invoice.application_response))
    assert etree.tostring(answer, method="c14n") == etree.tostring(stored, method="c14n")

    # Invoices: the PDF and the XML can now be downloaded.
    page.goto(live_site.url + "/clientarea/invoices/")
    assert page.locator(".dian-validating").count() == 0
    with page.expect_download() as pdf:
        page.click(f"a[href='/clientarea/invoices/{invoice.full_number}/pdf/']")
    assert pdf.value.suggested_filename == f"{invoice.full_number}.pdf"
    pdf_path = tmp_path / "invoice.pdf"
    pdf.value.save_as(pdf_path)
    assert pdf_path.read_bytes().startswith(b"%PDF")
    with page.expect_download() as xml:
        page.click(f"a[href='/clientarea/invoices/{invoice.full_number}/xml/']")
    assert xml.value.suggested_filename == f"{invoice.full_number}.xml"
    page.goto(live_site.url + f"/clientarea/billing/{order.number}/")
    assert page.locator("#order-invoice").is_visible()
