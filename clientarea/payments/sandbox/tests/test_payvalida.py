"""The Payvalida simulator: v3 purchase-order API, checkout, notifications (docs.payvalida.com)."""

from __future__ import annotations

import datetime as dt
import hashlib
import urllib.parse

import pytest
from django.utils import timezone

from clientarea.lib.http import HttpResponse
from clientarea.payments.sandbox import payvalida_protocol as proto
from clientarea.payments.sandbox.expiry import expire_vouchers
from clientarea.payments.sandbox.models import (
    NotificationStatus,
    SandboxNotification,
    SandboxPayvalidaOrder,
)
from clientarea.test import make_staff

from .conftest import PAYVALIDA, run_retries

pytestmark = pytest.mark.django_db

API = "/sandbox/payvalida/api/v3/porders"
MERCHANT = PAYVALIDA["PAYVALIDA_MERCHANT"]
FIXED = PAYVALIDA["PAYVALIDA_FIXED_HASH"]
NOTIFY = PAYVALIDA["PAYVALIDA_NOTIFICATION_HASH"]
CARD_OK = {
    "card_holder": "Alice Gomez",
    "card_number": "4111111111111111",
    "card_expiry": "12/39",
    "card_cvv": "123",
    "installments": "1",
}
PSE = {"person_type": "N", "document_type": "CC", "document_number": "1020304050", "bank": "1007"}


def sha512(text: str) -> str:
    return hashlib.sha512(text.encode()).hexdigest()


def order_body(order: str = "CA000123", amount: object = "119000", **overrides) -> dict:
    expiration = (timezone.localdate() + dt.timedelta(days=3)).strftime("%d/%m/%Y")
    body = {
        "merchant": MERCHANT,
        "email": "alice@example.com",
        "country": 343,
        "order": order,
        "money": "COP",
        "amount": amount,
        "description": "Hosting Plan Pro",
        "language": "es",
        "recurrent": False,
        "expiration": expiration,
        "iva": "19",
    }
    body.update(overrides)
    if "checksum" not in overrides:
        body["checksum"] = sha512(
            f"{body['email']}{body['country']}{body['order']}{body['money']}{body['amount']}{FIXED}"
        )
    return body


def register(client, **kwargs) -> dict:
    response = client.post(API, order_body(**kwargs), content_type="application/json")
    assert response.status_code == 200
    return response.json()


def consult(client, order: str, checksum: str | None = None, **params) -> dict:
    query = {
        "merchant": MERCHANT,
        "checksum": checksum or sha512(f"{order}{MERCHANT}{FIXED}"),
        **params,
    }
    return client.get(f"{API}/{order}?{urllib.parse.urlencode(query)}").json()


def checkout_path(answer: dict) -> str:
    checkout = answer["DATA"]["checkout"]
    assert not checkout.startswith("http")  # like the real API: no scheme
    return checkout[checkout.index("/") :]


# --- Register ------------------------------------------------------------------------------------


def test_register_answers_like_the_docs(client):
    answer = register(client)
    assert answer["CODE"] == "0000" and answer["DESC"] == "OK"
    data = answer["DATA"]
    order = SandboxPayvalidaOrder.objects.get()
    assert (
        data["OrdenID"] == "CA000123"
        and data["Monto"] == "119000.0"
        and data["Operacion"] == "CREADA"
    )
    assert data["PVordenID"] == str(order.pv_order_id) and data["Referencia"] == order.reference
    assert data["checkout"] == f"testserver/sandbox/payvalida/checkout/?token={order.token}"
    assert order.state == "PENDIENTE"


def test_register_accepts_upper_case_checksum_and_string_country(client):
    body = order_body(country="343")
    body["checksum"] = body["checksum"].upper()
    assert client.post(API, body, content_type="application/json").json()["CODE"] == "0000"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"checksum": "0" * 128}, "0025"),
        ({"merchant": "someoneelse"}, "0018"),
        ({"amount": "119000.50"}, "0021"),
        ({"amount": "0"}, "0021"),
        ({"amount": "abc"}, "0021"),
        ({"country": 170}, "0022"),
        ({"money": "USD"}, "0023"),
        ({"order": "CA_0001"}, "0011"),
        ({"expiration": "2030-01-01"}, "0031"),
        ({"expiration": "01/01/2020"}, "0032"),
        ({"method": "bitcoin"}, "0027"),
        ({"description": ""}, "0029"),
        ({"email": None}, "0011"),
    ],
)
def test_register_refusals(client, overrides, code):
    answer = register(client, **overrides)
    assert answer["CODE"] == code, answer
    assert answer["DESC"]
    assert not SandboxPayvalidaOrder.objects.exists()


