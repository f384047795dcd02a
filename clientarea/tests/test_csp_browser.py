"""Issue 11.7: the Content-Security-Policy is sent on every page, and the pages pass it.

A real browser walks the main pages (public, client area, Pay now, the gateway redirect, the
simulators' checkouts, the help center, the back office) and records every CSP violation that
Chromium reports, both as a `securitypolicyviolation` event and on the console.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page

from clientarea.helpcenter.tests.helpers import make_article
from clientarea.payments.tests.test_e2e_browser import renewal  # noqa: F401  (a fixture)
from clientarea.test import ACCESS_CODE, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LISTEN = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.reportCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} on ${location.pathname}`);
});
"""


class Violations:
    """Every CSP violation the page reports, and every page missing the policy header."""

    def __init__(self, page: Page) -> None:
        self.found: list[str] = []
        self.without_policy: list[str] = []
        page.expose_function("reportCspViolation", self.report)
        page.add_init_script(LISTEN)
        page.on("console", self.console)
        page.on("response", self.response)

    def report(self, text: str) -> None:
        self.found.append(text)

    def console(self, message) -> None:
        if "Content Security Policy" in message.text:
            self.found.append(message.text)

    def response(self, response) -> None:
        if response.request.resource_type == "document" and response.url.startswith("http://"):
            policy = response.headers.get("content-security-policy", "")
            if "script-src 'self'" not in policy or "style-src 'self'" not in policy:
                self.without_policy.append(response.url)


def visit(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("load")


def test_main_pages_pass_the_content_security_policy(page, live_site, renewal):  # noqa: F811
    _alice, _service, order = renewal
    article = make_article(title="Cómo pagar", body="Pague en línea con **PSE** o en efectivo.")
    make_staff()
    seen = Violations(page)
    base = live_site.url

    # Public pages and the help center.
    visit(page, base + "/")
    visit(page, base + "/help/")
    visit(page, base + f"/help/{article.slug}/")
    visit(page, base + "/clientarea/login/")

    # The client area, Billing, an order, its printable version and Pay now.
    page.fill("#id_username", "alice@example.com")
    page.fill("#id_password", ACCESS_CODE)
    page.click("main button[type=submit]")
    page.wait_for_url(base + "/clientarea/")
    for path in (
        "/clientarea/billing/",
        f"/clientarea/billing/{order.number}/",
        f"/clientarea/billing/{order.number}/print/",
        "/clientarea/services/",
        f"/payments/pay/{order.number}/",
    ):
        visit(page, base + path)

    # The gateway redirect page sends itself on (static script) to each simulator's checkout.
    page.click("#gateway-payu")
    page.wait_for_url(re.compile(r"/sandbox/payu/checkout/"))
    page.wait_for_load_state("load")
    visit(page, base + f"/payments/pay/{order.number}/")
    page.click("#gateway-payvalida")
    page.wait_for_url(re.compile(r"/sandbox/payvalida/checkout/"))
    page.wait_for_load_state("load")

    # The back office: login, the lists with our own additions, the simulators' dashboard.
    page.context.clear_cookies()
    visit(page, base + "/admin/login/")
    page.fill("#id_username", "carol@conexcol.example")
    page.fill("#id_password", ACCESS_CODE)
    page.click("input[type=submit]")
    page.wait_for_url(base + "/admin/")
    for path in (
        "/admin/payments/payment/",
        "/admin/billing/billingrun/",
        "/admin/billing/order/",
        "/admin/reports/",  # inline SVG charts
        "/admin/reports/emails/order_created/es-co/",
        "/sandbox/",  # the simulators' dashboard (staff)
    ):
        visit(page, base + path)
    assert page.url == base + "/sandbox/"  # staff reach the dashboard

    assert seen.without_policy == []
    assert seen.found == [], "\n".join(seen.found)
