"""Real browser, 1366 px beside the admin's navigation sidebar: the DIAN queue (documents DIAN
has not accepted yet) fits without scrolling sideways, and its customer column keeps room for a
name (it was squeezed to a letter or two: names wrapped letter by letter)."""

import io
import os
from decimal import Decimal

import pytest
from django.core.management import call_command

from clientarea.accounts.models import Customer
from clientarea.einvoice.models import Invoice, InvoiceStatus
from clientarea.einvoice.services import issue_credit_note
from clientarea.test import ACCESS_CODE, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TABLE = """() => { const e = document.querySelector('#changelist .results');
    return [e.scrollWidth, e.clientWidth, document.querySelectorAll('#result_list tbody tr').length]; }"""

#: Each customer cell: its width, and the widest word of the name (as rendered in the cell's font).
CUSTOMERS = """() => [...document.querySelectorAll('#result_list td.field-customer_column')].map(td => {
    const probe = document.createElement('span');
    td.appendChild(probe);
    const name = td.firstChild.textContent.trim();
    const widest = Math.max(...name.split(/\\s+/).map(word => {
        probe.textContent = word; return probe.getBoundingClientRect().width; }));
    probe.remove();
    const style = getComputedStyle(td);
    const inner = td.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return [name, Math.round(inner), Math.ceil(widest)];
})"""


@pytest.mark.parametrize("path", ["/admin/einvoice/invoice/", "/admin/einvoice/note/"])
def test_the_dian_queue_fits_at_1366_px(browser, live_site, path):
    call_command("demo_data", stdout=io.StringIO())
    invoice = next(i for i in Invoice.objects.filter(kind="invoice") if i.is_validated)
    for concept in ("1", "2"):  # notes in the queue too
        issue_credit_note(invoice=invoice, concept=concept, reason="Ajuste", amount=Decimal("1000"))
    # Every document of the demo waits for DIAN: the queue has rows of every kind and width.
    Invoice.objects.exclude(status=InvoiceStatus.WAITING).update(
        status=InvoiceStatus.REJECTED, transmitted_at=None
    )
    # A long company name with a long word.
    Customer.objects.filter(pk=invoice.customer_id).update(
        legal_name="Distribuidora Internacional de Telecomunicaciones del Pacífico S.A.S."
    )
    staff = make_staff()
    context = browser.new_context(locale="es-CO", viewport={"width": 1366, "height": 800})
    context.set_default_timeout(15000)
    page = context.new_page()
    page.goto(live_site.url + "/admin/login/")
    page.fill("#id_username", staff.email)
    page.fill("#id_password", ACCESS_CODE)
    with page.expect_navigation():
        page.click("input[type=submit]")
    page.goto(live_site.url + path + "?dian=pending")
    scroll, width, rows = page.evaluate(TABLE)
    customers = page.evaluate(CUSTOMERS)
    if shot := os.environ.get("DIAN_QUEUE_SCREENSHOT"):
        page.screenshot(path=f"{shot}-{path.strip('/').replace('/', '-')}.png", full_page=True)
    context.close()
    assert rows > 0
    assert scroll <= width, (scroll, width)
    assert any("Telecomunicaciones" in name for name, _inner, _widest in customers)
    for name, inner, widest in customers:  # every word of a name fits on its line
        assert inner >= 120 and widest <= inner, (name, inner, widest)
