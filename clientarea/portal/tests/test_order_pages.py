"""The catalog ordering pages: catalog, product page with options, cart, coupon, checkout."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from clientarea.billing.models import CouponRedemption, Order
from clientarea.billing.tests import make_product
from clientarea.catalog.models import Coupon, CouponKind, OptionGroup, OptionKind, ProductKind
from clientarea.subscriptions.models import Service, ServiceStatus
from clientarea.test import ACCESS_CODE, make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def shop():
    make_provider()
    vps = make_product(
        "vps-2-4", kind=ProductKind.VPS, name="VPS 2 vCPU", prices={"monthly": "100000"}
    )
    disk = OptionGroup.objects.create(
        product=vps, name="Extra disk (GB)", kind=OptionKind.QUANTITY, max_quantity=100
    )
    disk.options.create(name="GB").prices.create(cycle="monthly", price=Decimal("500"))
    panel = OptionGroup.objects.create(product=vps, name="Control panel", kind=OptionKind.CHOICE)
    cpanel = panel.options.create(name="cPanel")
    cpanel.prices.create(cycle="monthly", price=Decimal("40000"))
    hosting = make_product("hosting-pyme", name="Hosting Pyme", prices={"monthly": "29000"})
    make_product("retired", name="Retired", prices={"monthly": "1"}, active=False)
    Coupon.objects.create(code="PROMO10", kind=CouponKind.PERCENT, value=Decimal("10"))
    return {"vps": vps, "disk": disk, "panel": panel, "cpanel": cpanel, "hosting": hosting}


def add_vps(client, shop, **extra):
    data = {
        "cycle": "monthly",
        "label": "web1",
        f"option_{shop['disk'].pk}": "20",
        f"option_{shop['panel'].pk}": str(shop["cpanel"].pk),
    }
    data.update(extra)
    return client.post(reverse("order:product", args=["vps-2-4"]), data)


def test_the_catalog_shows_price_plus_iva_equals_total_and_hides_inactive(client, shop):
    page = client.get(reverse("order:catalog")).content.decode()
    assert "VPS 2 vCPU" in page and "Hosting Pyme" in page and "Retired" not in page
    assert "$ 100.000 + IVA $ 19.000 = <strong>$ 119.000</strong>" in page
    assert client.get(reverse("order:product", args=["retired"])).status_code == 404


def test_a_visitor_builds_a_cart_and_keeps_it_through_login(client, shop):
    page = client.get(reverse("order:product", args=["vps-2-4"])).content.decode()
    assert "Extra disk (GB)" in page and "cPanel" in page
    response = add_vps(client, shop)
    assert response.status_code == 302 and response["Location"] == reverse("order:cart")
    client.post(
        reverse("order:product", args=["hosting-pyme"]),
        {"cycle": "monthly", "label": "tienda.com.co"},
    )
    cart = client.get(reverse("order:cart")).content.decode()
    assert "Log in to place the order" in cart
    assert "$ 179.000" in cart  # 100.000 + 10.000 + 40.000 + 29.000, before IVA
    # Checkout needs a customer.
    assert client.post(reverse("order:checkout")).status_code == 302
    assert not Order.objects.exists()
    customer = make_customer("alice@example.com")
    client.post(
        reverse("accounts:login"), {"username": "alice@example.com", "password": ACCESS_CODE}
    )
    assert "_auth_user_id" in client.session
    cart = client.get(reverse("order:cart")).content.decode()
    assert 'id="checkout"' in cart
    response = client.post(reverse("order:checkout"))
    order = Order.objects.get(customer=customer)
    assert response["Location"] == reverse("billing:order", args=[order.number])
    assert order.items.count() == 4
    assert Service.objects.filter(customer=customer, status=ServiceStatus.PENDING).count() == 2
    # The cart is empty after the order (the page is now in alice's language, Spanish).
    assert client.session["catalog_cart"]["items"] == []
    assert "Su carrito está vacío." in client.get(reverse("order:cart")).content.decode()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"option_DISK": "101"}, "less than or equal to 100"),
        ({"option_DISK": "-1"}, "greater than or equal to 0"),
        ({"option_PANEL": "99999"}, "Select a valid choice"),
        ({"cycle": "annual"}, "Select a valid choice"),
    ],
)
def test_bad_options_get_a_clear_message_and_nothing_in_the_cart(client, shop, extra, message):
    extra = {
        key.replace("DISK", str(shop["disk"].pk)).replace("PANEL", str(shop["panel"].pk)): v
        for key, v in extra.items()
    }
    response = add_vps(client, shop, **extra)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not client.session.get("catalog_cart", {}).get("items")


def test_a_hosting_needs_a_valid_domain(client, shop):
    response = client.post(
        reverse("order:product", args=["hosting-pyme"]),
        {"cycle": "monthly", "label": "http://tienda.co/x"},
    )
    assert response.status_code == 200
    assert "without http://" in response.content.decode()


def test_a_coupon_shows_the_discount_and_the_order_keeps_it(client, shop):
    customer = make_customer("alice@example.com")
    client.force_login(customer.user)
    add_vps(client, shop)
    response = client.post(reverse("order:coupon"), {"code": "nope"}, follow=True)
    assert "We do not know that coupon code." in response.content.decode()
    response = client.post(reverse("order:coupon"), {"code": "promo10"}, follow=True)
    page = response.content.decode()
    assert "Coupon PROMO10 applied." in page
    assert "-$ 15.000" in page  # 10 % of 150.000
    client.post(reverse("order:checkout"))
    order = Order.objects.get(customer=customer)
    assert order.subtotal == Decimal("135000.00")
    assert CouponRedemption.objects.get(order=order).coupon.code == "PROMO10"
    detail = client.get(reverse("billing:order", args=[order.number])).content.decode()
    assert "less $ 10.000" in detail  # the product line: $ 100.000 less $ 10.000
    # The same customer cannot use it twice (default: once per customer).
    add_vps(client, shop, label="web2")
    response = client.post(reverse("order:coupon"), {"code": "PROMO10"}, follow=True)
    assert "You already used this coupon." in response.content.decode()


def test_removing_an_item_and_an_empty_cart(client, shop):
    add_vps(client, shop)
    client.post(reverse("order:remove", args=[0]))
    assert "Your cart is empty." in client.get(reverse("order:cart")).content.decode()
    customer = make_customer()
    client.force_login(customer.user)
    response = client.post(reverse("order:checkout"), follow=True)
    assert "Your cart is empty." in response.content.decode()
    assert not Order.objects.exists()


def test_a_tampered_session_cart_is_ignored_not_a_500(client, shop):
    session = client.session
    session["catalog_cart"] = {"items": [{"product": "x"}, "junk"], "coupon": 5}
    session.save()
    assert client.get(reverse("order:cart")).status_code == 200


def test_staff_without_a_customer_can_browse_but_not_check_out(client, shop):
    client.force_login(make_staff())
    add_vps(client, shop)
    assert client.get(reverse("order:cart")).status_code == 200
    assert client.post(reverse("order:checkout")).status_code == 404


def test_the_service_page_lists_its_options_and_recurring_coupon(client, shop):
    Coupon.objects.create(
        code="SIEMPRE", kind=CouponKind.PERCENT, value=Decimal("5"), duration="recurring"
    )
    customer = make_customer()
    client.force_login(customer.user)
    add_vps(client, shop)
    client.post(reverse("order:coupon"), {"code": "SIEMPRE"})
    client.post(reverse("order:checkout"))
    service = Service.objects.get(customer=customer)
    page = client.get(reverse("subscriptions:detail", args=[service.pk])).content.decode()
    assert "Extra disk (GB)" in page and "20 × $ 500 per period" in page
    assert "Control panel: cPanel" in page and "SIEMPRE" in page


def test_a_withholding_agents_cart_says_the_order_asks_for_the_net(client, shop):
    # The cart's "Total to pay" was the gross, and the order then asked the agent for less (the
    # net after its withholdings) without a word in between.
    from clientarea.withholdings.models import AgentStatus
    from clientarea.withholdings.tests.helpers import make_agent

    customer = make_customer("agente@example.com")
    client.force_login(customer.user)
    add_vps(client, shop)
    note = 'id="cart-withholding-note"'
    assert note not in client.get(reverse("order:cart")).content.decode()
    agent = make_agent(customer, status=AgentStatus.REQUESTED)
    assert note not in client.get(reverse("order:cart")).content.decode()
    agent.status = AgentStatus.APPROVED
    agent.save(update_fields=["status"])
    cart = client.get(reverse("order:cart")).content.decode()
    assert note in cart and "deducts your withholdings" in cart


def test_the_cycle_choices_keep_each_amount_on_one_line(client, shop):
    # On a phone the label wrapped between "$" and its figure ("IVA $" / "19.000").
    page = client.get(reverse("order:product", args=["vps-2-4"])).content.decode()
    assert "Monthly: $\u00a0100.000 + IVA $\u00a019.000 = $\u00a0119.000" in page


def test_the_setup_fee_and_option_prices_keep_each_amount_on_one_line(client, shop):
    # On a phone "One-time setup fee: $" ended a line and "60.000" began the next, and an
    # option's prices broke the same way ("Quarterly $" / "34.000").
    shop["vps"].setup_fee = Decimal("60000")
    shop["vps"].save(update_fields=["setup_fee"])
    shop["disk"].options.get().prices.create(cycle="quarterly", price=Decimal("1450"))
    page = client.get(reverse("order:product", args=["vps-2-4"])).content.decode()
    fee = '<span class="nowrap">$ 60.000</span> + <span class="nowrap">$ 11.400</span> IVA'
    assert f"One-time setup fee: {fee}." in page
    assert "Per unit, before IVA: Monthly\u00a0$\u00a0500 · Quarterly\u00a0$\u00a01.450" in page
    client.force_login(make_customer("ana@example.com").user)
    new = client.get(reverse("subscriptions:new")).content.decode()
    assert f"One-time setup fee: {fee}." in new
