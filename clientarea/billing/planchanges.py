"""Plan changes: a customer (or staff) moves a service to another product of the same kind and/or
another billing cycle, paying or getting back the prorated difference (``billing.proration``).

* **Upgrade** (the new plan costs more for the days left): a pending order with one
  "plan change" line (the difference before IVA, IVA at the new product's rate). The change
  waits for it: ``mark_order_paid`` applies it (``subscriptions.services.apply_paid_plan_change``:
  product, cycle and price on the service, its history, the "plan changed" email, and the
  ``services.changed`` provisioning event). A cancelled order, by staff, by the customer
  ("Cancel this change") or by the billing run once it is past due, leaves the service as it was.
* **Downgrade** (costs less, or the same): with ``PLAN_CHANGE_DOWNGRADE_AT = "now"`` it applies at
  once and the difference, with IVA, becomes account credit, with a DIAN credit note on the
  invoice that paid the period when it was invoiced (``billing.change_notes``; with
  ``BILLING_AUTO_APPLY_CREDIT`` it pays pending orders). With ``"renewal"`` it is scheduled for the
  next due date: the billing run bills that renewal at the new plan and applies the change on
  that day (``apply_due_changes``); nothing is prorated.
* **Options** (``request_options_change``): the same product and cycle with other configurable
  options is a plan change of kind "options", with the same rules, priced by the same formula
  over the options' recurring total; one that costs exactly the same applies at once.

The due date never moves (except that a scheduled change of cycle whose renewal was paid early is
re-dated by the new cycle). Refused, with a message for people: a service that is not active, has
no recurring cycle or due date, already has an open change or a pending cancellation, or has an
unpaid renewal (pay it first); the same plan; a product of another kind or without that cycle.
Every step is audited.

One file of about 750 lines: plans and options share the quote, the refusals, the making of a
change and the billing run's hooks. Where to cut later: the options' quote and form helpers
(``quote_options_change`` and its neighbours) into ``billing/option_changes.py``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from clientarea.accounts import audit
from clientarea.accounts.contacts import queue_customer_email
from clientarea.accounts.models import EmailCategory, User
from clientarea.billing import change_notes, ledger
from clientarea.billing import services as billing
from clientarea.billing.descriptions import customer_language
from clientarea.billing.event_texts import EventText
from clientarea.billing.models import ItemKind, Order, OrderState
from clientarea.billing.proration import Proration, credit_with_tax, prorate
from clientarea.catalog.models import (
    CYCLE_MONTHS,
    BillingCycle,
    OptionGroup,
    OptionKind,
    Product,
    ProductKind,
    ProductPrice,
)
from clientarea.catalog.pricing import ConfigurationError, Selection, configure, option_groups
from clientarea.lib.dates import local_today
from clientarea.lib.money import ZERO, tax_for
from clientarea.subscriptions import services as subscription_services
from clientarea.subscriptions.models import (
    OPEN_PLAN_CHANGE_STATUSES,
    CancellationRequest,
    CancellationStatus,
    PlanChange,
    PlanChangeDirection,
    PlanChangeKind,
    PlanChangeStatus,
    Service,
    ServiceOption,
    ServiceStatus,
)

logger = logging.getLogger(__name__)

#: How a change takes effect.
ON_PAYMENT, NOW, AT_RENEWAL = "payment", "now", "renewal"


class PlanChangeError(Exception):
    """A person-facing reason the change cannot be made."""


@dataclass(frozen=True)
class Quote:
    """What changing to ``product`` with ``cycle`` means today: the preview and what is done."""

    product: Product
    cycle: str
    cycle_label: str
    name: str
    new_price: Decimal  # per cycle, before IVA
    new_tax: Decimal
    proration: Proration
    direction: str
    applies: str  # ON_PAYMENT | NOW | AT_RENEWAL
    effective_date: dt.date
    pay_now: Decimal  # the upgrade order's total (whole pesos, IVA included)
    credit_now: Decimal  # the downgrade's credit (IVA included)
    kind: str = PlanChangeKind.PLAN
    #: An options change: the options before and after (``PlanChange.from_options`` form).
    from_options: tuple[dict[str, Any], ...] = ()
    to_options: tuple[dict[str, Any], ...] = ()
    #: The service's own plan over another billing cycle: a change of cycle, neither an upgrade
    #: nor a downgrade in words (``direction`` still says whether it is paid or credited).
    cycle_only: bool = False

    @property
    def key(self) -> str:
        return f"{self.product.pk}:{self.cycle}"

    @property
    def label(self) -> str:
        """What the change is, in words (as ``PlanChange.change_label``)."""
        if self.cycle_only:
            return _("Change of billing cycle")
        return str(PlanChangeDirection(self.direction).label)

    @property
    def pay_tax(self) -> Decimal:
        return tax_for(self.proration.amount_due, self.product.effective_tax_rate)


def may_offer_change(service: Service) -> bool:
    """Whether the service page offers "Change plan" at all (no query: what the service row and
    its product say; the change page gives any other reason in words)."""
    return (
        service.status == ServiceStatus.ACTIVE
        and CYCLE_MONTHS.get(service.cycle) is not None
        and service.next_due_date is not None
        and service.product.kind != ProductKind.DOMAIN
    )


def refusal(service: Service, *, today: dt.date | None = None) -> str | None:
    """Why this service's plan cannot change now, in words; None when it can."""
    today = today or local_today()
    if service.status != ServiceStatus.ACTIVE:
        return _("Only active services can change plan.")
    if CYCLE_MONTHS.get(service.cycle) is None or service.next_due_date is None:
        return _("This service has no recurring billing cycle to change.")
    if service.product.kind == ProductKind.DOMAIN:
        return _("Domains do not change plan: renew or transfer them instead.")
    if service.next_due_date < today:
        return _("This service is past its due date: pay its renewal first.")
    if PlanChange.objects.filter(service=service, status__in=OPEN_PLAN_CHANGE_STATUSES).exists():
        return _("This service already has a plan change in progress.")
    if CancellationRequest.objects.filter(
        service=service, status=CancellationStatus.PENDING
    ).exists():
        return _("You asked to cancel this service: withdraw that request first.")
    renewal = pending_renewal(service)
    if renewal is not None:
        return _("Order %(number)s for this service is waiting for payment: pay it first.") % {
            "number": renewal.number
        }
    return None


