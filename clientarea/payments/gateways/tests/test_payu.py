"""PayU Latam adapter: PayU's published worked examples, rounding rules, webhook parsing,
tampering, response page, Queries API and configuration.

No database and no network: HTTP goes through a fake ``clientarea.lib.http.send``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.parse
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

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
)
from clientarea.payments.gateways.payu import (
    PRODUCTION_CHECKOUT_URL,
    PRODUCTION_QUERIES_URL,
    SANDBOX_CHECKOUT_URL,
    SANDBOX_QUERIES_URL,
    PayUConfig,
    PayUGateway,
    confirmation_new_value,
    confirmation_sign,
    form_signature,
    format_amount,
    normalize_algorithm,
    response_new_value,
    response_signature,
)

# Public sandbox credentials printed in PayU's documentation ("Test your solution").
API_KEY = "4Vj8eK4rloUd272L48hsrarnUA"
API_LOGIN = "pRRXKOl8ikMmt9u"
MERCHANT_ID = "508029"
ACCOUNT_ID = "512321"
BOGOTA = ZoneInfo("America/Bogota")
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def make_config(**overrides: object) -> PayUConfig:
    """A PayU configuration with the documentation's sandbox credentials."""
    values: dict[str, object] = {
        "merchant_id": MERCHANT_ID,
        "account_id": ACCOUNT_ID,
        "api_login": API_LOGIN,
        "api_key": API_KEY,
        "secret_key": "",
        "algorithm": "MD5",
        "test": True,
        "checkout_url": SANDBOX_CHECKOUT_URL,
        "queries_url": SANDBOX_QUERIES_URL,
    }
    values.update(overrides)
    return PayUConfig(**values)  # type: ignore[arg-type]


def make_gateway(**overrides: object) -> PayUGateway:
    """A gateway with a fixed clock."""
    return PayUGateway(make_config(**overrides), clock=lambda: NOW)


def make_request(**overrides: object) -> CheckoutRequest:
    """A checkout for a 19% IVA hosting service of 119.000 COP."""
    values: dict[str, object] = {
        "reference": "INV-2024-0001-A1",
        "amount": Decimal("119000.00"),
        "tax": Decimal("19000.00"),
        "tax_base": Decimal("100000.00"),
        "currency": "COP",
        "description": "Hosting Básico 12 meses",
        "buyer": Buyer(
            full_name="María Pérez",
            email="maria@example.com",
            phone="3001234567",
            document_type="13",
            document_number="1020304050",
            person_type="natural",
        ),
        "response_url": "https://portal.example/payments/payu/return/",
        "confirmation_url": "https://portal.example/payments/payu/confirmation/",
        "language": "es",
        "expires_at": NOW + timedelta(days=3),
        "method": None,
    }
    values.update(overrides)
    return CheckoutRequest(**values)  # type: ignore[arg-type]


def confirmation_fields(config: PayUConfig, **overrides: str) -> dict[str, str]:
    """A confirmation POST as PayU sends it, signed with ``config``."""
    fields = {
        "merchant_id": config.merchant_id,
        "state_pol": "4",
        "response_code_pol": "1",
        "response_message_pol": "APPROVED",
        "reference_sale": "INV-2024-0001-A1",
        "reference_pol": "7069375",
        "value": "119000.00",
        "tax": "19000.00",
        "currency": "COP",
        "transaction_id": "01cfdce8-68d5-4a4c-aabf-d89370a0b92f",
        "transaction_date": "2025-03-01 07:05:00",
        "payment_method_type": "4",
        "payment_method_name": "PSE",
        "cus": "2539443",
        "pse_bank": "BANCO DE PRUEBAS",
        "email_buyer": "maria@example.com",
        "ip": "190.242.116.98",
        "test": "1",
    }
    fields.update(overrides)
    if "sign" not in overrides:
        fields["sign"] = confirmation_sign(
            config.api_key,
            fields["merchant_id"],
            fields["reference_sale"],
            fields["value"],
            fields["currency"],
            fields["state_pol"],
            config.algorithm,
            config.secret_key or None,
        )
    return fields


def form_body(fields: dict[str, str]) -> bytes:
    """``application/x-www-form-urlencoded`` encoding."""
    return urllib.parse.urlencode(fields).encode()


FORM = "application/x-www-form-urlencoded"


# ---------------------------------------------------------------------------------------
# PayU's worked examples
# ---------------------------------------------------------------------------------------


# Payment form page, "Signature for payment form": base string
# 4Vj8eK4rloUd272L48hsrarnUA~508029~TestPayU~20000~COP
# https://developers.payulatam.com/latam/en/docs/integrations/webcheckout-integration/payment-form.html
@pytest.mark.parametrize(
    ("algorithm", "secret_key", "expected"),
    [
        ("MD5", None, "7ee7cf808ce6a39b17481c54f2c57acc"),
        ("SHA", None, "fa890d3f94e12b5cdb62e8771453b99b78e7ccdc"),
        ("SHA256", None, "af3899a22336b79db46006491d15813158826f944599bf3bf601e2327f898022"),
        ("HMAC-SHA256", None, "eaf61598d5593b366086c9a00aa5746ccad1a6e9b209a1a242fce224202b2b36"),
        (
            "HMAC-SHA256",
            "secret123",
            "9b269405c01c725fcc5d1667a2e1166a810fd34b5a5ac82295d0f59fddf1c472",
        ),
    ],
)
def test_payment_form_signature_matches_payu_examples(
    algorithm: str, secret_key: str | None, expected: str
) -> None:
    assert (
        form_signature(API_KEY, MERCHANT_ID, "TestPayU", "20000", "COP", algorithm, secret_key)
        == expected
    )


