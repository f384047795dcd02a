"""PayU protocol math against PayU's own published examples (developers.payulatam.com)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clientarea.payments.sandbox import payu_protocol as proto

API_KEY = "4Vj8eK4rloUd272L48hsrarnUA"


# payment-form.html, "Signature": 4Vj8eK4rloUd272L48hsrarnUA~508029~TestPayU~20000~COP
@pytest.mark.parametrize(
    ("algorithm", "secret", "expected"),
    [
        ("MD5", API_KEY, "7ee7cf808ce6a39b17481c54f2c57acc"),
        ("SHA", API_KEY, "fa890d3f94e12b5cdb62e8771453b99b78e7ccdc"),
        ("SHA256", API_KEY, "af3899a22336b79db46006491d15813158826f944599bf3bf601e2327f898022"),
        (
            "HMAC-SHA256",
            API_KEY,
            "eaf61598d5593b366086c9a00aa5746ccad1a6e9b209a1a242fce224202b2b36",
        ),
        (
            "HMAC-SHA256",
            "secret123",
            "9b269405c01c725fcc5d1667a2e1166a810fd34b5a5ac82295d0f59fddf1c472",
        ),
    ],
)
def test_payment_form_signature_matches_payu_examples(algorithm, secret, expected):
    signature = proto.payment_form_signature(
        api_key=API_KEY,
        merchant_id="508029",
        reference_code="TestPayU",
        amount="20000",
        currency="COP",
        algorithm=algorithm,
        secret_key=secret,
    )
    assert signature == expected


def test_algorithm_defaults_to_md5_and_accepts_aliases():
    assert proto.normalize_algorithm(None) == "MD5"
    assert proto.normalize_algorithm("") == "MD5"
    assert proto.normalize_algorithm("sha1") == "SHA"
    assert proto.normalize_algorithm("hmac-sha256") == "HMAC-SHA256"
    with pytest.raises(proto.UnknownAlgorithm):
        proto.normalize_algorithm("SHA512")


def test_signature_comparison_ignores_case():
    assert proto.signatures_match(
        "7ee7cf808ce6a39b17481c54f2c57acc", "7EE7CF808CE6A39B17481C54F2C57ACC"
    )
    assert not proto.signatures_match(
        "7ee7cf808ce6a39b17481c54f2c57acc", "7ee7cf808ce6a39b17481c54f2c57acd"
    )
    assert not proto.signatures_match("7ee7cf808ce6a39b17481c54f2c57acc", "")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("150.00", "150.0"),
        ("150.25", "150.25"),
        ("150.26", "150.26"),
        ("150.50", "150.5"),
        ("150.05", "150.05"),
        ("150", "150.0"),
        ("119000.00", "119000.0"),
        (Decimal("150.2"), "150.2"),
    ],
)
def test_confirmation_new_value_rule(value, expected):
    # confirmation-page.html: second decimal 0 → one decimal, otherwise two.
    assert proto.confirmation_new_value(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("150.25", "150.2"),
        ("150.35", "150.4"),
        ("150.34", "150.3"),
        ("150.00", "150.0"),
        ("119000.00", "119000.0"),
        ("15.75", "15.8"),
        ("150.45", "150.4"),
        ("150.451", "150.5"),
    ],
)
def test_response_new_value_rounds_half_even(value, expected):
    # response-page.html: round TX_VALUE to one decimal, round half to even (Decimal, never float).
    assert proto.response_new_value(value) == expected


# response-page.html worked examples (MD5, TestPayU04, USD, transactionState 6).
@pytest.mark.parametrize(
    ("tx_value", "expected"),
    [
        ("150.25", "00286dc735bd9eaa8ae3a3a4cbb40688"),
        ("150.35", "9df2bb60e2838170009040982967923f"),
        ("150.34", "779f163be9347a691bcdb25064644795"),
    ],
)
def test_response_signature_matches_payu_md5_examples(tx_value, expected):
    assert (
        proto.response_signature(
            api_key=API_KEY,
            merchant_id="508029",
            reference_code="TestPayU04",
            tx_value=tx_value,
            currency="USD",
            transaction_state=6,
            algorithm="MD5",
            secret_key=API_KEY,
        )
        == expected
    )


# 2026 "Response URL" page: HMAC-SHA256 with secret key test123, PayUTest01.
@pytest.mark.parametrize(
    ("tx_value", "expected"),
    [
        ("150.25", "5ac639cc57ea3ceccef66243f7a20412ea4ae0c86b5121ca6aa67597266057d1"),
        ("150.35", "7bbb5dd21b3c668bbfec8455c4f4fd3887dff1caa9c5da3895ddd914065b4905"),
        ("150.34", "50c8aae35caf923fbdbd791d7842b916ab7d6597b7c4032dd92ab67b7bb43e8a"),
    ],
)
def test_response_signature_matches_payu_hmac_examples(tx_value, expected):
    assert (
        proto.response_signature(
            api_key=API_KEY,
            merchant_id="508029",
            reference_code="PayUTest01",
            tx_value=tx_value,
            currency="USD",
            transaction_state=6,
            algorithm="HMAC-SHA256",
            secret_key="test123",
        )
        == expected
    )


def test_confirmation_sign_matches_payu_two_decimal_example():
    # confirmation-page.html: MD5(...~TestPayU05~150.26~USD~4) = 1d95778a651e11a0ab93c2169a519cd6
    assert (
        proto.confirmation_sign(
            api_key=API_KEY,
            merchant_id="508029",
            reference_sale="TestPayU05",
            value="150.26",
            currency="USD",
            state_pol=4,
            algorithm="MD5",
            secret_key=API_KEY,
        )
        == "1d95778a651e11a0ab93c2169a519cd6"
    )


def test_confirmation_one_decimal_example_is_misprinted_in_the_doc():
    """The doc prints ``state_pol = 6`` and ``MD5(...~150.0~USD~6) = b607a2c2…``, but that hash
    is the MD5 of the same string with state_pol **4**. The rule (value 150.00 → "150.0") holds;
    only the printed state is wrong."""
    common = dict(
        api_key=API_KEY,
        merchant_id="508029",
        reference_sale="TestPayU04",
        value="150.00",
        currency="USD",
        algorithm="MD5",
        secret_key=API_KEY,
    )
    assert proto.confirmation_sign(**common, state_pol=4) == "b607a2c2fa100e0947b206d41864fb86"
    assert proto.confirmation_sign(**common, state_pol=6) == "df67936f918887b2aa31688a77a10fe1"


# 2026 "Confirmation URL" page: HMAC-SHA256 with secret key test123.
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("150.00", "65fb2b3452572784e23e7d6480359fd2507c54dd285ca3c4dceffb8764cfb66f"),
        ("150.25", "7770a7933b90570a078fcacce1790eb13079cdf8f8a6e900b79f4f5eb96b8024"),
    ],
)
def test_confirmation_sign_matches_payu_hmac_examples(value, expected):
    assert (
        proto.confirmation_sign(
            api_key=API_KEY,
            merchant_id="508029",
            reference_sale="PayUTest01",
            value=value,
            currency="USD",
            state_pol=4,
            algorithm="HMAC-SHA256",
            secret_key="test123",
        )
        == expected
    )


@pytest.mark.parametrize("text", ["119000", "119000.5", "119000.50", "0.01"])
def test_parse_amount_accepts_up_to_two_decimals(text):
    assert proto.parse_amount(text) == Decimal(text)


@pytest.mark.parametrize(
    "text",
    [
        "119000.001",
        "1661.340000001",
        "abc",
        "",
        "-5",
        "0",
        "1e5",
        "NaN",
        "100000000000000",
        "0" * 30,
    ],
)
def test_parse_amount_refuses_bad_values(text):
    with pytest.raises(proto.AmountError):
        proto.parse_amount(text)


def test_pol_decimal_format_drops_the_leading_zero_like_payu():
    assert proto.format_pol_decimal(Decimal("119000")) == "119000.00"
    assert proto.format_pol_decimal(Decimal("0")) == ".00"
    assert proto.format_value(Decimal("0")) == "0.00"


def test_optional_signature_fields_are_appended_only_when_present():
    """PayU's example form on the payment-form page appends paymentMethods, iin and
    pseBanks each only when not blank: no empty segments."""
    common = dict(
        api_key=API_KEY,
        merchant_id="508029",
        reference_code="R1",
        amount="100",
        currency="COP",
        algorithm="MD5",
        secret_key=API_KEY,
    )

    def md5(*parts: str) -> str:
        return proto.sign(
            [API_KEY, "508029", "R1", "100", "COP", *parts], algorithm="MD5", secret_key=""
        )

    assert proto.form_signature_candidates(
        **common, payment_methods="VISA,PSE", iin=None, pse_banks=None
    ) == [md5("VISA,PSE")]
    assert proto.form_signature_candidates(
        **common, payment_methods="PSE", iin="", pse_banks="1022"
    ) == [md5("PSE", "1022")]
    assert proto.form_signature_candidates(
        **common, payment_methods=None, iin=None, pse_banks=None
    ) == [md5()]


def test_preselected_method():
    assert proto.preselected_method("PSE", {"PSE"}) == "PSE"
    assert proto.preselected_method("pse", None) == "PSE"
    assert proto.preselected_method("MASTERCARD", None) == "MASTERCARD"
    assert proto.preselected_method("EFECTY", {"EFECTY"}) == "OTHERS_CASH"
    # Not enabled by paymentMethods, unknown or absent: nothing is preselected.
    assert proto.preselected_method("PSE", {"VISA"}) == ""
    assert proto.preselected_method("BITCOIN", None) == ""
    assert proto.preselected_method("", None) == ""


def test_allowed_methods_parses_installment_syntax():
    assert proto.allowed_methods("VISA-1-3,PSE") == {"VISA", "PSE"}
    assert proto.allowed_methods("") is None
