"""PayU Latam WebCheckout adapter (merchant side).

Protocol references (PayU developer documentation):

* Payment form and its signature:
  https://developers.payulatam.com/latam/en/docs/integrations/webcheckout-integration/payment-form.html
* Response page / Response URL (browser GET, ``signature`` with ``new_value`` rounded
  half-even to one decimal):
  https://developers.payulatam.com/latam/en/docs/integrations/webcheckout-integration/response-page.html
  https://developers.payulatam.com/latam/en/docs/integrations/response-url.html
* Confirmation page / Confirmation URL (server POST, ``sign`` with the
  "second decimal" rule):
  https://developers.payulatam.com/latam/en/docs/integrations/webcheckout-integration/confirmation-page.html
  https://developers.payulatam.com/latam/en/docs/integrations/confirmation-url.html
* Code tables (state_pol, payment_method_type):
  https://developers.payulatam.com/latam/en/docs/getting-started/response-codes-and-variables.html
* Queries API (reconciliation):
  https://developers.payulatam.com/latam/en/docs/integrations/api-integration/queries-api.html

Amounts are handled as ``Decimal`` or as the exact strings PayU sent; never float.

Why one file: this is PayU's whole protocol as the merchant sees it (form, both signature
rules, the response page, the confirmation, the code tables and the Queries API), read
against the documentation above section by section. The signature rules and code tables are
shared by every message, so splitting the file would scatter one protocol across modules.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from clientarea.lib import http

from .base import (
    CheckoutAction,
    CheckoutRequest,
    Gateway,
    GatewayError,
    GatewayStatus,
    GatewayUnavailable,
    InvalidSignature,
    MalformedMessage,
    NotificationReply,
    PaymentMethod,
    PaymentUpdate,
    RefundAnswer,
    RefundRequest,
    ReturnInfo,
    TransactionKind,
    decode_notification_body,
    json_object,
    mask_secret,
    require_open_window,
    signatures_match,
)

logger = logging.getLogger(__name__)

# https://developers.payulatam.com/latam/en/docs/integrations/webcheckout-integration/payment-form.html
# ("The URL configured in `action` depends on the environment").
SANDBOX_CHECKOUT_URL = "https://sandbox.checkout.payulatam.com/ppp-web-gateway-payu/"
PRODUCTION_CHECKOUT_URL = "https://checkout.payulatam.com/ppp-web-gateway-payu/"
# https://developers.payulatam.com/latam/en/docs/integrations/api-integration/queries-api.html
SANDBOX_QUERIES_URL = "https://sandbox.api.payulatam.com/reports-api/4.0/service.cgi"
PRODUCTION_QUERIES_URL = "https://api.payulatam.com/reports-api/4.0/service.cgi"
# https://developers.payulatam.com/latam/en/docs/integrations/api-integration/refunds-api.html
# (Voids and Refunds API: the Payments API's SUBMIT_TRANSACTION with REFUND / PARTIAL_REFUND).
SANDBOX_PAYMENTS_URL = "https://sandbox.api.payulatam.com/payments-api/4.0/service.cgi"
PRODUCTION_PAYMENTS_URL = "https://api.payulatam.com/payments-api/4.0/service.cgi"

#: ``transaction_type`` (confirmation) / ``type`` (Queries API) of a transaction that returns
#: money of an approved one (refunds-api.html). Payments are AUTHORIZATION_AND_CAPTURE (or absent).
REFUND_TRANSACTION_TYPES = frozenset({"REFUND", "PARTIAL_REFUND", "VOID"})
#: Order ``status`` in the Queries API when the customer's bank reversed the charge.
CHARGEBACK_ORDER_STATUS = "CHARGEBACK"

#: PayU Colombia works in Colombian time. The docs do not state the time zone of
#: ``expirationDate`` or ``transaction_date``; Bogotá time is assumed (the account
#: is a Colombian one).
PAYU_TIME_ZONE = ZoneInfo("America/Bogota")

# Names accepted for settings.PAYU_SIGNATURE_ALGORITHM -> the name PayU uses in the
# ``algorithmSignature`` form field ("MD5", "SHA", "SHA256", "HMAC-SHA256"; see the
# payment-form parameter table).
_ALGORITHM_ALIASES = {
    "MD5": "MD5",
    "SHA": "SHA",
    "SHA1": "SHA",
    "SHA-1": "SHA",
    "SHA256": "SHA256",
    "SHA-256": "SHA256",
    "HMAC-SHA256": "HMAC-SHA256",
    "HMAC_SHA256": "HMAC-SHA256",
    "HMACSHA256": "HMAC-SHA256",
}

# state_pol (confirmation) and transactionState (response page): same codes.
# https://developers.payulatam.com/latam/en/docs/getting-started/response-codes-and-variables.html
STATE_POL: dict[str, GatewayStatus] = {
    "4": GatewayStatus.APPROVED,
    "6": GatewayStatus.DECLINED,
    "5": GatewayStatus.EXPIRED,
    "7": GatewayStatus.PENDING,
    "104": GatewayStatus.ERROR,
}

# payment_method_type / polPaymentMethodType codes (same page, "Payment methods"):
# 2 CREDIT_CARD, 4 PSE, 5 ACH, 6 DEBIT_CARD, 7 CASH, 8 REFERENCED, 10 BANK_REFERENCED, 14 SPEI.
PAYMENT_METHOD_TYPES: dict[str, PaymentMethod] = {
    "2": PaymentMethod.CARD,
    "6": PaymentMethod.CARD,
    "4": PaymentMethod.PSE,
    "7": PaymentMethod.CASH,
    "8": PaymentMethod.CASH,
    "10": PaymentMethod.CASH,
}

# Transaction ``state`` in the Queries API -> (equivalent state_pol, status). The
# state_pol equivalent makes a query result share its dedupe key with the
# confirmation that reports the same transaction in the same state.
QUERY_TRANSACTION_STATES: dict[str, tuple[str, GatewayStatus]] = {
    "APPROVED": ("4", GatewayStatus.APPROVED),
    "DECLINED": ("6", GatewayStatus.DECLINED),
    "EXPIRED": ("5", GatewayStatus.EXPIRED),
    "PENDING": ("7", GatewayStatus.PENDING),
    "SUBMITTED": ("7", GatewayStatus.PENDING),
    "ERROR": ("104", GatewayStatus.ERROR),
}

# ``paymentMethod`` names in the Queries API (Colombia payment methods page:
# https://developers.payulatam.com/latam/en/docs/getting-started/select-your-payment-method.html).
_CARD_METHOD_NAMES = frozenset(
    {"VISA", "VISA_DEBIT", "MASTERCARD", "MASTERCARD_DEBIT", "AMEX", "DINERS", "CODENSA"}
)
_CASH_METHOD_NAMES = frozenset({"EFECTY", "BALOTO", "OTHERS_CASH", "BANK_REFERENCED"})

# What the checkout form sends for the method the customer already chose on Pay now, so
# PayU's checkout does not ask again. payment-form.html (parameter table):
#   ``paymentMethods``: "List of payment methods enabled for the transaction ... separated
#   by comma and without blanks, for example: VISA,MASTERCARD", names from the
#   ``paymentMethod parameter`` column of select-your-payment-method.html (Colombia);
#   ``selectedPaymentMethod``: "Payment method preselected when the user accesses the
#   payment link" (not part of the signature).
# https://developers.payulatam.com/latam/en/docs/integrations/webcheckout-integration/payment-form.html
# https://developers.payulatam.com/latam/en/docs/getting-started/select-your-payment-method.html
# Cards list the Colombian card networks and preselect none (the network is the card's
# own); PSE is a single method, so it is also preselected; cash lists the Colombian cash
# networks (EFECTY, OTHERS_CASH = Su Red/Gana..., BALOTO). [INF] The docs do not say what
# PayU does with a listed method the merchant's account has not enabled; the
# assumption is that it is simply not shown.
CHECKOUT_METHODS: dict[PaymentMethod, tuple[str, str]] = {
    PaymentMethod.CARD: ("VISA,MASTERCARD,AMEX,DINERS,CODENSA", ""),
    PaymentMethod.PSE: ("PSE", "PSE"),
    PaymentMethod.CASH: ("EFECTY,OTHERS_CASH,BALOTO", ""),
}

# DIAN identification codes -> PayU document types (the Colombian list documented for
# PSE_REFERENCE2 in
# https://developers.payulatam.com/latam/en/docs/integrations/api-integration/payments-api-colombia.html:
# CC, CE, NIT, TI, PP, IDC, CEL, RC, DE).
PAYU_DOCUMENT_TYPES: dict[str, str] = {
    "11": "RC",  # registro civil
    "12": "TI",  # tarjeta de identidad
    "13": "CC",  # cédula de ciudadanía
    "22": "CE",  # cédula de extranjería
    "31": "NIT",
    "41": "PP",  # pasaporte
    "42": "DE",  # documento de identificación extranjero
}

# "Exclude special characters from the referenceCode parameter" (payment form).
_REFERENCE_RE = re.compile(r"^[A-Za-z0-9-]{1,255}$")
_NUMBER_RE = re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)$")
# "expirationDate ... must be within the allowed range for cash payments (15 days
# for Argentina, 7 days for others)": stay a little below the 7-day limit.
MAX_CASH_EXPIRATION = timedelta(days=7) - timedelta(minutes=5)

# Confirmation fields needed to verify and use the message.
_REQUIRED_CONFIRMATION_FIELDS = (
    "merchant_id",
    "reference_sale",
    "value",
    "currency",
    "state_pol",
    "sign",
    "transaction_id",
)
# Non-personal confirmation fields copied to PaymentUpdate.extra (key in extra <- POST field).
_CONFIRMATION_EXTRA_FIELDS = {
    "cus": "cus",
    "pse_bank": "pse_bank",
    "response_code": "response_code_pol",
    "response_message": "response_message_pol",
    "reference_pol": "reference_pol",
    "payment_method": "payment_method",
    "payment_method_id": "payment_method_id",
    "payment_method_type": "payment_method_type",
    "payment_method_name": "payment_method_name",
    "installments_number": "installments_number",
    "authorization_code": "authorization_code",
    "transaction_bank_id": "transaction_bank_id",
    "franchise": "franchise",
    "attempts": "attempts",
    "test": "test",
    "tax": "tax",
    "additional_value": "additional_value",
}


# --------------------------------------------------------------------------------------
# Pure protocol functions
# --------------------------------------------------------------------------------------


def normalize_algorithm(algorithm: str) -> str:
    """PayU's name for a signature algorithm: "MD5", "SHA" (SHA-1), "SHA256" or "HMAC-SHA256".

    Raises ``ValueError`` for anything else.
    """
    try:
        return _ALGORITHM_ALIASES[algorithm.strip().upper()]
    except KeyError:
        raise ValueError(f"unsupported PayU signature algorithm {algorithm!r}") from None


def _digest(payload: str, algorithm: str, api_key: str, secret_key: str | None) -> str:
    """Hex digest of ``payload`` with ``algorithm``; HMAC keys with ``secret_key`` or the API key."""
    name = normalize_algorithm(algorithm)
    data = payload.encode("utf-8")
    if name == "MD5":
        return hashlib.md5(data, usedforsecurity=False).hexdigest()
    if name == "SHA":
        return hashlib.sha1(data, usedforsecurity=False).hexdigest()
    if name == "SHA256":
        return hashlib.sha256(data).hexdigest()
    # "When encrypting using HMAC-SHA256, you have the option to use your apiKey as the
    # secret key or provide a specific secret key" (payment form page, 2026 revision).
    key = (secret_key or api_key).encode("utf-8")
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def _check_number(value: str, field_name: str) -> str:
    """``value`` stripped, if it is a plain non-negative decimal number; else ``ValueError``."""
    text = value.strip()
    if not _NUMBER_RE.fullmatch(text):
        raise ValueError(f"{field_name} is not a decimal number")
    return text


def format_amount(amount: Decimal) -> str:
    """The single string used for ``amount`` (and tax fields) in the form and its signature.

    Whole amounts (the usual COP case) are written without decimals ("119000"),
    others with exactly two ("1234.50"). PayU refuses more than two decimals
    ("Limit decimal values to two places"), so those raise ``ValueError`` rather
    than being rounded silently.
    """
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount < 0:
        raise ValueError("amount must be a finite, non-negative Decimal")
    if amount == amount.to_integral_value():
        return str(int(amount))
    quantized = amount.quantize(Decimal("0.01"))
    if quantized != amount:
        raise ValueError("PayU accepts at most two decimals")
    return f"{quantized:f}"


def form_signature(
    api_key: str,
    merchant_id: str,
    reference: str,
    amount_str: str,
    currency: str,
    algorithm: str,
    secret_key: str | None = None,
    payment_methods: str = "",
) -> str:
    """Payment-form ``signature``: hash of ``apiKey~merchantId~referenceCode~amount~currency``.

    ``amount_str`` must be the exact string posted in the ``amount`` field. When the
    form sends ``paymentMethods`` (the adapter never sends ``iin`` or ``pseBanks``) it
    is appended: ``...~currency~paymentMethods``. The payment-form page says to append
    ``paymentMethods~iin~pseBanks`` "in this exact order" when the form includes them;
    how an absent one is written is shown by the interactive example form on that same
    page (its ``generateSignature()`` appends each of the three only when it is not
    blank, so no empty segments):
    https://developers.payulatam.com/latam/en/docs/integrations/webcheckout-integration/payment-form.html
    (source: layouts/shortcodes/paymentform/webcheckout_en.html of the site).
    """
    parts = [api_key, merchant_id, reference, amount_str, currency]
    if payment_methods:
        parts.append(payment_methods)
    payload = "~".join(parts)
    return _digest(payload, algorithm, api_key, secret_key)


def response_new_value(tx_value: str) -> str:
    """``new_value`` for the response-page signature: ``TX_VALUE`` rounded to one decimal, half to even.

    "150.25" -> "150.2", "150.35" -> "150.4", "150.34" -> "150.3", "100.00" -> "100.0".
    Raises ``ValueError`` if ``tx_value`` is not a decimal number.
    """
    text = _check_number(tx_value, "TX_VALUE")
    try:
        rounded = Decimal(text).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
    except InvalidOperation:  # more digits than the decimal context holds: no real amount
        raise ValueError("TX_VALUE is out of range") from None
    return f"{rounded:f}"


def confirmation_new_value(value: str) -> str:
    """``new_value`` for the confirmation ``sign``, computed on the string as PayU sent it.

    One decimal when the second decimal is zero ("150.00" -> "150.0", "150.50" -> "150.5",
    "150" -> "150.0"), otherwise two ("150.25" -> "150.25", "150.05" -> "150.05").
    This follows PayU's own string-based sample (Confirmation URL page, 2026).
    Raises ``ValueError`` if ``value`` is not a decimal number.
    """
    text = _check_number(value, "value")
    integer, _, decimals = text.partition(".")
    integer = integer or "0"
    if len(decimals) > 1 and decimals[1] != "0":
        return f"{integer}.{decimals[:2]}"
    return f"{integer}.{decimals[:1] or '0'}"


def response_signature(
    api_key: str,
    merchant_id: str,
    reference: str,
    tx_value: str,
    currency: str,
    transaction_state: str,
    algorithm: str,
    secret_key: str | None = None,
) -> str:
    """Response-page ``signature``: ``apiKey~merchantId~referenceCode~new_value~currency~transactionState``."""
    payload = "~".join(
        (api_key, merchant_id, reference, response_new_value(tx_value), currency, transaction_state)
    )
    return _digest(payload, algorithm, api_key, secret_key)


def confirmation_sign(
    api_key: str,
    merchant_id: str,
    reference_sale: str,
    value: str,
    currency: str,
    state_pol: str,
    algorithm: str,
    secret_key: str | None = None,
) -> str:
    """Confirmation ``sign``: ``apiKey~merchant_id~reference_sale~new_value~currency~state_pol``."""
    payload = "~".join(
        (api_key, merchant_id, reference_sale, confirmation_new_value(value), currency, state_pol)
    )
    return _digest(payload, algorithm, api_key, secret_key)


def _method_from_type(method_type: str) -> PaymentMethod | None:
    """Map ``payment_method_type`` to a :class:`PaymentMethod` (``None`` when absent)."""
    if not method_type:
        return None
    return PAYMENT_METHOD_TYPES.get(method_type, PaymentMethod.OTHER)


def _method_from_name(name: str) -> PaymentMethod | None:
    """Map a Queries API ``paymentMethod`` name (VISA, PSE, EFECTY, ...) to a :class:`PaymentMethod`."""
    key = name.strip().upper()
    if not key:
        return None
    if key == "PSE":
        return PaymentMethod.PSE
    if key in _CARD_METHOD_NAMES:
        return PaymentMethod.CARD
    if key in _CASH_METHOD_NAMES:
        return PaymentMethod.CASH
    return PaymentMethod.OTHER


def _parse_local_datetime(value: str) -> datetime | None:
    """Parse PayU's ``YYYY-MM-DD HH:mm:ss`` (Bogotá time) into an aware datetime."""
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=PAYU_TIME_ZONE)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------
# Gateway
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PayUConfig:
    """Everything the adapter needs; built from settings by :meth:`PayUConfig.from_settings`."""

    merchant_id: str
    account_id: str
    api_login: str
    api_key: str
    secret_key: str
    algorithm: str
    test: bool
    checkout_url: str
    queries_url: str
    enabled: bool = True
    payments_url: str = ""

    @classmethod
    def from_settings(cls) -> PayUConfig:
        """Read ``PAYU_*``, ``PAYMENTS_SANDBOX`` and ``SITE_URL`` now.

        URLs: an explicit ``PAYU_CHECKOUT_URL``/``PAYU_QUERIES_URL`` wins; with an empty
        checkout URL and ``PAYMENTS_SANDBOX`` on, the local simulator is used; otherwise
        PayU's sandbox (``PAYU_TEST``) or production endpoints.
        """
        test = bool(getattr(settings, "PAYU_TEST", True))
        explicit_checkout = (getattr(settings, "PAYU_CHECKOUT_URL", "") or "").strip()
        explicit_queries = (getattr(settings, "PAYU_QUERIES_URL", "") or "").strip()
        use_simulator = not explicit_checkout and bool(getattr(settings, "PAYMENTS_SANDBOX", False))
        site_url = str(getattr(settings, "SITE_URL", "")).rstrip("/")
        if explicit_checkout:
            checkout_url = explicit_checkout
        elif use_simulator:
            checkout_url = site_url + settings.PAYMENTS_SANDBOX_PATHS["payu_checkout"]
        else:
            checkout_url = SANDBOX_CHECKOUT_URL if test else PRODUCTION_CHECKOUT_URL
        if explicit_queries:
            queries_url = explicit_queries
        elif use_simulator:
            queries_url = site_url + settings.PAYMENTS_SANDBOX_PATHS["payu_queries"]
        else:
            queries_url = SANDBOX_QUERIES_URL if test else PRODUCTION_QUERIES_URL
        explicit_payments = (getattr(settings, "PAYU_PAYMENTS_URL", "") or "").strip()
        if explicit_payments:
            payments_url = explicit_payments
        elif use_simulator:
            payments_url = site_url + settings.PAYMENTS_SANDBOX_PATHS["payu_payments_api"]
        else:
            payments_url = SANDBOX_PAYMENTS_URL if test else PRODUCTION_PAYMENTS_URL
        return cls(
            merchant_id=str(getattr(settings, "PAYU_MERCHANT_ID", "")).strip(),
            account_id=str(getattr(settings, "PAYU_ACCOUNT_ID", "")).strip(),
            api_login=str(getattr(settings, "PAYU_API_LOGIN", "")).strip(),
            api_key=str(getattr(settings, "PAYU_API_KEY", "")).strip(),
            secret_key=str(getattr(settings, "PAYU_SECRET_KEY", "") or "").strip(),
            algorithm=normalize_algorithm(
                str(getattr(settings, "PAYU_SIGNATURE_ALGORITHM", "SHA256"))
            ),
            test=test,
            checkout_url=checkout_url,
            queries_url=queries_url,
            enabled=bool(getattr(settings, "PAYU_ENABLED", True)),
            payments_url=payments_url,
        )


