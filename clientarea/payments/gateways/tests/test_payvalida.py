"""Payvalida adapter: checksums, register request, notification, consult/delete, configuration.

No database and no network: HTTP goes through a fake ``clientarea.lib.http.send``.
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytest_django.fixtures import Settings

from clientarea.lib import http
from clientarea.payments.gateways.base import (
    Buyer,
    CheckoutRequest,
    GatewayError,
    GatewayStatus,
    GatewayUnavailable,
    InvalidSignature,
    MalformedMessage,
    PaymentMethod,
    TransactionKind,
)
from clientarea.payments.gateways.payvalida import (
    PRODUCTION_API_URL,
    SANDBOX_API_URL,
    PayvalidaConfig,
    PayvalidaGateway,
    checkout_redirect_url,
    clean_text,
    iva_percentage,
    notification_checksum,
    order_checksum,
    order_id,
    register_checksum,
)

MERCHANT = "conexcoldemo"
FIXED_HASH = "FIXED-HASH-0123456789"
NOTIFICATION_HASH = "NOTIF-HASH-9876543210"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJPUkRFUl9NRVRIT0QiOiJlZmVjdHkifQ.QVsZwm-2BIkK-5RgrAX2NuwGqmHSNHD_zw91i1hcSc8"


def make_config(**overrides: object) -> PayvalidaConfig:
    values: dict[str, object] = {
        "merchant": MERCHANT,
        "fixed_hash": FIXED_HASH,
        "notification_hash": NOTIFICATION_HASH,
        "api_url": SANDBOX_API_URL,
        "checkout_url": None,
    }
    values.update(overrides)
    return PayvalidaConfig(**values)  # type: ignore[arg-type]


def make_gateway(**overrides: object) -> PayvalidaGateway:
    return PayvalidaGateway(make_config(**overrides), clock=lambda: NOW)


def make_request(**overrides: object) -> CheckoutRequest:
    values: dict[str, object] = {
        "reference": "INV-2024-0001-A1",
        "amount": Decimal("119000.00"),
        "tax": Decimal("19000"),
        "tax_base": Decimal("100000"),
        "currency": "COP",
        "description": "Hosting Básico — 12 meses!",
        "buyer": Buyer(
            "María José Pérez de la Torre",
            "maria@example.com",
            "3001234567",
            "13",
            "1.020.304.050",
            "natural",
        ),
        "response_url": "https://portal.example/payments/payvalida/return/?reference=INV-2024-0001-A1",
        "confirmation_url": "https://portal.example/payments/payvalida/notification/",
        "language": "es",
        "expires_at": NOW + timedelta(days=10),
        "method": PaymentMethod.CASH,
    }
    values.update(overrides)
    return CheckoutRequest(**values)  # type: ignore[arg-type]


class FakeSend:
    """Replacement for ``clientarea.lib.http.send`` recording calls and replaying answers."""

    def __init__(self, *answers: http.HttpResponse | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str, bytes | None, dict[str, str]]] = []

    def __call__(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> http.HttpResponse:
        self.calls.append((method, url, body, dict(headers)))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def json_answer(payload: object, status: int = 200) -> http.HttpResponse:
    return http.HttpResponse(
        status=status,
        body=json.dumps(payload).encode(),
        headers={"content-type": "application/json"},
    )


def register_ok(checkout: str = f"checkout.payvalida.com/?token={TOKEN}") -> http.HttpResponse:
    """The register page's example answer."""
    return json_answer(
        {
            "CODE": "0000",
            "DESC": "OK",
            "DATA": {
                "OrdenID": "INV20240001A1",
                "Monto": "119000.0",
                "PVordenID": "95601",
                "Referencia": "989898101",
                "Operacion": "CREADA",
                "checkout": checkout,
            },
        }
    )


# ---------------------------------------------------------------------------------------
# Checksums
# ---------------------------------------------------------------------------------------


