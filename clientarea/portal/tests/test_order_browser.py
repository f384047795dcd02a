"""Real browser: a visitor browses the catalog, configures a VPS with two options, adds a hosting
plan, applies a coupon, logs in (the cart survives), places one order and pays it on the PayU
simulator; both services are active and the invoice carries the discounts."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from lxml import etree

from clientarea.billing.models import CouponRedemption, Order
from clientarea.billing.tests import make_product
from clientarea.catalog.models import Coupon, CouponKind, OptionGroup, OptionKind, ProductKind
from clientarea.einvoice.models import Invoice
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.payments.tests.test_e2e_browser import pay_by_card, wait_for_status
from clientarea.subscriptions.models import Service, ServiceStatus
from clientarea.test import ACCESS_CODE, make_customer, make_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_order_a_vps_with_two_options_and_a_coupon_and_pay_it(page, live_site):
    make_provider()
    make_resolution()
    vps = make_product(
        "vps-2-4", kind=ProductKind.VPS, name="Servidor VPS", prices={"monthly": "100000"}
    )
    disk = OptionGroup.objects.create(
        product=vps, name="Disco adicional (GB)", kind=OptionKind.QUANTITY, max_quantity=100
    )
    disk.options.create(name="GB").prices.create(cycle="monthly", price=Decimal("500"))
    panel = OptionGroup.objects.create(product=vps, name="Panel de control", kind=OptionKind.CHOICE)
    cpanel = panel.options.create(name="cPanel")
    cpanel.prices.create(cycle="monthly", price=Decimal("40000"))
    make_product("hosting-pyme", name="Hosting Pyme", prices={"monthly": "29000"})
    coupon = Coupon.objects.create(code="VPS10", kind=CouponKind.PERCENT, value=Decimal("10"))
    coupon.products.set([vps])
    alice = make_customer("alice@example.com", first_name="Alice", password=ACCESS_CODE)

    # A visitor: the catalog, the VPS page with its options.
    page.goto(live_site.url + "/clientarea/order/")
    page.click("a[href='/clientarea/order/vps-2-4/'].btn")
    page.check("#id_cycle_0")
    page.fill("#id_label", "web1")
    page.fill(f"#id_option_{disk.pk}", "20")
    page.check(f"input[name='option_{panel.pk}'][value='{cpanel.pk}']")
    page.click("#add-to-cart")
    page.wait_for_url("**/clientarea/order/cart/")
    # A second item: a hosting plan for a domain.
    page.goto(live_site.url + "/clientarea/order/hosting-pyme/")
    page.check("#id_cycle_0")
    page.fill("#id_label", "tienda-alice.com.co")
    page.click("#add-to-cart")
    page.wait_for_url("**/clientarea/order/cart/")
    assert page.locator("#cart-items tbody.cart-item").count() == 2
    page.fill("#id_code", "vps10")
    page.click("#coupon-form button[type=submit]")
    page.wait_for_url("**/clientarea/order/cart/")
    assert page.locator("#cart-discount").inner_text().strip() == "-$ 15.000"
    # 100.000 + 10.000 + 40.000 - 15.000 + 29.000 = 164.000, + 19 % IVA = 195.160
    assert page.locator("#cart-total").inner_text().strip() == "$ 195.160"
    page.screenshot(path="/tmp/ca-cart.png", full_page=True)

    # Logging in keeps the cart; the order is placed and paid on the simulator.
    page.click("#login-to-order")
    page.fill("#id_username", "alice@example.com")
    page.fill("#id_password", ACCESS_CODE)
    page.click("main button[type=submit]")
    page.wait_for_url("**/clientarea/order/cart/")
    page.click("#checkout")
    page.wait_for_url(re.compile(r"/clientarea/billing/ODS-\d+/"))
    order = Order.objects.get(customer=alice)
    assert order.total == Decimal("195160.00")
    assert "menos $ 10.000" in page.locator("table.items").inner_text()
    page.click("#pay-now")
    page.wait_for_url(re.compile(r"/payments/pay/"))
    page.click("#gateway-payu")
    pay_by_card(page, "4111111111111111")
    wait_for_status(page, "approved")

    order.refresh_from_db()
    assert order.state == "paid"
    assert set(Service.objects.filter(customer=alice).values_list("status", flat=True)) == {
        ServiceStatus.ACTIVE
    }
    assert CouponRedemption.objects.get(order=order).discount == Decimal("15000.00")
    root = etree.fromstring(Invoice.objects.get(order=order).xml_unsigned.encode())
    amounts = root.xpath(
        "//*[local-name()='InvoiceLine']/*[local-name()='AllowanceCharge']/*[local-name()='Amount']/text()"
    )
    assert amounts == ["10000.00", "1000.00", "4000.00"]