def test_payment_form_doc_example_signature_is_the_md5_one() -> None:
    """The form example on the same page posts amount=20000 with signature 7ee7cf80… (MD5)."""
    assert (
        form_signature(API_KEY, MERCHANT_ID, "TestPayU", "20000", "COP", "MD5")
        == "7ee7cf808ce6a39b17481c54f2c57acc"
    )


@pytest.mark.parametrize(
    ("tx_value", "expected"),
    [
        ("150.25", "150.2"),  # first decimal even, second 5: down
        (
            "150.35",
            "150.4",
        ),  # first decimal odd, second 5: up (round(150.35, 1) gives 150.3 with floats)
        ("150.34", "150.3"),
        ("150.36", "150.4"),
        ("100.00", "100.0"),
        ("150", "150.0"),
        ("15.75", "15.8"),  # the ARS case of odoo/odoo PR #68593
        ("0.05", "0.0"),
    ],
)
def test_response_new_value_rounds_half_to_even(tx_value: str, expected: str) -> None:
    assert response_new_value(tx_value) == expected


# Response URL page (2026), "Signature Examples" with HMAC-SHA256 and secret key test123.
# https://developers.payulatam.com/latam/en/docs/integrations/response-url.html
@pytest.mark.parametrize(
    ("tx_value", "expected"),
    [
        ("150.25", "5ac639cc57ea3ceccef66243f7a20412ea4ae0c86b5121ca6aa67597266057d1"),
        ("150.35", "7bbb5dd21b3c668bbfec8455c4f4fd3887dff1caa9c5da3895ddd914065b4905"),
        ("150.34", "50c8aae35caf923fbdbd791d7842b916ab7d6597b7c4032dd92ab67b7bb43e8a"),
    ],
)
def test_response_signature_matches_payu_hmac_examples(tx_value: str, expected: str) -> None:
    assert (
        response_signature(
            API_KEY, MERCHANT_ID, "PayUTest01", tx_value, "USD", "6", "HMAC-SHA256", "test123"
        )
        == expected
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("150.00", "150.0"),
        ("150.25", "150.25"),
        ("150.26", "150.26"),
        ("150.50", "150.5"),
        ("150.05", "150.05"),
        ("150.5", "150.5"),
        ("150", "150.0"),
        ("100.00", "100.0"),
    ],
)
def test_confirmation_new_value_string_rule(value: str, expected: str) -> None:
    assert confirmation_new_value(value) == expected


# Confirmation URL page (2026), "Signature Examples" with HMAC-SHA256 and secret key test123.
# https://developers.payulatam.com/latam/en/docs/integrations/confirmation-url.html
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("150.00", "65fb2b3452572784e23e7d6480359fd2507c54dd285ca3c4dceffb8764cfb66f"),
        ("150.25", "7770a7933b90570a078fcacce1790eb13079cdf8f8a6e900b79f4f5eb96b8024"),
    ],
)
def test_confirmation_sign_matches_payu_hmac_examples(value: str, expected: str) -> None:
    assert (
        confirmation_sign(
            API_KEY, MERCHANT_ID, "PayUTest01", value, "USD", "4", "HMAC-SHA256", "test123"
        )
        == expected
    )


def test_confirmation_two_decimal_md5_example() -> None:
    """Confirmation page (2021), "With two decimals": value 150.26, state_pol 4 -> 1d95778a…"""
    assert (
        confirmation_sign(API_KEY, MERCHANT_ID, "TestPayU05", "150.26", "USD", "4", "MD5")
        == "1d95778a651e11a0ab93c2169a519cd6"
    )


def test_confirmation_one_decimal_md5_example_is_inconsistent() -> None:
    """PayU's 2021 confirmation-page example "With one decimal" contradicts itself.

    The page (same text in the EN, ES and PT versions,
    https://developers.payulatam.com/latam/en/docs/integrations/webcheckout-integration/confirmation-page.html)
    lists ``state_pol = 6`` and prints::

        MD5(4Vj8eK4rloUd272L48hsrarnUA~508029~TestPayU04~150.0~USD~6) = b607a2c2fa100e0947b206d41864fb86

    The MD5 of that string is ``df67936f918887b2aa31688a77a10fe1``. ``b607a2c2…`` is the
    MD5 of the same string with ``state_pol = 4`` (``…~150.0~USD~4``): the hash was
    computed for an approved transaction while the parameter list and the printed
    string say 6 (declined). The ``new_value`` part, "150.0", is right either way, so
    the example still illustrates the rounding rule; only its hash belongs to state 4.
    """
    printed = "b607a2c2fa100e0947b206d41864fb86"
    as_printed = confirmation_sign(API_KEY, MERCHANT_ID, "TestPayU04", "150.00", "USD", "6", "MD5")
    assert (
        as_printed
        == hashlib.md5(b"4Vj8eK4rloUd272L48hsrarnUA~508029~TestPayU04~150.0~USD~6").hexdigest()
    )
    assert as_printed == "df67936f918887b2aa31688a77a10fe1"
    assert as_printed != printed
    assert (
        confirmation_sign(API_KEY, MERCHANT_ID, "TestPayU04", "150.00", "USD", "4", "MD5")
        == printed
    )


