"""Payvalida adapter (API Recaudo / CashIn v3 + hosted checkout), merchant side.

Protocol references (Payvalida documentation):

* Register a purchase order (``POST /api/v3/porders``, SHA-512 checksum):
  https://docs.payvalida.com/api-recaudo/api-recaudo-en/purchase-orders/register
  (Spanish: https://docs.payvalida.com/api-cashin/ordenes-de-compra/registrar)
* Consult an order (``GET /api/v3/porders/{order}``):
  https://docs.payvalida.com/api-recaudo/api-recaudo-en/purchase-orders/consult
* Delete a pending order (``DELETE /api/v3/porders/{order}``):
  https://docs.payvalida.com/api-recaudo/api-recaudo-en/purchase-orders/delete
* Notification (``pv_checksum = SHA256(po_id + status + NOTIFICATION_HASH)``):
  https://docs.payvalida.com/api-recaudo/api-recaudo-en/notification
  (Spanish: https://docs.payvalida.com/api-recaudos-plus/api/notificacion)
* Error codes: https://docs.payvalida.com/api-recaudo/api-recaudo-en/messages/excepciones

Amounts are ``Decimal``; Payvalida only accepts integer amounts.

Why one file: this is Payvalida's whole protocol as the merchant sees it (register, consult
and delete an order, the notification and its checksum, the error codes), read against the
documentation above in one place. The checksums and status codes are shared by every call,
so splitting the file would scatter one protocol across modules.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from clientarea.lib import http

from .base import (
    CheckoutAction,
    CheckoutRequest,
    Gateway,
    GatewayError,
    GatewayRefused,
    GatewayStatus,
    GatewayUnavailable,
    InvalidSignature,
    MalformedMessage,
    NotificationReply,
    PaymentMethod,
    PaymentUpdate,
    ReturnInfo,
    TransactionKind,
    UnreadableAnswer,
    decode_notification_body,
    json_object,
    mask_secret,
    require_open_window,
    signatures_match,
)

logger = logging.getLogger(__name__)

# Register page: "POST https://api.payvalida.com/api/v3/porders",
# "Sandbox URL: https://api-test.payvalida.com/api/v3/porders".
PRODUCTION_API_URL = "https://api.payvalida.com"
SANDBOX_API_URL = "https://api-test.payvalida.com"
PORDERS_PATH = "/api/v3/porders"

#: Country code for Colombia ("Currently only 343 is available"; every example uses 343).
COUNTRY_COLOMBIA = 343
PAYVALIDA_TIME_ZONE = ZoneInfo("America/Bogota")

# ``expiration`` is DD/MM/YYYY; it "can't neither surpass 30 days nor be from a date
# before the registration" (register page) and error 0033 says "Expiring date must be
# greather 24 hours" (exceptions page). Stay inside both limits with a one-day margin
# on each side, because the docs do not say which time of day the date stands for.
MIN_EXPIRATION_DAYS = 2
MAX_EXPIRATION_DAYS = 29

# ``method`` codes for the register request, keyed by the method the customer picked.
# ``method`` is optional (register page: without it the order "can be paid by any of
# the methods registered for the merchant", max 25 characters). Only cash codes appear
# in Payvalida's own docs: ``efecty`` (the ORDER_METHOD inside the checkout token of the
# register-page example) and ``baloto`` (the doc-root example). ``tc`` for cards is seen
# only in third-party code for Payvalida's older v2 API, and a PSE code is not published
# at all [INF]. So by default only cash sends a ``method``; card and PSE send none and the
# customer picks the method again on Payvalida's checkout. ``PAYVALIDA_METHOD_CODES``
# (e.g. ``cash=efecty,card=tc,pse=pse``) sets the codes once Payvalida confirms them.
DEFAULT_METHOD_CODES = "cash=efecty"


def parse_method_codes(text: str) -> dict[PaymentMethod, str]:
    """``"cash=efecty,card=tc"`` → ``{CASH: "efecty", CARD: "tc"}``; raises ``ValueError`` on an unknown method."""
    codes: dict[PaymentMethod, str] = {}
    for part in filter(None, (chunk.strip() for chunk in text.split(","))):
        name, separator, code = part.partition("=")
        if not separator or not code.strip():
            raise ValueError(f"PAYVALIDA_METHOD_CODES entry {part!r} is not method=code")
        codes[PaymentMethod(name.strip().lower())] = code.strip()[:25]
    return codes


# ``pv_payment`` / ``PAYMNENT_METHOD`` names -> PaymentMethod (upper-cased, spaces and
# underscores removed before lookup).
_CARD_PAYMENT_NAMES = frozenset(
    {
        "TC",
        "TD",
        "CARD",
        "TARJETA",
        "TARJETACREDITO",
        "TARJETADECREDITO",
        "CREDITCARD",
        "VISA",
        "MASTERCARD",
        "AMEX",
        "AMERICANEXPRESS",
        "DINERS",
        "CODENSA",
    }
)
_CASH_PAYMENT_NAMES = frozenset(
    {
        "EFECTY",
        "BALOTO",
        "SURED",
        "GANA",
        "PUNTORED",
        "SUPERGIROS",
        "REDSERVI",
        "APOSTAR",
        "CASH",
        "EFECTIVO",
    }
)

# DIAN identification codes -> ``user_type_di`` ("ID type of the customer", max 3
# characters). Payvalida publishes no list [INF]: only the abbreviations also used by its
# older card API (CC, CE, TI) and NIT are sent; for other document types the field is left
# out (it is optional) rather than guessed.
PAYVALIDA_DOCUMENT_TYPES: dict[str, str] = {
    "12": "TI",
    "13": "CC",
    "22": "CE",
    "31": "NIT",
}

# Consult ``STATE`` -> (status, notification-style status word used in dedupe keys).
# PENDIENTE: created; APROBADA: paid; VENCIDA: expired; CANCELADA: deleted by the
# merchant; ANULADA: refunded (notification page, order lifecycle).
ORDER_STATES: dict[str, tuple[GatewayStatus, str]] = {
    "APROBADA": (GatewayStatus.APPROVED, "approved"),
    "PENDIENTE": (GatewayStatus.PENDING, "pending"),
    "VENCIDA": (GatewayStatus.EXPIRED, "cancelled"),
    "CANCELADA": (GatewayStatus.EXPIRED, "cancelled"),
    # Not a state of the payment: the money went back (see fetch_status, TransactionKind.REFUND).
    "ANULADA": (GatewayStatus.APPROVED, "refunded"),
}

# Card ``TRANSACTION.RESPONSE_CODE`` values that do not mean "declined" (an approval, or a
# card still being processed).
_CARD_NOT_DECLINED = frozenset({"APPROVED", "APROBADA", "PENDING", "PENDIENTE"})

# Exceptions page: 0013 "Not exist transaction ID", 0041 "Order is not registered or
# are APPROVED, EXPIRED or CANCELLED".
NOT_FOUND_CODES = frozenset({"0013", "0041"})
# 0009 "Processing error", 0028 "An error ocurred on transaction. Try again in a few
# minutes", 0030 "An error occurred when registering the order. Try again in a few minutes".
TRANSIENT_CODES = frozenset({"0009", "0028", "0030"})

_NUMBER_RE = re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)$")
_ORDER_RE = re.compile(r"^[A-Za-z0-9]{1,200}$")


# --------------------------------------------------------------------------------------
# Pure protocol functions
# --------------------------------------------------------------------------------------


def register_checksum(
    email: str, country: int | str, order: str, money: str, amount: str, fixed_hash: str
) -> str:
    """Register ``checksum``: SHA-512 hex of ``email + country + order + money + amount + FIXED_HASH``."""
    payload = f"{email}{country}{order}{money}{amount}{fixed_hash}"
    return hashlib.sha512(payload.encode("utf-8")).hexdigest()


def order_checksum(order: str, merchant: str, fixed_hash: str) -> str:
    """Consult/delete ``checksum``: SHA-512 hex of ``order + merchant + FIXED_HASH``."""
    return hashlib.sha512(f"{order}{merchant}{fixed_hash}".encode()).hexdigest()


def notification_checksum(po_id: str, status: str, notification_hash: str) -> str:
    """Notification ``pv_checksum``: SHA-256 hex of ``po_id + status + NOTIFICATION_HASH``."""
    return hashlib.sha256(f"{po_id}{status}{notification_hash}".encode()).hexdigest()


def order_id(reference: str) -> str:
    """The Payvalida ``order`` for a portal reference: the reference without '-'.

    Payvalida orders "must not contain underscores or special characters" (register,
    Spanish page). Idempotent.
    """
    return reference.replace("-", "")


def clean_text(text: str, limit: int, *, keep_hyphens: bool = False) -> str:
    """``text`` without accents or special characters (letters, digits, spaces, and hyphens
    when ``keep_hyphens``), at most ``limit`` long."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    allowed = r"[^A-Za-z0-9 -]+" if keep_hyphens else r"[^A-Za-z0-9 ]+"
    return " ".join(re.sub(allowed, " ", ascii_text).split())[:limit].strip()