def test_register_checksum_is_sha512_of_the_documented_concatenation() -> None:
    expected = hashlib.sha512(
        b"maria@example.com343INV20240001A1COP119000" + FIXED_HASH.encode()
    ).hexdigest()
    assert (
        register_checksum("maria@example.com", 343, "INV20240001A1", "COP", "119000", FIXED_HASH)
        == expected
    )
    assert len(expected) == 128


def test_order_checksum_is_sha512_of_order_merchant_hash() -> None:
    expected = hashlib.sha512(f"INV20240001A1{MERCHANT}{FIXED_HASH}".encode()).hexdigest()
    assert order_checksum("INV20240001A1", MERCHANT, FIXED_HASH) == expected


def test_notification_checksum_is_sha256_of_po_id_status_hash() -> None:
    expected = hashlib.sha256(f"INV20240001A1approved{NOTIFICATION_HASH}".encode()).hexdigest()
    assert notification_checksum("INV20240001A1", "approved", NOTIFICATION_HASH) == expected
    assert len(expected) == 64


@given(
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-",
        min_size=1,
        max_size=60,
    )
)
def test_order_id_is_alphanumeric_and_idempotent(reference: str) -> None:
    derived = order_id(reference)
    assert "-" not in derived
    assert order_id(derived) == derived


# ---------------------------------------------------------------------------------------
# Register + checkout redirect
# ---------------------------------------------------------------------------------------


