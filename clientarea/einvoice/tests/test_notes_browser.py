"""Real browser: staff issue a credit note for part of an invoice from the back office; the
customer sees it under Invoices, attached to its invoice, and downloads its PDF."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from clientarea.billing import services as billing
from clientarea.catalog.models import Product, ProductPrice
from clientarea.einvoice.models import DocumentKind, Invoice
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.test import ACCESS_CODE, make_customer, make_provider, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, email: str, submit: str) -> None:
    page.fill("#id_username", email)
    page.fill("#id_password", ACCESS_CODE)
    page.click(submit)


def test_staff_issue_a_partial_credit_note_and_the_customer_downloads_its_pdf(
    browser, page, live_site
):
    make_provider()
    make_resolution()
    hosting = Product.objects.create(code="hosting", name="Hosting Pyme", kind="hosting")
    ProductPrice.objects.create(product=hosting, cycle="annual", price=Decimal("480000"))
    laura = make_customer("laura@example.com", first_name="Laura", password=ACCESS_CODE)
    order = billing.order_new_service(
        customer=laura, product=hosting, cycle="annual", label="laura.co"
    )
    billing.mark_order_paid(order_id=order.pk, paid_at=timezone.now(), via="payu", method="card")
    invoice = Invoice.objects.get(order=order)
    assert invoice.is_validated
    make_staff()

    # Staff: the invoice page → "Issue credit note" → 100 000 before IVA on line 1.
    page.goto(f"{live_site.url}/admin/einvoice/invoice/{invoice.pk}/change/")
    log_in(page, "carol@conexcol.example", "#login-form [type=submit]")
    page.wait_for_url(f"**/admin/einvoice/invoice/{invoice.pk}/change/")
    page.click("#invoice-credit-note")
    page.wait_for_url("**/credit-note/")
    page.select_option("#id_concept", "1")
    page.fill("#id_reason", "Servicio prestado solo parte del año")
    page.check("input[name=scope][value=lines]")
    page.fill("#id_line_1", "600000")  # more than the line: refused with a clear message
    page.click("#content-main input[type=submit]")
    assert "480.000" in page.locator(".errornote").inner_text()  # at most the line's value
    assert not Invoice.objects.filter(reference=invoice).exists()
    page.fill("#id_line_1", "100000")
    page.click("#content-main input[type=submit]")
    page.wait_for_url(f"**/admin/einvoice/invoice/{invoice.pk}/change/")
    note = Invoice.objects.get(kind=DocumentKind.CREDIT_NOTE, reference=invoice)
    assert note.total == Decimal("119000.00")
    assert note.full_number in page.locator(".messagelist").inner_text()
    assert note.full_number in page.locator(".field-notes_list").inner_text()
    page.screenshot(path="/tmp/ca-credit-note-admin.png", full_page=True)

    # The customer: Invoices → the note under its invoice → its PDF.
    customer = browser.new_context(locale="es-CO", viewport={"width": 390, "height": 844})
    phone = customer.new_page()
    phone.goto(live_site.url + "/clientarea/login/")
    log_in(phone, "laura@example.com", "main button[type=submit]")
    phone.wait_for_url(live_site.url + "/clientarea/")
    phone.goto(live_site.url + "/clientarea/invoices/")
    notes = phone.locator("tr.invoice-notes table")
    assert invoice.full_number in notes.locator("caption").inner_text()
    row = notes.locator("tbody tr").first
    assert note.full_number in row.inner_text()
    assert "119.000" in row.inner_text()
    phone.screenshot(path="/tmp/ca-credit-note-customer.png", full_page=True)
    with phone.expect_download() as download_info:
        row.locator("a", has_text="PDF").click()
    download = download_info.value
    assert download.suggested_filename == f"{note.full_number}.pdf"
    with open(download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    customer.close()
