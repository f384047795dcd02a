"""Cancellation requests: a customer ends a service now or at the end of its paid period.

Services (keyword-only, atomic). A pending request stops renewal orders for the service (the
billing run skips it) and cancels its pending renewal orders at once; an order that also bills
other services is cancelled and issued again without this one, so the customer is never asked
to pay for the service they are leaving. The customer can withdraw the request until it takes
effect; the daily billing run (``complete_due_cancellations``) terminates the service on the
effective date. Each step is audited and emailed.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clientarea.accounts import audit
from clientarea.accounts.contacts import queue_customer_email
from clientarea.accounts.models import EmailCategory, User
from clientarea.billing import services as billing
from clientarea.billing.event_texts import EventText
from clientarea.billing.models import CouponRedemption, Order, OrderItem, OrderState
from clientarea.lib.dates import local_today
from clientarea.subscriptions import services as subscription_services
from clientarea.subscriptions.event_texts import ServiceText
from clientarea.subscriptions.models import (
    CancellationRequest,
    CancellationStatus,
    CancellationWhen,
    Service,
    ServiceStatus,
)

logger = logging.getLogger(__name__)

CANCELLABLE = (ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED, ServiceStatus.PENDING)


class CancellationError(Exception):
    """A person-facing reason the request cannot be made or withdrawn."""


def ends_at_once(service: Service, *, today: dt.date | None = None) -> bool:
    """Nothing is left of the service's paid period (never activated, no recurring period, or
    already overdue, e.g. suspended for non-payment): a cancellation ends it at once, whatever
    the customer chose. The cancel form says so; ``request_cancellation`` applies it."""
    due = service.next_due_date
    return due is None or due <= (today or local_today())


def _email(request: CancellationRequest, template: str) -> None:
    customer = request.service.customer
    queue_customer_email(
        customer=customer,
        category=EmailCategory.TECHNICAL,
        template=template,
        context={"customer": customer, "service": request.service, "request": request},
    )


def _release_pending_orders(
    *, service: Service, reason: EventText, actor: User | None
) -> list[str]:
    """Cancel the pending orders that bill this service; re-issue the other services' lines."""
    orders = list(
        Order.objects.filter(state=OrderState.PENDING, items__service=service)
        .distinct()
        .select_related("customer__user")
    )
    numbers = []
    for order in orders:
        items = list(order.items.select_related("service").order_by("position", "pk"))
        others = [item for item in items if item.service_id != service.pk]
        billing.cancel_order(order=order, reason=reason, actor=actor, notify=not others)
        numbers.append(order.number)
        if others:
            reissued = billing.create_orders(
                specs=[
                    billing.OrderSpec(
                        customer=order.customer,
                        lines=[_line(item) for item in others],
                        due_date=order.due_date,
                        reason=EventText("reissued", {"n": order.number}),
                        actor=actor,
                    )
                ]
            )
            numbers.extend(o.number for o in reissued)
            if any(item.discount for item in others):
                # The coupon's discount goes on with the lines it discounted: so does its use.
                CouponRedemption.objects.filter(order=order).update(
                    order=reissued[0], discount=sum(item.discount for item in others)
                )
    return numbers


def _line(item: OrderItem) -> billing.LineSpec:
    return billing.LineSpec(
        kind=item.kind,
        description=item.description,
        unit_price=item.unit_price,
        quantity=item.quantity,
        tax_treatment=item.tax_treatment,
        tax_rate=item.tax_rate,
        service=item.service,
        period_start=item.period_start,
        period_end=item.period_end,
        discount=item.discount,
        discount_reason=item.discount_reason,
    )


