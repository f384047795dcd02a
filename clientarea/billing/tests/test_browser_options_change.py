"""Real browser, phone-sized: a customer adds an option to a VPS mid-cycle, sees the prorated
price, pays the difference on the PayU simulator, and the service has the option with the same
due date."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from clientarea.billing.models import Order, OrderState
from clientarea.billing.tests import make_active_service
from clientarea.catalog.tests.test_ordering import vps
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.lib.dates import local_today
from clientarea.lib.money import format_cop
from clientarea.payments.tests.test_e2e_browser import pay_by_card, wait_for_status
from clientarea.subscriptions.models import (
    PlanChange,
    PlanChangeStatus,
    ProvisioningDelivery,
    ServiceOption,
)
from clientarea.test import ACCESS_CODE, make_customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

__all__ = ["vps"]  # the catalog tests' fixture, used here


def test_an_option_added_mid_cycle_is_paid_on_payu_and_the_service_has_it(page, live_site, vps):
    from clientarea.tests.test_csp_browser import Violations

    make_resolution()
    ana = make_customer("ana@example.com", first_name="Ana", last_name="Gómez")
    service = make_active_service(
        ana, vps["product"], label="srv-ana", start=local_today() - dt.timedelta(days=12)
    )
    ServiceOption.objects.create(
        service=service,
        option=vps["disk"].options.get(),
        quantity=20,
        price=Decimal("500"),
        description="Disco adicional (GB)",
    )
    due = service.next_due_date
    seen = Violations(page)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(live_site.url + "/clientarea/login/")
    page.fill("#id_username", "ana@example.com")
    page.fill("#id_password", ACCESS_CODE)
    page.click("main button[type=submit]")
    page.wait_for_url(live_site.url + "/clientarea/")
    page.goto(live_site.url + f"/clientarea/services/{service.pk}/")
    page.click("#change-options")
    page.wait_for_url(re.compile(r"/options/$"))
    assert page.input_value(f"#id_option_{vps['disk'].pk}") == "20"
    # Each control panel choice is read whole with its prices: a drop-down cut it at 390 px
    # ("cPanel (antes de IVA: Mensual $ 40.0").
    cpanel = page.locator(f"label:has(input[name='option_{vps['panel'].pk}'])", has_text="cPanel")
    assert cpanel.inner_text().strip() == "cPanel (antes de IVA: Mensual\u00a0$\u00a040.000)"
    box = cpanel.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert cpanel.evaluate("el => el.scrollWidth <= el.clientWidth")
    page.fill(f"#id_option_{vps['ips'].pk}", "1")  # one more IP: 10.000 a month
    page.click("#preview-options")
    preview = page.locator("#options-preview").inner_text()
    assert "IP adicional × 1" in preview
    page.screenshot(path="/tmp/ca-options-change.png", full_page=True)
    page.click("#confirm-options")
    page.wait_for_url(re.compile(r"/clientarea/billing/ODS-"))
    change = PlanChange.objects.get()
    order = Order.objects.get(number=change.order_number)
    assert change.status == PlanChangeStatus.AWAITING_PAYMENT
    assert format_cop(order.total) in preview  # the amount previewed is the amount billed
    page.click("#pay-now")
    page.wait_for_url(re.compile(r"/payments/pay/"))
    page.click("#gateway-payu")
    pay_by_card(page, "4111111111111111")
    wait_for_status(page, "approved")
    order.refresh_from_db()
    change.refresh_from_db()
    service.refresh_from_db()
    assert order.state == OrderState.PAID and change.status == PlanChangeStatus.APPLIED
    assert {o.description: o.quantity for o in service.options.all()} == {
        "Disco adicional (GB)": 20,
        "IP adicional": 1,
    }
    assert service.next_due_date == due
    assert ProvisioningDelivery.objects.filter(event="services.changed").exists()
    page.goto(live_site.url + f"/clientarea/services/{service.pk}/")
    assert "IP adicional" in page.locator("main").inner_text()
    assert page.locator("#plan-change-open").count() == 0
    assert seen.found == [] and seen.without_policy == []