def test_register_request_body_and_redirect(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeSend(register_ok())
    monkeypatch.setattr(http, "send", fake)
    action = make_gateway().start_checkout(make_request())
    method, url, body, headers = fake.calls[0]
    assert (method, url) == ("POST", f"{SANDBOX_API_URL}/api/v3/porders")
    assert headers["Content-Type"].startswith("application/json")
    sent = json.loads(body or b"")
    assert sent == {
        "merchant": MERCHANT,
        "email": "maria@example.com",
        "country": 343,
        "order": "INV20240001A1",
        "money": "COP",
        "amount": "119000",
        "description": "Hosting Basico 12 meses",
        "language": "es",
        "recurrent": False,
        "expiration": "11/03/2025",
        "iva": "19",
        "checksum": register_checksum(
            "maria@example.com", 343, "INV20240001A1", "COP", "119000", FIXED_HASH
        ),
        "method": "efecty",
        "user_di": "1020304050",
        "user_type_di": "CC",
        "user_name": "Maria Jose Perez de la To",
    }
    assert action.method == "GET"
    assert action.url == f"https://checkout.payvalida.com/?token={TOKEN}"
    assert action.fields == {}
    assert action.gateway_order_id == "95601"
    assert action.raw_response is not None and action.raw_response["CODE"] == "0000"


@pytest.mark.parametrize(
    ("method", "code"),
    [(PaymentMethod.CARD, None), (PaymentMethod.PSE, None), (PaymentMethod.CASH, "efecty")],
)
def test_only_the_documented_cash_code_is_sent_by_default(
    monkeypatch: pytest.MonkeyPatch, method: PaymentMethod, code: str | None
) -> None:
    fake = FakeSend(register_ok())
    monkeypatch.setattr(http, "send", fake)
    make_gateway().start_checkout(make_request(method=method))
    assert json.loads(fake.calls[0][2] or b"").get("method") == code


@pytest.mark.parametrize(
    ("method", "code"),
    [(PaymentMethod.CARD, "tc"), (PaymentMethod.PSE, "pse"), (PaymentMethod.CASH, "baloto")],
)
def test_method_codes_come_from_settings(
    monkeypatch: pytest.MonkeyPatch, settings, method: PaymentMethod, code: str
) -> None:
    settings.PAYVALIDA_METHOD_CODES = "card=tc, pse=pse, cash=baloto"
    fake = FakeSend(register_ok())
    monkeypatch.setattr(http, "send", fake)
    config = replace(PayvalidaConfig.from_settings(), api_url=SANDBOX_API_URL, checkout_url=None)
    PayvalidaGateway(config, clock=lambda: NOW).start_checkout(make_request(method=method))
    assert json.loads(fake.calls[0][2] or b"")["method"] == code


@pytest.mark.parametrize("text", ["card", "card=", "wire=abc", "cash=efecty,,pse"])
def test_bad_method_codes_are_a_system_check_error(settings, text: str) -> None:
    from clientarea.payments.checks import payvalida_method_codes

    settings.PAYVALIDA_METHOD_CODES = text
    errors = payvalida_method_codes(None)
    assert [e.id for e in errors] == ["payments.E001"]
    assert "PAYVALIDA_METHOD_CODES" in errors[0].msg


def test_passports_and_unlisted_documents_send_no_document_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeSend(register_ok())
    monkeypatch.setattr(http, "send", fake)
    request = make_request()
    make_gateway().start_checkout(
        replace(request, buyer=replace(request.buyer, document_type="41"))
    )
    sent = json.loads(fake.calls[0][2] or b"")
    assert "user_type_di" not in sent and sent["user_di"] == "1020304050"


@pytest.mark.parametrize("method", [None, PaymentMethod.OTHER])
def test_no_method_when_customer_did_not_pick_one(
    monkeypatch: pytest.MonkeyPatch, method: PaymentMethod | None
) -> None:
    fake = FakeSend(register_ok())
    monkeypatch.setattr(http, "send", fake)
    make_gateway().start_checkout(make_request(method=method))
    assert "method" not in json.loads(fake.calls[0][2] or b"")


def test_exempt_order_sends_iva_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeSend(register_ok())
    monkeypatch.setattr(http, "send", fake)
    make_gateway().start_checkout(
        make_request(amount=Decimal("100000"), tax=Decimal("0"), tax_base=Decimal("0"))
    )
    assert json.loads(fake.calls[0][2] or b"")["iva"] == "0"


@pytest.mark.parametrize(
    "amount", [Decimal("119000.50"), Decimal("0.01"), Decimal("0"), Decimal("-5")]
)
def test_non_integer_or_non_positive_amount_refused_before_any_request(
    monkeypatch: pytest.MonkeyPatch, amount: Decimal
) -> None:
    fake = FakeSend()
    monkeypatch.setattr(http, "send", fake)
    with pytest.raises(GatewayError):
        make_gateway().start_checkout(make_request(amount=amount))
    assert fake.calls == []


@pytest.mark.parametrize("reference", ["INV_2024", "INV 2024", "FACTURA-Ñ", "-", "INV1\n"])
def test_reference_that_gives_no_alphanumeric_order_refused(
    monkeypatch: pytest.MonkeyPatch, reference: str
) -> None:
    monkeypatch.setattr(http, "send", FakeSend())
    with pytest.raises(GatewayError):
        make_gateway().start_checkout(make_request(reference=reference))


@pytest.mark.parametrize(
    ("expires_at", "expected"),
    [
        (NOW + timedelta(days=10), "11/03/2025"),
        (NOW + timedelta(days=60), "30/03/2025"),  # capped at 29 days ("can't surpass 30 days")
        (
            NOW + timedelta(hours=3),
            "03/03/2025",
        ),  # raised to 2 days (error 0033: "must be greather 24 hours")
    ],
)
def test_expiration_date_within_limits(
    monkeypatch: pytest.MonkeyPatch, expires_at: datetime, expected: str
) -> None:
    fake = FakeSend(register_ok())
    monkeypatch.setattr(http, "send", fake)
    make_gateway().start_checkout(make_request(expires_at=expires_at))
    assert json.loads(fake.calls[0][2] or b"")["expiration"] == expected


def test_expired_window_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "send", FakeSend())
    with pytest.raises(GatewayError):
        make_gateway().start_checkout(make_request(expires_at=NOW - timedelta(seconds=1)))


def test_configured_checkout_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        http,
        "send",
        FakeSend(register_ok("127.0.0.1:8000/sandbox/payvalida/checkout/?token=abc.def-ghi")),
    )
    gateway = make_gateway(checkout_url="http://127.0.0.1:8000/sandbox/payvalida/checkout/")
    assert (
        gateway.start_checkout(make_request()).url
        == "http://127.0.0.1:8000/sandbox/payvalida/checkout/?token=abc.def-ghi"
    )


