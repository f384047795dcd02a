"""Real browser: a customer asks to cancel a service at the end of its period, then keeps it."""

import datetime as dt

import pytest

from clientarea.billing.tests import make_active_service, make_product
from clientarea.lib.dates import local_today
from clientarea.subscriptions.models import CancellationRequest, CancellationStatus
from clientarea.test import ACCESS_CODE, make_customer, make_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_request_cancellation_at_the_end_of_the_period_and_withdraw_it(page, live_site):
    from clientarea.tests.test_csp_browser import Violations

    make_provider()
    ana = make_customer("ana@example.com")
    service = make_active_service(
        ana,
        make_product("hosting-pyme"),
        label="tienda-ana.co",
        start=local_today() - dt.timedelta(days=20),
    )
    seen = Violations(page)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(live_site.url + "/clientarea/login/")
    page.fill("#id_username", "ana@example.com")
    page.fill("#id_password", ACCESS_CODE)
    page.click("main button[type=submit]")
    page.wait_for_url(live_site.url + "/clientarea/")
    page.goto(live_site.url + f"/clientarea/services/{service.pk}/")
    page.click("#request-cancellation")
    page.check("input[name=when][value=end_of_period]")
    page.select_option("#id_reason", "too_expensive")
    page.fill("#id_comment", "Encontré un plan más económico")
    page.check("#id_confirm")
    page.click("#confirm-cancellation")
    page.wait_for_selector("#cancellation-pending")
    page.screenshot(path="/tmp/ca-cancellation-pending.png", full_page=True)
    assert CancellationRequest.objects.get().status == CancellationStatus.PENDING
    page.click("#withdraw-cancellation")
    page.wait_for_selector("#request-cancellation")
    assert CancellationRequest.objects.get().status == CancellationStatus.WITHDRAWN
    assert seen.found == [] and seen.without_policy == []