def test_register_refuses_a_numeric_non_integer_amount(client):
    body = order_body(amount=119000.5)  # JSON number with decimals
    assert client.post(API, body, content_type="application/json").json()["CODE"] == "0021"


def test_register_refuses_more_than_thirty_days(client):
    late = (timezone.localdate() + dt.timedelta(days=31)).strftime("%d/%m/%Y")
    assert register(client, expiration=late)["CODE"] == "0024"


def test_order_is_unique_forever_even_after_deletion(client):
    assert register(client)["CODE"] == "0000"
    assert register(client)["CODE"] == "0042"
    checksum = sha512(f"CA000123{MERCHANT}{FIXED}")
    deleted = client.delete(f"{API}/CA000123?merchant={MERCHANT}&checksum={checksum}").json()
    assert deleted["CODE"] == "0000"
    assert register(client)["CODE"] == "0042"


def test_duplicate_reference_is_refused(client):
    assert register(client, reference="989898101")["CODE"] == "0000"
    assert register(client, order="CA000124", reference="989898101")["CODE"] == "0043"


def test_register_refuses_non_json(client):
    response = client.post(API, "order=1", content_type="application/x-www-form-urlencoded")
    assert response.json()["CODE"] == "0011"


# --- Consult / delete --------------------------------------------------------------------------------


def test_consult_a_pending_order(client):
    register(client)
    answer = consult(client, "CA000123")
    assert answer["CODE"] == "0000"
    data = answer["DATA"]
    assert (
        data["STATE"] == "PENDIENTE"
        and data["AMOUNT"] == "119000.00"
        and data["ORDER"] == "CA000123"
    )
    assert data["CURRENCY"] == "COP" and data["EMAIL"] == "alice@example.com"
    assert isinstance(data["CODE"], int) and data["LIFE_TIME"].endswith("h")
    for key in (
        "PAYMNENT_METHOD",
        "UDPATE_DATE",
        "CREATION_DATE",
        "NOTIFICATION_RESPONSE",
        "ADITIONAL_INFO",
    ):
        assert key in data


def test_consult_checks_checksum_and_order(client):
    register(client)
    assert consult(client, "CA000123", checksum="bad")["CODE"] == "0025"
    assert (
        consult(client, "CA000123", checksum=sha512(f"CA000123{MERCHANT}{FIXED}").upper())["CODE"]
        == "0000"
    )
    assert consult(client, "NOPE")["CODE"] == "0041"


def test_delete_only_pending_orders_and_no_notification(client, fake_http, commit):
    answer = register(client)
    checksum = sha512(f"CA000123{MERCHANT}{FIXED}")
    with commit():
        deleted = client.delete(f"{API}/CA000123?merchant={MERCHANT}&checksum={checksum}").json()
    assert deleted == {
        "CODE": "0000",
        "DESC": "OK",
        "DATA": {
            "OrderID": "CA000123",
            "Amount": "119000.0",
            "PVOrderID": answer["DATA"]["PVordenID"],
            "Reference": answer["DATA"]["Referencia"],
            "Operation": "DELETED",
        },
    }
    assert consult(client, "CA000123")["DATA"]["STATE"] == "CANCELADA"
    assert fake_http.calls == []
    again = client.delete(f"{API}/CA000123?merchant={MERCHANT}&checksum={checksum}").json()
    assert again["CODE"] == "0041"
    page = client.get(checkout_path(answer)).content.decode()
    assert "Pagar con tarjeta" not in page


# --- Checkout and notifications ---------------------------------------------------------------------