@pytest.mark.parametrize(
    ("checkout", "base", "expected"),
    [
        ("checkout.payvalida.com/?token=abc", None, "https://checkout.payvalida.com/?token=abc"),
        (
            "secure-checkout.payvalida.com?token=abc",
            None,
            "https://secure-checkout.payvalida.com?token=abc",
        ),
        (
            "sandbox-checkout.payvalida.com?token=tokencheckout",
            None,
            "https://sandbox-checkout.payvalida.com?token=tokencheckout",
        ),
        (
            "checkout.payvalida.com/?token=abc",
            "https://pay.example/",
            "https://pay.example/?token=abc",
        ),
        (
            "https://checkout.payvalida.com/?token=a+b",
            None,
            "https://checkout.payvalida.com/?token=a%2Bb",
        ),
    ],
)
def test_checkout_redirect_url(checkout: str, base: str | None, expected: str) -> None:
    assert checkout_redirect_url(checkout, base) == expected


@pytest.mark.parametrize(
    "checkout", ["checkout.payvalida.com/", "checkout.payvalida.com/?token=", "?token=abc"]
)
def test_checkout_without_token_or_host(checkout: str) -> None:
    with pytest.raises(GatewayError):
        checkout_redirect_url(checkout, None)


def test_refused_order_reports_desc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        http,
        "send",
        FakeSend(json_answer({"CODE": "0025", "DESC": "The checksum is not valid", "DATA": None})),
    )
    with pytest.raises(GatewayError, match="The checksum is not valid") as excinfo:
        make_gateway().start_checkout(make_request())
    assert not isinstance(excinfo.value, GatewayUnavailable)


@pytest.mark.parametrize(
    "answer",
    [
        http.HttpError("timed out"),
        http.HttpResponse(502, b"<html>Bad gateway</html>", {}),
        json_answer(
            {
                "CODE": "0030",
                "DESC": "An error occurred when registering the order. Try again in a few minutes",
            }
        ),
    ],
    ids=["network", "http-502", "transient-code"],
)
def test_register_unavailable(
    monkeypatch: pytest.MonkeyPatch, answer: http.HttpResponse | Exception
) -> None:
    monkeypatch.setattr(http, "send", FakeSend(answer))
    with pytest.raises(GatewayUnavailable):
        make_gateway().start_checkout(make_request())


def test_answer_without_checkout_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        http, "send", FakeSend(json_answer({"CODE": "0000", "DESC": "OK", "DATA": {}}))
    )
    with pytest.raises(GatewayError):
        make_gateway().start_checkout(make_request())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hosting Básico — 12 meses!", "Hosting Basico 12 meses"),
        ("Dominio .com.co (1 año)", "Dominio com co 1 ano"),
        ("¡¿#$%", ""),
    ],
)
def test_clean_text(text: str, expected: str) -> None:
    assert clean_text(text, 250) == expected


def test_description_keeps_the_order_number_as_the_customer_knows_it() -> None:
    body = make_gateway().register_body(
        make_request(description="Conexcol orden de servicio ODS-000003 — pago")
    )
    assert body["description"] == "Conexcol orden de servicio ODS-000003 pago"


@pytest.mark.parametrize(
    ("tax", "base", "expected"),
    [
        (Decimal("19000"), Decimal("100000"), "19"),
        (Decimal("5000"), Decimal("100000"), "5"),
        (Decimal("0"), Decimal("100000"), "0"),
        (Decimal("1234"), Decimal("10000"), "12.34"),
    ],
)
def test_iva_percentage(tax: Decimal, base: Decimal, expected: str) -> None:
    assert iva_percentage(tax, base) == expected


# ---------------------------------------------------------------------------------------
# Notification
# ---------------------------------------------------------------------------------------


