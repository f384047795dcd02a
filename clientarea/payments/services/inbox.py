"""The inbox: every message a gateway sends us is stored before anything trusts it.

* :func:`handle_notification` verifies a server-to-server notification, stores it while
  claiming its ``(gateway, dedupe_key)`` (a unique constraint), and answers only after
  that commit: a redelivery (or a concurrent copy) is stored as "duplicate";
* the worker applies a stored notification (:func:`apply_message`) in one transaction
  that also marks it processed, so a queued job, the sweep and a staff "apply again"
  cannot apply it twice, and a failure leaves it waiting for the sweep
  (:func:`apply_pending_messages`), which alerts staff after ``MESSAGE_MAX_ATTEMPTS``;
* :func:`record_return` logs a browser return (display only) and asks the gateway.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Mapping

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from clientarea.accounts.contacts import queue_staff_email
from clientarea.payments import jobs
from clientarea.payments.gateways import get_gateway
from clientarea.payments.gateways.base import (
    Gateway,
    GatewayError,
    InvalidSignature,
    MalformedMessage,
    NotificationReply,
    PaymentUpdate,
)
from clientarea.payments.models import MessageKind, Outcome, Payment, PaymentMessage
from clientarea.payments.services.apply import ApplyResult, apply_update
from clientarea.payments.services.raw import (
    cap_body,
    claim_key,
    finish_message,
    notification_cap,
    raw_copy,
    sanitize_headers,
    stored_body,
    text_field,
)

logger = logging.getLogger(__name__)

#: A verified notification that fails to apply is tried this often (once a minute by the sweep), then waits for a person.
MESSAGE_MAX_ATTEMPTS = 10
#: The browser return asks the gateway at most this often per payment.
RETURN_CHECK_INTERVAL = dt.timedelta(seconds=60)

NOTIFICATION_KINDS = {"payu": MessageKind.CONFIRMATION, "payvalida": MessageKind.NOTIFICATION}


def record_message(
    *,
    gateway_code: str,
    kind: str,
    body: bytes | str = b"",
    headers: Mapping[str, str] | None = None,
    ip: str | None = None,
    outcome: str = "",
    result: Outcome | str = "",
    processed: bool = False,
    signature_valid: bool | None = None,
) -> PaymentMessage:
    """Store a raw message in its own transaction (committed even if processing fails later)."""
    with transaction.atomic():
        return PaymentMessage.objects.create(
            gateway=gateway_code[:20],
            kind=kind,
            headers=sanitize_headers(headers or {}),
            body=cap_body(body),
            raw_base64=raw_copy(body),
            source_ip=ip or None,
            outcome=outcome[:200],
            result=result,
            processed=processed,
            signature_valid=signature_valid,
            processed_at=timezone.now() if processed else None,
        )


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
    # A message that cannot be applied, stored as received with why (processed: never applied).
    refused = functools.partial(
        record_message,
        gateway_code=gateway.code,
        kind=kind,
        body=body,
        headers=headers,
        ip=ip,
        processed=True,
    )
    try:
        update = gateway.parse_notification(body=body, content_type=content_type)
    except InvalidSignature:
        message = refused(
            outcome="invalid signature",
            result=Outcome.INVALID_SIGNATURE,
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
        message = refused(outcome=f"malformed: {exc}", result=Outcome.MALFORMED)
        logger.warning(
            "payment notification %s from %s malformed: %s", message.pk, gateway.code, exc
        )
        return gateway.notification_reply(ok=False, message="malformed message")
    except Exception:
        logger.exception("payment notification from %s could not be read", gateway.code)
        refused(outcome="error: could not be read, gateway will retry", result=Outcome.ERROR)
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
    jobs.enqueue_apply_message(message.pk)
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
        body=cap_body(body, limit=notification_cap()),
        raw_base64=raw_copy(body, limit=notification_cap()),
        source_ip=ip or None,
        signature_valid=True,
        reference=text_field(update.reference, 60),
        transaction_id=text_field(update.transaction_id, 64),
        gateway_status=update.status.value,
        payment_id=payment_id,
    )
    if payment_id is None:
        logger.warning(
            "payment notification from %s for unknown reference %r", gateway.code, update.reference
        )
        with transaction.atomic():
            return PaymentMessage.objects.create(
                outcome="unknown reference",
                result=Outcome.UNKNOWN_REFERENCE,
                processed=True,
                processed_at=timezone.now(),
                **row,
            ), False
    try:
        with transaction.atomic():
            return PaymentMessage.objects.create(dedupe_key=claim_key(gateway, update), **row), True
    except IntegrityError:
        pass
    with transaction.atomic():
        return PaymentMessage.objects.create(
            outcome="duplicate",
            result=Outcome.DUPLICATE,
            processed=True,
            processed_at=timezone.now(),
            **row,
        ), False


def apply_message(*, message_id: int) -> str:
    """Apply one stored, verified notification (the worker's job); returns its outcome text
    ("nothing to do" when it was already processed or is not a verified notification)."""
    result = apply_stored_message(message_id=message_id)
    return result.outcome if result is not None else "nothing to do"


def apply_stored_message(*, message_id: int) -> ApplyResult | None:
    """Apply one stored, verified notification; ``None`` when there is nothing to do.

    The message is claimed in the same transaction that applies it: its row is read locked
    (``FOR UPDATE`` on PostgreSQL; SQLite's writer lock, taken when the transaction begins) only
    while it is still unprocessed, and the one write at the end marks it processed with its
    outcome. Two workers cannot apply it twice (the second waits for the lock, then finds it
    processed), and a failure rolls everything back: the message stays in the inbox with the
    error and one more attempt, and :func:`apply_pending_messages` tries again later.
    """
    claimed_at = timezone.now()
    message: PaymentMessage | None = None
    update: PaymentUpdate | None = None
    try:
        with transaction.atomic():
            message = (
                PaymentMessage.objects.select_for_update()
                .filter(pk=message_id, processed=False, signature_valid=True)
                .first()
            )
            if message is None:
                return None
            gateway = get_gateway(message.gateway)
            try:
                update = gateway.parse_notification(
                    body=stored_body(message),
                    content_type=message.headers.get("content-type", ""),
                )
            except (InvalidSignature, MalformedMessage) as exc:
                # Only if the key changed since it was received (or the body was not UTF-8): a
                # person must look.
                finish_message(
                    message,
                    outcome=f"error: cannot be read again: {exc}",
                    result=Outcome.ERROR,
                    processed=False,
                    processed_at=None,
                    attempts=message.attempts + 1,
                )
                logger.error(
                    "payment notification %s can no longer be verified: %s", message.pk, exc
                )
                return ApplyResult(code=Outcome.ERROR, outcome="error")
            result = apply_update(gateway=gateway, update=update, source=message.kind)
            PaymentMessage.objects.filter(pk=message.pk).update(
                processed=True,
                processed_at=claimed_at,
                outcome=result.outcome[:200],
                result=result.code,
                payment=result.payment,
                attempts=message.attempts + 1,
            )
    except Exception as exc:
        if message is None:
            raise  # the inbox itself could not be read: the job fails, the sweep tries again
        logger.exception(
            "payment notification %s from %s failed (reference=%s)",
            message.pk,
            message.gateway,
            update.reference if update is not None else message.reference,
        )
        PaymentMessage.objects.filter(pk=message.pk, processed=False).update(
            outcome=f"error: {type(exc).__name__}, will retry"[:200],
            result=Outcome.ERROR,
            attempts=message.attempts + 1,
        )
        return ApplyResult(code=Outcome.ERROR, outcome="error")
    logger.info(
        "payment notification %s gateway=%s reference=%s status=%s outcome=%s",
        message.pk,
        message.gateway,
        update.reference,
        update.status.value,
        result.outcome,
    )
    return result


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
        result = apply_stored_message(message_id=message_id)
        if result is None or result.code != Outcome.ERROR:
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


def _alert_stuck_message(message: PaymentMessage) -> None:
    """Email the provider's billing address: a verified gateway notification could not be applied."""
    admin_url = settings.SITE_URL + reverse(
        "admin:payments_paymentmessage_change", args=[message.pk]
    )
    with transaction.atomic():
        queue_staff_email(
            template="payment_message_stuck",
            context={"message": message, "admin_url": admin_url, "attempts": message.attempts},
        )


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
    except (MalformedMessage, GatewayError, ValueError, ArithmeticError) as exc:
        # Whatever the browser brought, the row is closed with its reason (never left unprocessed).
        finish_message(message, outcome=f"malformed: {exc}"[:200], result=Outcome.MALFORMED)
        return None, None
    payment = Payment.objects.filter(
        gateway=gateway.code, gateway_reference=gateway.gateway_reference(info.reference)
    ).first()
    finish_message(
        message,
        outcome="shown" if payment else "unknown reference",
        result=Outcome.SHOWN if payment else Outcome.UNKNOWN_REFERENCE,
        payment=payment,
        reference=text_field(info.reference, 60),
        signature_valid=info.signature_valid,
        gateway_status=info.status.value,
        transaction_id=text_field(info.transaction_id, 64),
    )
    if payment is not None and payment.is_open:
        cutoff = timezone.now() - RETURN_CHECK_INTERVAL
        if payment.last_checked_at is None or payment.last_checked_at < cutoff:
            payment_id = payment.pk
            transaction.on_commit(lambda: jobs.enqueue_check(payment_id))
    return payment, info