@transaction.atomic
def request_cancellation(
    *,
    service: Service,
    when: str,
    reason: str,
    comment: str = "",
    actor: User | None = None,
    ip: str | None = None,
) -> CancellationRequest:
    """Record the request; cancel the service's pending orders; terminate now if asked."""
    locked = Service.objects.select_for_update().select_related("customer__user").get(pk=service.pk)
    if locked.status not in CANCELLABLE:
        raise CancellationError(_("This service has already ended."))
    if CancellationRequest.objects.filter(
        service=locked, status=CancellationStatus.PENDING
    ).exists():
        raise CancellationError(_("You already asked to cancel this service."))
    today = local_today()
    due = locked.next_due_date
    immediate = when == CancellationWhen.IMMEDIATE or ends_at_once(locked, today=today)
    effective = today if immediate or due is None else due
    try:
        with transaction.atomic():
            request = CancellationRequest.objects.create(
                service=locked,
                when=CancellationWhen.IMMEDIATE if immediate else CancellationWhen.END_OF_PERIOD,
                reason=reason,
                comment=comment.strip()[:1000],
                effective_date=effective,
                requested_by=actor if getattr(actor, "pk", None) else None,
            )
    except IntegrityError as exc:  # a second request racing this one
        raise CancellationError(_("You already asked to cancel this service.")) from exc
    orders = _release_pending_orders(
        service=locked, reason=EventText("customer_cancellation"), actor=actor
    )
    audit.record(
        action="service.cancellation_requested",
        actor=actor,
        customer=locked.customer,
        target=str(locked)[:120],
        changes={
            "when": request.when,
            "reason": reason,
            "effective_date": effective.isoformat(),
            "orders_cancelled": orders,
        },
        ip=ip,
    )
    if immediate:
        _complete(request, actor=actor)
    else:
        _email(request, "cancellation_requested")
    logger.info("cancellation requested for service %s, effective %s", locked.pk, effective)
    return request


@transaction.atomic
def withdraw_cancellation(
    *, request: CancellationRequest, actor: User | None = None, ip: str | None = None
) -> CancellationRequest:
    """The customer keeps the service: renewals resume with the next billing run."""
    locked = (
        CancellationRequest.objects.select_for_update()
        .select_related("service__customer__user")
        .get(pk=request.pk)
    )
    if locked.status != CancellationStatus.PENDING:
        raise CancellationError(_("This request is no longer pending."))
    if locked.effective_date <= local_today():
        raise CancellationError(_("The cancellation already takes effect today."))
    locked.status = CancellationStatus.WITHDRAWN
    locked.closed_at = timezone.now()
    locked.save(update_fields=["status", "closed_at"])
    audit.record(
        action="service.cancellation_withdrawn",
        actor=actor,
        customer=locked.service.customer,
        target=str(locked.service)[:120],
        ip=ip,
    )
    _email(locked, "cancellation_withdrawn")
    return locked


def _complete(request: CancellationRequest, *, actor: User | None) -> None:
    service = request.service
    if service.status in CANCELLABLE:
        # The reason is a code (read in each reader's language); the comment is the customer's
        # own words, shown as typed and said to be theirs.
        why = (
            ServiceText(
                "customer_cancellation_comment", {"why": request.reason, "comment": request.comment}
            )
            if request.comment
            else ServiceText("customer_cancellation", {"why": request.reason})
        )
        subscription_services.terminate_service(service=service, reason=why, actor=actor)
        subscription_services.notify_services_changed(
            service_ids=[service.pk], event="services.terminated"
        )
    request.status = CancellationStatus.DONE
    request.closed_at = timezone.now()
    request.save(update_fields=["status", "closed_at"])
    _email(request, "cancellation_done")


def complete_due_cancellations(*, today: dt.date | None = None, limit: int = 1000) -> int:
    """Terminate the services whose cancellation takes effect today or earlier (billing run)."""
    today = today or local_today()
    ids = list(
        CancellationRequest.objects.filter(
            status=CancellationStatus.PENDING, effective_date__lte=today
        ).values_list("pk", flat=True)[:limit]
    )
    done = 0
    for pk in ids:
        with transaction.atomic():
            request = (
                CancellationRequest.objects.select_for_update()
                .select_related("service__customer__user")
                .filter(pk=pk, status=CancellationStatus.PENDING)
                .first()
            )
            if request is None:
                continue  # withdrawn or completed meanwhile
            locked = Service.objects.select_for_update().get(pk=request.service_id)
            request.service = locked
            _release_pending_orders(
                service=locked, reason=EventText("customer_cancellation"), actor=None
            )
            _complete(request, actor=None)
            done += 1
    return done


def pending_cancellation_service_ids(*, customer_ids: list[int]) -> set[int]:
    """Services of these customers with a pending cancellation (the billing run skips them)."""
    return set(
        CancellationRequest.objects.filter(
            status=CancellationStatus.PENDING, service__customer_id__in=customer_ids
        ).values_list("service_id", flat=True)
    )