def test_card_payment_notifies_with_checksum_and_returns(client, fake_http, commit):
    answer = register(client)
    page = client.get(checkout_path(answer))
    html = page.content.decode()
    assert (
        page.status_code == 200
        and "Simulador: aquí no se mueve dinero real" in html
        and "Pagar con tarjeta" in html
    )
    order = SandboxPayvalidaOrder.objects.get()
    with commit():
        response = client.post(
            "/sandbox/payvalida/checkout/card/", {**CARD_OK, "token": order.token}
        )
    assert response.status_code == 302
    assert response["Location"] == "http://testserver/payments/payvalida/return/?order=CA000123"
    call = fake_http.calls[0]
    assert call["url"] == "http://testserver/payments/payvalida/notification/"
    assert call["headers"]["Content-Type"].startswith("application/json")
    body = fake_http.json()
    assert (
        body["po_id"] == "CA000123"
        and body["status"] == "approved"
        and body["pv_po_id"] == order.pv_order_id
    )
    assert body["pv_checksum"] == hashlib.sha256(f"CA000123approved{NOTIFY}".encode()).hexdigest()
    assert (
        body["amount"] == "119000" and body["iso_currency"] == "COP" and body["pv_payment"] == "TC"
    )
    assert consult(client, "CA000123")["DATA"]["STATE"] == "APROBADA"
    assert consult(client, "CA000123")["DATA"]["NOTIFICATION_RESPONSE"] == "OK"


def test_notification_checksum_function():
    expected = hashlib.sha256(b"CA1approvedsecret").hexdigest()
    assert (
        proto.notification_checksum(po_id="CA1", status="approved", notification_hash="secret")
        == expected
    )


def test_declined_card_keeps_the_order_pending_without_notification(client, fake_http, commit):
    answer = register(client)
    order = SandboxPayvalidaOrder.objects.get()
    with commit():
        response = client.post(
            "/sandbox/payvalida/checkout/card/",
            {**CARD_OK, "card_number": "4000000000000002", "token": order.token},
        )
    assert (
        response.status_code == 200
        and "Intentar con otro medio de pago" in response.content.decode()
    )
    assert fake_http.calls == []
    assert consult(client, "CA000123")["DATA"]["STATE"] == "PENDIENTE"
    assert "Pagar con tarjeta" in client.get(checkout_path(answer)).content.decode()


def test_non_ok_answer_is_retried_and_stored(client, fake_http, commit):
    fake_http.answers = [HttpResponse(200, b"ERROR. Order not recognized", {})]
    register(client)
    order = SandboxPayvalidaOrder.objects.get()
    with commit():
        client.post("/sandbox/payvalida/checkout/card/", {**CARD_OK, "token": order.token})
    assert (
        consult(client, "CA000123")["DATA"]["NOTIFICATION_RESPONSE"]
        == "ERROR. Order not recognized"
    )
    run_retries()
    assert len(fake_http.calls) == 2
    assert SandboxNotification.objects.get().status == NotificationStatus.DELIVERED
    assert consult(client, "CA000123")["DATA"]["NOTIFICATION_RESPONSE"] == "OK"


def test_pse_pending_then_approved_and_cus_in_consult(client, fake_http, commit):
    answer = register(client)
    order = SandboxPayvalidaOrder.objects.get()
    response = client.post("/sandbox/payvalida/checkout/pse/", {**PSE, "token": order.token})
    assert response.status_code == 303
    bank_url = response["Location"]
    assert "BANCOLOMBIA" in client.get(bank_url).content.decode()
    with commit():
        pending = client.post(bank_url, {"decision": "pending"})
    assert pending["Location"] == "http://testserver/payments/payvalida/return/?order=CA000123"
    assert fake_http.calls == []
    assert "ir a la página del banco" in client.get(checkout_path(answer)).content.decode()
    waiting = consult(client, "CA000123", aditionalinfo="cuspse")["DATA"]
    assert waiting["STATE"] == "PENDIENTE" and waiting["PAYMNENT_METHOD"] == "PSE"
    cus = waiting["ADITIONAL_INFO"]["CUS"]
    with commit():
        client.post(bank_url, {"decision": "approve"})
    body = fake_http.json()
    assert body["status"] == "approved" and body["pv_payment"] == "PSE"
    data = consult(client, "CA000123", aditionalinfo="cuspse")["DATA"]
    assert (
        data["STATE"] == "APROBADA"
        and data["PAYMNENT_METHOD"] == "PSE"
        and data["ADITIONAL_INFO"]["CUS"] == cus
    )


