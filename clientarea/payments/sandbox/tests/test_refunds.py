"""Refunds in the gateway simulators, driven by hand-written requests.

PayU: the Payments API ``SUBMIT_TRANSACTION`` with ``REFUND``/``PARTIAL_REFUND`` (PayU's
"Voids and Refunds API" page), the review, the Queries API and the confirmation. The
confirmation ``sign`` is recomputed here with ``hashlib`` from the confirmation-page formula.
Payvalida: ANULADA by the merchant (not notified) or by the customer (notified ``cancelled``).
"""

from __future__ import annotations

import hashlib

import pytest

from clientarea.payments.sandbox.models import SandboxPayUOrder, SandboxPayURefund
from clientarea.test import make_staff

from .conftest import API_KEY, PAYVALIDA, confirmation_new_value, payu_form

pytestmark = pytest.mark.django_db

PAYMENTS_API = "/sandbox/payu/payments-api/4.0/service.cgi"
QUERIES_API = "/sandbox/payu/reports-api/4.0/service.cgi"
MERCHANT = {"apiLogin": "pRRXKOl8ikMmt9u", "apiKey": API_KEY}
CARD_OK = {
    "card_holder": "Alice Gomez",
    "card_number": "4111 1111 1111 1111",
    "card_expiry": "12/39",
    "card_cvv": "123",
    "installments": "1",
}


def paid_order(client, commit) -> tuple[SandboxPayUOrder, str]:
    form = payu_form()
    assert client.post("/sandbox/payu/ppp-web-gateway-payu/", form).status_code == 303
    order = SandboxPayUOrder.objects.get(reference_code=form["referenceCode"])
    with commit():
        client.post(f"/sandbox/payu/checkout/{order.checkout_token}/card/", CARD_OK)
    order.refresh_from_db()
    assert order.state == "APPROVED"
    return order, str(order.transactions.get().transaction_id)


def refund_request(
    client, order_id, parent: str, kind: str = "REFUND", merchant=MERCHANT, **transaction
) -> dict:
    body = {
        "language": "es",
        "command": "SUBMIT_TRANSACTION",
        "merchant": merchant,
        "transaction": {
            "order": {"id": str(order_id)},
            "type": kind,
            "reason": "Cliente canceló el servicio",
            "parentTransactionId": parent,
            **transaction,
        },
        "test": False,
    }
    response = client.post(PAYMENTS_API, body, content_type="application/json")
    assert response.status_code == 200
    return response.json()


def order_detail(client, order_id: int | None) -> dict:
    body = {
        "language": "es",
        "command": "ORDER_DETAIL",
        "merchant": MERCHANT,
        "details": {"orderId": order_id},
        "test": False,
    }
    answer = client.post(QUERIES_API, body, content_type="application/json").json()
    assert answer["code"] == "SUCCESS"
    return answer["result"]["payload"]


def resolve(client, refund_id: str, decision: str) -> None:
    if "_auth_user_id" not in client.session:
        client.force_login(make_staff())
    response = client.post(f"/sandbox/payu/refunds/{refund_id}/resolve/", {"decision": decision})
    assert response.status_code == 303


