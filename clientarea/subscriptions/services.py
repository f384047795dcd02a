"""Service lifecycle: activate, renew, suspend, unsuspend, cancel, terminate.

Every change writes a ServiceEvent (who, when, why). Callers hold the
transaction; these functions lock nothing themselves except where noted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from clientarea.accounts import audit
from clientarea.accounts.contacts import queue_customer_email
from clientarea.accounts.models import Customer, EmailCategory
from clientarea.catalog.models import CYCLE_MONTHS, Product
from clientarea.lib.dates import add_months, local_today
from clientarea.lib.money import ZERO, format_cop, quantize
from clientarea.lib.text import fold
from clientarea.notifications.services import ContextGone
from clientarea.subscriptions import jobs
from clientarea.subscriptions.event_texts import TABLE as EVENT_TEXTS
from clientarea.subscriptions.event_texts import ServiceText, stored_reason
from clientarea.subscriptions.models import (
    OPEN_PLAN_CHANGE_STATUSES,
    PlanChange,
    PlanChangeKind,
    PlanChangeStatus,
    ProvisioningDelivery,
    Service,
    ServiceEvent,
    ServiceEventKind,
    ServiceOption,
    ServiceStatus,
    SuspensionReason,
    TerminationReason,
)

#: A service price above this is a typo (COP, before IVA).
MAX_SERVICE_PRICE = Decimal("100000000")


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
    reason: str | ServiceText = "",
    order_number: str = "",
    from_status: str = "",
    old_due: dt.date | None = None,
) -> None:
    """Append one row to the service's history (who, when, why; status and due date after it).
    ``reason``: typed by a person, or a code and its values (``ServiceText``), which the history
    shows in the reader's language."""
    sentence, code, values = stored_reason(reason)
    ServiceEvent.objects.create(
        service=service,
        kind=kind,
        actor=actor,
        reason=sentence,
        reason_code=code,
        reason_values=values,
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
        reason=ServiceText("paid") if order_number else "",
    )
    return service


@transaction.atomic(
    savepoint=False
)  # in the paid transaction: no savepoint (returns, never raises)
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
        reason=ServiceText("paid"),
    )
    if (
        service.status == ServiceStatus.SUSPENDED
        and service.suspension_reason == SuspensionReason.OVERDUE
    ):
        unsuspend_service(
            service=service, actor=actor, reason=ServiceText("paid"), order_number=order_number
        )
    return True


@transaction.atomic
def suspend_service(
    *, service: Service, reason: str, actor=None, note: str | ServiceText = ""
) -> Service:
    """Active → suspended for ``reason`` (a ``SuspensionReason``); the history says ``note`` (typed
    by a person, or a code), or the suspension reason in words."""
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
        reason=note or (ServiceText(reason) if reason in EVENT_TEXTS else reason),
    )
    return service


