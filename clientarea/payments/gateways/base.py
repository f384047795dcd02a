"""Gateway interface and the protocol-neutral dataclasses gateways produce.

A gateway adapter only speaks its provider's protocol: it builds the checkout
request, verifies and parses notifications, queries the provider for
reconciliation and renders the acknowledgement the provider expects. It never
touches orders, invoices or the database; the payments domain consumes the
dataclasses below.
"""

from __future__ import annotations

import hmac
import json
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


class PaymentMethod(StrEnum):
    """Family of payment method, as far as the portal cares."""

    CARD = "card"
    PSE = "pse"
    CASH = "cash"
    OTHER = "other"


class GatewayStatus(StrEnum):
    """Normalised state of one transaction / order attempt at the gateway."""

    APPROVED = "approved"
    DECLINED = "declined"
    EXPIRED = "expired"
    PENDING = "pending"
    ERROR = "error"


class TransactionKind(StrEnum):
    """What a gateway transaction is: a payment, a refund of one, or a chargeback (the
    customer's bank took the money back). A refund or chargeback reported by a gateway never
    pays or un-pays an order: it is matched with the refund staff asked for, or flagged."""

    PAYMENT = "payment"
    REFUND = "refund"
    CHARGEBACK = "chargeback"


@dataclass(frozen=True)
class Buyer:
    """The payer.

    ``document_type`` is the DIAN code: "13" CC, "22" CE, "31" NIT, "41" passport,
    "42" foreign document (also understood: "11" registro civil, "12" tarjeta de
    identidad). ``person_type`` is "natural" or "juridica".
    """

    full_name: str
    email: str
    phone: str
    document_type: str
    document_number: str
    person_type: str = "natural"


@dataclass(frozen=True)
class CheckoutRequest:
    """One payment attempt.

    ``reference`` is unique per attempt (ASCII letters, digits and '-'). Gateways that
    only accept alphanumeric identifiers derive theirs with
    :meth:`Gateway.gateway_reference`. ``amount`` is the total including IVA;
    ``tax``/``tax_base`` are the IVA and its base (both 0 when exempt).
    ``expires_at`` must be timezone-aware.
    """

    reference: str
    amount: Decimal
    tax: Decimal
    tax_base: Decimal
    currency: str
    description: str
    buyer: Buyer
    response_url: str
    confirmation_url: str
    language: str
    expires_at: datetime
    method: PaymentMethod | None = None


@dataclass(frozen=True)
class CheckoutAction:
    """What the browser must do to start paying.

    ``method`` "POST": render an auto-submitted form posting ``fields`` to ``url``;
    "GET": redirect to ``url`` (``fields`` empty).
    """

    method: str
    url: str
    fields: dict[str, str]
    gateway_order_id: str | None = None
    raw_response: dict[str, Any] | None = None
    #: The deadline the gateway was given, as it will enforce it (adapters fit the requested
    #: ``expires_at`` to the gateway's limits and format): the portal shows and uses this one.
    expires_at: datetime | None = None


