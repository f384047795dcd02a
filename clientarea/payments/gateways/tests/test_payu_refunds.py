"""The PayU adapter and refunds: a refund's confirmation and a refund transaction in the Queries
API are refunds (never payments), a chargeback is reported as one, and the Payments API's
``SUBMIT_TRANSACTION`` request and answers (refunds-api.html) map to :class:`RefundAnswer`."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from clientarea.lib import http
from clientarea.payments.gateways.base import (
    GatewayError,
    GatewayStatus,
    GatewayUnavailable,
    RefundRequest,
    TransactionKind,
)
from clientarea.payments.gateways.payu import SANDBOX_PAYMENTS_URL

from .test_payu import (
    FORM,
    QUERY_ANSWER,
    FakeSend,
    confirmation_fields,
    form_body,
    json_answer,
    make_config,
    make_gateway,
)

REFUND_ID = "4b3b3f43-6a5c-4b44-8c3e-000000000001"
PARENT = "01cfdce8-68d5-4a4c-aabf-d89370a0b92f"


def test_a_refund_confirmation_is_a_refund_not_a_second_payment() -> None:
    fields = confirmation_fields(
        make_config(),
        transaction_type="PARTIAL_REFUND",
        transaction_id=REFUND_ID,
        value="50000.00",
    )
    update = make_gateway().parse_notification(body=form_body(fields), content_type=FORM)
    assert update.kind is TransactionKind.REFUND
    assert update.status is GatewayStatus.APPROVED  # state_pol 4: the refund was approved
    assert update.transaction_id == REFUND_ID and update.amount == Decimal("50000.00")
    assert update.dedupe_key == f"payu:{REFUND_ID}:4"
    assert update.extra["transaction_type"] == "PARTIAL_REFUND"


def test_a_payment_confirmation_stays_a_payment() -> None:
    update = make_gateway().parse_notification(
        body=form_body(confirmation_fields(make_config())), content_type=FORM
    )
    assert update.kind is TransactionKind.PAYMENT and update.parent_transaction_id == ""


def test_the_queries_api_lists_a_refund_with_its_own_value_and_parent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answer = json.loads(QUERY_ANSWER)
    order = answer["result"]["payload"][0]
    order["status"] = "REFUNDED"
    order["transactions"].insert(
        0,
        {
            "id": REFUND_ID,
            "type": "REFUND",
            "parentTransactionId": PARENT,
            "paymentMethod": "PSE",
            "source": "CANCELLATIONS_MODULE",
            "transactionResponse": {"state": "APPROVED", "responseCode": "APPROVED"},
            "additionalValues": {"TX_VALUE": {"value": 119000, "currency": "COP"}},
            "extraParameters": {"MANUAL_REFUND": "TRUE"},
        },
    )
    monkeypatch.setattr(http, "send", FakeSend(json_answer(answer)))
    updates = make_gateway().fetch_status("INV-2024-0001-A1")
    refund = next(u for u in updates if u.transaction_id == REFUND_ID)
    assert refund.kind is TransactionKind.REFUND and refund.status is GatewayStatus.APPROVED
    assert refund.parent_transaction_id == PARENT and refund.amount == Decimal("119000")
    payment = next(u for u in updates if u.transaction_id == PARENT)
    assert payment.kind is TransactionKind.PAYMENT and payment.status is GatewayStatus.APPROVED


def test_a_chargeback_order_is_reported_as_a_chargeback(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = json.loads(QUERY_ANSWER)
    answer["result"]["payload"][0]["status"] = "CHARGEBACK"
    monkeypatch.setattr(http, "send", FakeSend(json_answer(answer)))
    updates = make_gateway().fetch_status("INV-2024-0001-A1")
    chargeback = updates[-1]
    assert chargeback.kind is TransactionKind.CHARGEBACK
    assert chargeback.transaction_id == "chargeback-844427581"
    assert chargeback.amount == Decimal("119000.0")
    assert chargeback.message == "CHARGEBACK"  # PayU's order status as it sent it


def refund_request(**overrides: object) -> RefundRequest:
    values: dict[str, object] = {
        "reference": "INV-2024-0001-A1",
        "gateway_order_id": "844427581",
        "transaction_id": PARENT,
        "amount": Decimal("50000.00"),
        "currency": "COP",
        "whole": False,
        "reason": "Servicio no prestado  \n medio mes",
    }
    values.update(overrides)
    return RefundRequest(**values)  # type: ignore[arg-type]


def test_a_partial_refund_request_as_the_refunds_api_documents_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeSend(
        json_answer(
            {
                "code": "SUCCESS",
                "error": None,
                "transactionResponse": {
                    "orderId": 844427581,
                    "transactionId": REFUND_ID,
                    "state": "PENDING",
                    "pendingReason": "PENDING_REVIEW",
                },
            }
        )
    )
    monkeypatch.setattr(http, "send", fake)
    answer = make_gateway(payments_url=SANDBOX_PAYMENTS_URL).refund(refund_request())
    assert answer.status is GatewayStatus.PENDING and answer.refund_id == REFUND_ID
    assert answer.message == "PENDING_REVIEW"
    method, url, body, _headers = fake.calls[0]
    assert (method, url) == ("POST", SANDBOX_PAYMENTS_URL)
    sent = json.loads(body or b"")
    assert sent["command"] == "SUBMIT_TRANSACTION"
    assert sent["merchant"] == {
        "apiLogin": "pRRXKOl8ikMmt9u",
        "apiKey": "4Vj8eK4rloUd272L48hsrarnUA",
    }
    assert sent["transaction"]["type"] == "PARTIAL_REFUND"
    assert sent["transaction"]["order"] == {"id": 844427581}
    assert sent["transaction"]["parentTransactionId"] == PARENT
    assert sent["transaction"]["reason"] == "Servicio no prestado medio mes"
    assert Decimal(str(sent["transaction"]["additionalValues"]["TX_VALUE"]["value"])) == Decimal(
        "50000"
    )
    assert sent["transaction"]["additionalValues"]["TX_VALUE"]["currency"] == "COP"


def test_a_whole_refund_sends_no_value(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeSend(
        json_answer(
            {"code": "SUCCESS", "transactionResponse": {"transactionId": "r1", "state": "APPROVED"}}
        )
    )
    monkeypatch.setattr(http, "send", fake)
    answer = make_gateway().refund(refund_request(whole=True, amount=Decimal("119000")))
    assert answer.status is GatewayStatus.APPROVED
    sent = json.loads(fake.calls[0][2] or b"")
    assert sent["transaction"]["type"] == "REFUND" and "additionalValues" not in sent["transaction"]


def test_a_refused_refund_is_declined_with_payus_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        http,
        "send",
        FakeSend(json_answer({"code": "ERROR", "error": "The minimum refund is 100 COP"})),
    )
    answer = make_gateway().refund(refund_request(amount=Decimal("50")))
    assert answer.status is GatewayStatus.DECLINED and answer.refund_id == ""
    assert answer.message == "The minimum refund is 100 COP"


@pytest.mark.parametrize(
    "answer",
    [
        http.HttpError("timed out"),
        json_answer({"code": "ERROR"}, status=503),
        http.HttpResponse(200, b"<html>", {}),
        json_answer({"code": "SUCCESS", "transactionResponse": {"state": "PENDING"}}),
    ],
)
def test_an_unknown_answer_is_unavailable_so_the_caller_asks_before_repeating(
    monkeypatch: pytest.MonkeyPatch, answer: object
) -> None:
    monkeypatch.setattr(http, "send", FakeSend(answer))  # type: ignore[arg-type]
    with pytest.raises(GatewayUnavailable):
        make_gateway().refund(refund_request())


def test_a_payment_without_a_payu_order_id_cannot_be_refunded_through_payu() -> None:
    with pytest.raises(GatewayError):
        make_gateway().refund(refund_request(gateway_order_id=""))
