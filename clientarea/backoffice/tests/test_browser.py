"""Real browser: a sale by phone (find → custom order → bank transfer → invoice) and login as customer."""

import pytest

from clientarea.billing.models import Order, OrderState
from clientarea.einvoice.models import Invoice
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.test import ACCESS_CODE, make_customer, make_provider, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def staff_login(page, url):
    page.goto(url + "/admin/login/?next=/admin/")
    page.fill("#id_username", "carol@conexcol.example")
    page.fill("#id_password", ACCESS_CODE)
    page.click("input[type=submit]")
    page.wait_for_url(url + "/admin/")


def find_customer(page, query):
    page.fill("#bo-header-q", query)
    page.press("#bo-header-q", "Enter")
    page.wait_for_url("**/backoffice/search/?q=*")
    page.click("#results-customers a")
    page.wait_for_url("**/backoffice/customers/*/")


def test_a_sale_by_phone_from_search_to_invoice(page, live_site):
    make_provider()
    make_resolution()
    make_staff()
    jose = make_customer(
        "jose@correo.example", first_name="José", last_name="Restrepo Peña", password=ACCESS_CODE
    )
    make_customer("ana@correo.example", first_name="Ana", last_name="Gómez")
    staff_login(page, live_site.url)

    find_customer(page, "restrepo pena")  # no accents typed
    assert page.locator("h1").inner_text().strip() == "José Restrepo Peña"

    page.click("#action-new-order")
    page.wait_for_url("**/orders/new/")
    page.fill("#id_lines-0-description", "Migración de sitio web")
    page.fill("#id_lines-0-quantity", "1")
    page.fill("#id_lines-0-unit_price", "250000")
    page.fill("#id_lines-1-description", "Transferencia de dominio .co")
    page.fill("#id_lines-1-quantity", "1")
    page.fill("#id_lines-1-unit_price", "40000")
    page.select_option("#id_lines-1-iva", "exempt")
    page.click("#order-form input[type=submit]")
    page.wait_for_url(f"**/backoffice/customers/{jose.pk}/#orders")
    order = Order.objects.get(customer=jose)
    assert order.total == 337500  # 250.000 + 19 % IVA + 40.000 exempt
    assert order.number in page.locator("#orders").inner_text()
    assert "$ 337.500" in page.locator("#balance-due").inner_text()

    page.click(f"#orders a[href$='/admin/billing/order/{order.pk}/pay/']")
    page.fill("#id_reference", "Bancolombia 4455")
    page.select_option("#id_method", "transfer")
    page.click("input[type=submit].default")
    page.wait_for_url(f"**/admin/billing/order/{order.pk}/change/")
    order.refresh_from_db()
    assert order.state == OrderState.PAID and order.payment_reference == "Bancolombia 4455"
    invoice = Invoice.objects.get(order=order)
    assert invoice.full_number

    page.goto(live_site.url + f"/backoffice/customers/{jose.pk}/")
    assert invoice.full_number in page.locator("#invoices").inner_text()
    assert "$ 0" in page.locator("#balance-due").inner_text()


def test_login_as_customer_and_back_on_a_phone(browser, live_site):
    context = browser.new_context(locale="es-CO", viewport={"width": 390, "height": 844})
    context.set_default_timeout(15000)
    page = context.new_page()
    try:
        make_provider()
        make_staff()
        jose = make_customer(
            "jose@correo.example", first_name="José", last_name="Restrepo", password=ACCESS_CODE
        )
        staff_login(page, live_site.url)
        find_customer(page, "RESTREPO")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, f"the customer page scrolls sideways on a phone ({width}px)"

        page.click("#action-view-as")
        page.wait_for_url(live_site.url + "/clientarea/")
        banner = page.locator("#impersonation-banner")
        assert (
            "José Restrepo" in banner.inner_text() and "jose@correo.example" in banner.inner_text()
        )

        page.click("#impersonation-banner button[type=submit]")
        page.wait_for_url(f"**/backoffice/customers/{jose.pk}/")
        page.goto(live_site.url + "/clientarea/")
        assert page.locator("#impersonation-banner").count() == 0
    finally:
        context.close()