def notification(status: str = "approved", **overrides: str) -> dict[str, str]:
    fields = {
        "pv_po_id": "95601",
        "po_id": "INV20240001A1",
        "status": status,
        "amount": "119000",
        "iso_currency": "COP",
        "pv_payment": "EFECTY",
    }
    fields.update(overrides)
    if "pv_checksum" not in overrides:
        fields["pv_checksum"] = notification_checksum(
            fields["po_id"], fields["status"], NOTIFICATION_HASH
        )
    return fields


def test_json_notification_approved() -> None:
    body = json.dumps(notification() | {"pv_po_id": 95601}).encode()
    update = make_gateway().parse_notification(body=body, content_type="application/json")
    assert update.status is GatewayStatus.APPROVED
    assert update.reference == "INV20240001A1"
    assert update.transaction_id == "95601"
    assert update.amount == Decimal("119000")
    assert update.currency == "COP"
    assert update.method is PaymentMethod.CASH
    assert update.raw_method == "EFECTY"
    assert update.dedupe_key == "payvalida:95601:approved"
    assert update.merchant_id is None


def test_form_notification_cancelled() -> None:
    body = urllib.parse.urlencode(notification("cancelled")).encode()
    update = make_gateway().parse_notification(
        body=body, content_type="application/x-www-form-urlencoded"
    )
    assert update.status is GatewayStatus.EXPIRED
    assert update.message == "cancelled"  # Payvalida's word as it sent it, nothing of ours
    assert update.dedupe_key == "payvalida:95601:cancelled"


def test_uppercase_checksum_accepted() -> None:
    """Payvalida's docs print checksums in upper-case hex (e.g. 7CA70805… in the consult page)."""
    fields = notification()
    fields["pv_checksum"] = fields["pv_checksum"].upper()
    body = json.dumps(fields).encode()
    assert (
        make_gateway().parse_notification(body=body, content_type="application/json").status
        is GatewayStatus.APPROVED
    )


@pytest.mark.parametrize(
    "tamper",
    [
        {"status": "cancelled"},
        {"po_id": "INV20240002A1"},
        {"pv_checksum": "0" * 64},
        {"pv_checksum": notification_checksum("INV20240001A1", "approved", "some-other-hash")},
        {
            "pv_checksum": hashlib.sha512(
                f"INV20240001A1approved{NOTIFICATION_HASH}".encode()
            ).hexdigest()
        },
    ],
    ids=["status", "po_id", "zeros", "wrong-hash", "sha512"],
)
def test_tampered_notification_rejected(tamper: dict[str, str]) -> None:
    fields = notification()
    fields.update(tamper)
    with pytest.raises(InvalidSignature):
        make_gateway().parse_notification(
            body=json.dumps(fields).encode(), content_type="application/json"
        )


def test_amount_is_not_covered_by_the_checksum() -> None:
    """``amount`` is outside the checksum: the parsed amount must be checked by the caller."""
    fields = notification(amount="1")
    update = make_gateway().parse_notification(
        body=json.dumps(fields).encode(), content_type="application/json"
    )
    assert update.amount == Decimal("1")


@pytest.mark.parametrize(
    "fields",
    [
        {"po_id": "X", "status": "approved"},
        notification(pv_po_id=""),
        notification("paid"),
        notification(amount="mil pesos"),
    ],
    ids=["missing-checksum", "missing-pv-po-id", "unknown-status", "bad-amount"],
)
def test_malformed_notification(fields: dict[str, str]) -> None:
    with pytest.raises(MalformedMessage):
        make_gateway().parse_notification(
            body=json.dumps(fields).encode(), content_type="application/json"
        )


@pytest.mark.parametrize("body", [b"", b"\xff\xfe", b"[]", b"{broken"])
def test_unreadable_notification_bodies(body: bytes) -> None:
    with pytest.raises(MalformedMessage):
        make_gateway().parse_notification(body=body, content_type="application/json")


