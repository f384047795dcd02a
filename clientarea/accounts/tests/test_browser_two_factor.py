"""Real browser: a customer turns on two-factor login, logs out, and logs in again with a code."""

import re
from base64 import b32decode

import pytest
from django_otp.oath import totp

from clientarea.test import ACCESS_CODE, make_customer, make_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, base):
    page.goto(base + "/clientarea/login/")
    page.fill("#id_username", "ana@example.com")
    page.fill("#id_password", ACCESS_CODE)
    page.click("main button[type=submit]")


def test_a_customer_turns_on_two_factor_and_logs_in_with_a_code(page, live_site):
    from clientarea.tests.test_csp_browser import Violations

    make_provider()
    make_customer("ana@example.com")
    seen = Violations(page)
    _log_in(page, live_site.url)
    page.wait_for_url(live_site.url + "/clientarea/")
    page.goto(live_site.url + "/clientarea/profile/")
    page.click("#security-link")
    page.click("#two-factor-on")
    assert page.is_visible(".qr svg")
    secret = page.inner_text("#two-factor-secret").replace(" ", "")
    key = b32decode(secret + "=" * (-len(secret) % 8))
    page.fill("#id_code", f"{totp(key):06d}")
    page.click("main button[type=submit]")
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    page.screenshot(path="/tmp/ca-two-factor-codes.png", full_page=True)
    page.click("main a.btn-primary")

    page.click("nav.side-nav button[type=submit]")  # log out
    _log_in(page, live_site.url)
    page.wait_for_url(re.compile(r".*/clientarea/login/verify/.*"))
    page.fill("#id_code", f"{totp(key, drift=1):06d}")  # the next code: each code works once
    page.click("main button[type=submit]")
    page.wait_for_url(live_site.url + "/clientarea/")
    page.click("#nav-billing")
    assert "/clientarea/billing/" in page.url
    assert seen.found == [] and seen.without_policy == []