DOC_SAMPLE_CONFIRMATION = """response_code_pol=5
phone=
additional_value=0.00
test=1
transaction_date=2015-05-27 13:07:35
cc_number=************0004
cc_holder=test_buyer
error_code_bank=
billing_country=CO
bank_referenced_name=
description=test_payu_01
administrative_fee_tax=0.00
value=100.00
administrative_fee=0.00
payment_method_type=2
office_phone=
email_buyer=test@payulatam.com
response_message_pol=ENTITY_DECLINED
error_message_bank=
shipping_city=
transaction_id=f5e668f1-7ecc-4b83-a4d1-0aaa68260862
sign=e1b0939bbdc99ea84387bee9b90e4f5c
tax=0.00
payment_method=10
billing_address=cll 93
payment_method_name=VISA
pse_bank=
state_pol=6
date=2015.05.27 01:07:35
nickname_buyer=
reference_pol=7069375
currency=USD
risk=1.0
shipping_address=
bank_id=10
payment_request_state=R
customer_number=
administrative_fee_base=0.00
attempts=1
merchant_id=508029
exchange_rate=2541.15
shipping_country=
installments_number=1
franchise=VISA
payment_method_id=2
extra1=
extra2=
antifraudMerchantId=
extra3=
nickname_seller=
ip=190.242.116.98
airline_code=
billing_city=Bogota
pse_reference1=
reference_sale=2015-05-27 13:04:37
pse_reference3=
pse_reference2="""


def _doc_sample_fields() -> dict[str, str]:
    return dict(line.split("=", 1) for line in DOC_SAMPLE_CONFIRMATION.splitlines())


def test_doc_sample_post_sign_does_not_verify_with_the_public_sandbox_key() -> None:
    """The sample POST on the confirmation page carries ``sign=e1b0939b…``, a value the
    page reuses as the response-page sample ``signature``. Neither MD5, SHA1 nor SHA256 of
    ``4Vj8…~508029~2015-05-27 13:04:37~100.0~USD~6`` (nor of the 100.00 / 100 or state
    variants) gives it: the sample was evidently signed with a key that is not the public
    sandbox API key. It is therefore rejected like any forged message; the same body
    re-signed with the sandbox key is accepted (next test).
    """
    gateway = make_gateway()
    with pytest.raises(InvalidSignature):
        gateway.parse_notification(body=form_body(_doc_sample_fields()), content_type=FORM)


def test_doc_sample_post_resigned_is_parsed_without_personal_data() -> None:
    config = make_config(algorithm="MD5")
    fields = _doc_sample_fields()
    fields["sign"] = confirmation_sign(
        API_KEY, "508029", fields["reference_sale"], "100.00", "USD", "6", "MD5"
    )
    update = PayUGateway(config).parse_notification(body=form_body(fields), content_type=FORM)
    assert update.reference == "2015-05-27 13:04:37"
    assert update.status is GatewayStatus.DECLINED
    assert update.transaction_id == "f5e668f1-7ecc-4b83-a4d1-0aaa68260862"
    assert update.amount == Decimal("100.00")
    assert update.currency == "USD"
    assert update.merchant_id == "508029"
    assert update.method is PaymentMethod.CARD
    assert update.raw_method == "VISA"
    assert update.message == "ENTITY_DECLINED"
    assert update.dedupe_key == "payu:f5e668f1-7ecc-4b83-a4d1-0aaa68260862:6"
    assert update.occurred_at == datetime(2015, 5, 27, 13, 7, 35, tzinfo=ZoneInfo("America/Bogota"))
    assert update.extra["response_code"] == "5"
    assert update.extra["reference_pol"] == "7069375"
    flat = json.dumps(update.extra)
    for personal in ("test@payulatam.com", "0004", "test_buyer", "190.242.116.98", "cll 93"):
        assert personal not in flat


# ---------------------------------------------------------------------------------------
# Property tests
# ---------------------------------------------------------------------------------------


def reference_response_new_value(value: str) -> str:
    """Independent implementation of the response rule on integer cents."""
    integer, decimals = value.split(".")
    cents = int(integer) * 100 + int(decimals)
    tenths, remainder = divmod(cents, 10)
    if remainder > 5 or (remainder == 5 and tenths % 2 == 1):
        tenths += 1
    return f"{tenths // 10}.{tenths % 10}"


def reference_confirmation_new_value(value: str) -> str:
    """Independent implementation of the confirmation rule on Decimal."""
    number = Decimal(value)
    one_decimal = number.quantize(Decimal("0.1"))
    return f"{one_decimal:f}" if one_decimal == number else f"{number.quantize(Decimal('0.01')):f}"


two_decimal_strings = st.builds(
    lambda whole, cents: f"{whole}.{cents:02d}", st.integers(0, 10**10), st.integers(0, 99)
)


@given(two_decimal_strings)
def test_response_new_value_matches_reference(value: str) -> None:
    assert response_new_value(value) == reference_response_new_value(value)


@given(two_decimal_strings)
def test_confirmation_new_value_matches_reference(value: str) -> None:
    assert confirmation_new_value(value) == reference_confirmation_new_value(value)


algorithms = st.sampled_from(["MD5", "SHA", "SHA256", "HMAC-SHA256"])
references = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,40}", fullmatch=True)


@given(
    cents=st.integers(1, 10**12),
    algorithm=algorithms,
    secret=st.sampled_from(["", "s3cr3t-key"]),
    state_pol=st.sampled_from(["4", "5", "6", "7", "104"]),
    reference=references,
)
def test_sign_and_verify_agree(
    cents: int, algorithm: str, secret: str, state_pol: str, reference: str
) -> None:
    config = make_config(algorithm=algorithm, secret_key=secret)
    value = f"{cents // 100}.{cents % 100:02d}"
    fields = confirmation_fields(config, value=value, state_pol=state_pol, reference_sale=reference)
    gateway = PayUGateway(config)
    update = gateway.parse_notification(body=form_body(fields), content_type=FORM)
    assert update.amount == Decimal(cents) / 100
    assert update.reference == reference
    # One more peso is an unsigned change: rejected.
    tampered = dict(fields, value=f"{cents // 100 + 1}.{cents % 100:02d}")
    with pytest.raises(InvalidSignature):
        gateway.parse_notification(body=form_body(tampered), content_type=FORM)