def test_a_whole_refund_is_reviewed_then_the_order_is_refunded_and_confirmed(
    client, fake_http, commit
):
    order, parent = paid_order(client, commit)
    answer = refund_request(client, order.payu_order_id, parent)
    assert answer["code"] == "SUCCESS" and answer["error"] is None
    response = answer["transactionResponse"]
    assert response["orderId"] == order.payu_order_id
    assert (response["state"], response["pendingReason"]) == ("PENDING", "PENDING_REVIEW")
    assert response["responseMessage"] == str(order.payu_order_id)
    refund_id = response["transactionId"]
    # Under review: the order is still CAPTURED and its first transaction the approved payment.
    found = order_detail(client, order.payu_order_id)
    assert found["status"] == "CAPTURED"
    first = found["transactions"][0]
    assert (first["type"], first["transactionResponse"]["state"]) == (
        "AUTHORIZATION_AND_CAPTURE",
        "APPROVED",
    )
    calls_before = len(fake_http.calls)  # the payment's confirmation; none for a pending refund
    with commit():
        resolve(client, refund_id, "approve")
    found = order_detail(client, order.payu_order_id)
    assert found["status"] == "REFUNDED"
    refund = found["transactions"][0]
    assert refund["id"] == refund_id and refund["type"] == "REFUND"
    assert refund["parentTransactionId"] == parent
    assert refund["transactionResponse"]["state"] == "APPROVED"
    assert refund["extraParameters"] == {"MANUAL_REFUND": "TRUE"}
    assert refund["additionalValues"]["TX_VALUE"] == {"value": 119000, "currency": "COP"}
    # The confirmation of the refund's final state, signed like every confirmation.
    assert len(fake_http.calls) == calls_before + 1
    fields = fake_http.form()
    assert fields["transaction_type"] == "REFUND" and fields["transaction_id"] == refund_id
    assert fields["state_pol"] == "4" and fields["response_message_pol"] == "APPROVED"
    assert fields["reference_pol"] == str(order.payu_order_id)
    new_value = confirmation_new_value(fields["value"])
    base = f"{API_KEY}~508029~{order.reference_code}~{new_value}~COP~4"
    assert fields["sign"] == hashlib.md5(base.encode()).hexdigest()
    # TRANSACTION_RESPONSE_DETAIL knows the refund too.
    detail = client.post(
        QUERIES_API,
        {
            "command": "TRANSACTION_RESPONSE_DETAIL",
            "merchant": MERCHANT,
            "details": {"transactionId": refund_id},
        },
        content_type="application/json",
    ).json()
    assert detail["result"]["payload"]["state"] == "APPROVED"
    # Nothing left to refund.
    again = refund_request(client, order.payu_order_id, parent)
    assert again["code"] == "ERROR" and again["transactionResponse"] is None


def test_one_partial_refund_per_order_in_colombia(client, fake_http, commit):
    order, parent = paid_order(client, commit)
    value = {"additionalValues": {"TX_VALUE": {"value": 19000, "currency": "COP"}}}
    answer = refund_request(client, order.payu_order_id, parent, "PARTIAL_REFUND", **value)
    assert answer["code"] == "SUCCESS"
    refund_id = answer["transactionResponse"]["transactionId"]
    busy = refund_request(client, order.payu_order_id, parent, "PARTIAL_REFUND", **value)
    assert busy["code"] == "ERROR" and "under review" in busy["error"]
    with commit():
        resolve(client, refund_id, "approve")
    found = order_detail(client, order.payu_order_id)
    assert found["status"] == "CAPTURED"  # partly refunded orders stay CAPTURED
    assert found["transactions"][0]["type"] == "PARTIAL_REFUND"
    assert found["transactions"][0]["additionalValues"]["TX_VALUE"]["value"] == 19000
    fields = fake_http.form()
    assert fields["transaction_type"] == "PARTIAL_REFUND" and fields["value"] == "19000.00"
    base = f"{API_KEY}~508029~{order.reference_code}~19000.0~COP~4"
    assert fields["sign"] == hashlib.md5(base.encode()).hexdigest()
    second = refund_request(client, order.payu_order_id, parent, "PARTIAL_REFUND", **value)
    assert second["code"] == "ERROR" and "only one refund" in second["error"]


def test_a_declined_refund_leaves_the_order_captured_and_may_be_asked_again(
    client, fake_http, commit
):
    order, parent = paid_order(client, commit)
    refund_id = refund_request(client, order.payu_order_id, parent)["transactionResponse"][
        "transactionId"
    ]
    with commit():
        resolve(client, refund_id, "decline")
    found = order_detail(client, order.payu_order_id)
    assert found["status"] == "CAPTURED"
    first = found["transactions"][0]
    assert (first["type"], first["transactionResponse"]["state"]) == ("REFUND", "DECLINED")
    fields = fake_http.form()
    assert fields["state_pol"] == "6" and fields["response_message_pol"] == "ENTITY_DECLINED"
    # resolving twice changes nothing
    with commit():
        resolve(client, refund_id, "approve")
    assert SandboxPayURefund.objects.get().state == "DECLINED"
    assert refund_request(client, order.payu_order_id, parent)["code"] == "SUCCESS"