def pending_renewal(service: Service) -> Order | None:
    """The service's earliest renewal order waiting for payment (it blocks a plan change), if
    any: the refusal names it and the page links it."""
    return (
        Order.objects.filter(
            state=OrderState.PENDING, items__service=service, items__period_key__isnull=False
        )
        .order_by("due_date")
        .first()
    )


def open_change(service: Service) -> PlanChange | None:
    """The service's change waiting for payment or for its date, if any."""
    return (
        PlanChange.objects.filter(service=service, status__in=OPEN_PLAN_CHANGE_STATUSES)
        .select_related("from_product", "to_product")
        .first()
    )


def _order_total(amount: Decimal, product: Product) -> Decimal:
    line = billing.LineSpec(
        kind=ItemKind.PLAN_CHANGE,
        description="",
        unit_price=amount,
        tax_treatment=product.tax_treatment,
        tax_rate=product.effective_tax_rate,
    )
    return billing.order_totals([billing.line_amounts(line)])["total"]


def _decide(
    *, service: Service, product: Product, proration: Proration, zero_now: bool = False
) -> tuple[str, str, Decimal, Decimal]:
    """Direction, how it applies, what is paid now and what is credited now (IVA included).
    ``zero_now``: a change that costs exactly the same applies at once (options changes)."""
    direction = (
        PlanChangeDirection.UPGRADE if proration.difference > 0 else PlanChangeDirection.DOWNGRADE
    )
    pay_now = credit_now = ZERO
    if direction == PlanChangeDirection.UPGRADE:
        pay_now = _order_total(proration.amount_due, product)
        applies = ON_PAYMENT if pay_now > 0 else NOW
    elif settings.PLAN_CHANGE_DOWNGRADE_AT == AT_RENEWAL and not (
        zero_now and proration.difference == 0
    ):
        applies = AT_RENEWAL
    else:
        applies = NOW
        credit_now = credit_with_tax(
            proration,
            old_rate=service.product.effective_tax_rate,
            new_rate=product.effective_tax_rate,
        )
    return direction, applies, pay_now, credit_now