# ---------------------------------------------------------------------------------------
# Confirmation webhook
# ---------------------------------------------------------------------------------------


def test_form_confirmation_parsed() -> None:
    config = make_config(algorithm="SHA256")
    update = PayUGateway(config).parse_notification(
        body=form_body(confirmation_fields(config)), content_type=FORM
    )
    assert update.status is GatewayStatus.APPROVED
    assert update.method is PaymentMethod.PSE
    assert update.amount == Decimal("119000.00")
    assert update.extra["cus"] == "2539443"
    assert update.extra["pse_bank"] == "BANCO DE PRUEBAS"
    assert update.dedupe_key == "payu:01cfdce8-68d5-4a4c-aabf-d89370a0b92f:4"
    assert "email_buyer" not in update.extra and "ip" not in update.extra


def test_json_confirmation_with_numbers_parsed() -> None:
    """API integrations' notifyUrl may post JSON (Confirmation URL PHP sample); numbers keep their text."""
    config = make_config(algorithm="HMAC-SHA256", secret_key="test123")
    fields = confirmation_fields(config, value="150.50", currency="USD")
    payload = dict(fields)
    text = (
        json.dumps(payload)
        .replace('"value": "150.50"', '"value": 150.50')
        .replace('"state_pol": "4"', '"state_pol": 4')
    )
    assert '"value": 150.50' in text and '"state_pol": 4' in text
    update = PayUGateway(config).parse_notification(
        body=text.encode(), content_type="application/json; charset=utf-8"
    )
    assert update.amount == Decimal("150.50")
    assert update.status is GatewayStatus.APPROVED


def test_json_body_detected_without_json_content_type() -> None:
    config = make_config()
    body = json.dumps(confirmation_fields(config)).encode()
    assert (
        PayUGateway(config).parse_notification(body=body, content_type="").status
        is GatewayStatus.APPROVED
    )


def test_signature_comparison_is_case_insensitive() -> None:
    config = make_config(algorithm="SHA256")
    fields = confirmation_fields(config)
    fields["sign"] = fields["sign"].upper()
    assert (
        PayUGateway(config).parse_notification(body=form_body(fields), content_type=FORM).status
        is GatewayStatus.APPROVED
    )


@pytest.mark.parametrize(
    "tamper",
    [
        {"sign": "0" * 64},
        {"value": "1190.00"},
        {"value": "119000.01"},
        {"currency": "USD"},
        {"merchant_id": "508030"},
        {"reference_sale": "INV-2024-0002-A1"},
        {"state_pol": "6"},
    ],
    ids=["sign", "value", "cents", "currency", "merchant", "reference", "state"],
)
def test_tampered_confirmation_rejected(tamper: dict[str, str]) -> None:
    config = make_config(algorithm="SHA256")
    fields = confirmation_fields(config)
    fields.update(tamper)
    with pytest.raises(InvalidSignature):
        PayUGateway(config).parse_notification(body=form_body(fields), content_type=FORM)


def test_confirmation_signed_with_other_algorithm_rejected() -> None:
    fields = confirmation_fields(make_config(algorithm="MD5"))
    with pytest.raises(InvalidSignature):
        PayUGateway(make_config(algorithm="SHA256")).parse_notification(
            body=form_body(fields), content_type=FORM
        )


def test_other_merchants_validly_signed_confirmation_keeps_its_merchant_id() -> None:
    """Not the adapter's call: the payments service sees the mismatch and flags it for review."""
    other = make_config(merchant_id="999999")
    fields = confirmation_fields(other)
    update = PayUGateway(make_config()).parse_notification(
        body=form_body(fields), content_type=FORM
    )
    assert update.merchant_id == "999999"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", FORM),
        (b"\xff\xfe\x00garbage", FORM),
        (b"[1, 2, 3]", "application/json"),
        (b"{not json", "application/json"),
        (b"merchant_id=508029&state_pol=4", FORM),
    ],
    ids=["empty", "not-utf8", "json-list", "bad-json", "missing-fields"],
)
def test_malformed_bodies(body: bytes, content_type: str) -> None:
    with pytest.raises(MalformedMessage):
        make_gateway().parse_notification(body=body, content_type=content_type)


@pytest.mark.parametrize(
    "missing", ["sign", "value", "transaction_id", "reference_sale", "currency", "state_pol"]
)
def test_missing_required_field(missing: str) -> None:
    config = make_config()
    fields = confirmation_fields(config)
    fields[missing] = ""
    with pytest.raises(MalformedMessage):
        PayUGateway(config).parse_notification(body=form_body(fields), content_type=FORM)


@pytest.mark.parametrize("value", ["abc", "1,000.00", "-5.00", "119000.001"])
def test_unreadable_value(value: str) -> None:
    config = make_config()
    fields = confirmation_fields(config)
    fields["value"] = value
    with pytest.raises(MalformedMessage):
        PayUGateway(config).parse_notification(body=form_body(fields), content_type=FORM)


def test_unknown_state_pol_is_malformed() -> None:
    config = make_config()
    fields = confirmation_fields(config, state_pol="99")
    with pytest.raises(MalformedMessage):
        PayUGateway(config).parse_notification(body=form_body(fields), content_type=FORM)


@pytest.mark.parametrize(
    ("state_pol", "status"),
    [
        ("4", GatewayStatus.APPROVED),
        ("6", GatewayStatus.DECLINED),
        ("5", GatewayStatus.EXPIRED),
        ("7", GatewayStatus.PENDING),
        ("104", GatewayStatus.ERROR),
    ],
)
def test_state_pol_mapping(state_pol: str, status: GatewayStatus) -> None:
    config = make_config()
    fields = confirmation_fields(config, state_pol=state_pol)
    update = PayUGateway(config).parse_notification(body=form_body(fields), content_type=FORM)
    assert update.status is status
    assert update.dedupe_key.endswith(f":{state_pol}")