@pytest.mark.parametrize(
    ("kind", "extra", "message"),
    [
        ("PARTIAL_REFUND", {}, "TX_VALUE"),
        (
            "PARTIAL_REFUND",
            {"additionalValues": {"TX_VALUE": {"value": 99, "currency": "COP"}}},
            "minimum refund is 100 COP",
        ),
        (
            "PARTIAL_REFUND",
            {"additionalValues": {"TX_VALUE": {"value": 119000, "currency": "COP"}}},
            "less than the order",
        ),
        (
            "PARTIAL_REFUND",
            {"additionalValues": {"TX_VALUE": {"value": 1000, "currency": "USD"}}},
            "currency",
        ),
        (
            "PARTIAL_REFUND",
            {"additionalValues": {"TX_VALUE": {"value": "10.005", "currency": "COP"}}},
            "2 decimals",
        ),
        ("VOID", {}, "two-step flow"),
        ("AUTHORIZATION_AND_CAPTURE", {}, "not supported"),
    ],
)
def test_bad_refund_requests_are_refused_at_once(client, commit, kind, extra, message):
    order, parent = paid_order(client, commit)
    answer = refund_request(client, order.payu_order_id, parent, kind, **extra)
    assert answer["code"] == "ERROR" and message in answer["error"], answer
    assert not SandboxPayURefund.objects.exists()


def test_refunds_need_the_credentials_an_approved_parent_and_the_merchants_order(client, commit):
    order, parent = paid_order(client, commit)
    wrong = refund_request(
        client, order.payu_order_id, parent, merchant={**MERCHANT, "apiKey": "nope"}
    )
    assert wrong == {"code": "ERROR", "error": "Invalid credentials", "transactionResponse": None}
    other = SandboxPayUOrder.objects.get(pk=paid_order(client, commit)[0].pk)
    assert refund_request(client, other.payu_order_id, parent)["code"] == "ERROR"
    assert refund_request(client, 999, parent)["code"] == "ERROR"
    assert refund_request(client, "x", parent)["code"] == "ERROR"
    assert refund_request(client, order.payu_order_id, "not-a-uuid")["code"] == "ERROR"
    bad_json = client.post(PAYMENTS_API, b"{", content_type="application/json").json()
    assert bad_json["code"] == "ERROR"
    assert client.get(PAYMENTS_API).status_code == 405
    assert not SandboxPayURefund.objects.exists()


def test_a_declined_payment_cannot_be_refunded(client, commit):
    form = payu_form()
    client.post("/sandbox/payu/ppp-web-gateway-payu/", form)
    order = SandboxPayUOrder.objects.get(reference_code=form["referenceCode"])
    with commit():
        client.post(
            f"/sandbox/payu/checkout/{order.checkout_token}/card/",
            {**CARD_OK, "card_number": "4000000000000002"},
        )
    parent = str(order.transactions.get().transaction_id)
    answer = refund_request(client, order.payu_order_id, parent)
    assert answer["code"] == "ERROR" and "approved" in answer["error"]


def test_the_dashboard_shows_refunds_and_resolving_is_for_staff(client, commit):
    order, parent = paid_order(client, commit)
    refund_id = refund_request(client, order.payu_order_id, parent)["transactionResponse"][
        "transactionId"
    ]
    assert client.post(f"/sandbox/payu/refunds/{refund_id}/resolve/").status_code == 302
    assert SandboxPayURefund.objects.get().state == "PENDING"
    client.force_login(make_staff())
    page = client.get("/sandbox/").content.decode()
    assert refund_id in page and "Aprobar reembolso" in page
    assert "COP 119000" in page, page[page.find("data-payu-refund") :][:600]


# --- Payvalida ------------------------------------------------------------------------------------

PV_API = "/sandbox/payvalida/api/v3/porders"