def iva_percentage(tax: Decimal, tax_base: Decimal) -> str:
    """The ``iva`` field: IVA as a percentage of its base ("19"), "0" when exempt."""
    if tax <= 0 or tax_base <= 0:
        return "0"
    percent = (tax * 100 / tax_base).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if percent == percent.to_integral_value():
        return str(int(percent))
    return f"{percent:f}"


def checkout_redirect_url(checkout: str, base_url: str | None) -> str:
    """The browser URL for the ``checkout`` value of a register answer.

    Payvalida returns the checkout without a scheme
    (``"checkout.payvalida.com/?token=eyJ..."``). Like the official WooCommerce
    plugin, the token is taken after ``token=`` and appended to the checkout base:
    ``base_url`` when configured, otherwise ``https://`` + the host/path Payvalida gave.
    Raises :class:`GatewayError` when there is no token.
    """
    prefix, separator, rest = checkout.partition("token=")
    token = rest.split("&", 1)[0].strip()
    if not separator or not token:
        raise GatewayError("Payvalida answer has no checkout token")
    if base_url is None:
        host = prefix.strip().rstrip("?&")
        if not host:
            raise GatewayError("Payvalida answer has no checkout host")
        base_url = host if "://" in host else f"https://{host}"
    return f"{base_url}?token={urllib.parse.quote(token, safe='')}"


