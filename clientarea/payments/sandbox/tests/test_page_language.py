"""The simulators' pages speak the customer's language (Spanish by default, English when chosen
in the client area, through the same language cookie), keep the simulator banner in that
language, and show the link to the simulators' dashboard to staff only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from clientarea.payments.sandbox.models import SandboxPayUOrder, SandboxPayvalidaOrder
from clientarea.test import make_customer, make_staff

from .conftest import payu_form
from .test_payvalida import register

pytestmark = pytest.mark.django_db

GATEWAY = "/sandbox/payu/ppp-web-gateway-payu/"
BANNER = {"es": "Simulador: aquí no se mueve dinero real", "en": "Simulator: no real money moves"}
CARD = {
    "card_holder": "Alice Gomez",
    "card_number": "4111 1111 1111 1111",
    "card_expiry": "12/39",
    "card_cvv": "123",
    "installments": "1",
}
PSE = {"person_type": "N", "document_type": "CC", "document_number": "1020304050", "bank": "1022"}
_orders = iter(range(1, 1000))


def payu_order(client: Client, **overrides: str) -> SandboxPayUOrder:
    form = payu_form(**overrides)
    assert client.post(GATEWAY, form).status_code == 303
    return SandboxPayUOrder.objects.get(reference_code=form["referenceCode"])


def payvalida_order(client: Client, **overrides: str) -> SandboxPayvalidaOrder:
    number = f"CA9{next(_orders):05d}"
    register(client, order=number, **overrides)
    return SandboxPayvalidaOrder.objects.get(order=number)


def payu_checkout(client: Client) -> Any:
    return client.get(f"/sandbox/payu/checkout/{payu_order(client).checkout_token}/")


def payu_pse_bank(client: Client) -> Any:
    order = payu_order(client)
    bank = client.post(f"/sandbox/payu/checkout/{order.checkout_token}/pse/", PSE)["Location"]
    return client.get(bank)


def payu_voucher(client: Client) -> Any:
    order = payu_order(client)
    voucher = client.post(
        f"/sandbox/payu/checkout/{order.checkout_token}/cash/", {"network": "BALOTO"}
    )["Location"]
    return client.get(voucher)


def payu_result(client: Client) -> Any:
    order = payu_order(client, responseUrl="")
    result = client.post(f"/sandbox/payu/checkout/{order.checkout_token}/card/", CARD)["Location"]
    return client.get(result)


def payu_refused_form(client: Client) -> Any:
    return client.post(GATEWAY, {**payu_form(), "signature": "0" * 32})


def payu_cash_point(client: Client) -> Any:
    order = payu_order(client)
    client.post(f"/sandbox/payu/checkout/{order.checkout_token}/cash/", {"network": "BALOTO"})
    return client.post("/sandbox/payu/cash-point/", {"reference": str(order.payu_order_id)})


def payvalida_checkout(client: Client) -> Any:
    return client.get(f"/sandbox/payvalida/checkout/?token={payvalida_order(client).token}")


def payvalida_pse_bank(client: Client) -> Any:
    order = payvalida_order(client)
    bank = client.post("/sandbox/payvalida/checkout/pse/", {**PSE, "token": order.token})
    return client.get(bank["Location"])


def payvalida_voucher(client: Client) -> Any:
    order = payvalida_order(client, method="efecty")
    voucher = client.post(
        "/sandbox/payvalida/checkout/cash/", {"network": "efecty", "token": order.token}
    )
    return client.get(voucher["Location"])


def payvalida_declined(client: Client) -> Any:
    order = payvalida_order(client)
    return client.post(
        "/sandbox/payvalida/checkout/card/",
        {**CARD, "card_number": "4000000000000002", "token": order.token},
    )


def payvalida_cash_point(client: Client) -> Any:
    return client.get("/sandbox/payvalida/cash-point/")


# page: (how to reach it, Spanish text, English text)
PAGES: dict[str, tuple[Callable[[Client], Any], tuple[str, ...], tuple[str, ...]]] = {
    "payu checkout": (
        payu_checkout,
        (
            "Resumen de la compra",
            "Pagar con tarjeta",
            "Nueva (aún sin intentos de pago)",
            "Comercio de pruebas de ClientArea",
        ),
        (
            "Purchase summary",
            "Pay with card",
            "New (no payment attempt yet)",
            "ClientArea sandbox merchant",
        ),
    ),
    "payu PSE bank": (
        payu_pse_bank,
        ("¿Qué responde el banco?", "Aprobar pago", "Pendiente"),
        ("What does the bank answer?", "Approve payment", "Pending"),
    ),
    "payu voucher": (
        payu_voucher,
        ("Recibo de pago en efectivo", "Valor a pagar", "hora de Bogotá"),
        ("Cash payment voucher", "Amount to pay", "Bogotá time"),
    ),
    "payu result": (
        payu_result,
        ("Transacción aprobada", "Estado de la orden"),
        ("Transaction approved", "Order state"),
    ),
    "payu refused form": (
        payu_refused_form,
        ("No se pudo procesar la transacción",),
        ("Transaction could not be processed",),
    ),
    "payu cash point": (
        payu_cash_point,
        ("Recibir un pago", "pagado: se recibieron COP"),
        ("Receive a payment", "paid: COP"),
    ),
    "payvalida checkout": (
        payvalida_checkout,
        (
            "Resumen de la compra",
            "Continuar a su banco",
            "A continuación seleccione su banco",
            ">Pendiente<",  # the order's state, in words (it showed Payvalida's code, PENDIENTE)
        ),
        ("Purchase summary", "Continue to your bank", "Choose your bank", ">Pending<"),
    ),
    "payvalida PSE bank": (
        payvalida_pse_bank,
        ("Solicitud de transferencia", "Dejar pendiente"),
        ("Transfer request", "Leave pending"),
    ),
    "payvalida voucher": (
        payvalida_voucher,
        ("Recibo de pago en efectivo", "Ir al punto de pago"),
        ("Cash payment voucher", "Go to the cash point"),
    ),
    "payvalida declined card": (
        payvalida_declined,
        ("Transacción rechazada", "Intentar con otro medio de pago"),
        ("Transaction declined", "Try another payment method"),
    ),
    "payvalida cash point": (
        payvalida_cash_point,
        ("Punto de pago Payvalida", "Pagar recibo"),
        ("Payvalida cash point", "Pay voucher"),
    ),
}


@pytest.mark.parametrize("page", PAGES)
def test_simulator_page_is_in_spanish_by_default_and_in_english_when_chosen(client, page):
    reach, spanish, english = PAGES[page]
    html = reach(client).content.decode()
    assert '<html lang="es-co">' in html
    assert [text for text in (BANNER["es"], *spanish) if text not in html] == []
    assert [text for text in (BANNER["en"], *english) if text in html] == []

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # what the client area sets for English
    html = reach(client).content.decode()
    assert '<html lang="en">' in html
    assert [text for text in (BANNER["en"], *english) if text not in html] == []
    assert [text for text in (BANNER["es"], *spanish) if text in html] == []


def dashboard_links(client: Client) -> dict[str, bool]:
    """Whether each customer-facing simulator page links the simulators' dashboard."""
    found = {}
    for page in ("payu checkout", "payu voucher", "payvalida checkout", "payvalida PSE bank"):
        html = PAGES[page][0](client).content.decode()
        found[page] = 'href="/sandbox/"' in html
    return found


def test_the_dashboard_link_is_shown_to_staff_not_to_paying_customers(client):
    assert set(dashboard_links(client).values()) == {False}  # not logged in to the client area
    client.force_login(make_customer().user)
    assert set(dashboard_links(client).values()) == {False}
    client.force_login(make_staff())
    assert set(dashboard_links(client).values()) == {True}
    assert client.get("/sandbox/").status_code == 200
