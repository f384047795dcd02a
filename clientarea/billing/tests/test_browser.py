"""Real browser: log in → Billing shows red, green and grey orders → the pending one has items and Pay now."""

import datetime as dt

import pytest

from clientarea.billing import services
from clientarea.billing.tests import aware, make_active_service, make_product, make_renewal_order
from clientarea.test import ACCESS_CODE, make_customer, make_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Paid green #18733a: 5.2:1 on its badge background (the former #1b7f3b was 4.46:1, below WCAG AA).
RED, GREEN, GREY = "rgb(179, 38, 30)", "rgb(24, 115, 58)", "rgb(95, 107, 118)"


def test_a_customer_sees_order_states_and_pays_only_pending_orders(page, live_site):
    make_provider()
    laura = make_customer("laura@example.com", first_name="Laura", password=ACCESS_CODE)
    hosting = make_product("hosting-pyme", name="Hosting Pyme", prices={"monthly": "29000"})
    paid = make_renewal_order(
        make_active_service(laura, hosting, label="laura.co", start=dt.date(2026, 1, 15))
    )
    services.mark_order_paid(order_id=paid.pk, paid_at=aware(2026, 2, 1), via="payu", method="pse")
    cancelled = services.order_new_service(
        customer=laura, product=hosting, cycle="monthly", label="old.co"
    )
    services.cancel_order(order=cancelled, reason="Duplicated")
    pending = services.order_new_service(
        customer=laura, product=hosting, cycle="monthly", label="tienda-laura.co"
    )

    page.goto(live_site.url + "/clientarea/login/")
    page.fill("#id_username", "laura@example.com")
    page.fill("#id_password", ACCESS_CODE)
    page.click("main button[type=submit]")
    page.wait_for_url(live_site.url + "/clientarea/")
    page.click("#nav-billing")
    page.wait_for_url("**/clientarea/billing/")

    for order, css, color in (
        (pending, "badge-pending", RED),
        (paid, "badge-paid", GREEN),
        (cancelled, "badge-cancelled", GREY),
    ):
        badge = page.locator(f'tr[data-number="{order.number}"] .badge')
        assert css in badge.get_attribute("class")
        assert badge.inner_text().strip()  # a word, not only a colour
        assert badge.evaluate("el => getComputedStyle(el).color") == color
    page.screenshot(path="/tmp/ca-billing.png", full_page=True)

    # On a phone each order is a card: its checkbox said nothing (the label was for screen
    # readers only) and was a 20 px target. The label shows, and tapping it ticks the box.
    page.set_viewport_size({"width": 390, "height": 844})
    label = page.locator(f'label[for="select-{pending.number}"]')
    assert label.is_visible() and pending.number in label.inner_text()
    assert label.bounding_box()["height"] >= 44
    assert page.locator(f"#select-{pending.number}").bounding_box()["width"] >= 24
    label.click()
    assert page.locator(f"#select-{pending.number}").is_checked()
    page.set_viewport_size({"width": 1280, "height": 900})

    page.click(f'a[href="/clientarea/billing/{pending.number}/"]')
    page.wait_for_url(f"**/clientarea/billing/{pending.number}/")
    assert "Hosting Pyme · tienda-laura.co" in page.locator("table.items").inner_text()
    pay_now = page.locator("#pay-now")
    assert pay_now.is_visible() and "btn-pay" in pay_now.get_attribute("class")
    assert pay_now.get_attribute("href").endswith(f"/payments/pay/{pending.number}/")
    page.screenshot(path="/tmp/ca-order.png", full_page=True)

    for order in (paid, cancelled):
        page.goto(f"{live_site.url}/clientarea/billing/{order.number}/")
        assert page.locator("h1").inner_text().count(order.number) == 1
        assert page.locator("#pay-now").count() == 0
