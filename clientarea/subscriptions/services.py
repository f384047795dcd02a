"""Service lifecycle: activate, renew, suspend, unsuspend, cancel, terminate.

Every change writes a ServiceEvent (who, when, why). Callers hold the
transaction; these functions lock nothing themselves except where noted.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction

from clientarea.catalog.models import CYCLE_MONTHS
from clientarea.lib.dates import add_months
from clientarea.subscriptions import jobs
from clientarea.subscriptions.models import (
    ProvisioningDelivery,
    Service,
    ServiceEvent,
    ServiceEventKind,
    ServiceStatus,
    SuspensionReason,
)


class ServiceStateError(Exception):
    """A lifecycle change that is not allowed from the service's current status."""


def next_due_after(*, service: Service, due: dt.date) -> dt.date | None:
    """One billing cycle after ``due`` (None for one-time products)."""
    months = CYCLE_MONTHS[service.cycle]
    if months is None:
        return None
    return add_months(due, months, anchor_day=service.anchor_day)


def record_event(
    service: Service,
    *,
    kind: str,
    actor=None,
    reason: str = "",
    order_number: str = "",
    from_status: str = "",
    old_due: dt.date | None = None,
) -> None:
    """Append one row to the service's history (who, when, why; status and due date after it)."""
    ServiceEvent.objects.create(
        service=service,
        kind=kind,
        actor=actor,
        reason=reason[:300],
        order_number=order_number,
        from_status=from_status,
        to_status=service.status,
        old_due_date=old_due,
        new_due_date=service.next_due_date,
    )


@transaction.atomic
def activate_service(
    *, service: Service, start: dt.date, actor=None, order_number: str = ""
) -> Service:
    """Pending → active, started ``start``, next due one cycle later."""
    if service.status != ServiceStatus.PENDING:
        raise ServiceStateError(f"service {service.pk} is {service.status}, not pending")
    old = service.status
    service.status = ServiceStatus.ACTIVE
    service.start_date = start
    service.anchor_day = start.day
    service.next_due_date = next_due_after(service=service, due=start)
    service.save(
        update_fields=["status", "start_date", "anchor_day", "next_due_date", "updated_at"]
    )
    record_event(
        service,
        kind=ServiceEventKind.ACTIVATED,
        actor=actor,
        order_number=order_number,
        from_status=old,
        reason="paid" if order_number else "",
    )
    return service


@transaction.atomic
def renew_service(
    *, service: Service, period_start: dt.date, actor=None, order_number: str = ""
) -> bool:
    """Move the next due date one cycle forward from the previous due date (not from today).

    Applies only if the service is still due on ``period_start``: a second call
    for the same period changes nothing and returns False.
    """
    if service.next_due_date != period_start or service.status in (
        ServiceStatus.CANCELLED,
        ServiceStatus.TERMINATED,
    ):
        return False
    old_due = service.next_due_date
    service.next_due_date = next_due_after(service=service, due=old_due)
    service.save(update_fields=["next_due_date", "updated_at"])
    record_event(
        service,
        kind=ServiceEventKind.RENEWED,
        actor=actor,
        order_number=order_number,
        from_status=service.status,
        old_due=old_due,
        reason="paid",
    )
    if (
        service.status == ServiceStatus.SUSPENDED
        and service.suspension_reason == SuspensionReason.OVERDUE
    ):
        unsuspend_service(service=service, actor=actor, reason="paid", order_number=order_number)
    return True


@transaction.atomic
def suspend_service(*, service: Service, reason: str, actor=None, note: str = "") -> Service:
    if service.status != ServiceStatus.ACTIVE:
        raise ServiceStateError(f"service {service.pk} is {service.status}, not active")
    old = service.status
    service.status = ServiceStatus.SUSPENDED
    service.suspension_reason = reason
    service.save(update_fields=["status", "suspension_reason", "updated_at"])
    record_event(
        service,
        kind=ServiceEventKind.SUSPENDED,
        actor=actor,
        from_status=old,
        reason=note or reason,
    )
    return service


@transaction.atomic
def unsuspend_service(
    *, service: Service, actor=None, reason: str = "", order_number: str = ""
) -> Service:
    if service.status != ServiceStatus.SUSPENDED:
        raise ServiceStateError(f"service {service.pk} is {service.status}, not suspended")
    old = service.status
    service.status = ServiceStatus.ACTIVE
    service.suspension_reason = SuspensionReason.NONE
    service.save(update_fields=["status", "suspension_reason", "updated_at"])
    record_event(
        service,
        kind=ServiceEventKind.UNSUSPENDED,
        actor=actor,
        from_status=old,
        reason=reason,
        order_number=order_number,
    )
    return service


@transaction.atomic
def cancel_service(*, service: Service, reason: str, actor=None) -> Service:
    """A service that never started (its new-service order was cancelled), or cancelled at staff request."""
    if service.status in (ServiceStatus.CANCELLED, ServiceStatus.TERMINATED):
        raise ServiceStateError(f"service {service.pk} is already {service.status}")
    old = service.status
    service.status = ServiceStatus.CANCELLED
    service.save(update_fields=["status", "updated_at"])
    record_event(
        service, kind=ServiceEventKind.CANCELLED, actor=actor, from_status=old, reason=reason
    )
    return service


@transaction.atomic
def terminate_service(*, service: Service, reason: str, actor=None) -> Service:
    if service.status in (ServiceStatus.CANCELLED, ServiceStatus.TERMINATED):
        raise ServiceStateError(f"service {service.pk} is already {service.status}")
    old = service.status
    service.status = ServiceStatus.TERMINATED
    service.save(update_fields=["status", "updated_at"])
    record_event(
        service, kind=ServiceEventKind.TERMINATED, actor=actor, from_status=old, reason=reason
    )
    return service


@transaction.atomic
def change_due_date(*, service: Service, new_due: dt.date, actor, reason: str) -> Service:
    old_due = service.next_due_date
    service.next_due_date = new_due
    service.anchor_day = new_due.day
    service.save(update_fields=["next_due_date", "anchor_day", "updated_at"])
    record_event(
        service,
        kind=ServiceEventKind.DUE_DATE_CHANGED,
        actor=actor,
        from_status=service.status,
        old_due=old_due,
        reason=reason,
    )
    return service


@transaction.atomic
def notify_services_changed(*, service_ids: list[int], event: str, order_number: str = "") -> None:
    """Tell every provisioner that these services changed: one outbox row each, in the caller's
    transaction, sent by the worker after commit (and by its sweep if that job is lost)."""
    rows = ProvisioningDelivery.objects.bulk_create(
        ProvisioningDelivery(
            provisioner=path,
            event=event,
            service_ids=list(service_ids),
            order_number=order_number,
        )
        for path in settings.PROVISIONERS
    )
    ids = [row.pk for row in rows]
    transaction.on_commit(lambda: _schedule(ids))


def _schedule(delivery_ids: list[int]) -> None:
    """Send at once in the worker (the sweep sends them anyway if this never runs)."""
    for delivery_id in delivery_ids:
        jobs.deliver_provisioning_job(delivery_id)