def _quote(*, service: Service, price: ProductPrice, language: str, today: dt.date) -> Quote | None:
    product = price.product
    new_months = CYCLE_MONTHS.get(price.cycle)
    old_months = CYCLE_MONTHS.get(service.cycle)
    if new_months is None or old_months is None or service.next_due_date is None:
        return None
    proration = prorate(
        old_price=service.price,
        old_months=old_months,
        new_price=price.price,
        new_months=new_months,
        due_date=service.next_due_date,
        today=today,
        anchor_day=service.anchor_day,
    )
    direction, applies, pay_now, credit_now = _decide(
        service=service, product=product, proration=proration
    )
    return Quote(
        product=product,
        cycle=price.cycle,
        cycle_label=str(BillingCycle(price.cycle).label),
        name=product.display_name(language),
        new_price=price.price,
        new_tax=tax_for(price.price, product.effective_tax_rate),
        proration=proration,
        direction=direction,
        applies=applies,
        effective_date=service.next_due_date if applies == AT_RENEWAL else today,
        pay_now=pay_now,
        credit_now=credit_now,
        cycle_only=product.pk == service.product_id and price.cycle != service.cycle,
    )


def plan_options(service: Service, *, language: str, today: dt.date | None = None) -> list[Quote]:
    """Every plan the service may move to (active products of its kind, each recurring cycle
    with a price, except its own plan), priced for today; cheapest first. Two queries."""
    today = today or local_today()
    prices = (
        ProductPrice.objects.filter(product__active=True, product__kind=service.product.kind)
        .exclude(cycle=BillingCycle.ONE_TIME)
        .select_related("product")
    )
    quotes = []
    for price in prices:
        if price.product_id == service.product_id and price.cycle == service.cycle:
            continue
        quote = _quote(service=service, price=price, language=language, today=today)
        if quote is not None:
            quotes.append(quote)
    order = {value: i for i, value in enumerate(BillingCycle.values)}
    return sorted(
        quotes,
        key=lambda q: (q.product.sort_order, q.name, order.get(q.cycle, 99)),
    )


def quote_change(
    *,
    service: Service,
    product: Product,
    cycle: str,
    language: str | None = None,
    today: dt.date | None = None,
) -> Quote:
    """The preview of one change, or PlanChangeError with the reason it is refused."""
    today = today or local_today()
    reason = refusal(service, today=today)
    if reason:
        raise PlanChangeError(reason)
    if product.pk == service.product_id and cycle == service.cycle:
        raise PlanChangeError(_("The service already has this plan."))
    if product.kind != service.product.kind or not product.active:
        raise PlanChangeError(_("This plan is not available for this service."))
    price = ProductPrice.objects.filter(product=product, cycle=cycle).select_related("product")
    found = price.first()
    quote = (
        _quote(service=service, price=found, language=language or "es", today=today)
        if found is not None
        else None
    )
    if quote is None:
        raise PlanChangeError(_("This plan is not available with that billing cycle."))
    return quote


# --- Options: the same product and cycle, other configurable options ---------------------------


def option_groups_for(service: Service) -> list[OptionGroup]:
    """The option groups of the service's product (with options and prices), for the form."""
    return option_groups(service.product)


def has_option_groups(service: Service) -> bool:
    """Whether the service's product has configurable options (the service page's link)."""
    return OptionGroup.objects.filter(product_id=service.product_id).exists()


