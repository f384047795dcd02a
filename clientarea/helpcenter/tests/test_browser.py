"""Real browser (Chromium via Playwright): voting without JavaScript tricks, and the screenshot script."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from clientarea.accounts import twofactor
from clientarea.accounts.models import User
from clientarea.helpcenter.models import Vote
from clientarea.helpcenter.tests.helpers import make_article
from clientarea.subscriptions.models import (
    CancellationRequest,
    CancellationStatus,
    PlanChange,
    Service,
)

SCREENSHOTS = {
    "paying": [
        "01-client-access.png",
        "02-log-in.png",
        "03-billing.png",
        "04-pending-order.png",
        "05-order-items.png",
        "06-pay-now.png",
        "07-choose-gateway.png",
        "08-invoice-email.png",
    ],
    "order": [
        "01-catalog.png",
        "02-product-options.png",
        "03-cart-coupon.png",
        "04-order-pay-now.png",
    ],
    "plan": ["01-change-plan.png", "02-choose-plan.png"],
    "options": ["03-change-options.png", "04-options-price.png"],
    "cancel": ["01-cancel-link.png", "02-cancel-form.png", "03-keep-the-service.png"],
    "contacts": ["01-contacts.png", "02-add-contact.png"],
    "twofactor": ["01-profile-security.png", "02-turn-on.png", "03-scan-code.png"],
}

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_visitor_likes_an_article_and_the_vote_is_still_there_after_a_reload(page, live_site):
    article = make_article(
        title="¿Cómo pago mi factura en línea?",
        slug="pagar-factura-en-linea",
        body="1. Pulsa **Pagar ahora**.",
    )
    page.goto(live_site.url + article.get_absolute_url())
    like, dislike = page.locator("button.vote-like"), page.locator("button.vote-dislike")
    likes, dislikes = page.locator('[data-count="like"]'), page.locator('[data-count="dislike"]')
    expect(likes).to_have_text("0")
    expect(like).to_have_attribute("aria-pressed", "false")

    with page.expect_navigation():
        like.click()
    expect(likes).to_have_text("1")
    expect(like).to_have_attribute("aria-pressed", "true")

    page.reload()
    expect(likes).to_have_text("1")
    expect(like).to_have_attribute("aria-pressed", "true")

    with page.expect_navigation():  # a second Like from the same visitor changes nothing
        like.click()
    expect(likes).to_have_text("1")

    with page.expect_navigation():  # changing the vote, then saying what was missing
        dislike.click()
    expect(likes).to_have_text("0")
    expect(dislikes).to_have_text("1")
    page.locator("textarea[name=comment]").fill("No dice si puedo pagar con Nequi.")
    with page.expect_navigation():
        page.locator(".feedback-form button[type=submit]").click()
    page.reload()
    expect(page.locator("textarea[name=comment]")).to_have_value(
        "No dice si puedo pagar con Nequi."
    )

    article.refresh_from_db()
    assert (article.like_count, article.dislike_count) == (0, 1)
    assert Vote.objects.get().comment == "No dice si puedo pagar con Nequi."


# A tool beside the product, not part of the package.
SCREENSHOT_SCRIPT = Path(__file__).resolve().parents[3] / "tools" / "screenshots.py"


def test_the_screenshot_script_captures_every_step_on_the_demo_site(live_site, tmp_path):
    call_command("demo_data", stdout=io.StringIO())
    result = subprocess.run(
        [
            sys.executable,
            str(SCREENSHOT_SCRIPT),
            "--base-url",
            live_site.url,
            "--out",
            str(tmp_path),
            "--languages",
            "es,en",
            "--strict",
            "--timeout",
            "8000",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for language in ("es", "en"):
        for flow, expected in SCREENSHOTS.items():
            folder = tmp_path / language / flow
            names = sorted(p.name for p in folder.glob("*.png"))
            assert names == expected, result.stdout
            assert all((folder / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in names)
    # The walk leaves the demo customer as it found her: no cancellation, two-factor login off.
    ana = User.objects.get(email="ana@cliente.example")
    assert not twofactor.has_two_factor(ana)
    assert not CancellationRequest.objects.filter(
        service__customer__user=ana, status=CancellationStatus.PENDING
    ).exists()
    # Nothing is confirmed: the demo VPS keeps its options and has no open change.
    vps = Service.objects.get(label="app.tiendaandina.com.co")
    assert sorted(vps.options.values_list("quantity", flat=True)) == [1, 40]
    assert not PlanChange.objects.filter(service=vps).exists()


def test_every_article_fits_a_phone(browser, live_site):
    """At 390 px the PSE article's table of results (and the grid column holding it) was wider
    than the screen: the whole article scrolled sideways, its last column cut at the edge."""
    from clientarea.helpcenter import services
    from clientarea.helpcenter.models import Article

    services.import_help_content()
    context = browser.new_context(locale="es-CO", viewport={"width": 390, "height": 844})
    page = context.new_page()
    too_wide = {}
    try:
        for article in Article.objects.filter(published=True):
            page.goto(live_site.url + article.get_absolute_url())
            width = page.evaluate("document.documentElement.scrollWidth")
            tables = page.evaluate(
                """() => Array.from(document.querySelectorAll('.prose table'))
                    .filter(t => t.getBoundingClientRect().right
                                 > t.closest('.prose').getBoundingClientRect().right + 1)
                    .length"""
            )
            if width > 390 or tables:
                too_wide[article.slug] = (width, tables)
    finally:
        context.close()
    assert too_wide == {}
