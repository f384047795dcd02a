"""Real browser, 1366 px: the back-office page of every kind of payment fits the window, in
Spanish and English. The gateway's messages (long keys and transaction ids, eleven columns) made a
Payvalida payment's page 1386-1568 px wide, and the refunds beside them a PayU payment's page a
little wider than 1366 px; the whole key and id stay on hover and on the message's own page."""

from __future__ import annotations

import io
import os
from decimal import Decimal
from unittest import mock

import pytest
from django.core.management import call_command
from django.test import Client

from clientarea.accounts.models import Customer
from clientarea.billing.models import Order, OrderState
from clientarea.payments import services
from clientarea.payments.models import Payment, Refund, RefundState
from clientarea.payments.tests.base import FakeNetwork
from clientarea.payments.tests.helpers import (
    payu_confirmation,
    payvalida_notification,
    post_payu,
    post_payvalida,
)
from clientarea.test import staff_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 1366


@pytest.fixture
def gateways(settings):
    settings.PAYMENTS_IP_ALLOWLIST = False
    settings.PAYU_ENABLED = True
    settings.PAYVALIDA_ENABLED = True
    settings.PAYU_SIGNATURE_ALGORITHM = "SHA256"
    settings.PAYU_SECRET_KEY = ""
    network = FakeNetwork()
    with (
        mock.patch("clientarea.lib.http.send", network),
        mock.patch("clientarea.payments.jobs.enqueue_check"),
    ):
        yield network


def _pending_orders() -> list[Order]:
    call_command("demo_data", stdout=io.StringIO())
    andina = Customer.objects.get(user__email="compras@tiendaandina.example")
    orders = list(Order.objects.filter(customer=andina, state=OrderState.PENDING))
    assert len(orders) >= 2
    return orders


def _payments(network: FakeNetwork) -> dict[str, Payment]:
    """One payment of each kind, made the way the gateways make them (their notifications and
    status answers through our endpoints and queries)."""
    order, other = _pending_orders()[:2]
    client = Client()
    made: dict[str, Payment] = {}
    for method in ("card", "pse", "cash"):
        payment, _ = services.start_payment(
            order=order, customer=order.customer, gateway_code="payu", method=method, language="es"
        )
        made[f"payu {method}"] = payment
    card = made["payu card"]
    post_payu(client, payu_confirmation(card.reference, "1.00", state_pol="6", method_type="2"))
    post_payu(client, payu_confirmation(made["payu pse"].reference, "1.00", state_pol="7"))
    payment, _ = services.start_payment(
        order=order, customer=order.customer, gateway_code="payvalida", method="card", language="es"
    )
    data = network.payvalida_orders[payment.gateway_reference]
    data.update(
        PAYMNENT_METHOD="TC",
        TRANSACTION={"DATE": "2026-12-02 09:10:11", "RESPONSE_CODE": "ENTITY_DECLINED"},
    )
    services.check_payment(payment, close_expired=False)
    post_payvalida(
        client,
        payvalida_notification(payment.reference, amount=str(int(payment.amount)), method="tc"),
    )
    post_payvalida(client, payvalida_notification(payment.reference, amount="1000", method="tc"))
    made["payvalida"] = payment
    # A PayU card payment approved, with refunds: one declined in PayU's words, one manual.
    payment, _ = services.start_payment(
        order=other, customer=other.customer, gateway_code="payu", method="card", language="es"
    )
    post_payu(client, payu_confirmation(payment.reference, str(payment.amount)))
    payment.refresh_from_db()
    assert payment.status == "approved"
    Refund.objects.create(
        payment=payment,
        customer=payment.customer,
        amount=Decimal("50.00"),
        method="gateway",
        state=RefundState.DECLINED,
        reason="Cobro duplicado del plan de hosting, el cliente pidió la devolución por teléfono",
        gateway_message="El valor mínimo para una devolución parcial es 100 COP (ERROR_MINIMUM)",
        note_code="refund_not_made",
        note_values={"failure": "refused"},
    )
    services.refund_payment(
        payment=payment,
        amount=Decimal("1000.00"),
        method="manual",
        bank_reference="TRF-2026-12-05-000458812",
        reason="Devolución parcial por transferencia",
    )
    made["payu approved, refunded"] = payment
    made["manual"] = Payment.objects.get(gateway="manual")
    return made


def test_every_payment_page_fits_1366_px_in_both_languages(browser, live_site, gateways):
    payments = _payments(gateways)
    assert payments["payvalida"].messages.count() >= 3
    shots = os.environ.get("LAYOUT_SHOTS", "")
    too_wide = {}
    keys: dict[str, list[str]] = {}
    for language in ("es-CO", "en"):
        context = browser.new_context(locale=language, viewport={"width": WIDTH, "height": 900})
        context.set_default_timeout(15000)
        page = context.new_page()
        staff_log_in(page, live_site.url)
        for kind, payment in payments.items():
            page.goto(live_site.url + f"/admin/payments/payment/{payment.pk}/change/")
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > WIDTH:
                too_wide[f"{kind} ({language})"] = width
            if shots:
                page.screenshot(
                    path=f"{shots}/{kind.replace(' ', '_')}_{language}.png", full_page=True
                )
        # The whole key stays reachable: on hover, and on the message's own page.
        page.goto(live_site.url + f"/admin/payments/payment/{payments['payvalida'].pk}/change/")
        keys[language] = page.eval_on_selector_all(
            ".inline-related td.field-key span[title]", "spans => spans.map(s => s.title)"
        )
        context.close()
    assert too_wide == {}
    for shown in keys.values():
        assert "query:payvalida:95601:declined:2026-12-02T09:10:11" in shown, shown