@pytest.mark.parametrize(
    ("pv_payment", "method"),
    [
        ("PSE", PaymentMethod.PSE),
        ("pse", PaymentMethod.PSE),
        ("TC", PaymentMethod.CARD),
        ("Tarjeta de Crédito", PaymentMethod.CARD),
        ("VISA", PaymentMethod.CARD),
        ("efecty", PaymentMethod.CASH),
        ("Baloto", PaymentMethod.CASH),
        ("Su Red", PaymentMethod.CASH),
        ("nequi", PaymentMethod.OTHER),
        ("", None),
    ],
)
def test_pv_payment_mapping(pv_payment: str, method: PaymentMethod | None) -> None:
    fields = notification(pv_payment=pv_payment)
    update = make_gateway().parse_notification(
        body=json.dumps(fields).encode(), content_type="application/json"
    )
    assert update.method is method


def test_notification_replies() -> None:
    gateway = make_gateway()
    assert (
        gateway.notification_reply(ok=True).status_code,
        gateway.notification_reply(ok=True).body,
    ) == (200, "OK")
    assert (
        gateway.notification_reply(ok=True, message="Payment registered").body
        == "OK. Payment registered"
    )
    rejected = gateway.notification_reply(ok=False, message="Order not recognized")
    assert (rejected.status_code, rejected.body) == (200, "ERROR. Order not recognized")
    forged = gateway.notification_reply(ok=False, invalid_signature=True)
    assert (forged.status_code, forged.body) == (403, "ERROR. invalid checksum")


def test_return_is_display_only() -> None:
    info = make_gateway().parse_return({"reference": "INV-2024-0001-A1"})
    assert info.reference == "INV-2024-0001-A1"
    assert (
        info.status is GatewayStatus.PENDING and info.signature_valid is None
    )  # unsigned, not forged
    with pytest.raises(MalformedMessage):
        make_gateway().parse_return({})


# ---------------------------------------------------------------------------------------
# Consult / delete
# ---------------------------------------------------------------------------------------

CONSULT_ANSWER = {
    "CODE": "0000",
    "DESC": "OK",
    "DATA": {
        "CURRENCY": "COP",
        "NOTIFICATION_RESPONSE": "OK",
        "UDPATE_DATE": "2022-02-07 10:48:21",
        "CREATION_DATE": "2022-02-07 10:45:57",
        "STATE": "APROBADA",
        "PAYMNENT_METHOD": "PSE",
        "EMAIL": "someone@example.com",
        "LIFE_TIME": "445h",
        "ORDER": "INV20240001A1",
        "CODE": 95601,
        "AMOUNT": "119000.00",
        "DESCRIPTION": "Hosting Basico 12 meses",
        "REFERENCE": "80011572",
        "checkout": "sandbox-checkout.payvalida.com?token=tokencheckout",
        "TRANSACTION": {},
        "ADITIONAL_INFO": {"CUS": "2539443"},
    },
}


def test_fetch_status_request_and_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeSend(json_answer(CONSULT_ANSWER))
    monkeypatch.setattr(http, "send", fake)
    (update,) = make_gateway().fetch_status("INV-2024-0001-A1")
    method, url, body, _headers = fake.calls[0]
    parts = urllib.parse.urlsplit(url)
    assert method == "GET" and body is None
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}"
        == f"{SANDBOX_API_URL}/api/v3/porders/INV20240001A1"
    )
    assert dict(urllib.parse.parse_qsl(parts.query)) == {
        "merchant": MERCHANT,
        "checksum": order_checksum("INV20240001A1", MERCHANT, FIXED_HASH),
        "aditionalinfo": "cuspse",
    }
    assert update.status is GatewayStatus.APPROVED
    assert update.reference == "INV20240001A1"
    assert update.transaction_id == "95601"
    assert update.amount == Decimal("119000.00")
    assert update.currency == "COP"
    assert update.method is PaymentMethod.PSE
    assert update.extra["cus"] == "2539443"
    # Same key as the "approved" notification of the same order.
    assert update.dedupe_key == "payvalida:95601:approved"
    assert "someone@example.com" not in json.dumps(update.extra)


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("PENDIENTE", GatewayStatus.PENDING),
        ("VENCIDA", GatewayStatus.EXPIRED),
        ("CANCELADA", GatewayStatus.EXPIRED),
        ("APROBADA", GatewayStatus.APPROVED),
    ],
)
def test_consult_state_mapping(
    monkeypatch: pytest.MonkeyPatch, state: str, status: GatewayStatus
) -> None:
    answer = json.loads(json.dumps(CONSULT_ANSWER))
    answer["DATA"]["STATE"] = state
    monkeypatch.setattr(http, "send", FakeSend(json_answer(answer)))
    (update,) = make_gateway().fetch_status("INV20240001A1")
    assert update.status is status
    assert update.message == state  # Payvalida's word, not "Payvalida order PENDIENTE"