@pytest.mark.parametrize(
    ("method_type", "method"),
    [
        ("2", PaymentMethod.CARD),
        ("6", PaymentMethod.CARD),
        ("4", PaymentMethod.PSE),
        ("7", PaymentMethod.CASH),
        ("8", PaymentMethod.CASH),
        ("10", PaymentMethod.CASH),
        ("5", PaymentMethod.OTHER),
        ("", None),
    ],
)
def test_payment_method_type_mapping(method_type: str, method: PaymentMethod | None) -> None:
    config = make_config()
    fields = confirmation_fields(config, payment_method_type=method_type, payment_method_name="")
    assert (
        PayUGateway(config).parse_notification(body=form_body(fields), content_type=FORM).method
        is method
    )


def test_notification_replies() -> None:
    gateway = make_gateway()
    ok = gateway.notification_reply(ok=True)
    assert (ok.status_code, ok.body) == (200, "")
    assert gateway.notification_reply(ok=False, message="missing sign").status_code == 400
    assert gateway.notification_reply(ok=False, invalid_signature=True).status_code == 403


# ---------------------------------------------------------------------------------------
# Checkout form
# ---------------------------------------------------------------------------------------


def test_checkout_form_fields_and_signature() -> None:
    gateway = make_gateway(algorithm="SHA256")
    action = gateway.start_checkout(make_request())
    assert action.method == "POST"
    assert action.url == SANDBOX_CHECKOUT_URL
    fields = action.fields
    assert fields["amount"] == "119000"
    assert fields["tax"] == "19000"
    assert fields["taxReturnBase"] == "100000"
    # The posted amount string is the signed one.
    expected = hashlib.sha256(
        f"{API_KEY}~{MERCHANT_ID}~INV-2024-0001-A1~119000~COP".encode()
    ).hexdigest()
    assert fields["signature"] == expected
    assert fields["algorithmSignature"] == "SHA256"
    assert fields["merchantId"] == MERCHANT_ID and fields["accountId"] == ACCOUNT_ID
    assert fields["referenceCode"] == "INV-2024-0001-A1"
    assert fields["currency"] == "COP"
    assert fields["test"] == "1"
    assert fields["buyerEmail"] == fields["payerEmail"] == "maria@example.com"
    assert fields["buyerFullName"] == fields["payerFullName"] == "María Pérez"
    assert fields["telephone"] == fields["payerPhone"] == "3001234567"
    assert fields["payerDocumentType"] == fields["buyerDocumentType"] == "CC"
    assert fields["payerDocument"] == fields["buyerDocument"] == "1020304050"
    assert fields["responseUrl"].endswith("/return/")
    assert fields["confirmationUrl"].endswith("/confirmation/")
    assert fields["lng"] == "es"
    assert fields["expirationDate"] == "2025-03-04 07:00:00"  # 12:00 UTC + 3 days, Bogotá time
    assert all(isinstance(value, str) for value in fields.values())


@pytest.mark.parametrize(
    ("method", "payment_methods", "selected"),
    [
        (PaymentMethod.PSE, "PSE", "PSE"),
        (PaymentMethod.CARD, "VISA,MASTERCARD,AMEX,DINERS,CODENSA", None),
        (PaymentMethod.CASH, "EFECTY,OTHERS_CASH,BALOTO", None),
    ],
)
def test_checkout_sends_the_chosen_method_and_signs_it(
    method: PaymentMethod, payment_methods: str, selected: str | None
) -> None:
    """The method chosen on Pay now restricts (and for PSE preselects) PayU's checkout;
    ``paymentMethods`` is appended to the signature with no empty iin/pseBanks segments
    (PayU's own example form on the payment-form page)."""
    fields = make_gateway(algorithm="SHA256").start_checkout(make_request(method=method)).fields
    assert fields["paymentMethods"] == payment_methods
    assert fields.get("selectedPaymentMethod") == selected
    assert "iin" not in fields and "pseBanks" not in fields
    expected = hashlib.sha256(
        f"{API_KEY}~{MERCHANT_ID}~INV-2024-0001-A1~119000~COP~{payment_methods}".encode()
    ).hexdigest()
    assert fields["signature"] == expected
    # "Choose at PayU" on Pay now (no method): nothing restricted, nothing preselected.
    fields = make_gateway().start_checkout(make_request(method=None)).fields
    assert "paymentMethods" not in fields and "selectedPaymentMethod" not in fields


def test_form_signature_appends_payment_methods() -> None:
    plain = form_signature(API_KEY, MERCHANT_ID, "TestPayU", "20000", "COP", "MD5")
    assert plain == "7ee7cf808ce6a39b17481c54f2c57acc"
    assert (
        form_signature(
            API_KEY, MERCHANT_ID, "TestPayU", "20000", "COP", "MD5", payment_methods="PSE"
        )
        == hashlib.md5(f"{API_KEY}~{MERCHANT_ID}~TestPayU~20000~COP~PSE".encode()).hexdigest()
    )


def test_checkout_hmac_with_secret_key() -> None:
    gateway = make_gateway(algorithm="HMAC-SHA256", secret_key="secret123")
    fields = gateway.start_checkout(
        make_request(reference="TestPayU", amount=Decimal("20000"), tax=Decimal("0"))
    ).fields
    assert fields["signature"] == "9b269405c01c725fcc5d1667a2e1166a810fd34b5a5ac82295d0f59fddf1c472"
    assert fields["algorithmSignature"] == "HMAC-SHA256"