def _method_from_name(name: str) -> PaymentMethod | None:
    """Map ``pv_payment``/``PAYMNENT_METHOD`` to a :class:`PaymentMethod` (``None`` when absent)."""
    key = re.sub(r"[\s_-]+", "", name).upper()
    if not key:
        return None
    if key == "PSE":
        return PaymentMethod.PSE
    if key in _CARD_PAYMENT_NAMES or key.startswith("TARJETA"):
        return PaymentMethod.CARD
    if key in _CASH_PAYMENT_NAMES:
        return PaymentMethod.CASH
    return PaymentMethod.OTHER


def _decimal_or_none(value: Any) -> Decimal | None:
    """``Decimal`` for a numeric string/number, ``None`` otherwise."""
    text = str(value).strip() if value is not None else ""
    if not _NUMBER_RE.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


# --------------------------------------------------------------------------------------
# Gateway
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PayvalidaConfig:
    """Everything the adapter needs; built from settings by :meth:`PayvalidaConfig.from_settings`."""

    merchant: str
    fixed_hash: str
    notification_hash: str
    api_url: str
    checkout_url: str | None
    test: bool = True
    enabled: bool = True
    method_codes: Mapping[PaymentMethod, str] = field(
        default_factory=lambda: parse_method_codes(DEFAULT_METHOD_CODES)
    )

    @classmethod
    def from_settings(cls) -> PayvalidaConfig:
        """Read ``PAYVALIDA_*``, ``PAYMENTS_SANDBOX`` and ``SITE_URL`` now.

        API base: ``PAYVALIDA_API_URL`` if set; else the local simulator when
        ``PAYMENTS_SANDBOX``; else ``api-test`` or ``api`` per ``PAYVALIDA_TEST``
        (optional setting, default true). Checkout base: ``PAYVALIDA_CHECKOUT_URL`` if
        set; the simulator's page when the simulator API is used; otherwise ``None``
        (the host returned by Payvalida).
        """
        site_url = str(getattr(settings, "SITE_URL", "")).rstrip("/")
        sandbox = bool(getattr(settings, "PAYMENTS_SANDBOX", False))
        test = bool(getattr(settings, "PAYVALIDA_TEST", True))
        explicit_api = (getattr(settings, "PAYVALIDA_API_URL", "") or "").strip().rstrip("/")
        if explicit_api.endswith(PORDERS_PATH):
            explicit_api = explicit_api[: -len(PORDERS_PATH)]
        explicit_checkout = (getattr(settings, "PAYVALIDA_CHECKOUT_URL", "") or "").strip()
        if explicit_api:
            api_url = explicit_api
        elif sandbox:
            api_url = site_url + settings.PAYMENTS_SANDBOX_PATHS["payvalida_api"]
        else:
            api_url = SANDBOX_API_URL if test else PRODUCTION_API_URL
        if explicit_checkout:
            checkout_url: str | None = explicit_checkout
        elif not explicit_api and sandbox:
            checkout_url = site_url + settings.PAYMENTS_SANDBOX_PATHS["payvalida_checkout"]
        else:
            checkout_url = None
        return cls(
            merchant=str(getattr(settings, "PAYVALIDA_MERCHANT", "")).strip(),
            fixed_hash=str(getattr(settings, "PAYVALIDA_FIXED_HASH", "")).strip(),
            notification_hash=str(getattr(settings, "PAYVALIDA_NOTIFICATION_HASH", "")).strip(),
            api_url=api_url,
            checkout_url=checkout_url,
            test=test,
            enabled=bool(getattr(settings, "PAYVALIDA_ENABLED", True)),
            method_codes=parse_method_codes(
                str(getattr(settings, "PAYVALIDA_METHOD_CODES", DEFAULT_METHOD_CODES))
            ),
        )