def approved_payvalida_order(client, commit):
    import datetime as dt

    from django.utils import timezone

    from clientarea.payments.sandbox.models import SandboxPayvalidaOrder

    body = {
        "merchant": PAYVALIDA["PAYVALIDA_MERCHANT"],
        "email": "alice@example.com",
        "country": 343,
        "order": "CA000777",
        "money": "COP",
        "amount": "119000",
        "description": "Hosting Plan Pro",
        "language": "es",
        "recurrent": False,
        "expiration": (timezone.localdate() + dt.timedelta(days=3)).strftime("%d/%m/%Y"),
    }
    text = f"alice@example.com343CA000777COP119000{PAYVALIDA['PAYVALIDA_FIXED_HASH']}"
    body["checksum"] = hashlib.sha512(text.encode()).hexdigest()
    assert client.post(PV_API, body, content_type="application/json").json()["CODE"] == "0000"
    order = SandboxPayvalidaOrder.objects.get(order="CA000777")
    with commit():
        client.post("/sandbox/payvalida/checkout/card/", {**CARD_OK, "token": order.token})
    order.refresh_from_db()
    assert order.state == "APROBADA"
    return order


def payvalida_state(client, order: str) -> str:
    merchant = PAYVALIDA["PAYVALIDA_MERCHANT"]
    checksum = hashlib.sha512(
        f"{order}{merchant}{PAYVALIDA['PAYVALIDA_FIXED_HASH']}".encode()
    ).hexdigest()
    return client.get(f"{PV_API}/{order}?merchant={merchant}&checksum={checksum}").json()["DATA"][
        "STATE"
    ]


def test_payvalida_refund_requested_by_the_merchant_is_anulada_without_notification(
    client, fake_http, commit
):
    order = approved_payvalida_order(client, commit)
    calls = len(fake_http.calls)
    client.force_login(make_staff())
    with commit():
        response = client.post(
            f"/sandbox/payvalida/orders/{order.pk}/annul/", {"requested_by": "merchant"}
        )
    assert response.status_code == 303
    assert payvalida_state(client, "CA000777") == "ANULADA"
    assert len(fake_http.calls) == calls
    assert "solicitada por el comercio" in client.get("/sandbox/").content.decode()


def test_payvalida_refund_claimed_by_the_customer_is_notified_cancelled(client, fake_http, commit):
    order = approved_payvalida_order(client, commit)
    client.force_login(make_staff())
    with commit():
        client.post(f"/sandbox/payvalida/orders/{order.pk}/annul/", {"requested_by": "customer"})
    assert payvalida_state(client, "CA000777") == "ANULADA"
    body = fake_http.json()
    assert body["po_id"] == "CA000777" and body["status"] == "cancelled"
    notify = PAYVALIDA["PAYVALIDA_NOTIFICATION_HASH"]
    assert body["pv_checksum"] == hashlib.sha256(f"CA000777cancelled{notify}".encode()).hexdigest()
    # once annulled, it cannot be annulled again
    calls = len(fake_http.calls)
    with commit():
        client.post(f"/sandbox/payvalida/orders/{order.pk}/annul/", {"requested_by": "customer"})
    assert len(fake_http.calls) == calls


def test_payvalida_pending_orders_cannot_be_annulled(client):
    import datetime as dt

    from django.utils import timezone

    from clientarea.payments.sandbox.models import SandboxPayvalidaOrder

    merchant = PAYVALIDA["PAYVALIDA_MERCHANT"]
    body = {
        "merchant": merchant, "email": "alice@example.com", "country": 343, "order": "CA000778",
        "money": "COP", "amount": "5000", "description": "Hosting", "language": "es",
        "recurrent": False,
        "expiration": (timezone.localdate() + dt.timedelta(days=3)).strftime("%d/%m/%Y"),
    }  # fmt: skip
    text = f"alice@example.com343CA000778COP5000{PAYVALIDA['PAYVALIDA_FIXED_HASH']}"
    body["checksum"] = hashlib.sha512(text.encode()).hexdigest()
    client.post(PV_API, body, content_type="application/json")
    order = SandboxPayvalidaOrder.objects.get(order="CA000778")
    client.force_login(make_staff())
    client.post(f"/sandbox/payvalida/orders/{order.pk}/annul/", {"requested_by": "merchant"})
    assert payvalida_state(client, "CA000778") == "PENDIENTE"