def test_checkout_production_flag() -> None:
    assert make_gateway(test=False).start_checkout(make_request()).fields["test"] == "0"


def test_exempt_service_sends_zero_tax_and_base() -> None:
    fields = (
        make_gateway()
        .start_checkout(
            make_request(amount=Decimal("100000"), tax=Decimal("0"), tax_base=Decimal("100000"))
        )
        .fields
    )
    assert (fields["tax"], fields["taxReturnBase"]) == ("0", "0")


def test_decimal_amount_posted_and_signed_with_two_decimals() -> None:
    gateway = make_gateway(algorithm="MD5")
    fields = gateway.start_checkout(
        make_request(amount=Decimal("1234.5"), tax=Decimal("0"), tax_base=Decimal("0"))
    ).fields
    assert fields["amount"] == "1234.50"
    assert (
        fields["signature"]
        == hashlib.md5(f"{API_KEY}~{MERCHANT_ID}~INV-2024-0001-A1~1234.50~COP".encode()).hexdigest()
    )


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal("119000"), "119000"),
        (Decimal("119000.00"), "119000"),
        (Decimal("1234.5"), "1234.50"),
        (Decimal("0.07"), "0.07"),
        (Decimal("1E+3"), "1000"),
    ],
)
def test_format_amount(amount: Decimal, expected: str) -> None:
    assert format_amount(amount) == expected


@pytest.mark.parametrize("amount", [Decimal("1.234"), Decimal("-1"), Decimal("NaN")])
def test_format_amount_refuses(amount: Decimal) -> None:
    with pytest.raises(ValueError):
        format_amount(amount)


@pytest.mark.parametrize(
    "overrides",
    [
        {"amount": Decimal("119000.001")},
        {"reference": "INV 2024"},
        {"reference": "INV_2024"},
        {"reference": "FACTURA-Ñ1"},
        {"reference": "INV-1\n"},
        {"tax": Decimal("20000"), "tax_base": Decimal("100000")},
        {"expires_at": NOW - timedelta(minutes=1)},
        {"expires_at": datetime(2025, 3, 5, 12, 0)},
    ],
    ids=[
        "three-decimals",
        "space",
        "underscore",
        "non-ascii",
        "newline",
        "tax-over-total",
        "expired",
        "naive",
    ],
)
def test_checkout_refusals(overrides: dict[str, object]) -> None:
    with pytest.raises(GatewayError):
        make_gateway().start_checkout(make_request(**overrides))


def test_cash_expiration_capped_below_seven_days() -> None:
    fields = make_gateway().start_checkout(make_request(expires_at=NOW + timedelta(days=30))).fields
    # 2025-03-01 12:00 UTC = 07:00 Bogotá; 7 days minus 5 minutes later.
    assert fields["expirationDate"] == "2025-03-08 06:55:00"


@pytest.mark.parametrize(
    ("dian", "payu"), [("13", "CC"), ("22", "CE"), ("31", "NIT"), ("41", "PP"), ("42", "DE")]
)
def test_document_type_mapping(dian: str, payu: str) -> None:
    buyer = Buyer(
        "Conexcol SAS", "pagos@conexcol.example", "6011234567", dian, "900123456", "juridica"
    )
    assert (
        make_gateway().start_checkout(make_request(buyer=buyer)).fields["payerDocumentType"] == payu
    )


def test_unknown_document_type_is_not_sent() -> None:
    buyer = Buyer("X", "x@example.com", "1", "99", "123", "natural")
    fields = make_gateway().start_checkout(make_request(buyer=buyer)).fields
    assert "payerDocumentType" not in fields and "buyerDocument" not in fields


def test_cancel_is_not_supported() -> None:
    assert make_gateway().cancel("INV-2024-0001-A1") is False


# ---------------------------------------------------------------------------------------
# Response page (browser return)
# ---------------------------------------------------------------------------------------


def response_params(**overrides: str) -> dict[str, str]:
    params = {
        "merchantId": MERCHANT_ID,
        "transactionState": "6",
        "lapTransactionState": "DECLINED",
        "message": "Declinada",
        "referenceCode": "PayUTest01",
        "transactionId": "f5e668f1-7ecc-4b83-a4d1-0aaa68260862",
        "TX_VALUE": "150.25",
        "currency": "USD",
        "signature": "5ac639cc57ea3ceccef66243f7a20412ea4ae0c86b5121ca6aa67597266057d1",
    }
    params.update(overrides)
    return params


def test_response_page_with_payu_example_signature() -> None:
    gateway = make_gateway(algorithm="HMAC-SHA256", secret_key="test123")
    info = gateway.parse_return(response_params())
    assert info.signature_valid is True
    assert info.status is GatewayStatus.DECLINED
    assert info.amount == Decimal("150.25")
    assert info.currency == "USD"
    assert info.message == "Declinada"
    assert info.reference == "PayUTest01"
    assert info.transaction_id == "f5e668f1-7ecc-4b83-a4d1-0aaa68260862"


@pytest.mark.parametrize(
    "tamper",
    [
        {"TX_VALUE": "150.35"},
        {"transactionState": "4"},
        {"referenceCode": "PayUTest02"},
        {"merchantId": "1"},
        {"currency": "COP"},
        {"signature": ""},
        {"TX_VALUE": "abc"},
    ],
)
def test_response_page_tampered(tamper: dict[str, str]) -> None:
    gateway = make_gateway(algorithm="HMAC-SHA256", secret_key="test123")
    assert gateway.parse_return(response_params(**tamper)).signature_valid is False


def test_response_page_signature_only_covers_one_decimal() -> None:
    """The response rule rounds TX_VALUE to one decimal, so 150.21 verifies with 150.25's
    signature: one more reason never to trust the response page for state changes."""
    gateway = make_gateway(algorithm="HMAC-SHA256", secret_key="test123")
    assert gateway.parse_return(response_params(TX_VALUE="150.21")).signature_valid is True