def current_selections(service: Service) -> dict[int, Selection]:
    """What the service has chosen, per option group (the form's initial values)."""
    return {
        o.option.group_id: Selection(option_id=o.option_id, quantity=o.quantity)
        for o in ServiceOption.objects.filter(service=service).select_related("option")
    }


def quote_options_change(
    *,
    service: Service,
    selections: Mapping[int, Selection],
    language: str | None = None,
    today: dt.date | None = None,
) -> Quote:
    """The preview of changing the service's options to ``selections`` (group id → Selection),
    validated against its product and cycle like an order from the catalog; PlanChangeError
    with the reason it is refused. An option the service keeps (any quantity) keeps its unit
    price at purchase; an option it adds takes today's catalog price. The proration is the plan
    changes' (``billing.proration``) over the options' recurring total, old and new."""
    today = today or local_today()
    reason = refusal(service, today=today)
    if reason:
        raise PlanChangeError(reason)
    months = CYCLE_MONTHS.get(service.cycle)
    if months is None or service.next_due_date is None:  # refusal() said so already
        raise PlanChangeError(_("This service has no recurring billing cycle to change."))
    try:
        configuration = configure(
            product=service.product, cycle=service.cycle, selections=selections
        )
    except ConfigurationError as exc:
        raise PlanChangeError(str(exc)) from exc
    words = customer_language(service.customer)
    before = subscription_services.current_options(service)
    kept = {o["option"]: o for o in before}
    after: list[dict[str, Any]] = []
    for chosen in configuration.options:
        old = kept.get(chosen.option.pk)
        description = (
            old["description"]
            if old is not None
            else (
                f"{chosen.group.display_name(words)}: {chosen.option.display_name(words)}"
                if chosen.group.kind == OptionKind.CHOICE
                else chosen.group.display_name(words)
            )
        )
        after.append(
            {
                "option": chosen.option.pk,
                "quantity": chosen.quantity,
                "price": old["price"] if old is not None else str(chosen.unit_price),
                "description": description[:200],
            }
        )
    if sorted((o["option"], o["quantity"]) for o in after) == sorted(
        (o["option"], o["quantity"]) for o in before
    ):
        raise PlanChangeError(_("The service already has these options."))
    old_total = subscription_services.options_total(before)
    new_total = subscription_services.options_total(after)
    proration = prorate(
        old_price=old_total,
        old_months=months,
        new_price=new_total,
        new_months=months,
        due_date=service.next_due_date,
        today=today,
        anchor_day=service.anchor_day,
    )
    product = service.product
    direction, applies, pay_now, credit_now = _decide(
        service=service, product=product, proration=proration, zero_now=True
    )
    recurring = service.price + new_total
    return Quote(
        product=product,
        cycle=service.cycle,
        cycle_label=str(BillingCycle(service.cycle).label),
        name=product.display_name(language or "es"),
        new_price=recurring,
        new_tax=tax_for(recurring, product.effective_tax_rate),
        proration=proration,
        direction=direction,
        applies=applies,
        effective_date=service.next_due_date if applies == AT_RENEWAL else today,
        pay_now=pay_now,
        credit_now=credit_now,
        kind=PlanChangeKind.OPTIONS,
        from_options=tuple(before),
        to_options=tuple(after),
    )


# --- Making a change ------------------------------------------------------------------------------


def _line_description(*, service: Service, quote: Quote) -> str:
    language = customer_language(service.customer)
    with translation.override(language):
        date = formats.date_format(service.next_due_date or quote.effective_date, "DATE_FORMAT")
        if quote.kind == PlanChangeKind.OPTIONS:
            text = _("Options change: %(changes)s, %(days)s days until %(date)s") % {
                "changes": subscription_services.options_diff_text(
                    list(quote.from_options), list(quote.to_options)
                ),
                "days": quote.proration.days_remaining,
                "date": date,
            }
        elif quote.cycle_only:
            text = _(
                "Billing cycle change: %(plan)s, %(old)s → %(new)s, %(days)s days until %(date)s"
            ) % {
                "plan": quote.product.display_name(language),
                "old": service.get_cycle_display(),
                "new": BillingCycle(quote.cycle).label,
                "days": quote.proration.days_remaining,
                "date": date,
            }
        else:
            text = _("Plan change: %(old)s → %(new)s, %(days)s days until %(date)s") % {
                "old": f"{service.product.display_name(language)} ({service.get_cycle_display()})",
                "new": f"{quote.product.display_name(language)} ({BillingCycle(quote.cycle).label})",
                "days": quote.proration.days_remaining,
                "date": date,
            }
    text = f"{text} · {service.label}" if service.label else text
    return text[:300]


