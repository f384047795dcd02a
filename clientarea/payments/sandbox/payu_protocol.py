"""PayU Latam WebCheckout protocol math, written from PayU's public documentation.

This module is deliberately independent from the merchant-side adapter
(``clientarea.payments.gateways``): the simulator computes every signature
itself, so a mistake on one side shows up as a mismatch instead of hiding.

Pure functions only (no database, no settings): the callers pass the keys.

Doc pages cited below (developers.payulatam.com, "latam/en/docs/integrations"):

- PF  = webcheckout-integration/payment-form.html (signature of the form);
- RP  = webcheckout-integration/response-page.html (GET to ``responseUrl``);
- CP  = webcheckout-integration/confirmation-page.html (POST to ``confirmationUrl``);
- RC  = response-codes-and-variables.html (code tables);
- QA  = api-integration/queries-api.html (reports API).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

# --- Signatures ----------------------------------------------------------------------------

#: ``algorithmSignature`` values (PF: "MD5, SHA, SHA256" and, in the 2026 revision,
#: "HMAC-SHA256"). MD5 is the default when the field is absent (PF).
MD5 = "MD5"
SHA1 = "SHA"
SHA256 = "SHA256"
HMAC_SHA256 = "HMAC-SHA256"
_ALGORITHM_ALIASES = {
    "": MD5,
    "MD5": MD5,
    "SHA": SHA1,
    "SHA1": SHA1,
    "SHA-1": SHA1,
    "SHA256": SHA256,
    "SHA-256": SHA256,
    "HMAC-SHA256": HMAC_SHA256,
}


class UnknownAlgorithm(ValueError):
    """``algorithmSignature`` names an algorithm PayU does not offer."""


def normalize_algorithm(value: str | None) -> str:
    """Canonical algorithm name; empty or missing means MD5 (PF)."""
    key = (value or "").strip().upper()
    try:
        return _ALGORITHM_ALIASES[key]
    except KeyError:
        raise UnknownAlgorithm(value) from None


def sign(parts: Sequence[str], *, algorithm: str, secret_key: str) -> str:
    """Hex digest of ``"~".join(parts)`` with ``algorithm``.

    ``parts[0]`` is always the API key (PF 2026: "ensure that the apiKey is the first
    parameter in the base string", also for HMAC). For HMAC-SHA256 the HMAC key is
    ``secret_key`` (the merchant's Secret Key, or the API key itself: PF 2026 "using
    the apiKey as the secret key or provide a specific secret key").
    """
    base = "~".join(parts).encode("utf-8")
    algorithm = normalize_algorithm(algorithm)
    if algorithm == MD5:
        return hashlib.md5(base).hexdigest()  # noqa: S324 - the protocol mandates MD5
    if algorithm == SHA1:
        return hashlib.sha1(base).hexdigest()  # noqa: S324 - the protocol offers SHA1
    if algorithm == SHA256:
        return hashlib.sha256(base).hexdigest()
    return hmac.new(secret_key.encode("utf-8"), base, hashlib.sha256).hexdigest()


def signatures_match(expected: str, given: str) -> bool:
    """Constant-time, case-insensitive comparison of two hex signatures."""
    return hmac.compare_digest(expected.lower().encode(), (given or "").lower().encode())


def payment_form_signature(
    *,
    api_key: str,
    merchant_id: str,
    reference_code: str,
    amount: str,
    currency: str,
    algorithm: str,
    secret_key: str,
    extra: Sequence[str] = (),
) -> str:
    """The form ``signature``: ``apiKey~merchantId~referenceCode~amount~currency`` (PF).

    ``amount`` is the string exactly as posted (PayU's own examples sign "20000" as
    posted). ``extra`` holds ``paymentMethods~iin~pseBanks`` when the form sends them
    (PF 2026 note: "append them in this exact order").
    """
    parts = [api_key, merchant_id, reference_code, amount, currency, *extra]
    return sign(parts, algorithm=algorithm, secret_key=secret_key)


def form_signature_candidates(
    *,
    api_key: str,
    merchant_id: str,
    reference_code: str,
    amount: str,
    currency: str,
    algorithm: str,
    secret_key: str,
    payment_methods: str | None,
    iin: str | None,
    pse_banks: str | None,
) -> list[str]:
    """Every signature the simulator accepts for a posted form (exactly one).

    PF 2026: when the form includes ``paymentMethods``, ``iin`` or ``pseBanks``, "append
    them in this exact order". How an absent (or blank) one is written is shown by
    PayU's interactive example form on the PF page: its ``generateSignature()`` appends
    each of the three only when it is not blank, so there are no empty segments
    (site source: layouts/shortcodes/paymentform/webcheckout_en.html).
    """
    base = dict(
        api_key=api_key,
        merchant_id=merchant_id,
        reference_code=reference_code,
        amount=amount,
        currency=currency,
        algorithm=algorithm,
        secret_key=secret_key,
    )
    present = [value for value in (payment_methods, iin, pse_banks) if value and value.strip()]
    return [payment_form_signature(**base, extra=present)]


# --- Amounts ---------------------------------------------------------------------------------

CENT = Decimal("0.01")
TENTH = Decimal("0.1")
MAX_AMOUNT = Decimal(10) ** 14


class AmountError(ValueError):
    """A posted amount is not a number with at most two decimals."""


def parse_amount(text: str, *, field: str = "amount", allow_zero: bool = False) -> Decimal:
    """Parse a posted amount: digits with at most 2 decimals (PF: "Limit decimal values to two places").

    PayU's error for 3+ decimals is "TX_VALUE: the additional value exceeds the maximum
    number of decimal digits (2)" (odoo/odoo PR #96947).
    """
    raw = (text or "").strip()
    if len(raw) > 20:
        raise AmountError(f"{field}: '{raw[:24]}…' is too long")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise AmountError(f"{field}: '{raw}' is not a number") from None
    if not value.is_finite() or raw.lower().startswith(("+", "nan", "inf")) or "e" in raw.lower():
        raise AmountError(f"{field}: '{raw}' is not a plain decimal number")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise AmountError(f"{field}: the value exceeds the maximum number of decimal digits (2)")
    if value < 0 or (value == 0 and not allow_zero):
        raise AmountError(f"{field}: must be greater than zero")
    if value >= MAX_AMOUNT:
        # payment-form.html: amount is "Number 14" (two decimals allowed).
        raise AmountError(f"{field}: exceeds the maximum of 14 integer digits")
    return value


def format_value(value: Decimal) -> str:
    """Two-decimal string used for ``value``/``tax`` in the confirmation (CP sample "100.00")."""
    return f"{Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN):.2f}"


def format_pol_decimal(value: Decimal) -> str:
    """PayU's Java ``DecimalFormat("###.00")`` rendering, as seen on real response pages.

    ``TX_VALUE=10000.00`` but ``TX_TAX=.00`` for zero (RP samples; PayU Java SDK
    ``SignatureHelper`` uses ``###.00``): no leading zero before the point.
    """
    text = format_value(value)
    if text.startswith("0."):
        return text[1:]
    if text.startswith("-0."):
        return "-" + text[2:]
    return text


def confirmation_new_value(value: str | Decimal) -> str:
    """``new_value`` for the confirmation ``sign`` (CP, "sign validation").

    "If the second decimal of value is zero, format new_value with one decimal
    (150.00 → 150.0). If the second decimal is not zero, keep two decimals
    (150.25 → 150.25)." So 150.50 → 150.5, 150.05 → 150.05, 150 → 150.0.
    """
    text = format_value(Decimal(str(value)))
    return text[:-1] if text.endswith("0") else text


def response_new_value(tx_value: str | Decimal) -> str:
    """``new_value`` for the response-page ``signature`` (RP).

    "Round TX_VALUE to one decimal using the round half to even method":
    150.25 → 150.2, 150.35 → 150.4, 150.34 → 150.3. Decimal only: ``round(150.35, 1)``
    on a float gives 150.3, which breaks PayU's own example.
    """
    return f"{Decimal(str(tx_value)).quantize(TENTH, rounding=ROUND_HALF_EVEN):.1f}"


def confirmation_sign(
    *,
    api_key: str,
    merchant_id: str,
    reference_sale: str,
    value: str | Decimal,
    currency: str,
    state_pol: int | str,
    algorithm: str,
    secret_key: str,
) -> str:
    """Confirmation ``sign``: ``apiKey~merchant_id~reference_sale~new_value~currency~state_pol`` (CP)."""
    parts = [
        api_key,
        merchant_id,
        reference_sale,
        confirmation_new_value(value),
        currency,
        str(state_pol),
    ]
    return sign(parts, algorithm=algorithm, secret_key=secret_key)


def response_signature(
    *,
    api_key: str,
    merchant_id: str,
    reference_code: str,
    tx_value: str | Decimal,
    currency: str,
    transaction_state: int | str,
    algorithm: str,
    secret_key: str,
) -> str:
    """Response-page ``signature``: ``apiKey~merchantId~referenceCode~new_value~currency~transactionState`` (RP)."""
    parts = [
        api_key,
        merchant_id,
        reference_code,
        response_new_value(tx_value),
        currency,
        str(transaction_state),
    ]
    return sign(parts, algorithm=algorithm, secret_key=secret_key)


# --- Code tables (RC) ---------------------------------------------------------------------------

#: Transaction states (RC "Transaction states"; QA ``transactionResponse.state``).
STATE_APPROVED = "APPROVED"
STATE_DECLINED = "DECLINED"
STATE_ERROR = "ERROR"
STATE_PENDING = "PENDING"
STATE_EXPIRED = "EXPIRED"
FINAL_STATES = frozenset({STATE_APPROVED, STATE_DECLINED, STATE_ERROR, STATE_EXPIRED})


@dataclass(frozen=True)
class ResponseCode:
    """One row of RC's response-page and confirmation tables.

    ``state`` is ``lapTransactionState``; ``transaction_state`` the response page's
    ``transactionState``; ``pol_state`` is ``polTransactionState`` and the
    confirmation's ``state_pol``; ``pol_response_code`` is ``polResponseCode`` and
    ``response_code_pol``.
    """

    code: str
    state: str
    transaction_state: int
    pol_state: int
    pol_response_code: int
    message: str


RESPONSE_CODES: dict[str, ResponseCode] = {
    rc.code: rc
    for rc in (
        ResponseCode("APPROVED", STATE_APPROVED, 4, 4, 1, "Aprobada"),
        ResponseCode("PAYMENT_NETWORK_REJECTED", STATE_DECLINED, 6, 6, 4, "Declinada"),
        ResponseCode("ENTITY_DECLINED", STATE_DECLINED, 6, 6, 5, "Declinada"),
        ResponseCode("INSUFFICIENT_FUNDS", STATE_DECLINED, 6, 6, 6, "Declinada"),
        ResponseCode("INTERNAL_PAYMENT_PROVIDER_ERROR", STATE_ERROR, 104, 6, 9999, "Error"),
        ResponseCode("EXPIRED_TRANSACTION", STATE_EXPIRED, 5, 5, 20, "Expirada"),
        # Cash voucher generated, awaiting payment: real WebCheckout answers show
        # polTransactionState=14, polResponseCode=25, lapResponseCode=PENDING_TRANSACTION_CONFIRMATION.
        ResponseCode("PENDING_TRANSACTION_CONFIRMATION", STATE_PENDING, 7, 14, 25, "PENDING"),
        # PSE awaiting the bank: RC "12 (Pendiente) PENDING_AWAITING_PSE_CONFIRMATION 9994".
        ResponseCode("PENDING_AWAITING_PSE_CONFIRMATION", STATE_PENDING, 7, 12, 9994, "PENDING"),
    )
}

#: PSE rejected by the bank: RC/PSE table "6 / 4 rejected".
PSE_REJECTED = "PAYMENT_NETWORK_REJECTED"
EXPIRED_TRANSACTION = "EXPIRED_TRANSACTION"
PENDING_CASH = "PENDING_TRANSACTION_CONFIRMATION"
PENDING_PSE = "PENDING_AWAITING_PSE_CONFIRMATION"


def response_code(code: str) -> ResponseCode:
    """The table row of a ``lapResponseCode``."""
    return RESPONSE_CODES[code]


@dataclass(frozen=True)
class PaymentMethod:
    """A PayU payment method: name (``lapPaymentMethod``), internal id (``polPaymentMethod``) and type."""

    name: str
    pol_id: int
    type_code: int  # RC "Codes of the payment methods": 2 card, 4 PSE, 7 cash
    type_name: str  # lapPaymentMethodType


#: Ids seen on real PayU answers (VISA 10 in RP/CP samples, PSE 25, OTHERS_CASH 34,
#: BALOTO 35 in public response-page captures). MASTERCARD/AMEX/DINERS/CODENSA ids
#: are [INF]: not stated in the docs.
PAYMENT_METHODS: dict[str, PaymentMethod] = {
    pm.name: pm
    for pm in (
        PaymentMethod("VISA", 10, 2, "CREDIT_CARD"),
        PaymentMethod("MASTERCARD", 11, 2, "CREDIT_CARD"),
        PaymentMethod("AMEX", 12, 2, "CREDIT_CARD"),
        PaymentMethod("DINERS", 22, 2, "CREDIT_CARD"),
        PaymentMethod("CODENSA", 24, 2, "CREDIT_CARD"),
        PaymentMethod("PSE", 25, 4, "PSE"),
        PaymentMethod("OTHERS_CASH", 34, 7, "CASH"),
        PaymentMethod("BALOTO", 35, 7, "CASH"),
    )
}
CARD_METHODS = ("VISA", "MASTERCARD", "AMEX", "DINERS", "CODENSA")
#: Cash networks the simulated checkout offers (label shown to the buyer).
CASH_NETWORKS: tuple[tuple[str, str], ...] = (
    ("OTHERS_CASH", "Efecty / Su Red / Gana (OTHERS_CASH)"),
    ("BALOTO", "Baloto"),
)

#: Accepted currencies (RC "Accepted currencies", newer Spanish page).
CURRENCIES = frozenset(
    {"ARS", "BRL", "CLP", "COP", "CRC", "GTQ", "HNL", "MXN", "PEN", "SVC", "USD"}
)

#: Colombia's default cash expiration window when ``expirationDate`` is absent
#: (PF: "7 days elsewhere", 15 in Argentina).
CASH_EXPIRATION_DAYS = 7


def preselected_method(selected: str, allowed: set[str] | None) -> str:
    """The method the checkout opens on, from the form's ``selectedPaymentMethod``.

    PF: "Payment method preselected when the user accesses the payment link"; the
    example form's help says "by choosing MASTERCARD, this option will automatically be
    preselected". Returns a name of :data:`PAYMENT_METHODS` (``""`` when the field is
    absent, unknown, or not among the methods ``paymentMethods`` enables: [INF] what
    PayU does with such a value is not documented; the simulator then preselects nothing).
    """
    name = (selected or "").strip().upper()
    if name == "EFECTY":
        name = "OTHERS_CASH"  # the simulator's one voucher network for Efecty / Su Red / Gana
    if name not in PAYMENT_METHODS:
        return ""
    if (
        allowed is not None
        and name not in allowed
        and not (name == "OTHERS_CASH" and "EFECTY" in allowed)
    ):
        return ""
    return name


def allowed_methods(payment_methods: str) -> set[str] | None:
    """Method names enabled by the form's ``paymentMethods`` (PF: "VISA,MASTERCARD",
    installments as "VISA-1-3"); ``None`` means every method."""
    names = {
        item.split("-", 1)[0].strip().upper()
        for item in (payment_methods or "").split(",")
        if item.strip()
    }
    return names or None


# --- Queries API (QA) ----------------------------------------------------------------------------

#: Order ``status`` values (RC "Order status"). EXPIRED cash orders are reported as
#: DECLINED: [INF] the docs do not say which order status an expired voucher gets.
ORDER_STATUS_BY_STATE = {
    "NEW": "NEW",
    "PENDING": "IN_PROGRESS",
    "APPROVED": "CAPTURED",
    "DECLINED": "DECLINED",
    "EXPIRED": "DECLINED",
    "REFUNDED": "REFUNDED",
}
