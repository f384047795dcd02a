"""Tell provisioning systems that services changed (activated, renewed, unsuspended, suspended...).

Provisioners are named by dotted path in ``settings.PROVISIONERS``. Each event
is an outbox row per provisioner (``ProvisioningDelivery``), written in the
transaction that changed the services (``services.notify_services_changed``) and
sent after commit by the worker, so a slow or failing panel never blocks or undoes
a payment (and is retried without reprocessing the payment).

A worker claims a row with one conditional UPDATE, taking a lease of
``WORKER_LEASE_SECONDS``; a row whose job was lost (the process died after commit)
or whose worker died while sending is picked up by the sweep
(``deliver_due_provisioning_events``, every minute). Delivery is at least once: a
provisioner may see an event again after a crash, and should treat it as "the
services are now like this" (the payload carries their current state).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from abc import ABC, abstractmethod
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from clientarea.lib import http
from clientarea.subscriptions.models import DeliveryStatus, ProvisioningDelivery, Service

logger = logging.getLogger(__name__)


class ProvisioningError(Exception):
    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class Provisioner(ABC):
    code = "base"

    @abstractmethod
    def send(self, event: dict[str, Any]) -> None:
        """Deliver one event; raise ProvisioningError on failure."""


class LoggingProvisioner(Provisioner):
    """Writes each event to the log (the default: useful with a panel that polls, and in demos)."""

    code = "log"

    def send(self, event: dict[str, Any]) -> None:
        logger.info("provisioning event %s", json.dumps(event, sort_keys=True))


class WebhookProvisioner(Provisioner):
    """POSTs the event as JSON to PROVISIONING_WEBHOOK_URL, signed with HMAC-SHA256.

    Header ``X-ClientArea-Signature: sha256=<hex of HMAC(secret, body)>``.
    """

    code = "webhook"

    def send(self, event: dict[str, Any]) -> None:
        url = settings.PROVISIONING_WEBHOOK_URL
        if not url:
            raise ProvisioningError("PROVISIONING_WEBHOOK_URL is not set", permanent=True)
        body = json.dumps(event, sort_keys=True, separators=(",", ":")).encode()
        signature = hmac.new(
            settings.PROVISIONING_WEBHOOK_SECRET.encode(), body, hashlib.sha256
        ).hexdigest()
        try:
            response = http.send(
                "POST",
                url,
                body,
                {
                    "Content-Type": "application/json",
                    "X-ClientArea-Signature": f"sha256={signature}",
                },
            )
        except http.HttpError as exc:
            raise ProvisioningError(str(exc)) from exc
        if not 200 <= response.status < 300:
            raise ProvisioningError(
                f"HTTP {response.status}",
                permanent=400 <= response.status < 500 and response.status != 429,
            )


def provisioners() -> list[Provisioner]:
    return [import_string(path)() for path in settings.PROVISIONERS]


def build_event(*, service_ids: list[int], event: str, order_number: str = "") -> dict[str, Any]:
    services = Service.objects.filter(pk__in=service_ids).select_related(
        "product", "customer__user"
    )
    return {
        "event": event,
        "order": order_number,
        "sent_at": timezone.now().isoformat(),
        "services": [
            {
                "id": s.pk,
                "product": s.product.code,
                "label": s.label,
                "status": s.status,
                "next_due_date": s.next_due_date.isoformat() if s.next_due_date else None,
                "customer": {"id": s.customer_id, "email": s.customer.user.email},
            }
            for s in services
        ],
    }


# Attempts per delivery (the first one and six retries), with exponential backoff up to an hour.
MAX_ATTEMPTS = 7


def claim_delivery(*, delivery_id: int) -> bool:
    """Take the lease on one delivery (one conditional UPDATE: safe with many workers)."""
    now = timezone.now()
    return (
        ProvisioningDelivery.objects.filter(
            pk=delivery_id,
            status__in=(DeliveryStatus.PENDING, DeliveryStatus.SENDING),
            next_attempt_at__lte=now,
            attempts__lt=MAX_ATTEMPTS,
        ).update(
            status=DeliveryStatus.SENDING,
            attempts=F("attempts") + 1,
            next_attempt_at=now + dt.timedelta(seconds=settings.WORKER_LEASE_SECONDS),
        )
        == 1
    )


def deliver_provisioning_event(*, delivery_id: int) -> bool:
    """Send one event to its provisioner if it can be claimed. True when this call sent it.

    The worker builds the payload when it delivers (:func:`build_event`), so the
    provisioner gets the services as they are then, also on a retry.
    """
    if not claim_delivery(delivery_id=delivery_id):
        return False
    row = ProvisioningDelivery.objects.get(pk=delivery_id)
    payload = build_event(
        service_ids=row.service_ids, event=row.event, order_number=row.order_number
    )
    try:
        import_string(row.provisioner)().send(payload)
    except Exception as exc:  # a panel's failure (or a bad provisioner path) is recorded, retried
        permanent = isinstance(exc, ProvisioningError) and exc.permanent
        final = permanent or row.attempts >= MAX_ATTEMPTS
        ProvisioningDelivery.objects.filter(pk=row.pk).update(
            status=DeliveryStatus.FAILED if final else DeliveryStatus.PENDING,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            next_attempt_at=timezone.now() + dt.timedelta(seconds=min(60 * 2**row.attempts, 3600)),
        )
        log = logger.error if final else logger.warning
        log("provisioning %s (delivery %s) failed: %s", row.provisioner, row.pk, exc)
        return False
    ProvisioningDelivery.objects.filter(pk=row.pk).update(
        status=DeliveryStatus.SENT, sent_at=timezone.now(), last_error=""
    )
    return True


def deliver_due_provisioning_events(*, limit: int = 200) -> int:
    """The sweep: due retries, lost jobs, and deliveries whose worker died (expired lease)."""
    now = timezone.now()
    stale = ProvisioningDelivery.objects.filter(
        status=DeliveryStatus.SENDING, next_attempt_at__lte=now, attempts__gte=MAX_ATTEMPTS
    )
    stale.update(
        status=DeliveryStatus.FAILED,
        last_error="the worker stopped while sending (lease expired after the last attempt)",
    )
    ids = list(
        ProvisioningDelivery.objects.filter(
            status__in=(DeliveryStatus.PENDING, DeliveryStatus.SENDING), next_attempt_at__lte=now
        )
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    return sum(1 for delivery_id in ids if deliver_provisioning_event(delivery_id=delivery_id))
