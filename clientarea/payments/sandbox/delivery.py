"""Deliver the simulated gateways' server-to-server messages (outbox + one HTTP attempt).

A notification row is written in the same transaction as the state change that
caused it; the worker task is scheduled with ``transaction.on_commit``. Each HTTP
attempt is recorded as a :class:`SandboxDelivery` row, shown on the ``/sandbox/``
dashboard. The retry loop itself belongs to the Huey task (``tasks.py``).

Outbound HTTP goes through ``clientarea.lib.http.send`` (looked up at call time,
so tests can patch it).
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from typing import Any

from django.db import transaction
from django.utils import timezone

from clientarea.lib import http as http_lib
from clientarea.payments.sandbox.models import (
    Gateway,
    NotificationStatus,
    SandboxDelivery,
    SandboxNotification,
    SandboxPayURefund,
    SandboxPayUTransaction,
    SandboxPayvalidaOrder,
)

logger = logging.getLogger(__name__)

USER_AGENT = "ClientArea-Gateway-Simulator/1.0"
EXCERPT_CHARS = 500


def queue_notification(
    *,
    gateway: str,
    url: str,
    payload: dict[str, Any],
    payu_transaction: SandboxPayUTransaction | None = None,
    payvalida_order: SandboxPayvalidaOrder | None = None,
    payu_refund: SandboxPayURefund | None = None,
) -> SandboxNotification:
    """Record a message to deliver and schedule its delivery after the current transaction commits."""
    notification = SandboxNotification.objects.create(
        gateway=gateway,
        url=url,
        payload=payload,
        payu_transaction=payu_transaction,
        payvalida_order=payvalida_order,
        payu_refund=payu_refund,
    )
    notification_id = notification.pk
    transaction.on_commit(lambda: schedule_delivery(notification_id))
    return notification


def schedule_delivery(notification_id: int) -> None:
    """Hand a notification to the worker (runs inline when Huey is in immediate mode)."""
    # A real cycle: tasks.py imports this module for the delivery attempt it retries.
    from clientarea.payments.sandbox.tasks import deliver_notification_task

    deliver_notification_task(notification_id)


def resend(notification: SandboxNotification) -> None:
    """Start a fresh series of delivery attempts (dashboard button). ``attempts`` keeps counting."""
    with transaction.atomic():
        SandboxNotification.objects.filter(pk=notification.pk).update(
            status=NotificationStatus.PENDING, delivered_at=None
        )
        notification_id = notification.pk
        transaction.on_commit(lambda: schedule_delivery(notification_id))


def encode(notification: SandboxNotification, attempt: int) -> tuple[bytes, dict[str, str]]:
    """The HTTP body and headers of one attempt.

    PayU: ``application/x-www-form-urlencoded`` (confirmation-page.html, "Content Type"),
    with ``attempts`` = "number of times PayU attempted to send the confirmation".
    Payvalida: JSON. [INF] the CashIn notification doc does not state the encoding;
    the cash-out notification is documented as "body content type json", so JSON it is.
    """
    if notification.gateway == Gateway.PAYU:
        fields = {**notification.payload, "attempts": str(attempt)}
        body = urllib.parse.urlencode(fields).encode("ascii")
        content_type = "application/x-www-form-urlencoded"
    else:
        body = json.dumps(notification.payload, ensure_ascii=False).encode("utf-8")
        content_type = "application/json; charset=utf-8"
    return body, {"Content-Type": content_type, "User-Agent": USER_AGENT, "Accept": "*/*"}


def is_accepted(gateway: str, status: int, body: str) -> bool:
    """Did the merchant accept the message?

    PayU: only HTTP 200 (confirmation-page.html: "PayU assumes that the confirmation
    page is reported correctly when it receives HTTP code 200").
    Payvalida: a 2xx answer whose body starts with "OK" (notification doc: answer
    "OK in a successful case and ERROR on an unsuccessful one"); [INF] retrying on
    anything else is the simulator's choice, the real retry policy is undocumented.
    """
    if gateway == Gateway.PAYU:
        return status == 200
    return 200 <= status < 300 and body.lstrip().startswith("OK")


def attempt_delivery(notification_id: int, *, final: bool = False) -> bool:
    """Make one delivery attempt; return True when delivered (or nothing is left to do).

    ``final`` marks the notification FAILED when this attempt is refused.
    """
    with transaction.atomic():
        notification = (
            SandboxNotification.objects.select_for_update().filter(pk=notification_id).first()
        )
        if notification is None or notification.status == NotificationStatus.DELIVERED:
            return True
        notification.attempts += 1
        notification.save(update_fields=["attempts"])
    attempt = notification.attempts
    body, headers = encode(notification, attempt)

    status: int | None = None
    text = ""
    error = ""
    try:
        answer = http_lib.send("POST", notification.url, body, headers)
        status, text = answer.status, answer.text()
    except (http_lib.HttpError, OSError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:255]
    accepted = status is not None and is_accepted(notification.gateway, status, text)
    excerpt = text[:EXCERPT_CHARS]

    with transaction.atomic():
        SandboxDelivery.objects.create(
            notification=notification,
            attempt=attempt,
            status_code=status,
            accepted=accepted,
            body_excerpt=excerpt,
            error=error,
        )
        pending = SandboxNotification.objects.filter(pk=notification.pk).exclude(
            status=NotificationStatus.DELIVERED
        )
        if accepted:
            pending.update(status=NotificationStatus.DELIVERED, delivered_at=timezone.now())
        elif final:
            pending.update(status=NotificationStatus.FAILED)
        if notification.payvalida_order_id:
            # consult doc: NOTIFICATION_RESPONSE is what the merchant's webhook answered.
            SandboxPayvalidaOrder.objects.filter(pk=notification.payvalida_order_id).update(
                notification_response=excerpt if status is not None else f"ERROR: {error}",
            )
    logger.info(
        "sandbox %s notification %s attempt %s -> %s%s",
        notification.gateway,
        notification.pk,
        attempt,
        status if status is not None else "no answer",
        " (accepted)" if accepted else "",
    )
    return accepted