def test_anulada_is_a_refund_of_the_payment_never_an_expiry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ANULADA: the money went back (customer's claim or merchant's request), reported as an
    approved refund of the order's payment, with its own id and dedupe key."""
    answer = json.loads(json.dumps(CONSULT_ANSWER))
    answer["DATA"]["STATE"] = "ANULADA"
    monkeypatch.setattr(http, "send", FakeSend(json_answer(answer)))
    (update,) = make_gateway().fetch_status("INV20240001A1")
    assert update.kind is TransactionKind.REFUND
    assert update.status is GatewayStatus.APPROVED
    assert update.parent_transaction_id == "95601"
    assert update.transaction_id == "anulada-95601"
    assert update.dedupe_key == "payvalida:anulada-95601:refunded"
    assert update.amount == Decimal("119000.00")
    assert update.message == "ANULADA"  # Payvalida's state as it sent it


def test_a_registered_order_with_no_method_yet_is_no_payment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every unpaid order is PENDIENTE; with no PAYMNENT_METHOD nobody has started paying it."""
    answer = json.loads(json.dumps(CONSULT_ANSWER))
    answer["DATA"].update(STATE="PENDIENTE", PAYMNENT_METHOD="")
    monkeypatch.setattr(http, "send", FakeSend(json_answer(answer)))
    assert make_gateway().fetch_status("INV20240001A1") == []


def test_a_declined_card_on_a_pending_order_is_a_decline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The order stays PENDIENTE (payable again, not notified); the card's response code says declined."""
    answer = json.loads(json.dumps(CONSULT_ANSWER))
    answer["DATA"].update(
        STATE="PENDIENTE",
        PAYMNENT_METHOD="TC",
        TRANSACTION={"DATE": "2022-02-07 10:47:00", "RESPONSE_CODE": "ENTITY_DECLINED"},
    )
    monkeypatch.setattr(http, "send", FakeSend(json_answer(answer)))
    (update,) = make_gateway().fetch_status("INV20240001A1")
    assert update.status is GatewayStatus.DECLINED
    assert update.method is PaymentMethod.CARD
    assert update.message == "ENTITY_DECLINED"  # the card's code as Payvalida sent it
    assert update.extra["card_response_code"] == "ENTITY_DECLINED"
    assert update.dedupe_key == "payvalida:95601:declined:2022-02-07T10:47:00"
    # A card still being processed is no decline.
    answer["DATA"]["TRANSACTION"]["RESPONSE_CODE"] = "PENDING"
    monkeypatch.setattr(http, "send", FakeSend(json_answer(answer)))
    assert make_gateway().fetch_status("INV20240001A1")[0].status is GatewayStatus.PENDING


@pytest.mark.parametrize(
    "answer",
    [
        json_answer({"CODE": "0013", "DESC": "Not exist transaction ID"}),
        http.HttpResponse(404, b"Not Found", {}),
    ],
    ids=["code-0013", "http-404"],
)
def test_consult_not_found(monkeypatch: pytest.MonkeyPatch, answer: http.HttpResponse) -> None:
    monkeypatch.setattr(http, "send", FakeSend(answer))
    assert make_gateway().fetch_status("INV20240001A1") == []


def test_consult_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "send", FakeSend(http.HttpError("connection reset")))
    with pytest.raises(GatewayUnavailable):
        make_gateway().fetch_status("INV20240001A1")