@transaction.atomic
def unsuspend_service(
    *, service: Service, actor=None, reason: str | ServiceText = "", order_number: str = ""
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
def cancel_service(*, service: Service, reason: str | ServiceText, actor=None) -> Service:
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
def terminate_service(*, service: Service, reason: str | ServiceText, actor=None) -> Service:
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
def change_due_date(
    *, service: Service, new_due: dt.date, actor, reason: str | ServiceText
) -> Service:
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


@transaction.atomic(savepoint=False)  # one bulk INSERT in the caller's transaction
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


# --- Staff: create, edit, suspend, unsuspend, terminate with a reason -----------------------

#: What staff may change on a service (subscriptions.services.update_service).
EDITABLE_FIELDS = ("product", "cycle", "price", "next_due_date", "label")


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceStateError(_("Give a reason: it goes to the service's history."))
    return reason[:300]


def _check_price(price: Decimal) -> None:
    if price < 0 or price > MAX_SERVICE_PRICE:
        raise ServiceStateError(
            _("The price must be between 0 and %(max)s.") % {"max": format_cop(MAX_SERVICE_PRICE)}
        )


@transaction.atomic
def create_service(
    *,
    customer: Customer,
    product: Product,
    cycle: str,
    label: str,
    actor,
    reason: str,
    price: Decimal | None = None,
    next_due_date: dt.date | None = None,
    notify: bool = True,
) -> Service:
    """Staff record a service the customer already has (e.g. sold by phone, migrated): active from
    today, due on ``next_due_date`` (default: one cycle from today), at the catalogue price of the
    cycle unless ``price`` overrides it. Provisioning is told after commit; the customer gets the
    "service added" email (``notify``) with the price and the next due date."""
    reason = _require_reason(reason)
    catalogue = product.prices.filter(cycle=cycle).first()
    if catalogue is None and price is None:
        raise ServiceStateError(
            _("This product has no price for that billing cycle: enter the price.")
        )
    final_price = price if price is not None else catalogue.price  # type: ignore[union-attr]
    _check_price(final_price)
    today = local_today()
    months = CYCLE_MONTHS[cycle]
    due = next_due_date or (add_months(today, months) if months else None)
    if due is not None and due < today - dt.timedelta(days=366):
        raise ServiceStateError(_("The next due date is more than a year in the past."))
    service = Service.objects.create(
        customer=customer,
        product=product,
        cycle=cycle,
        price=final_price,
        label=label.strip(),
        search_label=fold(label),
        status=ServiceStatus.ACTIVE,
        start_date=today,
        next_due_date=due,
        anchor_day=due.day if due else None,
    )
    record_event(service, kind=ServiceEventKind.CREATED, actor=actor, reason=reason)
    audit.record(
        action="service.created_by_staff",
        actor=actor,
        customer=customer,
        target=str(service)[:120],
        changes={"service": service.pk, "price": str(final_price), "reason": reason},
    )
    if notify:
        # What the customer would expect: the service, its price and when it is next due
        # (the outbox row is written in this transaction; the worker delivers it).
        queue_customer_email(
            customer=customer,
            category=EmailCategory.TECHNICAL,
            template="service_added",
            context={
                "customer": customer,
                "service": service,
                "product_name": service.product.display_name(customer.preferred_language),
                "service_url": settings.SITE_URL
                + reverse("subscriptions:detail", args=[service.pk]),
            },
        )
    notify_services_changed(service_ids=[service.pk], event="services.changed")
    return service


@transaction.atomic
def update_service(
    *, service: Service, changes: dict[str, Any], actor, reason: str | ServiceText
) -> Service:
    """Staff edit product, cycle, price, next due date or label; one history row and one audit
    entry. ``reason``: what staff typed, or a code (a page that edits one field says what)."""
    if not isinstance(reason, ServiceText):
        reason = _require_reason(reason)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ServiceStateError(f"not editable: {sorted(unknown)}")
    locked = Service.objects.select_for_update().get(pk=service.pk)
    if locked.status in (ServiceStatus.CANCELLED, ServiceStatus.TERMINATED):
        raise ServiceStateError(
            _("The service is %(status)s: it can no longer be edited.")
            % {"status": locked.get_status_display().lower()}
        )
    if "price" in changes:
        _check_price(changes["price"])
    before = {f: getattr(locked, f) for f in changes}
    old_due = locked.next_due_date
    for name, value in changes.items():
        setattr(locked, name, value.strip() if isinstance(value, str) else value)
    locked.search_label = fold(locked.label)
    changed = {
        f: {"before": str(before[f]), "after": str(getattr(locked, f))}
        for f in changes
        if before[f] != getattr(locked, f)
    }
    if not changed:
        return locked
    if "next_due_date" in changed and locked.next_due_date:
        locked.anchor_day = locked.next_due_date.day
    locked.save()
    record_event(
        locked,
        kind=ServiceEventKind.EDITED,
        actor=actor,
        from_status=locked.status,
        old_due=old_due,
        reason=reason,
    )
    audit.record(
        action="service.edited",
        actor=actor,
        customer=locked.customer,
        target=str(locked)[:120],
        changes={**changed, "service": locked.pk, "reason": stored_reason(reason)[0]},
    )
    notify_services_changed(service_ids=[locked.pk], event="services.changed")
    return locked


def termination_text(*, reason_code: str, note: str) -> ServiceText:
    """Why staff terminate a service: a ``TerminationReason`` (read in the reader's language)
    and their optional note, shown as typed and said to be theirs. A note is required for
    "Other". Raises ServiceStateError with a message for staff."""
    if reason_code not in TerminationReason.values:
        raise ServiceStateError(_("Choose why the service ends."))
    note = (note or "").strip()[:300]
    if not note and reason_code == TerminationReason.OTHER:
        raise ServiceStateError(_("Say why in the note: you chose “Other”."))
    if note:
        return ServiceText("staff_termination_note", {"cause": reason_code, "note": note})
    return ServiceText("staff_termination", {"cause": reason_code})


@transaction.atomic
def change_status_by_staff(
    *, service: Service, action: str, actor, reason: str, reason_code: str = ""
) -> Service:
    """Staff suspend, unsuspend or terminate one service with a reason: history, audit, the
    customer's email and provisioning, in one transaction. ``reason_code``: a
    ``TerminationReason`` (terminate), with ``reason`` an optional note; otherwise ``reason``
    is the typed reason, required."""
    why: str | ServiceText
    if action == "terminate" and reason_code:
        why = termination_text(reason_code=reason_code, note=reason)
    else:
        why = _require_reason(reason)
    locked = Service.objects.select_for_update().select_related("customer__user", "product")
    service = locked.get(pk=service.pk)
    before = service.status
    if action == "suspend":
        suspend_service(service=service, reason=SuspensionReason.MANUAL, actor=actor, note=why)
    elif action == "unsuspend":
        unsuspend_service(service=service, actor=actor, reason=why)
    elif action == "terminate":
        terminate_service(service=service, reason=why, actor=actor)
    else:
        raise ServiceStateError(f"unknown action {action!r}")
    customer = service.customer
    changes = {"service": service.pk, "from": before, "to": service.status}
    if isinstance(why, ServiceText):
        changes |= {"reason": why.english(), "reason_code": reason_code, "note": reason.strip()}
        # The email is in the customer's language, as their history reads.
        said = EVENT_TEXTS.in_language(customer.preferred_language, why.code, why.values)
    else:
        changes["reason"] = said = why
    audit.record(
        action=f"service.{action}",
        actor=actor,
        customer=customer,
        target=str(service)[:120],
        changes=changes,
    )
    queue_customer_email(
        customer=customer,
        category=EmailCategory.TECHNICAL,
        template="service_status_changed",
        context={
            "customer": customer,
            "service": service,
            "product_name": service.product.display_name(customer.preferred_language),
            "action": action,
            "reason": said,
        },
    )
    notify_services_changed(service_ids=[service.pk], event="services.changed")
    return service


# --- Plan changes: the service moves to another product and/or cycle ------------------------
# (billing.planchanges decides and prices them; these write the service side.)


@transaction.atomic
def apply_plan_change(
    *, change: PlanChange, actor=None, order_number: str = "", immediate: bool = False
) -> Service:
    """Move the service to the change's product, cycle and price; history, audit and the
    "plan changed" email, in the caller's transaction. The due date stays, except that a
    scheduled change of cycle whose renewal was already paid (the due date moved past the
    change's date by the old cycle) is re-dated by the new cycle from the change's date.
    ``immediate`` (a downgrade applied the day it is asked, its days left already prorated)
    always keeps the due date: re-dating it would give the new cycle's days for free.
    Provisioning is told by the caller (the paid path already does for the services it changed).
    """
    service = (
        Service.objects.select_for_update(of=("self",))
        .select_related("customer__user")
        .get(pk=change.service_id)
    )
    old_due = service.next_due_date
    if change.kind == PlanChangeKind.OPTIONS:
        return _apply_options_change(
            service=service, change=change, actor=actor, order_number=order_number
        )
    service.product = change.to_product
    service.cycle = change.to_cycle
    service.price = change.to_price
    months = CYCLE_MONTHS[change.to_cycle]
    if (
        not immediate
        and change.status == PlanChangeStatus.SCHEDULED
        and change.from_cycle != change.to_cycle
        and months
        and old_due is not None
        and old_due > change.effective_date
    ):
        service.next_due_date = add_months(
            change.effective_date, months, anchor_day=service.anchor_day
        )
    service.save(update_fields=["product", "cycle", "price", "next_due_date", "updated_at"])
    _mark_applied(change, order_number=order_number)
    who = actor if getattr(actor, "pk", None) else None
    record_event(
        service,
        kind=ServiceEventKind.CYCLE_CHANGED if change.cycle_only else ServiceEventKind.PLAN_CHANGED,
        actor=who,
        from_status=service.status,
        old_due=old_due,
        order_number=change.order_number,
        reason=ServiceText(
            "cycle_changed",
            {
                "plan": str(change.to_product),
                "old_cycle": change.from_cycle,
                "new_cycle": change.to_cycle,
            },
        )
        if change.cycle_only
        else ServiceText(
            "plan_changed",
            {
                "old_plan": str(change.from_product),
                "old_cycle": change.from_cycle,
                "new_plan": str(change.to_product),
                "new_cycle": change.to_cycle,
            },
        ),
    )
    audit.record(
        action="service.plan_changed",
        actor=who,
        customer=service.customer,
        target=str(service)[:120],
        changes={
            "service": service.pk,
            "change": change.pk,
            "product": {"before": change.from_product_id, "after": change.to_product_id},
            "cycle": {"before": change.from_cycle, "after": change.to_cycle},
            "price": {"before": str(change.from_price), "after": str(change.to_price)},
            "order": change.order_number,
        },
    )
    _email_plan_changed(service, change)
    return service


def _mark_applied(change: PlanChange, *, order_number: str) -> None:
    """Close an applied plan or options change (with the order that paid it, if it had none)."""
    change.status = PlanChangeStatus.APPLIED
    change.closed_at = timezone.now()
    if order_number and not change.order_number:
        change.order_number = order_number
    change.save(update_fields=["status", "closed_at", "order_number"])


def _email_plan_changed(service: Service, change: PlanChange) -> None:
    """The "plan changed" email of an applied plan or options change, recorded in the caller's
    transaction with the ids it describes and what it states as of now (the service as the change
    left it, the change's amounts as exact strings, the plans' names in the customer's language),
    and rendered by the worker when it delivers it (:func:`plan_changed_email_context`)."""
    customer = service.customer
    queue_customer_email(
        customer=customer,
        category=EmailCategory.TECHNICAL,
        template="plan_changed",
        refs={
            "customer": customer.pk,
            "service": service.pk,
            "change": change.pk,
            # What a renewal (the due date), another change (the plan) or staff change later.
            "service_then": {
                "product": service.product_id,
                "cycle": service.cycle,
                "price": str(service.price),
                "label": service.label,
                "status": service.status,
                "start_date": _iso(service.start_date),
                "next_due_date": _iso(service.next_due_date),
            },
            "change_then": {
                "from_price": str(change.from_price),
                "to_price": str(change.to_price),
                "amount": str(change.amount),
            },
            "names": plan_names(change, language=customer.preferred_language),
        },
    )


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def plan_changed_email_context(refs: Mapping[str, Any]) -> dict[str, Any]:
    """The "plan changed" email, rendered after commit from what :func:`_email_plan_changed`
    stored: the customer, the service and the change are read again by id, and the service and
    the change say what they said then (the values stored, the amounts back as the exact
    ``Decimal``s they were), so the email states the due date and the plan of that moment even
    after a renewal, another change or a staff edit. A customer, service or change that is gone,
    or a change that is not applied, raises ``ContextGone``."""
    customer = Customer.objects.select_related("user").filter(pk=refs["customer"]).first()
    if customer is None:
        raise ContextGone(f"customer {refs['customer']} no longer exists")
    service = (
        Service.objects.select_related("product")
        .filter(pk=refs["service"], customer_id=customer.pk)
        .first()
    )
    if service is None:
        raise ContextGone(f"service {refs['service']} no longer exists")
    change = PlanChange.objects.filter(pk=refs["change"], service_id=service.pk).first()
    if change is None:
        raise ContextGone(f"plan change {refs['change']} no longer exists")
    if change.status != PlanChangeStatus.APPLIED:
        raise ContextGone(f"plan change {change.pk} is not applied ({change.status})")
    then = refs["service_then"]
    if service.product_id != then["product"]:  # moved to another plan since
        product = Product.objects.filter(pk=then["product"]).first()
        if product is None:
            raise ContextGone(f"product {then['product']} no longer exists")
        service.product = product
    service.customer = customer
    service.cycle = then["cycle"]
    service.price = Decimal(then["price"])
    service.label = then["label"]
    service.status = then["status"]
    service.start_date = _date(then["start_date"])
    service.next_due_date = _date(then["next_due_date"])
    amounts = refs["change_then"]
    change.service = service
    change.from_price = Decimal(amounts["from_price"])
    change.to_price = Decimal(amounts["to_price"])
    change.amount = Decimal(amounts["amount"])
    return {"customer": customer, "service": service, "change": change, **refs["names"]}


def options_total(options: list[dict[str, Any]]) -> Decimal:
    """What a list of options (as a plan change keeps them) costs per period, before IVA: the
    sum of quantity × unit price, each line rounded once (as renewals bill them)."""
    return sum((quantize(Decimal(o["price"]) * int(o["quantity"])) for o in options), ZERO)


def options_text(options: list[dict[str, Any]]) -> str:
    """The options in a line of text: "Disco adicional (GB) × 20, Panel: cPanel × 1"; "—" for none."""
    return ", ".join(f"{o['description']} × {o['quantity']}" for o in options) or "—"


def options_diff_text(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    """Only what changes, in a line of text: "Disco adicional (GB) 20 → 80, Panel: cPanel 1 → 0"."""
    old = {o["option"]: o for o in before}
    new = {o["option"]: o for o in after}
    parts = []
    for key in [*old, *(k for k in new if k not in old)]:
        was = int(old[key]["quantity"]) if key in old else 0
        now = int(new[key]["quantity"]) if key in new else 0
        if was != now:
            description = (new.get(key) or old[key])["description"]
            parts.append(f"{description} {was} → {now}")
    return ", ".join(parts) or "—"


def current_options(service: Service) -> list[dict[str, Any]]:
    """The service's chosen options in the form a plan change keeps them (one query)."""
    return [
        {
            "option": o.option_id,
            "quantity": o.quantity,
            "price": str(o.price),
            "description": o.description,
        }
        for o in ServiceOption.objects.filter(service=service).order_by("pk")
    ]


def _apply_options_change(
    *, service: Service, change: PlanChange, actor=None, order_number: str = ""
) -> Service:
    """The options change's side of ``apply_plan_change``: the service's options become the
    change's ``to_options`` (product, cycle, price and due date stay); history, audit, email."""
    ServiceOption.objects.filter(service=service).delete()
    ServiceOption.objects.bulk_create(
        ServiceOption(
            service=service,
            option_id=o["option"],
            quantity=int(o["quantity"]),
            price=Decimal(o["price"]),
            description=str(o["description"])[:200],
        )
        for o in change.to_options
    )
    service.save(update_fields=["updated_at"])
    _mark_applied(change, order_number=order_number)
    who = actor if getattr(actor, "pk", None) else None
    record_event(
        service,
        kind=ServiceEventKind.OPTIONS_CHANGED,
        actor=who,
        from_status=service.status,
        old_due=service.next_due_date,
        order_number=change.order_number,
        reason=options_diff_text(change.from_options, change.to_options),
    )
    audit.record(
        action="service.options_changed",
        actor=who,
        customer=service.customer,
        target=str(service)[:120],
        changes={
            "service": service.pk,
            "change": change.pk,
            "options": {"before": change.from_options, "after": change.to_options},
            "order": change.order_number,
        },
    )
    _email_plan_changed(service, change)
    return service


def plan_names(change: PlanChange, *, language: str) -> dict[str, str]:
    """The old and new products' names in ``language`` (for the plan-change emails); for an
    options change, the options before and after and what the service renews at."""
    language = "en" if (language or "").startswith("en") else language
    names = {
        "old_name": change.from_product.display_name(language),
        "new_name": change.to_product.display_name(language),
    }
    if change.kind == PlanChangeKind.OPTIONS:
        names |= {
            "old_options": options_text(change.from_options),
            "new_options": options_text(change.to_options),
            "renews_at": format_cop(change.to_price + options_total(change.to_options)),
        }
    return names


def apply_paid_plan_change(*, service: Service, order_number: str, actor=None) -> bool:
    """The paid path (``mark_order_paid``) for a plan-change line: apply the change waiting for
    this order. False (nothing changed) when there is none, or the service has ended since."""
    change = (
        PlanChange.objects.select_for_update()
        .select_related("from_product", "to_product")
        .filter(service=service, status=PlanChangeStatus.AWAITING_PAYMENT)
        .first()
    )
    if change is None or change.order_number not in ("", order_number):
        return False
    if service.status not in (ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED):
        change.status = PlanChangeStatus.CANCELLED
        change.closed_at = timezone.now()
        change.save(update_fields=["status", "closed_at"])
        return False
    apply_plan_change(change=change, actor=actor, order_number=order_number)
    return True


def close_plan_changes_for_order(*, order_number: str) -> int:
    """The order of an upgrade was cancelled (by staff, the customer or expiry): the service
    stays as it is."""
    return PlanChange.objects.filter(
        order_number=order_number, status__in=OPEN_PLAN_CHANGE_STATUSES
    ).update(status=PlanChangeStatus.CANCELLED, closed_at=timezone.now())
