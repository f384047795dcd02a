"""Every page a customer or a staff member uses daily passes axe-core's WCAG 2.1 A/AA rules.

A real browser (Chromium) opens each page of the demo, in Spanish and in English, and runs
axe-core (bundled by the ``axe-playwright-python`` package) on it. The test fails on any
violation and lists them all, page by page, with the offending elements.
"""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.template.loader import render_to_string

from clientarea.accounts.demo import DEMO_ACCESS_CODE, DEMO_STAFF_PASSWORD
from clientarea.accounts.models import Customer
from clientarea.billing.models import Order, OrderState
from clientarea.helpcenter.models import Article, Tag
from clientarea.notifications.models import OutgoingEmail
from clientarea.payments import services as payments
from clientarea.payments.models import Payment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# WCAG 2.0 and 2.1, levels A and AA (axe's tags for them).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
LANGUAGES = ("es-co", "en")


@pytest.fixture
def demo(live_site):
    """The demo, plus one PayU attempt on ana's pending order (for the payment result page)."""
    call_command("demo_data", stdout=io.StringIO())
    ana = Customer.objects.get(user__email="ana@cliente.example")
    pending = Order.objects.filter(customer=ana, state=OrderState.PENDING).order_by("pk").first()
    assert pending is not None
    payment, _action = payments.start_payment(order=pending, customer=ana, gateway_code="payu")
    return ana, pending, payment


def axe_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    found = []
    for violation in results.response["violations"]:
        targets = "; ".join(
            f"{' '.join(node['target'])} → {node.get('failureSummary', '').strip()}"[:300]
            for node in violation["nodes"][:5]
        )
        found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} [{targets}]")
    return found


def check_pages(
    page, base_url: str, paths: list[str], language: str, *, server_error: bool = False
) -> dict[str, list[str]]:
    """Open each path and collect axe's violations (and any unexpected server error)."""
    problems: dict[str, list[str]] = {}
    for path in paths:
        response = page.goto(base_url + path)
        status = response.status if response else 0
        found = axe_violations(page)
        if status >= 500 and not server_error:
            found.append(f"HTTP {status}")
        if found:
            problems[f"[{language}] {path}"] = found
    return problems


def new_page(browser, base_url: str, language: str):
    context = browser.new_context(locale=language, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15000)
    context.add_cookies([{"name": "django_language", "value": language, "url": base_url}])
    return context, context.new_page()


def log_in(page, base_url: str, email: str, secret: str, *, admin: bool = False) -> None:
    page.goto(base_url + ("/admin/login/" if admin else "/clientarea/login/"))
    page.fill("#id_username", email)
    page.fill("#id_password", secret)
    with page.expect_navigation():
        page.click("input[type=submit]" if admin else "main button[type=submit]")


def report(problems: dict[str, list[str]]) -> str:
    return "\n".join(
        f"{where}:\n  " + "\n  ".join(found) for where, found in sorted(problems.items())
    )


def public_paths() -> list[str]:
    article = Article.objects.filter(published=True, language="es").order_by("pk").first()
    english = Article.objects.filter(published=True, language="en").order_by("pk").first()
    tag = Tag.objects.filter(articles__published=True).order_by("pk").first()
    assert article and english and tag
    return [
        "/",
        "/clientarea/register/",
        "/clientarea/login/",
        "/clientarea/forgot/",
        "/help/",
        article.category.url_for("es"),
        english.category.url_for("en"),
        article.get_absolute_url(),
        english.get_absolute_url(),
        "/help/search/?q=factura",
        "/help/search/?q=efectvo",
        "/help/search/?q=zzqxw",
        tag.get_absolute_url(),
        "/no-such-page/",  # 404
        "/help/no-such-article/",  # 404 inside the help center
    ]