def test_response_page_doc_sample_does_not_verify() -> None:
    params = {
        "merchantId": "508029",
        "transactionState": "6",
        "referenceCode": "2015-05-27 13:04:37",
        "signature": "e1b0939bbdc99ea84387bee9b90e4f5c",
        "TX_VALUE": "100.00",
        "currency": "USD",
    }
    assert make_gateway(algorithm="MD5").parse_return(params).signature_valid is False


def test_response_page_without_reference_is_malformed() -> None:
    with pytest.raises(MalformedMessage):
        make_gateway().parse_return({"transactionState": "4"})


def test_response_page_unknown_state_displays_pending() -> None:
    info = make_gateway().parse_return(response_params(transactionState="", signature=""))
    assert info.status is GatewayStatus.PENDING and info.signature_valid is False


# ---------------------------------------------------------------------------------------
# Queries API
# ---------------------------------------------------------------------------------------


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


QUERY_ANSWER = """{
  "code": "SUCCESS", "error": null,
  "result": {"payload": [{
    "id": 844427581, "accountId": 512321, "status": "CAPTURED", "referenceCode": "INV-2024-0001-A1",
    "additionalValues": {"TX_VALUE": {"value": 119000.00, "currency": "COP"}},
    "buyer": {"emailAddress": "maria@example.com", "fullName": "María Pérez"},
    "transactions": [
      {"id": "f5e668f1-7ecc-4b83-a4d1-0aaa68260862", "type": "AUTHORIZATION_AND_CAPTURE", "paymentMethod": "VISA",
       "transactionResponse": {"state": "DECLINED", "responseCode": "ENTITY_DECLINED", "operationDate": 1620064792953}},
      {"id": "01cfdce8-68d5-4a4c-aabf-d89370a0b92f", "type": "AUTHORIZATION_AND_CAPTURE", "paymentMethod": "PSE",
       "additionalValues": {"TX_VALUE": {"value": 119000, "currency": "COP"}},
       "transactionResponse": {"state": "APPROVED", "responseCode": "APPROVED", "trazabilityCode": "2539443",
                               "operationDate": 1620065000000}}
    ]}]}
}"""


def test_fetch_status_request_and_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeSend(http.HttpResponse(200, QUERY_ANSWER.encode(), {}))
    monkeypatch.setattr(http, "send", fake)
    updates = make_gateway().fetch_status("INV-2024-0001-A1")
    method, url, body, headers = fake.calls[0]
    assert (method, url) == ("POST", SANDBOX_QUERIES_URL)
    assert headers["Content-Type"].startswith("application/json")
    sent = json.loads(body or b"")
    assert sent == {
        "test": True,
        "language": "es",
        "command": "ORDER_DETAIL_BY_REFERENCE_CODE",
        "merchant": {"apiLogin": API_LOGIN, "apiKey": API_KEY},
        "details": {"referenceCode": "INV-2024-0001-A1"},
    }
    declined, approved = updates
    assert declined.status is GatewayStatus.DECLINED
    assert declined.method is PaymentMethod.CARD
    assert declined.amount == Decimal("119000.00")
    assert declined.dedupe_key == "payu:f5e668f1-7ecc-4b83-a4d1-0aaa68260862:6"
    assert declined.occurred_at == datetime(2021, 5, 3, 17, 59, 52, 953000, tzinfo=UTC)
    assert approved.status is GatewayStatus.APPROVED
    assert approved.method is PaymentMethod.PSE
    assert approved.amount == Decimal("119000")
    assert approved.currency == "COP"
    assert approved.extra["cus"] == "2539443"
    assert approved.extra["reference_pol"] == "844427581"
    # Same key as the confirmation for the same transaction and state.
    assert approved.dedupe_key == "payu:01cfdce8-68d5-4a4c-aabf-d89370a0b92f:4"
    assert "maria@example.com" not in json.dumps([u.extra for u in updates])


@pytest.mark.parametrize(
    "answer",
    [
        {"code": "SUCCESS", "error": None, "result": None},
        {"code": "SUCCESS", "error": None, "result": {"payload": None}},
        {"code": "SUCCESS", "error": None, "result": {"payload": []}},
    ],
)
def test_fetch_status_not_found(monkeypatch: pytest.MonkeyPatch, answer: dict[str, object]) -> None:
    monkeypatch.setattr(http, "send", FakeSend(json_answer(answer)))
    assert make_gateway().fetch_status("NOPE-1") == []


def test_fetch_status_single_order_payload(monkeypatch: pytest.MonkeyPatch) -> None:
    order = json.loads(QUERY_ANSWER)["result"]["payload"][0]
    monkeypatch.setattr(
        http, "send", FakeSend(json_answer({"code": "SUCCESS", "result": {"payload": order}}))
    )
    assert len(make_gateway().fetch_status("INV-2024-0001-A1")) == 2


@pytest.mark.parametrize(
    "answer",
    [
        http.HttpError("connection refused"),
        http.HttpResponse(500, b"<html>oops</html>", {}),
        http.HttpResponse(200, b"not json", {}),
        http.HttpResponse(
            200, json.dumps({"code": "ERROR", "error": "Invalid credentials"}).encode(), {}
        ),
    ],
    ids=["network", "http-500", "not-json", "code-error"],
)
def test_fetch_status_unavailable(
    monkeypatch: pytest.MonkeyPatch, answer: http.HttpResponse | Exception
) -> None:
    monkeypatch.setattr(http, "send", FakeSend(answer))
    with pytest.raises(GatewayUnavailable):
        make_gateway().fetch_status("INV-2024-0001-A1")


