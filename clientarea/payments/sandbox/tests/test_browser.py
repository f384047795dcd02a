"""Real-browser smoke tests of the simulated hosted pages (Chromium via Playwright, no JavaScript needed).

They drive the pages by their labels and button names, the way testers and the
portal's browser tests do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import re
import urllib.parse
import urllib.request

import pytest
from django.utils import timezone

from clientarea.payments.sandbox.models import SandboxPayUOrder, SandboxPayvalidaOrder

from .conftest import PAYVALIDA, payu_form

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_payu_checkout(page, live_site, **overrides) -> dict[str, str]:
    """Post a signed WebCheckout form from a blank page, like the merchant's auto-submit page."""
    # The merchant's return page: any public page will do (the simulator dashboard is for staff).
    form = payu_form(
        responseUrl=f"{live_site.url}/healthz?back=payu",
        confirmationUrl=f"{live_site.url}/confirm/",
        **overrides,
    )
    inputs = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in form.items()
    )
    page.set_content(
        f'<form method="post" action="{live_site.url}/sandbox/payu/ppp-web-gateway-payu/">{inputs}'
        '<button type="submit">Pay</button></form>'
    )
    page.get_by_role("button", name="Pay").click()
    page.wait_for_url(re.compile(r"/sandbox/payu/checkout/[\w-]+/$"))
    return form


def back_params(page) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.url).query))


def test_payu_card_in_a_browser(page, live_site, fake_http):
    form = open_payu_checkout(page, live_site)
    assert page.get_by_text("Simulador: aquí no se mueve dinero real").first.is_visible()
    page.get_by_label("Nombre en la tarjeta").fill("Alice Gomez")
    page.get_by_label("Número de la tarjeta").fill("4097 4400 0000 0004")
    page.get_by_label("Fecha de vencimiento (MM/AA)").fill("12/39")
    page.get_by_label("Código de seguridad (CVV)").fill("123")
    page.get_by_role("button", name="Pagar con tarjeta").click()
    page.wait_for_url(re.compile(r"/healthz\?back=payu"))
    params = back_params(page)
    assert params["transactionState"] == "4" and params["referenceCode"] == form["referenceCode"]
    assert fake_http.form()["state_pol"] == "4"


def test_payu_pse_in_a_browser(page, live_site, fake_http):
    open_payu_checkout(page, live_site)
    page.get_by_label("Tipo de persona").select_option("N")
    page.get_by_label("Tipo de documento").select_option("CC")
    page.get_by_label("Número de documento").fill("1020304050")
    page.get_by_label("Banco").select_option(label="BANCOLOMBIA")
    page.get_by_role("button", name="Continuar a su banco").click()
    page.wait_for_url(re.compile(r"/sandbox/payu/pse-bank/"))
    page.get_by_role("button", name="Dejar pendiente").click()
    page.wait_for_url(re.compile(r"/healthz\?back=payu"))
    assert back_params(page)["transactionState"] == "7"
    assert fake_http.calls == []
    tx = SandboxPayUOrder.objects.get().transactions.get()
    page.goto(f"{live_site.url}/sandbox/payu/pse-bank/{tx.transaction_id}/")
    page.get_by_role("button", name="Aprobar pago").click()
    page.wait_for_url(re.compile(r"/healthz\?back=payu"))
    assert back_params(page)["transactionState"] == "4"
    assert fake_http.form()["payment_method_type"] == "4"


def test_payu_cash_voucher_and_cash_point_in_a_browser(page, live_site, fake_http):
    open_payu_checkout(page, live_site)
    page.get_by_label("Baloto").check()
    page.get_by_role("button", name="Generar recibo de pago").click()
    page.wait_for_url(re.compile(r"/sandbox/payu/voucher/"))
    reference = page.get_by_test_id("voucher-reference").inner_text()
    assert reference == str(SandboxPayUOrder.objects.get().payu_order_id)
    page.get_by_role("link", name="Ir al punto de pago (pruebas)").click()
    assert page.get_by_label("Referencia de pago").input_value() == reference
    page.get_by_role("button", name="Pagar recibo").click()
    assert "pagado" in page.get_by_test_id("cash-point-result").inner_text()
    assert fake_http.form()["payment_method_type"] == "7"