def _lock(service: Service) -> Service:
    ledger.lock_customer(customer_id=service.customer_id)  # the customer first, as credit does
    return (
        Service.objects.select_for_update(of=("self",))
        .select_related("customer__user", "product")
        .get(pk=service.pk)
    )


@transaction.atomic
def request_plan_change(
    *,
    service: Service,
    product: Product,
    cycle: str,
    actor: User | None = None,
    ip: str | None = None,
    by_staff: bool = False,
    today: dt.date | None = None,
) -> PlanChange:
    """Make the change: an order for an upgrade (applied when paid), a downgrade applied now
    with its credit or scheduled for the due date. Raises PlanChangeError (nothing written)."""
    today = today or local_today()
    locked = _lock(service)
    quote = quote_change(
        service=locked,
        product=product,
        cycle=cycle,
        language=customer_language(locked.customer),
        today=today,
    )
    return _make_change(
        locked=locked, quote=quote, actor=actor, ip=ip, by_staff=by_staff, today=today
    )


@transaction.atomic
def request_options_change(
    *,
    service: Service,
    selections: Mapping[int, Selection],
    actor: User | None = None,
    ip: str | None = None,
    by_staff: bool = False,
    today: dt.date | None = None,
) -> PlanChange:
    """Change the service's configurable options, as a plan change of kind "options": more
    expensive → an order for the prorated difference that applies them when paid; cheaper →
    applied now with the difference as credit (and its credit note) or at the next renewal
    (``PLAN_CHANGE_DOWNGRADE_AT``); the same price → applied now. Raises PlanChangeError."""
    today = today or local_today()
    locked = _lock(service)
    quote = quote_options_change(
        service=locked,
        selections=selections,
        language=customer_language(locked.customer),
        today=today,
    )
    return _make_change(
        locked=locked, quote=quote, actor=actor, ip=ip, by_staff=by_staff, today=today
    )