def test_consult_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        http, "send", FakeSend(json_answer({"CODE": "0025", "DESC": "The checksum is not valid"}))
    )
    with pytest.raises(GatewayError, match="checksum"):
        make_gateway().fetch_status("INV20240001A1")


def test_cancel_deletes_pending_order(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = {
        "CODE": "0000",
        "DESC": "OK",
        "DATA": {
            "OrderID": "INV20240001A1",
            "Amount": "119000.0",
            "PVOrderID": "95601",
            "Reference": "10522318",
            "Operation": "DELETED",
        },
    }
    fake = FakeSend(json_answer(answer))
    monkeypatch.setattr(http, "send", fake)
    assert make_gateway().cancel("INV-2024-0001-A1") is True
    method, url, body, _headers = fake.calls[0]
    parts = urllib.parse.urlsplit(url)
    assert method == "DELETE" and body is None
    assert parts.path == "/api/v3/porders/INV20240001A1"
    assert dict(urllib.parse.parse_qsl(parts.query)) == {
        "merchant": MERCHANT,
        "checksum": order_checksum("INV20240001A1", MERCHANT, FIXED_HASH),
    }


def test_cancel_of_non_pending_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        http,
        "send",
        FakeSend(
            json_answer(
                {
                    "CODE": "0041",
                    "DESC": "Order is not registered or are APPROVED, EXPIRED or CANCELLED",
                }
            )
        ),
    )
    assert make_gateway().cancel("INV20240001A1") is False


def test_cancel_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "send", FakeSend(http.HttpError("timed out")))
    with pytest.raises(GatewayUnavailable):
        make_gateway().cancel("INV20240001A1")


# ---------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------


def test_sandbox_mode_uses_local_simulator(settings: Settings) -> None:
    settings.PAYMENTS_SANDBOX = True
    settings.PAYVALIDA_API_URL = ""
    settings.PAYVALIDA_CHECKOUT_URL = ""
    settings.SITE_URL = "https://portal.example/"
    config = PayvalidaConfig.from_settings()
    assert config.api_url == "https://portal.example/sandbox/payvalida"
    assert config.checkout_url == "https://portal.example/sandbox/payvalida/checkout/"


def test_checkout_url_setting_overrides_simulator(settings: Settings) -> None:
    settings.PAYMENTS_SANDBOX = True
    settings.PAYVALIDA_API_URL = ""
    settings.PAYVALIDA_CHECKOUT_URL = "https://pay.example/"
    assert PayvalidaConfig.from_settings().checkout_url == "https://pay.example/"


@pytest.mark.parametrize(
    ("test_mode", "api"), [(True, SANDBOX_API_URL), (False, PRODUCTION_API_URL)]
)
def test_real_endpoints(settings: Settings, test_mode: bool, api: str) -> None:
    settings.PAYMENTS_SANDBOX = False
    settings.PAYVALIDA_API_URL = ""
    settings.PAYVALIDA_CHECKOUT_URL = ""
    settings.PAYVALIDA_TEST = test_mode
    config = PayvalidaConfig.from_settings()
    assert config.api_url == api
    assert config.checkout_url is None


def test_explicit_api_url(settings: Settings) -> None:
    settings.PAYMENTS_SANDBOX = True
    settings.PAYVALIDA_API_URL = "https://api.payvalida.com/api/v3/porders/"
    settings.PAYVALIDA_CHECKOUT_URL = ""
    config = PayvalidaConfig.from_settings()
    assert config.api_url == "https://api.payvalida.com"
    assert config.checkout_url is None


def test_describe_config_masks_hashes() -> None:
    described = make_gateway().describe_config()
    flat = json.dumps(described)
    assert FIXED_HASH not in flat and NOTIFICATION_HASH not in flat
    assert described["fixed_hash"] == "FIXE…89"
    assert described["merchant"] == MERCHANT
    assert described["checkout_url"] == "(host returned by Payvalida)"


def test_gateway_reference() -> None:
    gateway = make_gateway()
    assert gateway.gateway_reference("INV-2024-0001-A1") == "INV20240001A1"
    assert gateway.gateway_reference("INV20240001A1") == "INV20240001A1"