def test_pse_rejected_keeps_order_pending(client, fake_http, commit):
    register(client)
    order = SandboxPayvalidaOrder.objects.get()
    bank_url = client.post("/sandbox/payvalida/checkout/pse/", {**PSE, "token": order.token})[
        "Location"
    ]
    with commit():
        response = client.post(bank_url, {"decision": "reject"})
    assert response.status_code == 200 and fake_http.calls == []
    assert consult(client, "CA000123")["DATA"]["STATE"] == "PENDIENTE"


def test_cash_voucher_paid_at_the_cash_point(client, fake_http, commit):
    register(client, method="efecty")
    order = SandboxPayvalidaOrder.objects.get()
    page = client.get(f"/sandbox/payvalida/checkout/?token={order.token}").content.decode()
    assert "Pagar con tarjeta" not in page and "Generar recibo de pago" in page  # method restricts
    voucher = client.post(
        "/sandbox/payvalida/checkout/cash/", {"network": "efecty", "token": order.token}
    )
    assert voucher.status_code == 303
    assert order.reference in client.get(voucher["Location"]).content.decode()
    with commit():
        paid = client.post("/sandbox/payvalida/cash-point/", {"reference": order.reference})
    assert "pagado" in paid.content.decode()
    body = fake_http.json()
    assert body["status"] == "approved" and body["pv_payment"] == "EFECTY"
    again = client.post("/sandbox/payvalida/cash-point/", {"reference": order.reference})
    assert "ya fue pagad" in again.content.decode()


def test_expired_order_is_notified_cancelled_and_cannot_be_paid(client, fake_http, commit):
    register(client, method="baloto")
    order = SandboxPayvalidaOrder.objects.get()
    with commit():
        result = expire_vouchers(now=timezone.now() + dt.timedelta(days=5))
    assert result == {"payu": 0, "payvalida": 1}
    body = fake_http.json()
    assert body["status"] == "cancelled" and body["pv_payment"] == "BALOTO"
    assert body["pv_checksum"] == hashlib.sha256(f"CA000123cancelled{NOTIFY}".encode()).hexdigest()
    assert consult(client, "CA000123")["DATA"]["STATE"] == "VENCIDA"
    refused = client.post("/sandbox/payvalida/cash-point/", {"reference": order.reference})
    assert "venció" in refused.content.decode()


def test_expiry_without_registered_method_omits_pv_payment(client, fake_http, commit):
    register(client)
    with commit():
        expire_vouchers(now=timezone.now() + dt.timedelta(days=5))
    assert "pv_payment" not in fake_http.json()


def test_order_expiring_today_is_still_payable(client, fake_http):
    register(client, expiration=timezone.localdate().strftime("%d/%m/%Y"))
    assert expire_vouchers()["payvalida"] == 0


def test_recurrent_order_is_paid_many_times_with_consecutive_po_ids(client, fake_http, commit):
    register(client, recurrent=True)
    order = SandboxPayvalidaOrder.objects.get()
    with commit():
        client.post("/sandbox/payvalida/cash-point/", {"reference": order.reference})
    with commit():
        client.post("/sandbox/payvalida/cash-point/", {"reference": order.reference})
    assert [fake_http.json(i)["po_id"] for i in range(2)] == ["CA000123_1", "CA000123_2"]
    assert (
        fake_http.json(1)["pv_checksum"]
        == hashlib.sha256(f"CA000123_2approved{NOTIFY}".encode()).hexdigest()
    )


def test_unknown_token_is_404(client):
    assert client.get("/sandbox/payvalida/checkout/?token=nope").status_code == 404


def test_dashboard_shows_payvalida_orders(client, fake_http, commit):
    register(client)
    order = SandboxPayvalidaOrder.objects.get()
    with commit():
        client.post("/sandbox/payvalida/checkout/card/", {**CARD_OK, "token": order.token})
    client.force_login(make_staff())  # the dashboard is for staff
    page = client.get("/sandbox/").content.decode()
    assert "CA000123" in page and "APROBADA" in page and "Reenviar" in page
    with commit():
        response = client.post(f"/sandbox/payvalida/orders/{order.pk}/expire/")
    assert (
        response.status_code == 303 and len(fake_http.calls) == 1
    )  # approved orders do not expire