# ---------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------


def test_urls_use_local_simulator_in_sandbox_mode(settings: Settings) -> None:
    settings.PAYMENTS_SANDBOX = True
    settings.PAYU_CHECKOUT_URL = ""
    settings.PAYU_QUERIES_URL = ""
    settings.SITE_URL = "https://portal.example"
    config = PayUConfig.from_settings()
    assert config.checkout_url == "https://portal.example/sandbox/payu/ppp-web-gateway-payu/"
    assert config.queries_url == "https://portal.example/sandbox/payu/reports-api/4.0/service.cgi"


@pytest.mark.parametrize(
    ("test_mode", "checkout", "queries"),
    [
        (True, SANDBOX_CHECKOUT_URL, SANDBOX_QUERIES_URL),
        (False, PRODUCTION_CHECKOUT_URL, PRODUCTION_QUERIES_URL),
    ],
)
def test_urls_without_simulator(
    settings: Settings, test_mode: bool, checkout: str, queries: str
) -> None:
    settings.PAYMENTS_SANDBOX = False
    settings.PAYU_CHECKOUT_URL = ""
    settings.PAYU_QUERIES_URL = ""
    settings.PAYU_TEST = test_mode
    config = PayUConfig.from_settings()
    assert (config.checkout_url, config.queries_url, config.test) == (checkout, queries, test_mode)


def test_explicit_urls_win(settings: Settings) -> None:
    settings.PAYMENTS_SANDBOX = True
    settings.PAYU_TEST = True
    settings.PAYU_CHECKOUT_URL = "https://checkout.example/"
    settings.PAYU_QUERIES_URL = ""
    config = PayUConfig.from_settings()
    assert config.checkout_url == "https://checkout.example/"
    assert (
        config.queries_url == SANDBOX_QUERIES_URL
    )  # not the simulator: the checkout URL is explicit
    settings.PAYU_QUERIES_URL = "https://queries.example/service.cgi"
    assert PayUConfig.from_settings().queries_url == "https://queries.example/service.cgi"


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("md5", "MD5"),
        ("SHA", "SHA"),
        ("sha1", "SHA"),
        ("SHA-256", "SHA256"),
        ("hmac-sha256", "HMAC-SHA256"),
    ],
)
def test_algorithm_names(name: str, canonical: str) -> None:
    assert normalize_algorithm(name) == canonical


def test_unknown_algorithm_refused() -> None:
    with pytest.raises(ValueError):
        normalize_algorithm("SHA512")


def test_describe_config_masks_secrets() -> None:
    gateway = make_gateway(secret_key="my-hmac-secret-key-123")
    described = gateway.describe_config()
    flat = json.dumps(described)
    assert described["api_key"] == "4Vj8…UA"
    assert API_KEY not in flat and API_LOGIN not in flat and "my-hmac-secret-key-123" not in flat
    assert described["secret_key"] == "my-h…23"
    assert described["merchant_id"] == MERCHANT_ID
    assert make_gateway().describe_config()["secret_key"] == "(API key)"


def test_hmac_falls_back_to_api_key() -> None:
    payload = f"{API_KEY}~{MERCHANT_ID}~TestPayU~20000~COP".encode()
    expected = hmac.new(API_KEY.encode(), payload, hashlib.sha256).hexdigest()
    assert (
        form_signature(API_KEY, MERCHANT_ID, "TestPayU", "20000", "COP", "HMAC-SHA256", "")
        == expected
    )


def test_bogota_time_zone_available() -> None:
    assert datetime(2025, 1, 1, tzinfo=BOGOTA).utcoffset() == timedelta(hours=-5)


def test_fetch_status_passes_up_the_cash_voucher_reference_and_receipt(monkeypatch, settings):
    """A pending cash payment's voucher can be reopened: REFERENCE and URL_PAYMENT_RECEIPT_HTML reach the portal."""
    import json as _json

    from clientarea.lib import http
    from clientarea.payments.gateways.payu import PayUGateway

    answer = {
        "code": "SUCCESS",
        "error": None,
        "result": {
            "payload": [
                {
                    "id": 1400000007,
                    "status": "IN_PROGRESS",
                    "referenceCode": "ODS-000001-1",
                    "transactions": [
                        {
                            "id": "6f2d0a35-6b1e-4b2f-9a36-3b3c5e0e1f77",
                            "paymentMethod": "OTHERS_CASH",
                            "transactionResponse": {
                                "state": "PENDING",
                                "responseCode": "PENDING_TRANSACTION_CONFIRMATION",
                            },
                            "additionalValues": {
                                "TX_VALUE": {"value": 119000.00, "currency": "COP"}
                            },
                            "extraParameters": {
                                "REFERENCE": 1400000007,
                                "URL_PAYMENT_RECEIPT_HTML": "https://checkout.payulatam.com/ppp-web-gateway-payu/r/abc",
                            },
                        }
                    ],
                }
            ]
        },
    }
    monkeypatch.setattr(
        http,
        "send",
        lambda method, url, body, headers: http.HttpResponse(200, _json.dumps(answer).encode(), {}),
    )
    [update] = PayUGateway().fetch_status("ODS-000001-1")
    assert update.extra["payment_reference"] == "1400000007"
    assert update.extra["receipt_url"].endswith("/r/abc")


def test_an_unknown_signature_algorithm_is_a_system_check_error(settings) -> None:
    from clientarea.payments.checks import gateways_can_be_built

    assert gateways_can_be_built(None) == []
    settings.PAYU_SIGNATURE_ALGORITHM = "SHA512"
    errors = gateways_can_be_built(None)
    assert [e.id for e in errors] == ["payments.E002"]
    assert "'payu'" in errors[0].msg
