"""Real browser: staff type the date a transfer arrived as the Spanish page asks (day first,
24-hour) and the order is paid on that day. Chromium's own date box took its parts in the
browser's order (month first in an English browser, as here): "04/02/2026" became 2 April."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from clientarea.billing.models import OrderState
from clientarea.billing.tests import make_order
from clientarea.lib.dates import BOGOTA
from clientarea.test import ACCESS_CODE, make_customer, make_provider, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_type_the_payment_date_day_first_on_a_spanish_page(page, live_site):
    make_provider()
    staff = make_staff()
    order = make_order(make_customer("alice@example.com"))
    page.goto(live_site.url + "/admin/login/")
    page.fill("#id_username", staff.email)
    page.fill("#id_password", ACCESS_CODE)
    with page.expect_navigation():
        page.click("input[type=submit]")
    page.goto(live_site.url + reverse("admin:billing_order_pay", args=[order.pk]))
    assert page.locator("html").get_attribute("lang") == "es-co"
    box = page.locator("#id_paid_at")
    assert box.get_attribute("placeholder") == "dd/mm/aaaa hh:mm"
    page.fill("#id_reference", "Bancolombia 4402")
    box.click()
    box.press("ControlOrMeta+a")
    box.press_sequentially("04/02/2026 09:30")  # as a person types it
    with page.expect_navigation():
        page.get_by_role("button", name="Registrar el pago").click()
    order.refresh_from_db()
    assert order.state == OrderState.PAID
    assert order.paid_at == dt.datetime(2026, 2, 4, 9, 30, tzinfo=BOGOTA)
