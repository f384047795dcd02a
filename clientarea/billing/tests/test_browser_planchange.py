"""Real browser, phone-sized: a customer moves a service to a bigger plan mid-cycle, pays the
difference on the PayU simulator, and the service shows the new plan with the same due date."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from clientarea.billing.models import Order, OrderState
from clientarea.billing.tests import make_active_service, make_product
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.lib.dates import local_today
from clientarea.lib.money import format_cop
from clientarea.notifications.models import OutgoingEmail
from clientarea.payments.tests.test_e2e_browser import pay_by_card, wait_for_status
from clientarea.subscriptions.models import PlanChange, PlanChangeStatus, ProvisioningDelivery
from clientarea.test import ACCESS_CODE, make_customer, make_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_upgrade_mid_cycle_is_paid_on_payu_and_the_service_has_the_new_plan(page, live_site):
    from clientarea.tests.test_csp_browser import Violations

    make_provider()
    make_resolution()
    ana = make_customer("ana@example.com", first_name="Ana", last_name="Gómez")
    pyme = make_product("hosting-pyme", name="Hosting Pyme", prices={"monthly": "29000"})
    pro = make_product("hosting-pro", name="Hosting Pro", prices={"monthly": "59000"})
    service = make_active_service(
        ana, pyme, label="tienda-ana.co", start=local_today() - dt.timedelta(days=12)
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
    page.click("#change-plan")
    page.wait_for_url(re.compile(r"/change/$"))
    option = page.locator(f"input[name=plan][value='{pro.pk}:monthly']")
    option.check()
    preview = page.locator("label.plan-option", has=option).inner_text()
    assert "Hosting Pro" in preview and "$ 59.000" in preview
    page.screenshot(path="/tmp/ca-plan-change.png", full_page=True)
    page.click("#confirm-plan-change")
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
    assert order.state == OrderState.PAID
    assert change.status == PlanChangeStatus.APPLIED
    assert (service.product_id, service.price, service.next_due_date) == (
        pro.pk,
        Decimal("59000"),
        due,
    )
    assert ProvisioningDelivery.objects.filter(event="services.changed").exists()
    assert OutgoingEmail.objects.filter(template="plan_changed").exists()
    page.goto(live_site.url + f"/clientarea/services/{service.pk}/")
    assert "Hosting Pro" in page.locator("h1").inner_text()
    assert page.locator("#plan-change-open").count() == 0
    assert seen.found == [] and seen.without_policy == []