@dataclass(frozen=True)
class PaymentUpdate:
    """A verified statement from the gateway about one transaction.

    ``dedupe_key`` identifies this message's content (same transaction and same
    state give the same key), so redelivered notifications and query results for
    an already-recorded state can be skipped. ``extra`` holds non-personal
    protocol details (cus, pse_bank, response_code, ...).
    """

    reference: str
    status: GatewayStatus
    transaction_id: str
    amount: Decimal | None
    currency: str | None
    merchant_id: str | None
    method: PaymentMethod | None
    raw_method: str
    message: str
    dedupe_key: str
    occurred_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: A refund or chargeback of the payment ``reference`` names (``status`` is then the
    #: refund's own state: approved = the money went back), or the payment itself.
    kind: TransactionKind = TransactionKind.PAYMENT
    #: For a refund: the payment transaction it returns, when the gateway says.
    parent_transaction_id: str = ""


@dataclass(frozen=True)
class RefundRequest:
    """Return money of one approved payment through the gateway's refund API.

    ``gateway_order_id`` / ``transaction_id``: the gateway's order and approved transaction;
    ``whole``: the whole payment (else ``amount``, at most two decimals, is a partial refund).
    """

    reference: str
    gateway_order_id: str
    transaction_id: str
    amount: Decimal
    currency: str
    whole: bool
    reason: str


@dataclass(frozen=True)
class RefundAnswer:
    """The gateway's answer to a refund request.

    ``status``: PENDING (accepted, the gateway decides later: its confirmation or a status
    query tells), APPROVED (returned), DECLINED (refused now; ``message`` says why).
    ``refund_id`` is the gateway's id of the refund transaction (empty when refused).
    """

    status: GatewayStatus
    refund_id: str
    message: str


@dataclass(frozen=True)
class ReturnInfo:
    """What the browser brought back from the gateway: for display only, never trusted."""

    reference: str
    status: GatewayStatus
    #: True / False when the gateway signs its return, None when it sends no signature at all.
    signature_valid: bool | None
    amount: Decimal | None
    currency: str | None
    message: str
    transaction_id: str


@dataclass(frozen=True)
class NotificationReply:
    """The HTTP answer to give the gateway for a notification."""

    status_code: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


class GatewayError(Exception):
    """Any failure talking to or understanding a gateway. ``gateway_message``: what the gateway
    itself said about it, if anything (its refusal, its error code and description), shown to
    staff as the gateway's words; the exception's own text is for logs."""

    def __init__(self, *args: object, gateway_message: str = "") -> None:
        super().__init__(*args)
        self.gateway_message = gateway_message


class GatewayRefused(GatewayError):
    """The gateway answered and refused the request (its words in ``gateway_message``)."""


class UnreadableAnswer(GatewayError):
    """The gateway answered something that cannot be read (not JSON, fields missing)."""


class InvalidSignature(GatewayError):
    """The message's signature/checksum does not match: treat it as forged."""


class MalformedMessage(GatewayError):
    """The message lacks required fields or has unreadable values."""


class GatewayUnavailable(GatewayError):
    """The gateway could not be reached or answered with a transient failure; retry later."""


class UnknownGateway(GatewayError, LookupError):
    """No gateway is configured under that code."""


def mask_secret(value: str | None) -> str:
    """Show a secret in the back office without revealing it: ``"4Vj8…UA"``.

    Short secrets (fewer than 10 characters) are fully hidden; empty ones read
    "(not set)".
    """
    if not value:
        return "(not set)"
    if len(value) < 10:
        return "…"
    return f"{value[:4]}…{value[-2:]}"


def signatures_match(expected: str, received: str) -> bool:
    """Constant-time, case-insensitive comparison of two hex digests."""
    return hmac.compare_digest(
        expected.strip().lower().encode("utf-8"), received.strip().lower().encode("utf-8")
    )


def decode_notification_body(body: bytes, content_type: str) -> dict[str, str]:
    """Decode a notification body (form-urlencoded or JSON object) into a flat ``str -> str`` dict.

    JSON numbers keep their literal text (no float conversion); ``null`` becomes "".
    Raises :class:`MalformedMessage` for undecodable bodies, and for a NUL character in any
    name or value: no gateway sends one, and it cannot be stored in a PostgreSQL text column.
    """
    result = _decode_fields(body, content_type)
    for key, value in result.items():
        if "\x00" in key or "\x00" in value:
            raise MalformedMessage(f"NUL character in field {key.replace(chr(0), '?')[:40]!r}")
    return result


def _decode_fields(body: bytes, content_type: str) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedMessage("body is not UTF-8") from None
    is_json = "json" in (content_type or "").lower() or text.lstrip().startswith("{")
    if is_json:
        try:
            data = json.loads(text, parse_float=str, parse_int=str)
        except ValueError:
            raise MalformedMessage("body is not valid JSON") from None
        if not isinstance(data, dict):
            raise MalformedMessage("JSON body is not an object")
        result: dict[str, str] = {}
        for key, value in data.items():
            if value is None:
                result[str(key)] = ""
            elif isinstance(value, bool):
                result[str(key)] = "true" if value else "false"
            elif isinstance(value, str):
                result[str(key)] = value
            else:
                result[str(key)] = json.dumps(value)
        return result
    try:
        pairs = urllib.parse.parse_qsl(
            text, keep_blank_values=True, strict_parsing=False, errors="strict"
        )
    except (ValueError, UnicodeDecodeError):
        raise MalformedMessage("body is not form-urlencoded") from None
    result = {}
    for key, value in pairs:
        result.setdefault(key, value)
    return result


def json_object(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object (a dict), else an empty one: a gateway's answer read
    defensively."""
    return value if isinstance(value, dict) else {}


def require_open_window(expires_at: datetime, *, now: datetime) -> None:
    """Refuse (:class:`GatewayError`) a payment window that is not timezone-aware or is over."""
    if expires_at.tzinfo is None or expires_at.utcoffset() is None:
        raise GatewayError("expires_at must be timezone-aware")
    if expires_at <= now:
        raise GatewayError("the payment window has already expired")


class Gateway(ABC):
    """A payment gateway adapter (merchant side)."""

    code: str
    name: str
    methods: tuple[PaymentMethod, ...]
    #: The raw body of the gateway's last API answer (status queries), for the message log.
    last_answer: str = ""
    #: The :class:`PaymentUpdate` fields a notification's signature covers. Anything else in a
    #: notification (e.g. PayU's and Payvalida's transaction id, Payvalida's amount) may have been
    #: changed by whoever replays a genuinely signed message, so it is only a claim until the
    #: gateway's own status API confirms it.
    signed_fields: frozenset[str] = frozenset({"reference", "status"})

    @property
    @abstractmethod
    def enabled(self) -> bool:
        """Whether the back office enabled this gateway (``<CODE>_ENABLED``)."""

    def accepts_amount(self, amount: Decimal) -> bool:
        """Whether the protocol can carry ``amount`` (e.g. Payvalida takes whole pesos only)."""
        return True

    def gateway_reference(self, reference: str) -> str:
        """The identifier the gateway uses for ``reference`` (identity by default).

        :attr:`PaymentUpdate.reference` carries this value; it is idempotent, so it
        may be applied to a value that is already a gateway reference.
        """
        return reference

    @abstractmethod
    def start_checkout(self, request: CheckoutRequest) -> CheckoutAction:
        """Prepare the browser step for ``request``; raises :class:`GatewayError` on refusal."""

    @abstractmethod
    def parse_notification(self, *, body: bytes, content_type: str) -> PaymentUpdate:
        """Verify and parse a server-to-server notification.

        Raises :class:`InvalidSignature` or :class:`MalformedMessage`.
        """

    @abstractmethod
    def parse_return(self, params: Mapping[str, str]) -> ReturnInfo:
        """Parse the browser return (display only, never trusted for state changes)."""

    @abstractmethod
    def fetch_status(self, reference: str) -> list[PaymentUpdate]:
        """Ask the gateway about ``reference`` (reconciliation); ``[]`` when not found.

        Raises :class:`GatewayUnavailable` when the gateway cannot be queried now.
        """

    #: Whether :meth:`refund` returns money through the gateway's API (else staff refund by
    #: hand, at the gateway's back office or by bank transfer, and record it).
    supports_refunds: bool = False

    def refund(self, request: RefundRequest) -> RefundAnswer:
        """Ask the gateway to return money of an approved payment.

        Raises :class:`GatewayUnavailable` when the answer is unknown (timeout, 5xx: the request
        may or may not have reached the gateway) and :class:`GatewayError` when unsupported.
        """
        raise GatewayError(f"{self.name} has no refund API")

    @abstractmethod
    def cancel(self, reference: str) -> bool:
        """Cancel a pending order at the gateway; ``False`` when not possible/supported."""

    @abstractmethod
    def notification_reply(
        self,
        *,
        ok: bool,
        message: str = "",
        invalid_signature: bool = False,
        unknown_reference: bool = False,
    ) -> NotificationReply:
        """The HTTP answer for a notification that was processed (``ok``), rejected, forged, or
        verified but about a reference we never issued (logged; the gateway must not retry it)."""

    @abstractmethod
    def describe_config(self) -> dict[str, str]:
        """The configuration for the back office, secrets masked with :func:`mask_secret`."""