class PayvalidaGateway(Gateway):
    """Payvalida: register an order by API, redirect to its checkout, receive notifications."""

    code = "payvalida"
    name = "Payvalida"
    methods = (PaymentMethod.CASH, PaymentMethod.PSE, PaymentMethod.CARD)
    #: ``pv_checksum`` = SHA256(po_id + status + hash): neither the amount nor ``pv_po_id``.
    signed_fields = frozenset({"reference", "status"})

    def __init__(
        self, config: PayvalidaConfig | None = None, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        """Use ``config`` or read it from settings now; ``clock`` returns the current aware time."""
        self.config = config if config is not None else PayvalidaConfig.from_settings()
        self._clock = clock or (lambda: datetime.now(UTC))

    @property
    def enabled(self) -> bool:
        """``PAYVALIDA_ENABLED``."""
        return self.config.enabled

    def accepts_amount(self, amount: Decimal) -> bool:
        """The register API's ``amount`` "only accepts integers": whole pesos only."""
        return amount == amount.to_integral_value()

    def gateway_reference(self, reference: str) -> str:
        """Payvalida's alphanumeric ``order`` for ``reference`` (see :func:`order_id`)."""
        return order_id(reference)

    # -- HTTP helpers --------------------------------------------------------------------------

    def _order_url(self, order: str) -> str:
        """``{api}/api/v3/porders/{order}``."""
        return f"{self.config.api_url}{PORDERS_PATH}/{urllib.parse.quote(order, safe='')}"

    def _call(self, method: str, url: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        """Send a request and return ``(http_status, decoded JSON object)``.

        Network failures, 5xx answers without a JSON body and transient Payvalida codes
        raise :class:`GatewayUnavailable`; other undecodable answers :class:`GatewayError`.
        """
        try:
            response = http.request_json(method, url, **kwargs)
        except http.HttpError as error:
            raise GatewayUnavailable(f"Payvalida unreachable: {error}") from error
        self.last_answer = response.body.decode("utf-8", errors="replace")
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            if response.status >= 500 or response.status == 429:
                raise GatewayUnavailable(f"Payvalida answered HTTP {response.status}")
            if response.status == 404:
                return response.status, {}
            raise UnreadableAnswer(
                f"Payvalida answered HTTP {response.status} without a JSON object"
            )
        code = str(data.get("CODE", ""))
        if code in TRANSIENT_CODES:
            raise GatewayUnavailable(
                f"Payvalida error {code}: {data.get('DESC', '')}",
                gateway_message=f"{data.get('DESC', '')} ({code})"[:200],
            )
        return response.status, data

    # -- checkout ------------------------------------------------------------------------------

    def _expiration(self, expires_at: datetime) -> str:
        """``expiration`` as DD/MM/YYYY (Bogotá date), kept within Payvalida's limits."""
        return self._expiration_day(expires_at).strftime("%d/%m/%Y")

    def deadline(self, expires_at: datetime) -> datetime:
        """The moment the order stops being payable: the end of its ``expiration`` day in Bogotá.

        [INF] Payvalida takes a date only; its checkout and vouchers are read as valid through
        that whole day (23:59:59 Colombia time), and the portal uses the same instant.
        """
        day = self._expiration_day(expires_at)
        return datetime.combine(day, time(23, 59, 59), tzinfo=PAYVALIDA_TIME_ZONE)

    def _expiration_day(self, expires_at: datetime) -> date:
        now = self._clock()
        require_open_window(expires_at, now=now)
        today = now.astimezone(PAYVALIDA_TIME_ZONE).date()
        wanted = expires_at.astimezone(PAYVALIDA_TIME_ZONE).date()
        return min(
            max(wanted, today + timedelta(days=MIN_EXPIRATION_DAYS)),
            today + timedelta(days=MAX_EXPIRATION_DAYS),
        )

    def register_body(self, request: CheckoutRequest) -> dict[str, Any]:
        """The JSON body of ``POST /api/v3/porders`` for ``request``.

        Raises :class:`GatewayError` for non-integer amounts (Payvalida "only accepts
        integers"), references that do not give an alphanumeric order, and expired
        payment windows.
        """
        config = self.config
        order = order_id(request.reference)
        if not _ORDER_RE.fullmatch(order):
            raise GatewayError("Payvalida order must be 1-200 ASCII letters or digits")
        amount = request.amount
        if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
            raise GatewayError("amount must be a positive Decimal")
        if not self.accepts_amount(amount):
            raise GatewayError("Payvalida only accepts integer amounts")
        amount_str = str(int(amount))
        buyer = request.buyer
        # ``description``: "Descripción corta de la orden. No incluir caracteres especiales"
        # (https://docs.payvalida.com/api-cashin/ordenes-de-compra/registrar; EN register
        # page: max 250). The docs give no list of special characters; the ``order`` field
        # names underscores separately and none of them names the hyphen, so the hyphen
        # of the order number is kept as the customer knows it ("ODS-000003") [INF].
        description = clean_text(request.description, 250, keep_hyphens=True) or f"Pago {order}"
        body: dict[str, Any] = {
            "merchant": config.merchant,
            "email": buyer.email,
            "country": COUNTRY_COLOMBIA,
            "order": order,
            "money": request.currency,
            "amount": amount_str,
            "description": description,
            "language": request.language if request.language in {"es", "en"} else "es",
            "recurrent": False,
            "expiration": self._expiration(request.expires_at),
            "iva": iva_percentage(request.tax, request.tax_base),
            "checksum": register_checksum(
                buyer.email,
                COUNTRY_COLOMBIA,
                order,
                request.currency,
                amount_str,
                config.fixed_hash,
            ),
        }
        if request.method is not None and request.method in config.method_codes:
            body["method"] = config.method_codes[request.method]
        document = re.sub(r"[\s.-]", "", buyer.document_number)
        if document.isdigit() and len(document) <= 15:
            body["user_di"] = document
            if buyer.document_type in PAYVALIDA_DOCUMENT_TYPES:
                body["user_type_di"] = PAYVALIDA_DOCUMENT_TYPES[buyer.document_type]
        name = clean_text(buyer.full_name, 25)
        if name:
            body["user_name"] = name
        return body

    def start_checkout(self, request: CheckoutRequest) -> CheckoutAction:
        """Register the order at Payvalida and return the GET redirect to its checkout.

        Raises :class:`GatewayUnavailable` when Payvalida cannot be reached (or reports
        a transient error) and :class:`GatewayError` with Payvalida's ``DESC`` when it
        refuses the order.
        """
        body = self.register_body(request)
        status, data = self._call("POST", f"{self.config.api_url}{PORDERS_PATH}", json_body=body)
        code = str(data.get("CODE", ""))
        if code != "0000":
            description = str(data.get("DESC") or f"HTTP {status}")
            logger.warning("Payvalida refused order %s: %s %r", body["order"], code, description)
            raise GatewayRefused(
                f"Payvalida refused the order: {description} ({code or 'no code'})",
                gateway_message=f"{description} ({code or 'no code'})"[:200],
            )
        result = data.get("DATA")
        if not isinstance(result, dict) or not result.get("checkout"):
            raise UnreadableAnswer("Payvalida answer has no checkout")
        url = checkout_redirect_url(str(result["checkout"]), self.config.checkout_url)
        pv_order = result.get("PVordenID")
        return CheckoutAction(
            method="GET",
            url=url,
            fields={},
            gateway_order_id=str(pv_order) if pv_order not in (None, "") else None,
            raw_response=data,
            expires_at=self.deadline(request.expires_at),
        )

    # -- notification ----------------------------------------------------------------------------

    def parse_notification(self, *, body: bytes, content_type: str) -> PaymentUpdate:
        """Verify and parse a Payvalida notification (JSON or form body).

        ``pv_checksum`` is compared in constant time and case-insensitively (the docs
        print checksums in upper-case hex). ``amount`` and ``pv_payment`` are not
        covered by the checksum: the caller must check the amount against its own
        records. Raises :class:`MalformedMessage` or :class:`InvalidSignature`.
        """
        data = {
            key: value.strip()
            for key, value in decode_notification_body(body, content_type).items()
        }
        missing = [
            name for name in ("pv_po_id", "po_id", "status", "pv_checksum") if not data.get(name)
        ]
        if missing:
            raise MalformedMessage(f"Payvalida notification without {', '.join(missing)}")
        expected = notification_checksum(
            data["po_id"], data["status"], self.config.notification_hash
        )
        if not signatures_match(expected, data["pv_checksum"]):
            logger.warning(
                "Payvalida notification for %r rejected: invalid checksum", data["po_id"]
            )
            raise InvalidSignature("Payvalida pv_checksum does not match")
        raw_status = data["status"].lower()
        if raw_status == "approved":
            status = GatewayStatus.APPROVED
        elif raw_status == "cancelled":
            # Notified for orders that expired unpaid (VENCIDA) or payments refunded on
            # the customer's claim (ANULADA).
            status = GatewayStatus.EXPIRED
        else:
            raise MalformedMessage(f"unknown Payvalida status {data['status']!r}")
        amount: Decimal | None = None
        if data.get("amount"):
            amount = _decimal_or_none(data["amount"])
            if amount is None:
                raise MalformedMessage("Payvalida amount is not a decimal number")
        raw_method = data.get("pv_payment", "")
        return PaymentUpdate(
            reference=data["po_id"],
            status=status,
            transaction_id=data["pv_po_id"],
            amount=amount,
            currency=data.get("iso_currency") or None,
            merchant_id=None,
            method=_method_from_name(raw_method),
            raw_method=raw_method,
            message=data["status"],  # Payvalida's word, as it sent it
            dedupe_key=f"payvalida:{data['pv_po_id']}:{raw_status}",
            occurred_at=None,
            extra={"pv_po_id": data["pv_po_id"], "po_id": data["po_id"], "status": data["status"]},
        )

    def notification_reply(
        self,
        *,
        ok: bool,
        message: str = "",
        invalid_signature: bool = False,
        unknown_reference: bool = False,
    ) -> NotificationReply:
        """Payvalida records the answer text (``NOTIFICATION_RESPONSE`` in the consult API).

        The notification page asks for "OK" on success and "ERROR" otherwise, with a short
        description ("OK. Payment registered", "ERROR. Order not recognized"); it defines
        no HTTP status semantics, so processed messages (accepted or rejected) get 200 and
        the verdict is in the text. A forged message gets 403 "ERROR. invalid checksum".
        """
        if invalid_signature:
            return NotificationReply(status_code=403, body="ERROR. invalid checksum")
        if unknown_reference:  # the docs' own example answer
            return NotificationReply(status_code=200, body="ERROR. Order not recognized")
        if ok:
            return NotificationReply(status_code=200, body=f"OK. {message}" if message else "OK")
        return NotificationReply(
            status_code=200, body=f"ERROR. {message or 'notification rejected'}"
        )

    # -- browser return --------------------------------------------------------------------------

    def parse_return(self, params: Mapping[str, str]) -> ReturnInfo:
        """The browser comes back from the Payvalida checkout without signed data.

        Only the reference the portal put in its own return URL (``reference``, ``order``
        or ``po_id``) is read; the status is always PENDING and ``signature_valid`` None (unsigned).
        Raises :class:`MalformedMessage` when no reference is present.
        """
        reference = ""
        for name in ("reference", "order", "po_id"):
            reference = (params.get(name) or "").strip()
            if reference:
                break
        if not reference:
            raise MalformedMessage("Payvalida return without reference")
        return ReturnInfo(
            reference=reference,
            status=GatewayStatus.PENDING,
            signature_valid=None,  # Payvalida's return carries no signature
            amount=None,
            currency=None,
            message="",
            transaction_id="",
        )

    # -- consult / delete --------------------------------------------------------------------------

    def _order_params(self, order: str, *, additional_info: bool) -> dict[str, str]:
        """Query parameters authenticating a consult/delete of ``order``."""
        params = {
            "merchant": self.config.merchant,
            "checksum": order_checksum(order, self.config.merchant, self.config.fixed_hash),
        }
        if additional_info:
            # "aditionalinfo" [sic]: "cuspse" adds ADITIONAL_INFO.CUS for PSE payments.
            params["aditionalinfo"] = "cuspse"
        return params

    def fetch_status(self, reference: str) -> list[PaymentUpdate]:
        """Consult the order for ``reference``; ``[]`` when Payvalida does not know it, or
        knows it only as registered (PENDIENTE with no payment method yet)."""
        order = order_id(reference)
        status, data = self._call(
            "GET", self._order_url(order), params=self._order_params(order, additional_info=True)
        )
        code = str(data.get("CODE", ""))
        if status == 404 or code in NOT_FOUND_CODES:
            return []
        if code != "0000":
            raise GatewayError(
                f"Payvalida consult failed: {data.get('DESC') or f'HTTP {status}'} ({code or 'no code'})"
            )
        result = data.get("DATA")
        if not isinstance(result, dict) or not result:
            return []
        raw_state = str(result.get("STATE") or "").upper()
        gateway_status, status_word = ORDER_STATES.get(
            raw_state, (GatewayStatus.PENDING, raw_state.lower() or "unknown")
        )
        pv_order = str(result.get("CODE") or "").strip()
        transaction_id = pv_order or order
        raw_method = str(result.get("PAYMNENT_METHOD") or result.get("PAYMENT_METHOD") or "")
        if raw_state == "PENDIENTE" and not raw_method:
            # Registered, but no method chosen yet: every unpaid order is PENDIENTE, so this
            # says nothing about a payment in process (the customer may have closed the page).
            return []
        card = json_object(result.get("TRANSACTION"))
        card_code = str(card.get("RESPONSE_CODE") or "").strip().upper()
        if (
            raw_state == "PENDIENTE"
            and _method_from_name(raw_method) == PaymentMethod.CARD
            and card_code
            and card_code not in _CARD_NOT_DECLINED
        ):
            # A declined card leaves the order PENDIENTE (payable again, and not notified):
            # the card's response code is the only word on it. A later approval still applies.
            when = str(card.get("DATE") or "").replace(" ", "T")
            gateway_status, status_word = GatewayStatus.DECLINED, f"declined:{when}"
            extra_card = {"card_response_code": card_code}
        else:
            extra_card = {}
        additional = json_object(result.get("ADITIONAL_INFO"))
        occurred_at: datetime | None = None
        try:
            occurred_at = datetime.strptime(
                str(result.get("UDPATE_DATE") or ""), "%Y-%m-%d %H:%M:%S"
            ).replace(tzinfo=PAYVALIDA_TIME_ZONE)
        except ValueError:
            occurred_at = None
        extra = {
            "source": "consult",
            "state": raw_state,
            "pv_po_id": pv_order,
            "payment_reference": str(result.get("REFERENCE") or ""),
            "cus": str(additional.get("CUS") or ""),
            "notification_response": str(result.get("NOTIFICATION_RESPONSE") or ""),
            **extra_card,
        }
        if raw_state == "ANULADA":
            # Refunded (annulled) at Payvalida: on the customer's claim (notified "cancelled") or
            # at the merchant's request (not notified). A refund, never an expiry of the payment.
            refund_id = f"anulada-{transaction_id}"[:64]
            return [
                PaymentUpdate(
                    reference=str(result.get("ORDER") or order),
                    status=GatewayStatus.APPROVED,
                    transaction_id=refund_id,
                    amount=_decimal_or_none(result.get("AMOUNT")),
                    currency=str(result.get("CURRENCY")) if result.get("CURRENCY") else None,
                    merchant_id=None,
                    method=_method_from_name(raw_method),
                    raw_method=raw_method,
                    message=raw_state,
                    dedupe_key=f"payvalida:{refund_id}:refunded",
                    occurred_at=occurred_at,
                    extra={key: value for key, value in extra.items() if value},
                    kind=TransactionKind.REFUND,
                    parent_transaction_id=transaction_id,
                )
            ]
        return [
            PaymentUpdate(
                reference=str(result.get("ORDER") or order),
                status=gateway_status,
                transaction_id=transaction_id,
                amount=_decimal_or_none(result.get("AMOUNT")),
                currency=str(result.get("CURRENCY")) if result.get("CURRENCY") else None,
                merchant_id=None,
                method=_method_from_name(raw_method),
                raw_method=raw_method,
                # Payvalida's words as it sent them: the card's response code of a decline (the
                # order stays PENDIENTE), else the order's state.
                message=card_code if extra_card else raw_state,
                dedupe_key=f"payvalida:{transaction_id}:{status_word}",
                occurred_at=occurred_at,
                extra={key: value for key, value in extra.items() if value},
            )
        ]

    def cancel(self, reference: str) -> bool:
        """Delete a PENDING order (it becomes CANCELADA and is not notified).

        ``True`` when deleted; ``False`` when Payvalida says it is not registered or no
        longer pending (codes 0013/0041). Raises :class:`GatewayUnavailable` /
        :class:`GatewayError` otherwise.
        """
        order = order_id(reference)
        status, data = self._call(
            "DELETE",
            self._order_url(order),
            params=self._order_params(order, additional_info=False),
        )
        code = str(data.get("CODE", ""))
        if code == "0000":
            return True
        if status == 404 or code in NOT_FOUND_CODES:
            return False
        raise GatewayError(
            f"Payvalida delete failed: {data.get('DESC') or f'HTTP {status}'} ({code or 'no code'})"
        )

    def describe_config(self) -> dict[str, str]:
        """Configuration for the back office; the two hashes masked."""
        config = self.config
        return {
            "enabled": "yes" if config.enabled else "no",
            "merchant": config.merchant,
            "fixed_hash": mask_secret(config.fixed_hash),
            "notification_hash": mask_secret(config.notification_hash),
            "test": "yes" if config.test else "no",
            "api_url": config.api_url,
            "checkout_url": config.checkout_url or "(host returned by Payvalida)",
        }
