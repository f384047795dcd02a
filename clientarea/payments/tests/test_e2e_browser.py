"""The whole payment flow in a real browser, for each gateway, against the local simulators.

log in → Billing → pending order → Pay now → gateway → pay (card / PSE / cash) → back to the
portal → the order is paid, the service renewed, the emails and the invoice are there.
Confirmations travel over real HTTP from the simulator to the live server.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from clientarea.billing import services as billing
from clientarea.billing.models import ItemKind
from clientarea.catalog.models import Product, ProductPrice
from clientarea.einvoice.models import Invoice
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.lib.dates import local_today
from clientarea.notifications.models import OutgoingEmail
from clientarea.subscriptions.models import Service
from clientarea.test import ACCESS_CODE, make_customer, make_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def renewal():
    """alice with an active hosting service due in 10 days and its pending renewal order."""
    make_provider()
    make_resolution()
    product = Product.objects.create(code="hosting-pyme", name="Hosting Pyme", kind="hosting")
    ProductPrice.objects.create(product=product, cycle="annual", price=Decimal("480000"))
    alice = make_customer(
        "alice@example.com", first_name="Alice", last_name="Gómez", document_number="1020304050"
    )
    due = local_today() + dt.timedelta(days=10)
    service = Service.objects.create(
        customer=alice,
        product=product,
        cycle="annual",
        price=Decimal("480000"),
        label="alice.co",
        status="active",
        start_date=due.replace(year=due.year - 1),
        next_due_date=due,
        anchor_day=due.day,
    )
    order = billing.create_order(
        customer=alice,
        lines=[
            billing.LineSpec(
                kind=ItemKind.RENEWAL,
                description="Hosting Pyme · alice.co (renovación)",
                unit_price=Decimal("480000"),
                service=service,
                period_start=due,
                period_end=billing.period_end_for(cycle="annual", start=due, anchor_day=due.day),
            )
        ],
    )
    return alice, service, order


def log_in_and_open_pay_now(page, live_site, order) -> None:
    page.goto(live_site.url + "/")
    page.click("#client-access")
    page.fill("#id_username", "alice@example.com")
    page.fill("#id_password", ACCESS_CODE)
    page.click("main button[type=submit]")
    page.wait_for_url(live_site.url + "/clientarea/")
    page.click("#nav-billing")
    page.click(f"tr[data-number='{order.number}'] a")
    page.wait_for_url(
        f"**/clientarea/billing/{order.number}/"
    )  # not mid-navigation on a busy machine
    assert page.locator(".badge-pending").first.is_visible()
    page.click("#pay-now")
    page.wait_for_url(re.compile(r"/payments/pay/"))


def pay_by_card(page, number: str) -> None:
    page.get_by_label("Nombre en la tarjeta").fill("Alice Gomez")
    page.get_by_label("Número de la tarjeta").fill(number)
    page.get_by_label("Fecha de vencimiento (MM/AA)").fill("12/39")
    page.get_by_label("Código de seguridad (CVV)").fill("123")
    page.get_by_role("button", name="Pagar con tarjeta").click()


def wait_for_status(page, status: str) -> None:
    page.wait_for_url(re.compile(r"/payments/result/"))
    page.wait_for_selector(f"#payment-status[data-status='{status}']", timeout=20000)


def assert_paid_and_renewed(order, service) -> None:
    order.refresh_from_db()
    service.refresh_from_db()
    assert order.state == "paid"
    assert service.next_due_date == billing.period_end_for(
        cycle="annual", start=order.items.get().period_start, anchor_day=service.anchor_day
    )
    assert OutgoingEmail.objects.filter(template="order_paid", customer=order.customer).count() == 1


@pytest.mark.parametrize("gateway", ["payu", "payvalida"])
def test_an_approved_card_pays_the_order_and_renews_the_service(page, live_site, renewal, gateway):
    alice, service, order = renewal
    log_in_and_open_pay_now(page, live_site, order)
    page.click(f"#gateway-{gateway}")
    pay_by_card(page, "4111111111111111")
    wait_for_status(page, "approved")
    assert_paid_and_renewed(order, service)
    page.goto(live_site.url + f"/clientarea/billing/{order.number}/")
    assert page.locator(".badge-paid").first.is_visible()
    assert page.locator("#pay-now").count() == 0
    assert page.locator("#order-invoice").is_visible()  # the order links to its invoice
    # The invoice was emailed with its attachments and can be downloaded
    invoice = Invoice.objects.get(order=order)
    email = OutgoingEmail.objects.get(template="invoice_issued", customer=alice)
    assert {a.filename.rsplit(".", 1)[1] for a in email.attachments.all()} == {"zip", "pdf"}
    page.goto(live_site.url + "/clientarea/invoices/")
    with page.expect_download() as pdf:
        page.click(f"a[href='/clientarea/invoices/{invoice.full_number}/pdf/']")
    assert pdf.value.suggested_filename == f"{invoice.full_number}.pdf"
    with page.expect_download() as xml:
        page.click(f"a[href='/clientarea/invoices/{invoice.full_number}/xml/']")
    assert xml.value.suggested_filename == f"{invoice.full_number}.xml"


@pytest.mark.parametrize("gateway", ["payu", "payvalida"])
def test_a_declined_card_leaves_the_order_pending(page, live_site, renewal, gateway):
    _, service, order = renewal
    due = service.next_due_date
    log_in_and_open_pay_now(page, live_site, order)
    page.click(f"#gateway-{gateway}")
    pay_by_card(page, "4000000000000002")
    if gateway == "payvalida":  # Payvalida shows its own "declined" page, with a way back
        page.get_by_role("link", name="Volver al sitio del comercio").click()
    # Both: the result page says declined (Payvalida: its consult, asked on the return).
    wait_for_status(page, "declined")
    order.refresh_from_db()
    service.refresh_from_db()
    assert order.state == "pending" and service.next_due_date == due
    assert order.payments.get().status == "declined"  # so the back office says so too
    page.goto(live_site.url + f"/clientarea/billing/{order.number}/")
    assert page.locator("#pay-now").is_visible()
    assert page.locator("#order-payment-in-process").count() == 0
    page.click("#pay-now")  # offered normally, without the "paying twice" warning
    page.wait_for_url(re.compile(r"/payments/pay/"))
    assert page.locator("#payment-in-process").count() == 0


@pytest.mark.parametrize("gateway", ["payu", "payvalida"])
def test_pse_pending_then_approved_by_the_bank(page, live_site, renewal, gateway):
    _, service, order = renewal
    log_in_and_open_pay_now(page, live_site, order)
    page.check(f"#method-{gateway}-pse")  # the customer chooses PSE once, on Pay now
    page.click(f"#gateway-{gateway}")
    if gateway == "payu":
        # PayU's checkout (paymentMethods=PSE, selectedPaymentMethod=PSE) offers PSE alone,
        # preselected: the customer is not asked for the method a second time.
        page.wait_for_url(re.compile(r"/sandbox/payu/checkout/"))
        assert page.locator("section[data-preselected]").get_attribute("aria-labelledby") == (
            "pay-pse"
        )
        assert page.get_by_role("button", name="Pagar con tarjeta").count() == 0
        assert page.get_by_role("button", name="Generar recibo de pago").count() == 0
    page.get_by_label("Tipo de persona").select_option(index=0)
    page.get_by_label("Tipo de documento").select_option(index=0)
    page.get_by_label("Número de documento").fill("1020304050")
    page.get_by_label("Banco").select_option(index=1)
    page.get_by_role("button", name="Continuar a su banco").click()
    page.wait_for_url(re.compile(r"/pse-bank/"))
    bank_url = page.url
    page.get_by_role("button", name="Dejar pendiente").click()
    wait_for_status(page, "pending")
    order.refresh_from_db()
    assert order.state == "pending"
    # The order shows the payment in process, and Pay now warns before a second attempt
    page.goto(live_site.url + f"/clientarea/billing/{order.number}/")
    assert page.locator("#order-payment-in-process").is_visible()
    page.goto(live_site.url + f"/payments/pay/{order.number}/")
    assert page.locator("#payment-in-process").is_visible()
    # Later the bank approves
    page.goto(bank_url)
    page.get_by_role("button", name="Aprobar pago").click()
    wait_for_status(page, "approved")
    assert_paid_and_renewed(order, service)


@pytest.mark.parametrize("gateway", ["payu", "payvalida"])
def test_a_cash_voucher_paid_at_the_cash_point(page, live_site, renewal, gateway):
    _, service, order = renewal
    log_in_and_open_pay_now(page, live_site, order)
    page.click(f"#gateway-{gateway}")
    page.locator("input[name=network]").first.check()
    page.get_by_role("button", name="Generar recibo de pago").click()
    voucher = page.inner_text("[data-testid=voucher-reference]").strip()
    page.get_by_role("link", name="Volver al sitio del comercio").click()
    wait_for_status(page, "pending")
    order.refresh_from_db()
    assert order.state == "pending"
    page.goto(live_site.url + f"/payments/pay/{order.number}/")
    assert page.locator("#payment-in-process").is_visible()
    # The customer can reopen the voucher from the portal
    page.click("#reopen-voucher")
    assert page.inner_text("[data-testid=voucher-reference]").strip() == voucher
    # Days later, at the cash network
    page.goto(live_site.url + f"/sandbox/{gateway}/cash-point/")
    page.get_by_label("Referencia de pago").fill(voucher)
    page.get_by_role("button", name="Pagar recibo").click()
    page.wait_for_selector("[data-testid=cash-point-result]")
    assert_paid_and_renewed(order, service)


def test_on_a_phone_the_amount_to_pay_has_its_breakdown_right_under_it(page, live_site, renewal):
    """At 390 px the breakdown under the amount wrapped 40 px below it (the row gap plus the
    paragraph's margin), a blank band between the amount and what it is made of."""
    _, _, order = renewal
    page.set_viewport_size({"width": 390, "height": 844})
    log_in_and_open_pay_now(page, live_site, order)
    amount = page.locator("#pay-total").bounding_box()
    breakdown = page.locator("#pay-total + p").bounding_box()
    assert breakdown["y"] > amount["y"] + amount["height"] / 2  # wrapped under it, not beside
    assert breakdown["y"] - (amount["y"] + amount["height"]) <= 8
    page.screenshot(path="/tmp/ca-pay-now-phone.png", full_page=True)
