"""Write to the append-only audit log."""

from __future__ import annotations

from typing import Any

from clientarea.accounts.models import AuditEvent
from clientarea.lib.http import client_ip

__all__ = ["client_ip", "record"]


def record(
    *,
    action: str,
    actor=None,
    customer=None,
    target: str = "",
    changes: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        customer=customer,
        target=target[:120],
        changes=changes or {},
        ip_address=ip,
    )