class PayUGateway(Gateway):
    """PayU Latam WebCheckout: browser POST form, confirmation webhook, Queries API."""

    code = "payu"
    name = "PayU Latam"
    methods = (PaymentMethod.CARD, PaymentMethod.PSE, PaymentMethod.CASH)
    #: ``sign`` = merchant_id~reference_sale~new_value~currency~state_pol: not the transaction id.
    signed_fields = frozenset({"reference", "status", "amount", "currency", "merchant_id"})

    def __init__(
        self, config: PayUConfig | None = None, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        """Use ``config`` or read it from settings now; ``clock`` returns the current aware time."""
        self.config = config if config is not None else PayUConfig.from_settings()
        self._clock = clock or (lambda: datetime.now(UTC))

    @property
    def enabled(self) -> bool:
        """``PAYU_ENABLED``."""
        return self.config.enabled

    # -- checkout ------------------------------------------------------------------------

    def _expiration_date(self, expires_at: datetime) -> str:
        """``expirationDate`` (``YYYY-MM-DD HH:mm:ss``, Bogotá time), capped below PayU's 7 days."""
        return self.deadline(expires_at).strftime("%Y-%m-%d %H:%M:%S")

    def deadline(self, expires_at: datetime) -> datetime:
        """The ``expirationDate`` PayU is given for ``expires_at``, as an aware Bogotá time:
        capped below PayU's 7 days, to the second (the precision of the field)."""
        now = self._clock()
        require_open_window(expires_at, now=now)
        effective = min(expires_at, now + MAX_CASH_EXPIRATION)
        return effective.astimezone(PAYU_TIME_ZONE).replace(microsecond=0)

    def start_checkout(self, request: CheckoutRequest) -> CheckoutAction:
        """Build the auto-submitted POST form for PayU's WebCheckout.

        ``amount`` is formatted once (:func:`format_amount`) and that exact string is
        both posted and signed. Raises :class:`GatewayError` for references with
        special characters, amounts with more than two decimals, or
        ``tax + taxReturnBase`` above the total.
        """
        config = self.config
        if not _REFERENCE_RE.fullmatch(request.reference):
            raise GatewayError("PayU referenceCode must be 1-255 ASCII letters, digits or '-'")
        try:
            amount = format_amount(request.amount)
            tax = format_amount(request.tax)
            tax_base = format_amount(request.tax_base)
        except ValueError as error:
            raise GatewayError(str(error)) from error
        if request.amount <= 0:
            raise GatewayError("amount must be positive")
        if request.tax == 0:
            # "If the product is exempt, send tax=0 and taxReturnBase=0" (payment form).
            tax, tax_base = "0", "0"
        elif request.tax + request.tax_base > request.amount:
            # "Tax + taxReturnBase cannot be greater than the Total Value" (payment form).
            raise GatewayError("tax + taxReturnBase cannot exceed the amount")
        buyer = request.buyer
        description = " ".join(request.description.split())[:255] or request.reference
        payment_methods, selected_method = (
            CHECKOUT_METHODS.get(request.method, ("", "")) if request.method else ("", "")
        )
        signature = form_signature(
            config.api_key,
            config.merchant_id,
            request.reference,
            amount,
            request.currency,
            config.algorithm,
            config.secret_key or None,
            payment_methods=payment_methods,
        )
        fields: dict[str, str] = {
            "merchantId": config.merchant_id,
            "accountId": config.account_id,
            "description": description,
            "referenceCode": request.reference,
            "amount": amount,
            "tax": tax,
            "taxReturnBase": tax_base,
            "currency": request.currency,
            "signature": signature,
            "algorithmSignature": config.algorithm,
            "test": "1" if config.test else "0",
            "buyerEmail": buyer.email,
            "buyerFullName": buyer.full_name[:150],
            "telephone": buyer.phone[:20],
            "payerFullName": buyer.full_name[:50],
            "payerEmail": buyer.email,
            "payerPhone": buyer.phone[:20],
            "responseUrl": request.response_url,
            "confirmationUrl": request.confirmation_url,
            "lng": request.language if request.language in {"es", "en"} else "es",
            "expirationDate": self._expiration_date(request.expires_at),
        }
        if payment_methods:
            fields["paymentMethods"] = payment_methods
        if selected_method:
            fields["selectedPaymentMethod"] = selected_method
        document_type = PAYU_DOCUMENT_TYPES.get(buyer.document_type)
        if document_type:
            fields.update(
                payerDocumentType=document_type,
                payerDocument=buyer.document_number[:25],
                buyerDocumentType=document_type,
                buyerDocument=buyer.document_number[:25],
            )
        else:
            # An unknown DIAN code would be sent as a wrong type; PayU's checkout asks
            # the payer for the document instead.
            logger.info(
                "PayU checkout %s: DIAN document type %r has no PayU equivalent",
                request.reference,
                buyer.document_type,
            )
        return CheckoutAction(
            method="POST",
            url=config.checkout_url,
            fields=fields,
            gateway_order_id=None,
            raw_response=None,
            expires_at=self.deadline(request.expires_at),
        )

    # -- confirmation (webhook) -------------------------------------------------------------

    def expected_confirmation_sign(self, data: Mapping[str, str]) -> str:
        """The ``sign`` the confirmation ``data`` should carry under the configured algorithm."""
        config = self.config
        return confirmation_sign(
            config.api_key,
            data["merchant_id"],
            data["reference_sale"],
            data["value"],
            data["currency"],
            data["state_pol"],
            config.algorithm,
            config.secret_key or None,
        )

    def parse_notification(self, *, body: bytes, content_type: str) -> PaymentUpdate:
        """Verify and parse a confirmation POST (form-urlencoded, or JSON for API ``notifyUrl``).

        The ``sign`` is recomputed from the posted values with the configured algorithm
        and compared in constant time, case-insensitively. Raises
        :class:`MalformedMessage` for missing/unreadable fields and
        :class:`InvalidSignature` for a wrong sign or another merchant's message.
        """
        data = decode_notification_body(body, content_type)
        missing = [name for name in _REQUIRED_CONFIRMATION_FIELDS if not data.get(name, "").strip()]
        if missing:
            raise MalformedMessage(f"PayU confirmation without {', '.join(missing)}")
        data = {key: value.strip() for key, value in data.items()}
        try:
            amount = Decimal(_check_number(data["value"], "value"))
            expected = self.expected_confirmation_sign(data)
        except (ValueError, InvalidOperation):
            raise MalformedMessage("PayU confirmation value is not a decimal number") from None
        if len(data["value"].partition(".")[2]) > 2:
            # ``value`` is "14.2"; the sign only covers two decimals, so a third one would
            # be an unsigned change of the amount.
            raise MalformedMessage("PayU confirmation value has more than two decimals")
        if not signatures_match(expected, data["sign"]):
            logger.warning(
                "PayU confirmation for %r rejected: invalid sign", data["reference_sale"]
            )
            raise InvalidSignature("PayU confirmation sign does not match")
        # A validly signed message for another merchant id is passed on as it is: the
        # payments service refuses to apply it and flags it for review (merchant mismatch).
        status = STATE_POL.get(data["state_pol"])
        if status is None:
            raise MalformedMessage(f"unknown PayU state_pol {data['state_pol']!r}")
        extra = {
            key: data[name] for key, name in _CONFIRMATION_EXTRA_FIELDS.items() if data.get(name)
        }
        # A refund's confirmation carries the refund's own id, state and refunded ``value`` with
        # ``transaction_type`` REFUND / PARTIAL_REFUND (refunds-api.html): it is not a payment.
        transaction_type = data.get("transaction_type", "").upper()
        kind = (
            TransactionKind.REFUND
            if transaction_type in REFUND_TRANSACTION_TYPES
            else TransactionKind.PAYMENT
        )
        if transaction_type:
            extra["transaction_type"] = transaction_type
        return PaymentUpdate(
            reference=data["reference_sale"],
            status=status,
            transaction_id=data["transaction_id"],
            amount=amount,
            currency=data["currency"],
            merchant_id=data["merchant_id"],
            method=_method_from_type(data.get("payment_method_type", "")),
            raw_method=data.get("payment_method_name") or data.get("payment_method_type", ""),
            message=data.get("response_message_pol", ""),
            dedupe_key=f"payu:{data['transaction_id']}:{data['state_pol']}",
            occurred_at=_parse_local_datetime(data.get("transaction_date", "")),
            extra=extra,
            kind=kind,
        )

    def notification_reply(
        self,
        *,
        ok: bool,
        message: str = "",
        invalid_signature: bool = False,
        unknown_reference: bool = False,
    ) -> NotificationReply:
        """200 with an empty body when processed (also duplicates and unknown references),
        403 for a bad signature, 400 for a malformed message.

        PayU only needs HTTP 200 ("return a standard HTTP 200 OK status without rendering
        HTML"); anything else makes it retry, up to nine times, then e-mail the merchant.
        """
        if invalid_signature:
            return NotificationReply(status_code=403, body="invalid signature")
        if not ok and not unknown_reference:
            return NotificationReply(status_code=400, body=message or "malformed confirmation")
        return NotificationReply(status_code=200, body="")

    # -- response page (browser return) -----------------------------------------------------

    def parse_return(self, params: Mapping[str, str]) -> ReturnInfo:
        """Parse the response-page GET; ``signature_valid`` uses the half-even one-decimal rule.

        Raises :class:`MalformedMessage` only when ``referenceCode`` is missing.
        """
        config = self.config
        reference = (params.get("referenceCode") or "").strip()
        if not reference:
            raise MalformedMessage("PayU response without referenceCode")
        state = (params.get("transactionState") or "").strip()
        tx_value = (params.get("TX_VALUE") or "").strip()
        currency = (params.get("currency") or "").strip()
        merchant_id = (params.get("merchantId") or "").strip()
        received = (params.get("signature") or "").strip()
        amount: Decimal | None
        signature_valid = False
        try:
            amount = Decimal(_check_number(tx_value, "TX_VALUE"))
            response_new_value(tx_value)  # a value that cannot be rounded is no amount either
        except ValueError:
            amount = None
        if (
            amount is not None
            and state
            and currency
            and received
            and merchant_id == config.merchant_id
        ):
            expected = response_signature(
                config.api_key,
                merchant_id,
                reference,
                tx_value,
                currency,
                state,
                config.algorithm,
                config.secret_key or None,
            )
            signature_valid = signatures_match(expected, received)
        return ReturnInfo(
            reference=reference,
            status=STATE_POL.get(state, GatewayStatus.PENDING),
            signature_valid=signature_valid,
            amount=amount,
            currency=currency or None,
            message=(params.get("message") or params.get("lapTransactionState") or "").strip(),
            transaction_id=(params.get("transactionId") or "").strip(),
        )

    # -- Queries API ----------------------------------------------------------------------------

    def fetch_status(self, reference: str) -> list[PaymentUpdate]:
        """``ORDER_DETAIL_BY_REFERENCE_CODE``: one :class:`PaymentUpdate` per transaction found.

        A reference may map to several orders, each with several transactions. A null
        result or an empty payload means "not found" and gives ``[]``. Network errors,
        non-2xx answers, undecodable bodies and ``code != SUCCESS`` raise
        :class:`GatewayUnavailable`.
        """
        config = self.config
        payload = {
            "test": config.test,
            "language": "es",
            "command": "ORDER_DETAIL_BY_REFERENCE_CODE",
            "merchant": {"apiLogin": config.api_login, "apiKey": config.api_key},
            "details": {"referenceCode": reference},
        }
        data = self._post_api(config.queries_url, payload, api="queries")
        if data.get("code") != "SUCCESS":
            raise GatewayUnavailable(
                f"PayU queries API error: {data.get('error') or data.get('code')}"
            )
        result = data.get("result")
        orders = result.get("payload") if isinstance(result, dict) else None
        if isinstance(orders, dict):
            orders = [orders]
        if not isinstance(orders, list):
            return []
        updates: list[PaymentUpdate] = []
        for order in orders:
            if not isinstance(order, dict):
                continue
            order_reference = str(order.get("referenceCode") or reference)
            if order_reference != reference:
                continue
            transactions = order.get("transactions")
            for transaction in transactions if isinstance(transactions, list) else []:
                if isinstance(transaction, dict):
                    update = self._update_from_transaction(order, transaction, order_reference)
                    if update is not None:
                        updates.append(update)
            if str(order.get("status") or "").upper() == CHARGEBACK_ORDER_STATUS:
                updates.append(self._chargeback(order, order_reference))
        return updates

    def _chargeback(self, order: dict[str, Any], reference: str) -> PaymentUpdate:
        """The order's status says the customer's bank took the money back: a refund nobody here
        asked for, for staff (the Queries API gives no transaction for it, so the order id names it)."""
        order_id = str(order.get("id") or reference)
        tx_value = json_object(json_object(order.get("additionalValues")).get("TX_VALUE"))
        amount: Decimal | None = None
        try:
            amount = Decimal(str(tx_value["value"])) if tx_value.get("value") is not None else None
        except InvalidOperation:
            amount = None
        return PaymentUpdate(
            reference=reference,
            status=GatewayStatus.APPROVED,
            transaction_id=f"chargeback-{order_id}"[:64],
            amount=amount,
            currency=str(tx_value.get("currency")) if tx_value.get("currency") else None,
            merchant_id=None,
            method=None,
            raw_method="",
            message=str(order.get("status") or "CHARGEBACK"),
            dedupe_key=f"payu:chargeback:{order_id}",
            extra={"source": "queries", "reference_pol": order_id, "order_status": "CHARGEBACK"},
            kind=TransactionKind.CHARGEBACK,
        )

    def _update_from_transaction(
        self, order: dict[str, Any], transaction: dict[str, Any], reference: str
    ) -> PaymentUpdate | None:
        """Map one Queries API transaction to a :class:`PaymentUpdate` (``None`` without an id)."""
        transaction_id = str(transaction.get("id") or "").strip()
        if not transaction_id:
            return None
        response = json_object(transaction.get("transactionResponse"))
        raw_state = str(response.get("state") or "").upper()
        state_code, status = QUERY_TRANSACTION_STATES.get(raw_state, ("7", GatewayStatus.PENDING))
        tx_value = json_object(
            json_object(transaction.get("additionalValues")).get("TX_VALUE")
        ) or json_object(json_object(order.get("additionalValues")).get("TX_VALUE"))
        amount: Decimal | None = None
        if tx_value.get("value") is not None:
            try:
                amount = Decimal(str(tx_value["value"]))
            except InvalidOperation:
                amount = None
        occurred_at: datetime | None = None
        operation_date = response.get("operationDate")
        if isinstance(operation_date, int):
            occurred_at = datetime.fromtimestamp(operation_date // 1000, UTC).replace(
                microsecond=(operation_date % 1000) * 1000
            )
        raw_method = str(transaction.get("paymentMethod") or "")
        # Cash and bank-referenced payments carry the voucher's reference and receipt page here
        # (payments-api-colombia.html: extraParameters REFERENCE, URL_PAYMENT_RECEIPT_HTML).
        params = transaction.get("extraParameters") or {}
        extra = {
            "payment_reference": str(params.get("REFERENCE") or ""),
            "receipt_url": str(params.get("URL_PAYMENT_RECEIPT_HTML") or ""),
            "source": "queries",
            "reference_pol": str(order.get("id") or ""),
            "order_status": str(order.get("status") or ""),
            "state": raw_state,
            "response_code": str(response.get("responseCode") or ""),
            "cus": str(response.get("trazabilityCode") or ""),
            "pending_reason": str(response.get("pendingReason") or ""),
            "authorization_code": str(response.get("authorizationCode") or ""),
        }
        transaction_type = str(transaction.get("type") or "").upper()
        is_refund = transaction_type in REFUND_TRANSACTION_TYPES
        if is_refund:
            # A refund's TX_VALUE is the refunded amount; never the order's.
            tx_value = json_object(json_object(transaction.get("additionalValues")).get("TX_VALUE"))
            amount = None
            if tx_value.get("value") is not None:
                try:
                    amount = Decimal(str(tx_value["value"]))
                except InvalidOperation:
                    amount = None
            extra["transaction_type"] = transaction_type
        return PaymentUpdate(
            reference=reference,
            status=status,
            transaction_id=transaction_id,
            amount=amount,
            currency=str(tx_value.get("currency")) if tx_value.get("currency") else None,
            merchant_id=None,
            kind=TransactionKind.REFUND if is_refund else TransactionKind.PAYMENT,
            parent_transaction_id=str(transaction.get("parentTransactionId") or "")[:64]
            if is_refund
            else "",
            method=_method_from_name(raw_method),
            raw_method=raw_method,
            message=str(
                response.get("responseMessage") or response.get("responseCode") or raw_state
            ),
            dedupe_key=f"payu:{transaction_id}:{state_code}",
            occurred_at=occurred_at,
            extra={key: value for key, value in extra.items() if value},
        )

    def cancel(self, reference: str) -> bool:
        """PayU WebCheckout has no merchant-side cancellation of a pending order."""
        return False

    # -- Refunds (Payments API) ---------------------------------------------------------------

    supports_refunds = True

    def refund(self, request: RefundRequest) -> RefundAnswer:
        """``SUBMIT_TRANSACTION`` with ``REFUND`` (whole) or ``PARTIAL_REFUND`` (refunds-api.html).

        PayU answers ``SUCCESS`` with the refund ``PENDING`` (its review decides; the confirmation
        and the Queries API then report it as a REFUND transaction), or ``ERROR`` with a reason
        (declined now: minimum 100 COP, one partial refund per order in Colombia, ...). A network
        failure, a non-2xx or an unreadable answer raise :class:`GatewayUnavailable`: the request
        may have reached PayU, so the caller queries before asking again.
        """
        config = self.config
        try:
            order_id: int | str = int(request.gateway_order_id)
        except ValueError:
            raise GatewayError("PayU refund: the payment has no PayU order id") from None
        transaction: dict[str, Any] = {
            "order": {"id": order_id},
            "type": "REFUND" if request.whole else "PARTIAL_REFUND",
            "reason": " ".join(request.reason.split())[:255] or "Refund",
            "parentTransactionId": request.transaction_id,
        }
        if not request.whole:
            try:
                value = format_amount(request.amount)
            except ValueError as error:
                raise GatewayError(str(error)) from error
            transaction["additionalValues"] = {
                "TX_VALUE": {"value": Decimal(value), "currency": request.currency}
            }
        payload = {
            "language": "es",
            "command": "SUBMIT_TRANSACTION",
            "merchant": {"apiLogin": config.api_login, "apiKey": config.api_key},
            "transaction": transaction,
            "test": config.test,
        }
        data = self._post_api(config.payments_url, payload, api="payments")
        if data.get("code") != "SUCCESS":
            return RefundAnswer(
                status=GatewayStatus.DECLINED,
                refund_id="",
                message=str(data.get("error") or data.get("code") or "refused")[:200],
            )
        answer = json_object(data.get("transactionResponse"))
        raw_state = str(answer.get("state") or "PENDING").upper()
        _code, status = QUERY_TRANSACTION_STATES.get(raw_state, ("7", GatewayStatus.PENDING))
        refund_id = str(answer.get("transactionId") or "").strip()
        if not refund_id and status != GatewayStatus.DECLINED:
            raise GatewayUnavailable("PayU payments API accepted a refund without an id")
        message = str(
            answer.get("pendingReason")
            or answer.get("responseMessage")
            or answer.get("responseCode")
            or raw_state
        )
        return RefundAnswer(status=status, refund_id=refund_id[:64], message=message[:200])

    def _post_api(self, url: str, payload: dict[str, Any], *, api: str) -> dict[str, Any]:
        """POST one JSON command to PayU's ``api`` ("queries", "payments") and return its answer
        object (kept raw in ``last_answer``). Unreachable, non-2xx, not JSON or not an object:
        :class:`GatewayUnavailable` (the answer is unknown; the caller may ask again)."""
        try:
            response = http.request_json("POST", url, json_body=payload)
        except http.HttpError as error:
            raise GatewayUnavailable(f"PayU {api} API unreachable: {error}") from error
        self.last_answer = response.body.decode("utf-8", errors="replace")
        if not response.ok:
            raise GatewayUnavailable(f"PayU {api} API answered HTTP {response.status}")
        try:
            data = response.json()
        except ValueError:
            raise GatewayUnavailable(f"PayU {api} API answer is not JSON") from None
        if not isinstance(data, dict):
            raise GatewayUnavailable(f"PayU {api} API answer is not an object")
        return data

    def describe_config(self) -> dict[str, str]:
        """Configuration for the back office; API login, API key and secret key masked."""
        config = self.config
        return {
            "enabled": "yes" if config.enabled else "no",
            "merchant_id": config.merchant_id,
            "account_id": config.account_id,
            "api_login": mask_secret(config.api_login),
            "api_key": mask_secret(config.api_key),
            "secret_key": mask_secret(config.secret_key) if config.secret_key else "(API key)",
            "signature_algorithm": config.algorithm,
            "test": "yes" if config.test else "no",
            "checkout_url": config.checkout_url,
            "queries_url": config.queries_url,
            "payments_url": config.payments_url,
        }