def _make_change(
    *,
    locked: Service,
    quote: Quote,
    actor: User | None,
    ip: str | None,
    by_staff: bool,
    today: dt.date,
) -> PlanChange:
    """Record the change the quote describes and do what it means today (the caller holds the
    customer's and the service's locks, in one transaction)."""
    user = actor if getattr(actor, "pk", None) else None
    options = quote.kind == PlanChangeKind.OPTIONS
    change = PlanChange(
        service=locked,
        kind=quote.kind,
        direction=quote.direction,
        status=(
            PlanChangeStatus.AWAITING_PAYMENT
            if quote.applies == ON_PAYMENT
            else PlanChangeStatus.SCHEDULED
        ),
        from_product=locked.product,
        from_cycle=locked.cycle,
        from_price=locked.price,
        to_product=quote.product,
        to_cycle=quote.cycle,
        to_price=locked.price if options else quote.new_price,
        from_options=list(quote.from_options),
        to_options=list(quote.to_options),
        days_remaining=quote.proration.days_remaining,
        credit=quote.proration.credit if quote.applies != AT_RENEWAL else ZERO,
        charge=quote.proration.charge if quote.applies != AT_RENEWAL else ZERO,
        amount=quote.pay_now or quote.credit_now,
        effective_date=quote.effective_date,
        requested_by=user,
        by_staff=by_staff,
    )
    try:
        with transaction.atomic():
            change.save()
    except IntegrityError as exc:  # a second request racing this one
        raise PlanChangeError(_("This service already has a plan change in progress.")) from exc
    credited = ZERO
    if quote.applies == ON_PAYMENT:
        order = _upgrade_order(service=locked, quote=quote, actor=user, today=today)
        PlanChange.objects.filter(pk=change.pk, order_number="").update(order_number=order.number)
        change.refresh_from_db()
    elif quote.applies == NOW:
        memo = change_notes.change_memo(service=locked, change=change)
        # The credit first: what was paid may cap it, and the email names what was credited.
        credited = change_notes.credit_downgrade(
            service=locked,
            change=change,
            amount=quote.credit_now,
            memo=memo,
            actor=user,
            today=today,
        )
        subscription_services.apply_plan_change(change=change, actor=user, immediate=True)
        subscription_services.notify_services_changed(
            service_ids=[locked.pk], event="services.changed"
        )
    else:
        customer = locked.customer
        queue_customer_email(
            customer=customer,
            category=EmailCategory.TECHNICAL,
            template="plan_change_scheduled",
            context={"customer": customer, "service": locked, "change": change}
            | subscription_services.plan_names(change, language=customer.preferred_language),
        )
    audit.record(
        action="service.plan_change_requested",
        actor=user,
        customer=locked.customer,
        target=str(locked)[:120],
        changes={
            "service": locked.pk,
            "change": change.pk,
            "kind": change.kind,
            "direction": change.direction,
            "cycle_only": change.cycle_only,
            "applies": quote.applies,
            "to_product": quote.product.pk,
            "to_cycle": quote.cycle,
            "options": {"before": change.from_options, "after": change.to_options}
            if options
            else None,
            "days": quote.proration.days_remaining,
            "credit": str(quote.proration.credit),
            "charge": str(quote.proration.charge),
            "amount": str(change.amount),
            "credited": str(credited),
            "order": change.order_number,
            "by_staff": by_staff,
        },
        ip=ip,
    )
    logger.info(
        "plan change %s (%s) for service %s: %s (%s)",
        change.pk,
        change.kind,
        locked.pk,
        quote.applies,
        change.amount,
    )
    return change


def _upgrade_order(*, service: Service, quote: Quote, actor: User | None, today: dt.date) -> Order:
    due = service.next_due_date or today
    return billing.create_order(
        customer=service.customer,
        lines=[
            billing.LineSpec(
                kind=ItemKind.PLAN_CHANGE,
                description=_line_description(service=service, quote=quote),
                unit_price=quote.proration.amount_due,
                tax_treatment=quote.product.tax_treatment,
                tax_rate=quote.product.effective_tax_rate,
                service=service,
                period_start=today,
                period_end=due,
            )
        ],
        issue_date=today,
        # Unpaid by then, the billing run cancels it: the price is for the days left today.
        due_date=max(
            today,
            min(
                today + dt.timedelta(days=settings.BILLING_ORDER_DUE_DAYS),
                due - dt.timedelta(days=1),
            ),
        ),
        actor=actor,
        reason=EventText("plan_change"),
    )


@transaction.atomic
def cancel_plan_change(
    *, change: PlanChange, actor: User | None = None, ip: str | None = None
) -> PlanChange:
    """Withdraw an open change: an upgrade's order is cancelled, a scheduled one dropped."""
    locked = (
        PlanChange.objects.select_for_update()
        .select_related("service__customer__user")
        .get(pk=change.pk)
    )
    if locked.status not in OPEN_PLAN_CHANGE_STATUSES:
        raise PlanChangeError(_("This plan change is no longer open."))
    reason = _("Plan change withdrawn")
    if locked.status == PlanChangeStatus.AWAITING_PAYMENT and locked.order_number:
        order = Order.objects.filter(number=locked.order_number).first()
        if order is not None and order.state == OrderState.PENDING:
            billing.cancel_order(order=order, reason=reason, actor=actor)
    PlanChange.objects.filter(pk=locked.pk, status__in=OPEN_PLAN_CHANGE_STATUSES).update(
        status=PlanChangeStatus.CANCELLED, closed_at=timezone.now()
    )
    locked.refresh_from_db()
    audit.record(
        action="service.plan_change_withdrawn",
        actor=actor if getattr(actor, "pk", None) else None,
        customer=locked.service.customer,
        target=str(locked.service)[:120],
        changes={"change": locked.pk, "order": locked.order_number},
        ip=ip,
    )
    return locked