def customer_paths(ana: Customer, pending: Order, payment: Payment) -> list[str]:
    paid = Order.objects.filter(customer=ana, state=OrderState.PAID).order_by("pk").first()
    cancelled = Order.objects.filter(customer=ana, state=OrderState.CANCELLED).first()
    email = OutgoingEmail.objects.filter(to_email=ana.user.email).order_by("pk").first()
    service = ana.services.order_by("pk").first()
    assert paid and cancelled and email and service
    return [
        "/clientarea/",
        "/clientarea/services/",
        f"/clientarea/services/{service.pk}/",
        "/clientarea/services/new/",
        "/clientarea/billing/",
        "/clientarea/billing/?state=pending",
        f"/clientarea/billing/{pending.number}/",
        f"/clientarea/billing/{paid.number}/",
        f"/clientarea/billing/{cancelled.number}/",
        f"/clientarea/billing/{pending.number}/print/",
        f"/payments/pay/{pending.number}/",
        f"/payments/result/{payment.reference}/",
        "/clientarea/invoices/",
        "/clientarea/emails/",
        f"/clientarea/emails/{email.pk}/",
        "/clientarea/profile/",
        "/clientarea/profile/password/",
        "/clientarea/profile/emails/",
        "/clientarea/contacts/",
        "/clientarea/contacts/add/",
        "/clientarea/withholdings/",
        "/help/",
    ]


def staff_paths(pending: Order, payment: Payment, ana: Customer) -> list[str]:
    return [
        "/admin/",
        "/admin/billing/order/",
        f"/admin/billing/order/{pending.pk}/change/",
        "/admin/payments/payment/",
        f"/admin/payments/payment/{payment.pk}/change/",
        "/admin/accounts/customer/",
        f"/admin/accounts/customer/{ana.pk}/change/",
        "/admin/reports/",  # dashboard: SVG charts with their tables
        "/admin/reports/reports/",
        "/admin/reports/movements/",  # money movements: summary tables and the paged rows
        "/admin/reports/aging/current/",
        "/admin/reports/emails/",
        "/admin/reports/emails/order_created/es-co/",
        f"/backoffice/customers/{ana.pk}/",
        "/backoffice/search/?q=ana",
        f"/backoffice/customers/{ana.pk}/orders/new/",
        f"/backoffice/customers/{ana.pk}/services/new/",
        "/admin/withholdings/withholdingagent/",
        "/admin/withholdings/orderwithholding/report/",
    ]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_main_page_passes_axe_wcag21_aa(browser, live_site, demo, language):
    ana, pending, payment = demo
    # Logging in switches to the customer's language: make it the one under test.
    Customer.objects.filter(pk=ana.pk).update(preferred_language=language)
    base = live_site.url
    problems: dict[str, list[str]] = {}

    context, page = new_page(browser, base, language)
    try:
        problems |= check_pages(page, base, public_paths(), language)
        # The error pages that no link reaches: 400 (a NUL byte in the URL) and 500.
        problems |= check_pages(page, base, ["/help/search/?q=%00"], language)
        page.route(
            re.compile(r".*/__server_error__$"),
            lambda route: route.fulfill(
                status=500, content_type="text/html", body=render_to_string("500.html")
            ),
        )
        problems |= check_pages(page, base, ["/__server_error__"], language, server_error=True)
        # An article after "not helpful": the comment form and the "withdraw my vote" button.
        article = Article.objects.filter(published=True, language="es").order_by("pk").first()
        assert article is not None
        page.goto(base + article.get_absolute_url())
        with page.expect_navigation():
            page.click("button.vote-dislike")
        if found := axe_violations(page):
            problems[f"[{language}] article after a vote"] = found
        # A form with errors: the errors must be tied to their fields.
        page.goto(base + "/clientarea/register/")
        with page.expect_navigation():
            page.click("main button[type=submit]")
        if found := axe_violations(page):
            problems[f"[{language}] register form with errors"] = found

        log_in(page, base, "ana@cliente.example", DEMO_ACCESS_CODE)
        problems |= check_pages(page, base, customer_paths(ana, pending, payment), language)
    finally:
        context.close()

    context, page = new_page(browser, base, language)
    try:
        log_in(page, base, "soporte@conexcol.example", DEMO_STAFF_PASSWORD, admin=True)
        problems |= check_pages(page, base, staff_paths(pending, payment, ana), language)
    finally:
        context.close()

    assert not problems, "axe found WCAG 2.1 A/AA violations:\n" + report(problems)
