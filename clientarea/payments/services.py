"""Payments: start an attempt, take in gateway messages, apply them exactly once, reconcile, refund.

The one rule: a gateway statement changes a payment only through :func:`apply_update`
(notifications, status queries and the back office all call it), and an order
changes only through ``billing.services.mark_order_paid``.

Exactly-once, by construction:

* every notification is stored (``PaymentMessage``) before anything trusts it, so
  even forged or broken ones stay in the log;
* a verified notification claims its ``(gateway, dedupe_key)`` with a unique
  constraint when it is stored, and the endpoint answers only after that commit: a
  redelivery (or a concurrent copy) is stored as "duplicate" and changes nothing;
* the worker applies a stored notification (:func:`apply_message`) in one
  transaction that also marks it processed, so a queued job, the sweep and a staff
  "apply again" cannot apply it twice, and a failure leaves it waiting for the sweep;
* status queries claim their own ``query:`` key in the transaction that applies them;
* the order row, then the payment row, are locked (``select_for_update``) while a
  statement is applied, and ``mark_order_paid`` pays an order at most once. A
  second, different approved transaction for a paid order is flagged for refund,
  never applied twice.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from clientarea.accounts.models import Customer
from clientarea.accounts.selectors import get_provider
from clientarea.billing import services as billing_services
from clientarea.billing.models import Order, OrderState
from clientarea.catalog.models import TaxTreatment
from clientarea.lib.money import ZERO
from clientarea.payments import selectors
from clientarea.payments.gateways import get_gateway
from clientarea.payments.gateways.base import (
    Buyer,
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
    UnknownGateway,
)
from clientarea.payments.models import (
    OPEN_STATUSES,
    GatewaySwitch,
    MessageKind,
    Payment,
    PaymentMessage,
    PaymentStatus,
    RefundStatus,
)

logger = logging.getLogger(__name__)

#: How long a payment (and a cash voucher) stays valid. PayU allows at most 7 days for
#: cash ``expirationDate`` outside Argentina (payment-form doc); Payvalida up to 30.
PAYMENT_VALIDITY = dt.timedelta(days=7)
#: Stored bodies are cut here (notifications above PAYMENTS_NOTIFICATION_MAX_BYTES are refused anyway).
BODY_CAP = 16 * 1024
#: A verified notification that fails to apply is tried this often (once a minute by the sweep), then waits for a person.
MESSAGE_MAX_ATTEMPTS = 10
#: Request headers kept with a message: nothing that authenticates anybody.
KEPT_HEADERS = (
    "content-type",
    "content-length",
    "user-agent",
    "x-forwarded-for",
    "x-real-ip",
    "x-forwarded-proto",
    "accept",
)
#: Checkout fields never stored: they are (or are derived from) secrets.
SECRET_FIELDS = frozenset(
    {"signature", "checksum", "apikey", "apilogin", "api_key", "api_login", "sign", "key", "secret"}
)
#: A created attempt the gateway still does not know after this long was abandoned (PayU card page closed).
ABANDONED_AFTER = dt.timedelta(hours=24)
#: The browser return asks the gateway at most this often per payment.
RETURN_CHECK_INTERVAL = dt.timedelta(seconds=60)

#: Cash networks as customers know them (gateway method codes upper-cased, without spaces or underscores).
CASH_NETWORKS = {
    "EFECTY": "Efecty",
    "BALOTO": "Baloto",
    "SURED": "SuRed",
    "GANA": "Gana",
    "PUNTORED": "PuntoRed",
    "SUPERGIROS": "SuperGIROS",
    "REDSERVI": "Redservi",
    "APOSTAR": "Apostar",
    "SUCHANCE": "SuChance",
}
NOTIFICATION_KINDS = {"payu": MessageKind.CONFIRMATION, "payvalida": MessageKind.NOTIFICATION}
RESPONSE_URL_NAMES = {"payu": "payments:payu_response", "payvalida": "payments:payvalida_return"}
NOTIFY_URL_NAMES = {
    "payu": "payments:payu_confirmation",
    "payvalida": "payments:payvalida_notification",
}

_STATUS_FROM_GATEWAY = {
    GatewayStatus.APPROVED: PaymentStatus.APPROVED,
    GatewayStatus.DECLINED: PaymentStatus.DECLINED,
    GatewayStatus.EXPIRED: PaymentStatus.EXPIRED,
    GatewayStatus.ERROR: PaymentStatus.ERROR,
    GatewayStatus.PENDING: PaymentStatus.PENDING,
}
_NEGATIVE = (GatewayStatus.DECLINED, GatewayStatus.EXPIRED, GatewayStatus.ERROR)
# Query results are applied in this order, so an approval always wins and a newer
# pending transaction is not hidden by an older declined one.
_APPLY_ORDER = {
    GatewayStatus.ERROR: 0,
    GatewayStatus.DECLINED: 0,
    GatewayStatus.EXPIRED: 0,
    GatewayStatus.PENDING: 1,
    GatewayStatus.APPROVED: 2,
}


class PaymentRefused(Exception):
    """A payment cannot be started; ``message`` is for the customer, ``code`` for the caller.

    Codes: ``not_found`` (not the customer's order), ``not_payable`` (paid or cancelled),
    ``profile_incomplete``, ``gateway`` (unknown/disabled gateway or method),
    ``gateway_error`` (the gateway refused or could not be reached).
    """

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class PaymentStateError(Exception):
    """A back-office action the payment's state does not allow (message is for staff)."""


@dataclass(frozen=True)
class ApplyResult:
    """What one gateway statement did: ``outcome`` is the inbox text ("applied", "duplicate", ...)."""

    outcome: str
    payment: Payment | None = None
    order_paid: bool = False


@dataclass
class ReconcileSummary:
    checked: int = 0
    paid: int = 0
    changed: int = 0
    unchanged: int = 0
    expired: int = 0
    cancelled_at_gateway: int = 0
    unavailable: int = 0
    errors: int = 0
    outcomes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {key: value for key, value in self.__dict__.items() if key != "outcomes"}


# --------------------------------------------------------------------------------------
# Starting a payment
# --------------------------------------------------------------------------------------


def taxed_base(order: Order) -> Decimal:
    """IVA base for the gateway: the subtotals of the taxed items (exempt and excluded items are not part of it)."""
    base = ZERO
    for item in order.items.all():
        if item.tax_treatment == TaxTreatment.TAXED and item.tax_amount > 0:
            base += item.subtotal
    return base


def buyer_for(customer: Customer) -> Buyer:
    return Buyer(
        full_name=customer.display_name,
        email=customer.user.email,
        phone=customer.phone,
        document_type=customer.document_type,
        document_number=customer.document_number,
        person_type=customer.person_type,
    )


def gateway_language(language: str | None) -> str:
    return "en" if (language or "").lower().startswith("en") else "es"


def _absolute(url_name: str) -> str:
    return settings.SITE_URL + reverse(url_name)


def _safe_checkout(action: CheckoutAction) -> dict:
    """What the browser was sent with, minus anything derived from a secret."""
    fields = {
        key: value for key, value in action.fields.items() if key.lower() not in SECRET_FIELDS
    }
    payload: dict = {"method": action.method, "url": action.url.split("?", 1)[0], "fields": fields}
    if isinstance(action.raw_response, dict):
        data = action.raw_response.get("DATA")
        if isinstance(data, dict):
            payload["gateway_answer"] = {
                k: str(v)
                for k, v in data.items()
                if k.lower() not in SECRET_FIELDS and k != "checkout"
            }
    return payload


def _initial_instructions(action: CheckoutAction, payment: Payment) -> dict:
    instructions: dict = {
        "expires_at": payment.expires_at.isoformat() if payment.expires_at else ""
    }
    if action.method == "GET":
        # Payvalida's hosted checkout shows the voucher again: the customer can reopen it.
        instructions["checkout_url"] = action.url
    data = action.raw_response.get("DATA") if isinstance(action.raw_response, dict) else None
    if isinstance(data, dict) and data.get("Referencia"):
        instructions["voucher_reference"] = str(data["Referencia"])
    return instructions


def start_payment(
    *,
    order: Order,
    customer: Customer,
    gateway_code: str,
    method: str | None = None,
    language: str = "es",
) -> tuple[Payment, CheckoutAction]:
    """Create a new attempt for ``order`` at ``gateway_code`` and return what the browser must do.

    Refuses (``PaymentRefused``) another customer's order, a paid or cancelled
    order, a customer whose profile lacks invoice data, and an unknown or disabled
    gateway or method. Older attempts still in ``created`` are closed (they get
    one last status query from the reconciliation). The gateway is called outside
    the database transaction; if it fails, the attempt is recorded as ``error``.
    """
    if order.customer_id != customer.pk:
        raise PaymentRefused(_("This order does not exist."), code="not_found")
    missing = customer.missing_invoice_fields()
    if missing:
        raise PaymentRefused(
            _(
                "Complete your profile before paying, so that we can issue your electronic invoice. Missing: %(fields)s."
            )
            % {"fields": ", ".join(missing)},
            code="profile_incomplete",
        )
    try:
        gateway = get_gateway(gateway_code)
    except UnknownGateway:
        raise PaymentRefused(_("This payment option is not available."), code="gateway") from None
    if not gateway.enabled:
        raise PaymentRefused(_("This payment option is not available."), code="gateway")
    unavailable = selectors.unavailable_reason(
        gateway, order
    )  # switched off by staff, or cannot carry the total
    if unavailable:
        raise PaymentRefused(unavailable, code="gateway")
    chosen: PaymentMethod | None = None
    if method:
        try:
            chosen = PaymentMethod(method)
        except ValueError:
            chosen = None
        if chosen is None or chosen not in gateway.methods:
            raise PaymentRefused(
                _("%(gateway)s does not offer this payment method.") % {"gateway": gateway.name},
                code="gateway",
            )

    now = timezone.now()
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.state == OrderState.PAID:
            raise PaymentRefused(
                _("Order %(number)s is already paid.") % {"number": locked.number},
                code="not_payable",
            )
        if locked.state != OrderState.PENDING:
            raise PaymentRefused(
                _("Order %(number)s is cancelled and can no longer be paid.")
                % {"number": locked.number},
                code="not_payable",
            )
        # The customer left those attempts at the gateway's page; if one was paid after
        # all, its late approval is still applied (or flagged for refund).
        Payment.objects.filter(order=locked, status=PaymentStatus.CREATED).update(
            status=PaymentStatus.EXPIRED,
            status_message="replaced by a new attempt",
            next_check_at=now,
            updated_at=now,
        )
        attempt = Payment.objects.filter(order=locked).aggregate(n=Max("attempt"))["n"] or 0
        for _try in range(5):
            attempt += 1
            reference = f"{locked.number}-{attempt}"
            try:
                with transaction.atomic():
                    payment = Payment.objects.create(
                        reference=reference,
                        gateway_reference=gateway.gateway_reference(reference),
                        attempt=attempt,
                        order=locked,
                        customer=customer,
                        gateway=gateway.code,
                        requested_method=chosen.value if chosen else "",
                        amount=locked.total,
                        currency=locked.currency,
                        tax=locked.tax_total,
                        tax_base=taxed_base(locked),
                        expires_at=now + PAYMENT_VALIDITY,
                        created_at=now,
                    )
                break
            except IntegrityError:
                # Payvalida drops the dashes: "ODS-1234561-2" and "ODS-123456-12" meet; skip that attempt number.
                continue
        else:  # pragma: no cover - five collisions in a row
            raise PaymentRefused(
                _("The payment could not be started. Please try again."), code="gateway_error"
            )
    provider = get_provider()
    provider_name = (provider.trade_name or provider.legal_name) if provider else "ClientArea"
    request = CheckoutRequest(
        reference=payment.reference,
        amount=payment.amount,
        tax=payment.tax,
        tax_base=payment.tax_base,
        currency=payment.currency,
        description=_("%(provider)s service order %(number)s")
        % {"provider": provider_name, "number": locked.number},
        buyer=buyer_for(customer),
        response_url=_absolute(RESPONSE_URL_NAMES.get(gateway.code, "payments:payu_response")),
        confirmation_url=_absolute(
            NOTIFY_URL_NAMES.get(gateway.code, "payments:payu_confirmation")
        ),
        language=gateway_language(language),
        expires_at=payment.expires_at,
        method=chosen,
    )
    try:
        action = gateway.start_checkout(request)
    except GatewayError as exc:
        Payment.objects.filter(pk=payment.pk).update(
            status=PaymentStatus.ERROR, status_message=str(exc)[:200], updated_at=timezone.now()
        )
        logger.warning(
            "payment %s could not start at %s: %s",
            payment.reference,
            gateway.code,
            type(exc).__name__,
        )
        raise PaymentRefused(
            _(
                "%(gateway)s could not start the payment. Please try again in a few minutes or choose another option."
            )
            % {"gateway": gateway.name},
            code="gateway_error",
        ) from exc
    payment.gateway_order_id = (action.gateway_order_id or "")[:64]
    payment.checkout_payload = _safe_checkout(action)
    payment.instructions = _initial_instructions(action, payment)
    payment.save(
        update_fields=["gateway_order_id", "checkout_payload", "instructions", "updated_at"]
    )
    logger.info(
        "payment started %s gateway=%s method=%s amount=%s",
        payment.reference,
        gateway.code,
        payment.requested_method or "-",
        payment.amount,
    )
    return payment, action


# --------------------------------------------------------------------------------------
# The inbox
# --------------------------------------------------------------------------------------


def sanitize_headers(headers: Mapping[str, str]) -> dict[str, str]:
    lowered = {str(key).lower(): str(value).replace("\x00", "") for key, value in headers.items()}
    return {key: lowered[key][:300] for key in KEPT_HEADERS if key in lowered}


def _cap(body: bytes | str, *, limit: int = BODY_CAP) -> str:
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    text = text.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL
    return text if len(text) <= limit else text[:limit] + "…[truncated]"


def set_gateway_offered(
    *, gateway_code: str, offered: bool, reason: str = "", actor=None
) -> GatewaySwitch:
    """Back office: stop or resume offering a gateway at Pay now (audited).

    Stopping needs a reason (it is shown to staff, not to customers). Payments already
    started there are still confirmed, queried and applied.
    """
    gateway = get_gateway(gateway_code)  # UnknownGateway for a code not in PAYMENT_GATEWAYS
    reason = " ".join((reason or "").split())[:300]
    if not offered and not reason:
        raise PaymentStateError(
            _('Say why %(gateway)s is switched off, e.g. "outage announced by the gateway".')
            % {"gateway": gateway.name}
        )
    with transaction.atomic():
        switch, _created = GatewaySwitch.objects.select_for_update().get_or_create(
            gateway=gateway.code
        )
        before = switch.offered
        switch.offered, switch.reason = offered, reason if not offered else ""
        switch.updated_by = actor if getattr(actor, "pk", None) else None
        switch.save()
        from clientarea.accounts.audit import record

        record(
            action="payment.gateway_switched",
            actor=actor,
            target=gateway.code,
            changes={"offered": [before, offered], "reason": reason},
        )
    logger.info(
        "gateway %s %s at Pay now by %s: %s",
        gateway.code,
        "offered" if offered else "switched off",
        getattr(actor, "email", "system"),
        reason or "-",
    )
    return switch


def record_message(
    *,
    gateway_code: str,
    kind: str,
    body: bytes | str = b"",
    headers: Mapping[str, str] | None = None,
    ip: str | None = None,
    outcome: str = "",
    processed: bool = False,
    signature_valid: bool | None = None,
) -> PaymentMessage:
    """Store a raw message in its own transaction (committed even if processing fails later)."""
    with transaction.atomic():
        return PaymentMessage.objects.create(
            gateway=gateway_code[:20],
            kind=kind,
            headers=sanitize_headers(headers or {}),
            body=_cap(body),
            source_ip=ip or None,
            outcome=outcome[:200],
            processed=processed,
            signature_valid=signature_valid,
            processed_at=timezone.now() if processed else None,
        )


def _finish(message: PaymentMessage, **changes) -> None:
    changes.setdefault("processed", True)
    changes.setdefault("processed_at", timezone.now())
    if "outcome" in changes:
        changes["outcome"] = changes["outcome"][:200]
    PaymentMessage.objects.filter(pk=message.pk).update(**changes)


def handle_notification(
    *,
    gateway_code: str,
    body: bytes,
    content_type: str,
    headers: Mapping[str, str] | None = None,
    ip: str | None = None,
) -> NotificationReply:
    """Take in one server-to-server notification and return the answer the gateway expects.

    The notification is verified and stored here; the worker applies it
    (:func:`apply_message`). Forged → 403 (PayU) / 403 "ERROR" (Payvalida); malformed
    → the gateway's rejection; verified → 200 once the message is committed to the
    inbox (a redelivery is stored as "duplicate" and changes nothing). If the inbox
    cannot be written, 503, so that the gateway delivers again.
    """
    gateway = get_gateway(gateway_code)
    kind = NOTIFICATION_KINDS.get(gateway.code, MessageKind.NOTIFICATION)
    try:
        update = gateway.parse_notification(body=body, content_type=content_type)
    except InvalidSignature:
        message = record_message(
            gateway_code=gateway.code,
            kind=kind,
            body=body,
            headers=headers,
            ip=ip,
            outcome="invalid signature",
            processed=True,
            signature_valid=False,
        )
        logger.warning(
            "payment notification %s from %s rejected: invalid signature (ip=%s)",
            message.pk,
            gateway.code,
            ip,
        )
        return gateway.notification_reply(
            ok=False, message="invalid signature", invalid_signature=True
        )
    except MalformedMessage as exc:
        message = record_message(
            gateway_code=gateway.code,
            kind=kind,
            body=body,
            headers=headers,
            ip=ip,
            outcome=f"malformed: {exc}",
            processed=True,
        )
        logger.warning(
            "payment notification %s from %s malformed: %s", message.pk, gateway.code, exc
        )
        return gateway.notification_reply(ok=False, message="malformed message")
    except Exception:
        logger.exception("payment notification from %s could not be read", gateway.code)
        record_message(
            gateway_code=gateway.code,
            kind=kind,
            body=body,
            headers=headers,
            ip=ip,
            outcome="error: could not be read, gateway will retry",
            processed=True,
        )
        return NotificationReply(status_code=503, body="ERROR. temporary failure, please retry")
    try:
        message, fresh = _accept(gateway, kind, update, body=body, headers=headers, ip=ip)
    except Exception:
        logger.exception(
            "payment notification from %s not stored (reference=%s); the gateway will retry",
            gateway.code,
            update.reference,
        )
        return NotificationReply(status_code=503, body="ERROR. temporary failure, please retry")
    if not fresh:
        logger.info(
            "payment notification %s gateway=%s reference=%s status=%s: %s",
            message.pk,
            gateway.code,
            update.reference,
            update.status.value,
            message.outcome,
        )
        if message.payment_id is None:
            # Acknowledged (and logged) so the gateway does not retry forever: nothing we can do with it.
            return gateway.notification_reply(ok=False, unknown_reference=True)
        return gateway.notification_reply(ok=True, message="already received")
    logger.info(
        "payment notification %s gateway=%s reference=%s status=%s: received",
        message.pk,
        gateway.code,
        update.reference,
        update.status.value,
    )
    # The inbox row is committed (autocommit outside any transaction): the worker can read it.
    # Immediate mode (tests) applies it right here; if queueing fails, the sweep applies it.
    try:
        from clientarea.payments.tasks import apply_message_task

        apply_message_task(message.pk)
    except Exception:
        logger.exception(
            "payment notification %s stored but not queued; the sweep will apply it", message.pk
        )
    return gateway.notification_reply(ok=True, message="received")


def _accept(
    gateway: Gateway, kind: str, update: PaymentUpdate, *, body: bytes, headers, ip
) -> tuple[PaymentMessage, bool]:
    """Store a verified notification, claiming its dedupe key.

    Returns ``(message, True)`` when the worker must apply it, ``(message, False)``
    for a redelivery or a reference we never issued (both stored as processed).
    """
    found = Payment.objects.filter(
        gateway=gateway.code, gateway_reference=gateway.gateway_reference(update.reference)
    )
    payment_id = next(
        iter(found.order_by().values_list("pk", flat=True)[:1]), None
    )  # unique: no ORDER BY needed
    row = dict(
        gateway=gateway.code,
        kind=kind,
        headers=sanitize_headers(headers or {}),
        body=_cap(body, limit=_notification_cap()),
        source_ip=ip or None,
        signature_valid=True,
        reference=update.reference[:60],
        transaction_id=update.transaction_id[:64],
        gateway_status=update.status.value,
        payment_id=payment_id,
    )
    if payment_id is None:
        logger.warning(
            "payment notification from %s for unknown reference %r", gateway.code, update.reference
        )
        with transaction.atomic():
            return PaymentMessage.objects.create(
                outcome="unknown reference", processed=True, processed_at=timezone.now(), **row
            ), False
    try:
        with transaction.atomic():
            return PaymentMessage.objects.create(dedupe_key=update.dedupe_key[:200], **row), True
    except IntegrityError:
        pass
    with transaction.atomic():
        return PaymentMessage.objects.create(
            outcome="duplicate", processed=True, processed_at=timezone.now(), **row
        ), False


def _notification_cap() -> int:
    return max(BODY_CAP, settings.PAYMENTS_NOTIFICATION_MAX_BYTES)


def apply_message(*, message_id: int) -> str:
    """Apply one stored, verified notification (the worker's job); returns its outcome.

    The message is claimed (``processed`` set) in the same transaction that applies
    it, so two workers cannot apply it twice and a failure rolls the claim back: the
    message stays in the inbox with the error and one more attempt, and
    :func:`apply_pending_messages` tries again later.
    """
    message = PaymentMessage.objects.filter(pk=message_id).first()
    if message is None or message.processed or not message.signature_valid:
        return "nothing to do"
    gateway = get_gateway(message.gateway)
    try:
        update = gateway.parse_notification(
            body=message.body.encode(), content_type=message.headers.get("content-type", "")
        )
    except (InvalidSignature, MalformedMessage) as exc:
        # Only if the key changed since it was received (or the body was not UTF-8): a person must look.
        _finish(
            message,
            outcome=f"error: cannot be read again: {exc}",
            processed=False,
            processed_at=None,
            attempts=message.attempts + 1,
        )
        logger.error("payment notification %s can no longer be verified: %s", message.pk, exc)
        return "error"
    try:
        with transaction.atomic():
            claimed = PaymentMessage.objects.filter(pk=message.pk, processed=False).update(
                processed=True, processed_at=timezone.now()
            )
            if not claimed:
                return "nothing to do"
            result = apply_update(gateway=gateway, update=update, source=message.kind)
            PaymentMessage.objects.filter(pk=message.pk).update(
                outcome=result.outcome[:200], payment=result.payment, attempts=message.attempts + 1
            )
    except Exception as exc:
        logger.exception(
            "payment notification %s from %s failed (reference=%s)",
            message.pk,
            gateway.code,
            update.reference,
        )
        PaymentMessage.objects.filter(pk=message.pk, processed=False).update(
            outcome=f"error: {type(exc).__name__}, will retry"[:200], attempts=message.attempts + 1
        )
        return "error"
    logger.info(
        "payment notification %s gateway=%s reference=%s status=%s outcome=%s",
        message.pk,
        gateway.code,
        update.reference,
        update.status.value,
        result.outcome,
    )
    return result.outcome


def apply_pending_messages(
    *, older_than_seconds: int = 30, limit: int = 500, now: dt.datetime | None = None
) -> dict[str, int]:
    """The sweep: apply verified notifications still waiting (the worker was down, or applying failed).

    Each is tried at most ``MESSAGE_MAX_ATTEMPTS`` times; then staff are told once
    and the message waits for a person ("apply again" in the back office).
    """
    now = now or timezone.now()
    waiting = list(
        PaymentMessage.objects.filter(
            processed=False,
            signature_valid=True,
            kind__in=list(NOTIFICATION_KINDS.values()),
            received_at__lte=now - dt.timedelta(seconds=older_than_seconds),
            attempts__lt=MESSAGE_MAX_ATTEMPTS,
        )
        .order_by("received_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    summary = {"tried": 0, "applied": 0, "failed": 0, "given_up": 0}
    for message_id in waiting:
        summary["tried"] += 1
        outcome = apply_message(message_id=message_id)
        if outcome != "error":
            summary["applied"] += 1
            continue
        summary["failed"] += 1
        message = PaymentMessage.objects.get(pk=message_id)
        if message.attempts >= MESSAGE_MAX_ATTEMPTS:
            summary["given_up"] += 1
            _alert_stuck_message(message)
    if summary["tried"]:
        logger.info("payment inbox sweep: %s", summary)
    return summary


def retry_message(message: PaymentMessage, *, actor=None) -> str:
    """Back office: apply a stuck notification again now (after its cause was fixed)."""
    if message.processed or not message.signature_valid:
        raise PaymentStateError(
            _("This message was already processed or is not verified; there is nothing to apply.")
        )
    outcome = apply_message(message_id=message.pk)
    from clientarea.accounts.audit import record

    record(
        action="payment.message_retried",
        actor=actor,
        target=message.reference or str(message.pk),
        changes={"message": message.pk, "outcome": outcome},
    )
    return outcome


def _alert_stuck_message(message: PaymentMessage) -> None:
    """Email the provider's billing address: a verified gateway notification could not be applied."""
    from clientarea.notifications.services import queue_email

    provider = get_provider()
    if provider is None or not provider.email:
        return
    admin_url = settings.SITE_URL + reverse(
        "admin:payments_paymentmessage_change", args=[message.pk]
    )
    with transaction.atomic():
        queue_email(
            to=provider.email,
            template="payment_message_stuck",
            language=settings.LANGUAGE_CODE,
            context={"message": message, "admin_url": admin_url, "attempts": message.attempts},
        )


def _describe_update(update: PaymentUpdate) -> str:
    """A non-personal JSON rendering of a query result, for the inbox."""
    return json.dumps(
        {
            "reference": update.reference,
            "status": update.status.value,
            "transaction_id": update.transaction_id,
            "amount": str(update.amount) if update.amount is not None else None,
            "currency": update.currency,
            "method": update.method.value if update.method else None,
            "raw_method": update.raw_method,
            "message": update.message,
            "extra": {k: str(v) for k, v in update.extra.items()},
        },
        ensure_ascii=False,
    )


def _process_update(gateway: Gateway, update: PaymentUpdate, *, dedupe_key: str) -> ApplyResult:
    """Apply a status-query answer once: its inbox row claims ``dedupe_key``, in the transaction that applies it.

    The row is written only when the statement is new (a pending payment is queried
    many times); a crash rolls the claim back, so the next query applies it.
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                message = PaymentMessage.objects.create(
                    gateway=gateway.code,
                    kind=MessageKind.QUERY,
                    body=_cap(_describe_update(update)),
                    dedupe_key=dedupe_key[:200],
                    signature_valid=True,
                    reference=update.reference[:60],
                    transaction_id=update.transaction_id[:64],
                    gateway_status=update.status.value,
                )
        except IntegrityError:
            return ApplyResult(
                outcome="unchanged: already recorded", payment=_find_payment(gateway, update)
            )
        result = apply_update(gateway=gateway, update=update, source=message.kind)
        _finish(message, outcome=result.outcome, payment=result.payment)
    return result


def _find_payment(gateway: Gateway, update: PaymentUpdate) -> Payment | None:
    return Payment.objects.filter(
        gateway=gateway.code, gateway_reference=gateway.gateway_reference(update.reference)
    ).first()


# --------------------------------------------------------------------------------------
# Applying a statement: the exactly-once rules
# --------------------------------------------------------------------------------------


def _expected_merchant(gateway: Gateway) -> str | None:
    config = getattr(gateway, "config", None)
    return getattr(config, "merchant_id", None) or None


def _mismatch(payment: Payment, update: PaymentUpdate, gateway: Gateway) -> str:
    """Why an approval cannot pay this attempt ("" when amount, currency and merchant match)."""
    if update.amount is None:
        return "amount missing"
    if update.amount != payment.amount:
        return f"amount mismatch: got {update.amount}, expected {payment.amount}"
    if (update.currency or "").upper() != payment.currency.upper():
        return f"currency mismatch: got {update.currency or 'none'}, expected {payment.currency}"
    expected = _expected_merchant(gateway)
    if update.merchant_id and expected and update.merchant_id != expected:
        return f"merchant mismatch: got {update.merchant_id}"
    return ""


def _note_details(payment: Payment, update: PaymentUpdate) -> None:
    """Copy the method and the customer-facing details (bank, CUS, voucher) onto the attempt."""
    if update.method is not None:
        payment.method = update.method.value
    if update.raw_method:
        payment.raw_method = update.raw_method[:60]
    extra = update.extra or {}
    instructions = dict(payment.instructions or {})
    for source, target in (
        ("cus", "cus"),
        ("pse_bank", "bank"),
        ("payment_reference", "voucher_reference"),
        ("pending_reason", "pending_reason"),
        ("reference_pol", "gateway_order"),
    ):
        if extra.get(source):
            instructions[target] = str(extra[source])[:100]
    for source in ("voucher_url", "receipt_url"):
        if str(extra.get(source, "")).startswith("https://") or (
            settings.PAYMENTS_SANDBOX and str(extra.get(source, "")).startswith("http")
        ):
            instructions["checkout_url"] = str(extra[source])[:500]
    network = (
        CASH_NETWORKS.get(update.raw_method.replace(" ", "").replace("_", "").upper())
        if update.raw_method
        else None
    )
    if update.method == PaymentMethod.CASH and network:
        instructions["network"] = network
    payment.instructions = instructions
    if not payment.gateway_order_id and extra.get("reference_pol"):
        payment.gateway_order_id = str(extra["reference_pol"])[:64]


def _flag(
    payment: Payment, *, review: str = "", refund: bool = False, duplicate: bool = False
) -> bool:
    """Set review/refund flags; True when something new needs staff attention."""
    new = False
    if review and not (payment.needs_review and payment.review_reason == review[:300]):
        payment.needs_review = True
        payment.review_reason = review[:300]
        new = True
    if refund and payment.refund_status == RefundStatus.NONE:
        payment.refund_status = RefundStatus.FLAGGED
        if not review:
            payment.review_reason = payment.review_reason or "refund needed"
        new = True
    if duplicate:
        payment.duplicate = True
    return new


def alert_staff(payment: Payment, reason: str) -> None:
    """Email the provider's billing address about a payment that needs a person (after commit)."""
    from clientarea.notifications.services import queue_email

    provider = get_provider()
    if provider is None or not provider.email:
        return
    admin_url = settings.SITE_URL + reverse("admin:payments_payment_change", args=[payment.pk])
    queue_email(
        to=provider.email,
        template="payment_review",
        language=settings.LANGUAGE_CODE,
        context={
            "payment": payment,
            "order": payment.order,
            "reason": reason,
            "admin_url": admin_url,
        },
    )


def apply_update(*, gateway: Gateway, update: PaymentUpdate, source: str) -> ApplyResult:
    """Apply one verified gateway statement to its payment. The caller holds the transaction.

    Rules:
    * approved, and amount/currency/merchant match → the order is paid through
      ``mark_order_paid``; if the order was already paid by another transaction, this
      attempt is marked duplicate and flagged for refund; if it was cancelled, flagged
      for refund and review;
    * approved with a wrong amount/currency/merchant → not paid; status ``error``, review;
    * the same approval again → nothing ("already applied"); another approved
      transaction for an approved attempt, or a decline/expiry of the approved
      transaction itself, is only a claim when it comes in a notification (the
      signatures do not cover every field): the gateway is queried, and its answer
      flags the duplicate for refund, or the reversal for review;
    * any other report after approved (pending, an older try's decline) → ignored;
    * pending for an attempt closed here (replaced, timed out) → ignored;
    * otherwise the attempt takes the reported status;
    * unknown reference → nothing ("unknown reference").
    """
    reference = gateway.gateway_reference(update.reference)
    found = Payment.objects.filter(
        gateway=gateway.code, gateway_reference=reference
    ).order_by()  # unique
    row = next(iter(found.values_list("pk", "order_id")[:1]), None)
    if row is None:
        logger.warning(
            "payment statement from %s for unknown reference %r (%s)",
            gateway.code,
            update.reference,
            source,
        )
        return ApplyResult(outcome="unknown reference")
    payment_id, order_id = row
    # Lock order: the order first, then the payment (start_payment does the same).
    order = billing_services.lock_order(order_id=order_id)
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    status = update.status
    transaction_id = (update.transaction_id or "")[:64]
    now = timezone.now()
    alert = ""

    if payment.status == PaymentStatus.APPROVED:
        second_charge = (
            status == GatewayStatus.APPROVED and transaction_id != payment.gateway_transaction_id
        )
        reversal = (
            status in _NEGATIVE
            and bool(transaction_id)
            and transaction_id == payment.gateway_transaction_id
        )
        if status == GatewayStatus.APPROVED and not second_charge:
            return ApplyResult(outcome="already applied", payment=payment)
        if not (second_charge or reversal):
            # A late or replayed report (an earlier pending, another try's decline): nothing to do.
            logger.info(
                "payment %s: %s after approved ignored (%s, transaction %s)",
                payment.reference,
                status.value,
                source,
                transaction_id,
            )
            return ApplyResult(outcome=f"ignored: {status.value} after approved", payment=payment)
        if source != MessageKind.QUERY:
            # Neither PayU's sign nor Payvalida's checksum covers everything here (PayU's leaves
            # out the transaction id): a replayed message with one field changed would look like
            # a second charge or a void. Only the gateway's answer to our own query may flag a
            # refund or a reversal, so ask it.
            payment.next_check_at = now
            payment.save(update_fields=["next_check_at", "updated_at"])
            transaction.on_commit(lambda: _schedule_check(payment_id, verify=True))
            claim = (
                f"second approved transaction {transaction_id}"
                if second_charge
                else f"{status.value} for the approved transaction"
            )
            return ApplyResult(outcome=f"held: {claim}, asking the gateway", payment=payment)
        if second_charge:
            reason = f"second approved transaction {transaction_id} for this attempt (first: {payment.gateway_transaction_id})"
            outcome = "duplicate: second approved transaction, flagged for refund"
        else:
            reason = f"gateway now reports {status.value} for the approved transaction (void or refund claim?)"
            outcome = f"ignored: {status.value} after approved, review"
        if _flag(payment, review=reason, refund=second_charge, duplicate=second_charge):
            payment.save()
            alert_staff(payment, reason)
        return ApplyResult(outcome=outcome, payment=payment)

    if payment.status == PaymentStatus.EXPIRED and status == GatewayStatus.PENDING:
        # Closed here (replaced by a newer attempt, or timed out) and withdrawn at the gateway
        # where it can be: only an approval (money taken) still counts.
        return ApplyResult(outcome="ignored: pending for a closed attempt", payment=payment)
    if (
        status in _NEGATIVE
        and payment.status == PaymentStatus.PENDING
        and payment.gateway_transaction_id
        and transaction_id
        and transaction_id != payment.gateway_transaction_id
    ):
        # PayU lets the buyer retry under one reference: a late decline of an earlier try
        # must not hide the transaction now pending at the bank (it reports on its own).
        return ApplyResult(
            outcome=f"ignored: {status.value} of an older transaction, another is pending",
            payment=payment,
        )
    _note_details(payment, update)
    if status != GatewayStatus.APPROVED:
        new_status = _STATUS_FROM_GATEWAY[status]
        if transaction_id:
            payment.gateway_transaction_id = transaction_id
        payment.status_message = (update.message or "")[:200]
        outcome = (
            f"unchanged: {new_status}"
            if payment.status == new_status
            else f"recorded: {new_status}"
        )
        payment.status = new_status
        payment.save()
        return ApplyResult(outcome=outcome, payment=payment)

    problem = _mismatch(payment, update, gateway)
    if problem:
        payment.status = PaymentStatus.ERROR
        payment.status_message = f"approved at the gateway, not applied: {problem}"[:200]
        if _flag(payment, review=f"{problem} (transaction {transaction_id})"):
            alert = problem
        payment.save()
        if alert:
            alert_staff(payment, alert)
        logger.warning("payment %s approval not applied: %s", payment.reference, problem)
        return ApplyResult(outcome=f"review: {problem}", payment=payment)

    payment.status = PaymentStatus.APPROVED
    payment.gateway_transaction_id = transaction_id
    payment.approved_at = now
    payment.status_message = (update.message or "approved")[:200]
    payment.next_check_at = None
    if not payment.method and payment.requested_method:
        payment.method = payment.requested_method
    try:
        with transaction.atomic():
            payment.save()
    except IntegrityError:
        # The same gateway transaction already approved another attempt.
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        reason = f"transaction {transaction_id} already approved another payment"
        payment.status = PaymentStatus.ERROR
        payment.status_message = reason[:200]
        _flag(payment, review=reason)
        payment.save()
        alert_staff(payment, reason)
        return ApplyResult(
            outcome="review: transaction already used by another payment", payment=payment
        )

    paid_reference = f"{gateway.code}:{transaction_id}"
    outcome = billing_services.mark_order_paid(
        order_id=payment.order_id,
        paid_at=now,
        via=gateway.code,
        method=payment.method,
        reference=paid_reference,
        locked=order,
    )
    if outcome.applied:
        # Other attempts still open for this order are closed (and withdrawn at their
        # gateway) by the next reconciliation.
        Payment.objects.filter(order_id=payment.order_id, status__in=OPEN_STATUSES).exclude(
            pk=payment.pk
        ).update(next_check_at=now)
        return ApplyResult(outcome="applied", payment=payment, order_paid=True)
    if outcome.reason == "already_paid":
        if outcome.order.payment_reference == paid_reference[:120]:
            return ApplyResult(outcome="already applied", payment=payment)
        reason = f"order {outcome.order.number} was already paid ({outcome.order.payment_reference or outcome.order.paid_via})"
        _flag(payment, refund=True, duplicate=True)
        payment.review_reason = reason[:300]
        payment.save()
        alert_staff(payment, reason)
        logger.warning(
            "payment %s approved for an order already paid: flagged for refund", payment.reference
        )
        return ApplyResult(
            outcome="duplicate: order already paid, flagged for refund", payment=payment
        )
    reason = f"approved after order {outcome.order.number} was cancelled"
    _flag(payment, review=reason, refund=True)
    payment.save()
    alert_staff(payment, reason)
    logger.warning(
        "payment %s approved for a cancelled order: flagged for refund", payment.reference
    )
    return ApplyResult(outcome="review: order cancelled, flagged for refund", payment=payment)


# --------------------------------------------------------------------------------------
# Browser return, status queries, reconciliation
# --------------------------------------------------------------------------------------


def record_return(
    *,
    gateway_code: str,
    params: Mapping[str, str],
    query_string: str = "",
    headers: Mapping[str, str] | None = None,
    ip: str | None = None,
):
    """Log a browser return and find its payment. Returns ``(payment | None, ReturnInfo | None)``.

    The return is for display only: it never changes a payment. When the payment
    is still open, a status query is scheduled (the confirmation may be late or lost).
    """
    gateway = get_gateway(gateway_code)
    message = record_message(
        gateway_code=gateway.code,
        kind=MessageKind.RETURN,
        body=query_string,
        headers=headers,
        ip=ip,
    )
    try:
        info = gateway.parse_return(params)
    except (MalformedMessage, GatewayError) as exc:
        _finish(message, outcome=f"malformed: {exc}")
        return None, None
    payment = Payment.objects.filter(
        gateway=gateway.code, gateway_reference=gateway.gateway_reference(info.reference)
    ).first()
    _finish(
        message,
        outcome="shown" if payment else "unknown reference",
        payment=payment,
        reference=info.reference[:60],
        signature_valid=info.signature_valid,
        gateway_status=info.status.value,
        transaction_id=info.transaction_id[:64],
    )
    if payment is not None and payment.is_open:
        cutoff = timezone.now() - RETURN_CHECK_INTERVAL
        if payment.last_checked_at is None or payment.last_checked_at < cutoff:
            payment_id = payment.pk
            transaction.on_commit(lambda: _schedule_check(payment_id))
    return payment, info


def _schedule_check(payment_id: int, *, verify: bool = False) -> None:
    from clientarea.payments.tasks import check_payment_task

    try:
        check_payment_task(payment_id, verify=verify)
    except Exception:
        logger.exception("could not check payment %s after its return", payment_id)


def _next_check(payment: Payment, now: dt.datetime) -> dt.datetime:
    """Backoff: every 10 minutes during the first hour, then hourly (PayU: cash at most once an hour)."""
    young = now - payment.created_at < dt.timedelta(hours=1)
    minutes = 10 if young and payment.method != PaymentMethod.CASH else 60
    return now + dt.timedelta(minutes=minutes)


def check_payment(
    payment: Payment, *, now: dt.datetime | None = None, close_expired: bool = True
) -> list[str]:
    """Ask the gateway about ``payment`` and apply every answer through :func:`apply_update`.

    Then close the attempt if it is still open and past ``expires_at`` (deleting the
    pending order at the gateway when it supports that), or if the gateway never
    heard of it for a day. Raises ``GatewayUnavailable`` / ``GatewayError`` (retried after the backoff).
    """
    now = now or timezone.now()
    gateway = get_gateway(payment.gateway)
    try:
        updates = gateway.fetch_status(payment.reference)
    except GatewayError as exc:
        # Unreachable (GatewayUnavailable) or an answer we cannot use: try again after the backoff.
        _log_answer(gateway, payment, outcome=f"error: {exc}")
        Payment.objects.filter(pk=payment.pk).update(
            last_checked_at=now, next_check_at=_next_check(payment, now)
        )
        raise
    outcomes = []
    for update in sorted(updates, key=lambda u: _APPLY_ORDER.get(u.status, 1)):
        if gateway.gateway_reference(update.reference) != payment.gateway_reference:
            continue
        result = _process_update(gateway, update, dedupe_key=f"query:{update.dedupe_key}")
        outcomes.append(result.outcome)
    _log_answer(gateway, payment, outcome="; ".join(outcomes) or "no transaction at the gateway")
    payment.refresh_from_db()
    changes: dict = {"last_checked_at": now}
    order_state = Order.objects.filter(pk=payment.order_id).values_list("state", flat=True).first()
    if payment.status == PaymentStatus.EXPIRED:
        changes["next_check_at"] = None  # a replaced attempt gets one last look
        if payment.next_check_at is not None:
            # ...and is then withdrawn at the gateway, so that it cannot be paid on top of its successor.
            try:
                outcomes.append(_withdraw(gateway, payment))
            except GatewayUnavailable:
                changes["next_check_at"] = now + dt.timedelta(minutes=10)
                outcomes.append("withdraw: gateway unavailable, will retry")
    elif payment.is_open:
        expired = payment.expires_at is not None and payment.expires_at <= now
        # Abandoned: nothing at the gateway a day later (PayU's card page closed). Not when the
        # gateway issued a payment reference at registration (Payvalida): the customer may hold
        # a voucher printed on its page, so that order lives until it expires.
        abandoned = (
            payment.status == PaymentStatus.CREATED
            and not updates
            and now - payment.created_at >= ABANDONED_AFTER
            and not (payment.instructions or {}).get("voucher_reference")
        )
        superseded = (
            order_state != OrderState.PENDING
        )  # paid by another attempt or by staff, or cancelled
        if close_expired and (expired or abandoned or superseded):
            reason = "expired" if expired else f"order {order_state}" if superseded else "abandoned"
            outcomes.append(_close(gateway, payment, now=now, reason=reason))
            return outcomes
        changes["next_check_at"] = _next_check(payment, now)
    else:
        changes["next_check_at"] = None
    Payment.objects.filter(pk=payment.pk).update(**changes)
    return outcomes


def _withdraw(gateway: Gateway, payment: Payment) -> str:
    """Delete a closed attempt's order at the gateway (Payvalida); best effort, logged."""
    try:
        cancelled = gateway.cancel(payment.reference)
    except GatewayUnavailable:
        raise
    except GatewayError as exc:
        logger.warning(
            "payment %s: withdrawing it at %s failed: %s", payment.reference, gateway.code, exc
        )
        return "withdraw failed"
    return "cancelled at gateway" if cancelled else "nothing to cancel at gateway"


def _log_answer(gateway: Gateway, payment: Payment, *, outcome: str) -> None:
    """Store the gateway's raw answer to a status query, whatever it said (the statements it
    contained are applied, once each, by :func:`_process_update`)."""
    with transaction.atomic():
        PaymentMessage.objects.create(
            gateway=gateway.code,
            kind=MessageKind.QUERY,
            body=_cap(gateway.last_answer or ""),
            payment=payment,
            reference=payment.gateway_reference[
                :60
            ],  # as the gateway writes it, like its statements
            outcome=f"answer: {outcome}"[:200],
            processed=True,
            processed_at=timezone.now(),
        )


def _close(gateway: Gateway, payment: Payment, *, now: dt.datetime, reason: str) -> str:
    """Close an open attempt (expired, abandoned, or its order settled another way); delete its
    pending order at the gateway if possible."""
    try:
        withdrawn = _withdraw(gateway, payment)
    except GatewayUnavailable:
        Payment.objects.filter(pk=payment.pk).update(
            last_checked_at=now, next_check_at=now + dt.timedelta(minutes=10)
        )
        raise
    cancelled = withdrawn == "cancelled at gateway"
    with transaction.atomic():
        billing_services.lock_order(order_id=payment.order_id)
        closed = Payment.objects.filter(pk=payment.pk, status__in=OPEN_STATUSES).update(
            status=PaymentStatus.EXPIRED,
            status_message=f"{reason}: closed by reconciliation"[:200],
            last_checked_at=now,
            next_check_at=None,
            updated_at=now,
        )
    logger.info(
        "payment %s closed (%s), cancelled at gateway: %s", payment.reference, reason, cancelled
    )
    if not closed:
        return "unchanged: no longer open"
    return f"closed: {reason}" + (", cancelled at gateway" if cancelled else "")


def reconcile_payments(
    *, older_than_minutes: int | None = None, limit: int = 500, now: dt.datetime | None = None
) -> ReconcileSummary:
    """Query the gateways about open attempts older than the guideline and apply what they say.

    Candidates: ``created``/``pending`` attempts created more than ``older_than_minutes``
    ago (default ``PAYMENTS_RECONCILE_AFTER_MINUTES``; PayU's guideline is 7) whose
    backoff has passed, attempts replaced by a newer one (one last query each), and
    approved ones with a second approval to verify.
    Every answer goes through :func:`apply_update`, deduplicated with a "query:" key.
    """
    now = now or timezone.now()
    minutes = (
        settings.PAYMENTS_RECONCILE_AFTER_MINUTES
        if older_than_minutes is None
        else older_than_minutes
    )
    cutoff = now - dt.timedelta(minutes=minutes)
    # Approved attempts come back only when a notification claimed a second charge and
    # the immediate check could not reach the gateway.
    due = Q(status__in=OPEN_STATUSES, next_check_at__isnull=True) | Q(
        status__in=[*OPEN_STATUSES, PaymentStatus.EXPIRED, PaymentStatus.APPROVED],
        next_check_at__lte=now,
    )
    candidates = list(
        Payment.objects.filter(due, created_at__lte=cutoff).order_by(
            "next_check_at", "created_at", "id"
        )[:limit]
    )
    summary = ReconcileSummary()
    for payment in candidates:
        summary.checked += 1
        before = payment.status
        try:
            outcomes = check_payment(payment, now=now)
        except GatewayUnavailable as exc:
            summary.unavailable += 1
            logger.warning(
                "reconcile %s: %s unavailable: %s", payment.reference, payment.gateway, exc
            )
            continue
        except Exception:
            summary.errors += 1
            logger.exception("reconcile %s failed", payment.reference)
            continue
        summary.outcomes.extend(f"{payment.reference}: {o}" for o in outcomes)
        if "applied" in outcomes:
            summary.paid += 1
        if any(o.startswith("closed") for o in outcomes):
            summary.expired += 1
            if any("cancelled at gateway" in o for o in outcomes):
                summary.cancelled_at_gateway += 1
        current = Payment.objects.filter(pk=payment.pk).values_list("status", flat=True).first()
        if current != before:
            summary.changed += 1
        else:
            summary.unchanged += 1
    logger.info("payments reconciled: %s", summary.as_dict())
    return summary


def query_payment_again(payment: Payment, *, actor=None) -> list[str]:
    """Back office: ask the gateway about one payment now, whatever its state and backoff."""
    outcomes = check_payment(payment, close_expired=False)
    from clientarea.accounts.audit import record

    record(
        action="payment.queried",
        actor=actor,
        customer=payment.customer,
        target=payment.reference,
        changes={"outcomes": outcomes[:20]},
    )
    return outcomes


# --------------------------------------------------------------------------------------
# Back office
# --------------------------------------------------------------------------------------


def mark_refunded(payment: Payment, note: str, actor) -> Payment:
    """Record that staff refunded this payment outside the portal (gateway back office, bank transfer).

    Allowed for payments flagged for refund or under review; the order is not touched.
    """
    note = (note or "").strip()
    if not note:
        raise PaymentStateError(_("Write a note: how and when the money was returned."))
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.refund_status == RefundStatus.REFUNDED:
            raise PaymentStateError(
                _("Payment %(reference)s is already marked as refunded.")
                % {"reference": locked.reference}
            )
        if locked.refund_status != RefundStatus.FLAGGED and not locked.needs_review:
            raise PaymentStateError(
                _(
                    "Payment %(reference)s is not flagged for refund or review: refund it from the order instead."
                )
                % {"reference": locked.reference}
            )
        before = {"refund_status": locked.refund_status, "needs_review": locked.needs_review}
        locked.refund_status = RefundStatus.REFUNDED
        locked.refund_note = note[:2000]
        locked.refunded_at = timezone.now()
        locked.refunded_by = actor if getattr(actor, "pk", None) else None
        locked.needs_review = False
        locked.save()
        from clientarea.accounts.audit import record

        record(
            action="payment.refunded",
            actor=actor,
            customer=locked.customer,
            target=locked.reference,
            changes={
                "before": before,
                "after": {"refund_status": locked.refund_status},
                "note": note[:300],
            },
        )
    logger.info("payment %s marked refunded by %s", locked.reference, getattr(actor, "pk", None))
    return locked