# --- The daily billing run ---------------------------------------------------------------------


def apply_due_changes(*, today: dt.date | None = None, limit: int = 1000) -> int:
    """Scheduled downgrades whose date has come: applied, provisioning told (one transaction
    each). A service that ended meanwhile keeps its plan and the change is dropped."""
    today = today or local_today()
    ids = list(
        PlanChange.objects.filter(
            status=PlanChangeStatus.SCHEDULED, effective_date__lte=today
        ).values_list("pk", flat=True)[:limit]
    )
    done = 0
    for pk in ids:
        with transaction.atomic():
            change = (
                PlanChange.objects.select_for_update()
                .select_related("from_product", "to_product", "service")
                .filter(pk=pk, status=PlanChangeStatus.SCHEDULED)
                .first()
            )
            if change is None:
                continue
            if change.service.status not in (ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED):
                PlanChange.objects.filter(pk=pk).update(
                    status=PlanChangeStatus.CANCELLED, closed_at=timezone.now()
                )
                continue
            subscription_services.apply_plan_change(change=change)
            subscription_services.notify_services_changed(
                service_ids=[change.service_id], event="services.changed"
            )
            done += 1
    return done


def expire_unpaid_changes(*, today: dt.date | None = None) -> int:
    """Upgrade orders still unpaid after their due date are cancelled: the plan stays."""
    today = today or local_today()
    numbers = PlanChange.objects.filter(status=PlanChangeStatus.AWAITING_PAYMENT).values_list(
        "order_number", flat=True
    )
    expired = list(
        Order.objects.filter(number__in=numbers, state=OrderState.PENDING, due_date__lt=today)
    )
    for order in expired:
        billing.cancel_order(order=order, reason=EventText("plan_change_not_paid"))
    return len(expired)


def renewal_plans(*, customer_ids: list[int]) -> tuple[set[int], dict[int, PlanChange]]:
    """For the billing run's renewals of these customers (one query): the services waiting for an
    upgrade's payment (no renewal yet: it would bill the old plan) and the scheduled changes
    (the renewal bills the new plan)."""
    waiting: set[int] = set()
    scheduled: dict[int, PlanChange] = {}
    for change in PlanChange.objects.filter(
        status__in=OPEN_PLAN_CHANGE_STATUSES, service__customer_id__in=customer_ids
    ).select_related("to_product"):
        if change.status == PlanChangeStatus.AWAITING_PAYMENT:
            waiting.add(change.service_id)
        else:
            scheduled[change.service_id] = change
    return waiting, scheduled


def as_renewed(service: Service, change: PlanChange | None) -> Service:
    """The service as its next period will be billed: with a change scheduled for its due date,
    a copy (never saved) carrying the new product, cycle and price."""
    if change is None or change.effective_date != service.next_due_date:
        return service
    future = Service(
        **{f.attname: getattr(service, f.attname) for f in Service._meta.concrete_fields}
    )
    future.product = change.to_product
    future.cycle = change.to_cycle
    future.price = change.to_price
    return future


def renewal_options(change: PlanChange | None, service: Service) -> list[ServiceOption] | None:
    """The options a renewal bills when an options change is scheduled for the service's due
    date (unsaved rows built from the change); None when the service's own options apply."""
    if (
        change is None
        or change.kind != PlanChangeKind.OPTIONS
        or change.effective_date != service.next_due_date
    ):
        return None
    return [
        ServiceOption(
            service_id=service.pk,
            option_id=o["option"],
            quantity=int(o["quantity"]),
            price=Decimal(o["price"]),
            description=str(o["description"])[:200],
        )
        for o in change.to_options
    ]