def test_the_cash_voucher_reads_whole_on_a_phone(page, live_site, fake_http):
    """At 390 px, in English, the voucher broke its payment reference and its amount over two
    lines ("14000 / 00001", "COP 34,510.0 / 0"), and a cash point's clerk types them."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_site.url}])
    open_payu_checkout(page, live_site)
    page.get_by_label("Baloto").check()
    page.get_by_role("button", name="Generate payment voucher").click()
    page.wait_for_url(re.compile(r"/sandbox/payu/voucher/"))
    for test_id in ("voucher-reference", "voucher-amount", "voucher-expires"):
        element = page.get_by_test_id(test_id)
        box = element.bounding_box()
        line = element.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)")
        assert box is not None and box["height"] < 1.5 * line, (test_id, box, line)
        assert box["x"] + box["width"] <= 390, (test_id, box)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_checkout_total_and_footer_read_whole_on_a_phone(page, live_site, fake_http):
    """At 390 px the checkout's total broke inside the number ("COP 142.800,0 / 0") and the
    footer's note touched the screen's edges."""
    page.set_viewport_size({"width": 390, "height": 844})
    open_payu_checkout(
        page, live_site, amount="1011500.00", tax="161500.00", taxReturnBase="850000.00"
    )
    total = page.locator(".summary .total")
    box = total.bounding_box()
    line = total.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)")
    assert box is not None and box["height"] < 1.5 * line, (box, line)
    assert box["x"] + box["width"] <= 390, box
    footer = page.locator("footer").evaluate(
        "e => { const r = document.createRange(); r.selectNodeContents(e);"
        " const b = r.getBoundingClientRect(); return [b.left, b.right]; }"
    )
    assert footer[0] >= 8 and footer[1] <= 390 - 8, footer
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_payvalida_card_in_a_browser(page, live_site, fake_http, settings):
    settings.SANDBOX_PAYVALIDA_RETURN_URL = f"{live_site.url}/healthz?back=payvalida"
    fixed = PAYVALIDA["PAYVALIDA_FIXED_HASH"]
    email = "alice.gomez@cliente.example"  # long enough to push a phone's page sideways
    body = {
        "merchant": PAYVALIDA["PAYVALIDA_MERCHANT"],
        "email": email,
        "country": 343,
        "order": "BR0001",
        "money": "COP",
        "amount": "45000",
        "description": "Hosting",
        "recurrent": False,
        "expiration": (timezone.localdate() + dt.timedelta(days=2)).strftime("%d/%m/%Y"),
    }
    body["checksum"] = hashlib.sha512(f"{email}343BR0001COP45000{fixed}".encode()).hexdigest()
    request = urllib.request.Request(
        f"{live_site.url}/sandbox/payvalida/api/v3/porders",
        json.dumps(body).encode(),
        {"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as answer:
        data = json.loads(answer.read())["DATA"]
    # On a phone the summary's values (the buyer's email) wrap inside the card: the page was
    # wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"http://{data['checkout']}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_label("Nombre en la tarjeta").fill("Alice Gomez")
    page.get_by_label("Número de la tarjeta").fill("4111111111111111")
    page.get_by_label("Fecha de vencimiento (MM/AA)").fill("12/39")
    page.get_by_label("Código de seguridad (CVV)").fill("123")
    page.get_by_role("button", name="Pagar con tarjeta").click()
    page.wait_for_url(re.compile(r"/healthz\?back=payvalida&order=BR0001"))
    assert SandboxPayvalidaOrder.objects.get().state == "APROBADA"
    assert fake_http.json()["status"] == "approved"


def test_payu_refund_reviewed_on_the_dashboard_in_a_browser(page, live_site, fake_http):
    """A refund asked through the Payments API is approved by staff on /sandbox/ and notified."""
    from django.conf import settings
    from django.test import Client

    from clientarea.payments.sandbox import payu_sim
    from clientarea.test import make_staff

    order = payu_sim.accept_form(payu_form(confirmationUrl=f"{live_site.url}/confirm/"))
    tx = payu_sim.pay_with_card(order, holder="Alice Gomez", number="4097440000000004")
    body = {
        "language": "es",
        "command": "SUBMIT_TRANSACTION",
        "merchant": {"apiLogin": "pRRXKOl8ikMmt9u", "apiKey": "4Vj8eK4rloUd272L48hsrarnUA"},
        "transaction": {
            "order": {"id": order.payu_order_id},
            "type": "REFUND",
            "reason": "Servicio cancelado",
            "parentTransactionId": str(tx.transaction_id),
        },
        "test": True,
    }
    request = urllib.request.Request(
        f"{live_site.url}/sandbox/payu/payments-api/4.0/service.cgi",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        refund_id = json.loads(answer.read())["transactionResponse"]["transactionId"]
    staff = Client()
    staff.force_login(make_staff())
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": staff.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_site.url,
            }
        ]
    )
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(f"{live_site.url}/sandbox/")
    refund = page.locator(f'[data-payu-refund="{refund_id}"]')
    assert "Pendiente" in refund.inner_text()
    calls = len(fake_http.calls)
    refund.get_by_role("button", name="Aprobar reembolso").click()
    page.wait_for_load_state()
    refund = page.locator(f'[data-payu-refund="{refund_id}"]')
    assert "Aprobado" in refund.inner_text()
    assert len(fake_http.calls) == calls + 1
    assert fake_http.form()["transaction_type"] == "REFUND"
    order.refresh_from_db()
    assert order.state == "REFUNDED"
