"""Tell provisioning systems that services changed (activated, renewed, unsuspended, suspended...).

Provisioners are named by dotted path in ``settings.PROVISIONERS``. Each event
is sent after commit, through the worker, so a slow or failing panel never
blocks or undoes a payment (and is retried without reprocessing the payment).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from abc import ABC, abstractmethod
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

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
        from clientarea.lib import http

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
    from clientarea.subscriptions.models import Service

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


def notify_services_changed(*, service_ids: list[int], event: str, order_number: str = "") -> None:
    """Queue one delivery per provisioner, after the current transaction commits.

    The worker builds the payload when it delivers (:func:`build_event`), so the
    provisioner gets the services as they are then, also on a retry.
    """
    from clientarea.subscriptions.tasks import deliver_provisioning_event

    ids = list(service_ids)

    def enqueue() -> None:
        for path in settings.PROVISIONERS:
            deliver_provisioning_event(path, ids, event, order_number)

    transaction.on_commit(enqueue)
