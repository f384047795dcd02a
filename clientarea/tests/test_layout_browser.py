"""The client area's pages fit a phone (390 px) and keep every column of their tables in view
on a desktop, in a real browser (Chromium) on the demo data."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from clientarea.accounts.demo import DEMO_ACCESS_CODE
from clientarea.billing.models import Order
from clientarea.subscriptions.models import Service

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

CUSTOMER_PAGES = [
    "/clientarea/",
    "/clientarea/services/",
    "/clientarea/billing/",
    "/clientarea/billing/statement/",
    "/clientarea/invoices/",
    "/clientarea/emails/",
    "/clientarea/contacts/",
    "/clientarea/withholdings/",
    "/clientarea/profile/",
]

# Tables (or their scrolling wrappers) whose content is wider than they are.
CLIPPED = """() => Array.from(document.querySelectorAll('.table-wrap, table'))
    .filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => (e.id || e.className) + ' ' + e.scrollWidth + '>' + e.clientWidth)"""

CLIPPED_BODY = (
    "() => Array.from(document.querySelectorAll('.email-body'))"
    ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.scrollWidth)"
)


def log_in(page, base_url: str, email: str) -> None:
    page.goto(base_url + "/clientarea/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", DEMO_ACCESS_CODE)
    with page.expect_navigation():
        page.click("main button[type=submit]")


@pytest.fixture
def demo(live_site):
    call_command("demo_data", stdout=io.StringIO())


@pytest.mark.parametrize("email", ["ana@cliente.example", "compras@tiendaandina.example"])
def test_no_client_area_page_is_wider_than_a_phone(browser, live_site, demo, email):
    context = browser.new_context(locale="es-CO", viewport=PHONE)
    context.set_default_timeout(15000)
    page = context.new_page()
    try:
        log_in(page, live_site.url, email)
        too_wide = {}
        for path in CUSTOMER_PAGES:
            page.goto(live_site.url + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                too_wide[path] = width
        # An invoice's email: DIAN's subject ("NIT;Name;Number;01;Name") and its 96-character CUFE.
        page.goto(live_site.url + "/clientarea/emails/")
        with page.expect_navigation():
            page.locator("a", has_text=";01;").first.click()
        width = page.evaluate("document.documentElement.scrollWidth")
        clipped = page.evaluate(CLIPPED_BODY)
        if width > PHONE["width"] or clipped:
            too_wide["the invoice's email"] = (width, clipped)
        # The services, the contacts, an order's items and the withholdings are cards on a
        # phone: nothing scrolled out of view.
        order = Order.objects.filter(customer__user__email=email).order_by("pk").first()
        service = Service.objects.filter(
            customer__user__email=email, order_items__isnull=False
        ).first()
        assert order is not None and service is not None
        for path in (
            "/clientarea/services/",
            "/clientarea/contacts/",
            f"/clientarea/billing/{order.number}/",
            "/clientarea/withholdings/",
            f"/clientarea/services/{service.pk}/",
        ):
            page.goto(live_site.url + path)
            if clipped := page.evaluate(CLIPPED):
                too_wide[path] = clipped
    finally:
        context.close()
    assert too_wide == {}


def test_the_services_table_shows_every_column_on_a_desktop(browser, live_site, demo):
    """ana's suspended service ("Suspended · overdue payment") pushed the due date out of view."""
    context = browser.new_context(locale="es-CO", viewport=DESKTOP)
    context.set_default_timeout(15000)
    page = context.new_page()
    try:
        log_in(page, live_site.url, "ana@cliente.example")
        page.goto(live_site.url + "/clientarea/services/")
        assert page.locator(".services .badge-pending").count() == 1
        assert page.evaluate(CLIPPED) == []
    finally:
        context.close()


def test_the_back_office_customer_page_shows_every_value_of_its_cards(browser, live_site, demo):
    """The Contacto card's long label ("Correo de recepción de facturas electrónicas") took all
    its width: the email, phone and address were one character wide, out of sight."""
    from clientarea.accounts.demo import DEMO_STAFF_PASSWORD
    from clientarea.accounts.models import Customer

    ana = Customer.objects.get(user__email="ana@cliente.example")
    context = browser.new_context(locale="es-CO", viewport=DESKTOP)
    context.set_default_timeout(15000)
    page = context.new_page()
    try:
        page.goto(live_site.url + "/admin/login/")
        page.fill("#id_username", "soporte@conexcol.example")
        page.fill("#id_password", DEMO_STAFF_PASSWORD)
        with page.expect_navigation():
            page.click("input[type=submit]")
        page.goto(live_site.url + f"/backoffice/customers/{ana.pk}/")
        narrow = page.evaluate(
            "() => Array.from(document.querySelectorAll('.bo-dl dd'))"
            ".filter(dd => dd.getBoundingClientRect().width < 100)"
            ".map(dd => dd.textContent.trim())"
        )
    finally:
        context.close()
    assert narrow == []
