"""A customer's services (subscriptions) and the history of every status or due-date change."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from clientarea.catalog.models import BillingCycle
from clientarea.lib.dates import short_date


class ServiceStatus(models.TextChoices):
    PENDING = "pending", _("Pending activation")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    CANCELLED = "cancelled", pgettext_lazy("service", "Cancelled")
    TERMINATED = "terminated", pgettext_lazy("service", "Terminated")


class SuspensionReason(models.TextChoices):
    NONE = "", _("—")
    OVERDUE = "overdue", _("Overdue payment")
    MANUAL = "manual", _("Manual (staff)")


class Service(models.Model):
    customer = models.ForeignKey(
        "accounts.Customer",
        on_delete=models.PROTECT,
        related_name="services",
        verbose_name=_("customer"),
    )
    product = models.ForeignKey(
        "catalog.Product",
        on_delete=models.PROTECT,
        related_name="services",
        verbose_name=_("product"),
    )
    cycle = models.CharField(_("billing cycle"), max_length=12, choices=BillingCycle.choices)
    price = models.DecimalField(
        _("price at purchase (before IVA)"), max_digits=14, decimal_places=2
    )
    label = models.CharField(
        _("label"), max_length=200, blank=True, help_text=_("Domain or hostname.")
    )
    #: ``label`` folded (``lib.text.fold``: lower case, no accents) for the back-office search,
    #: written with the label by the services that write it: "peña.co" is found by "pena".
    search_label = models.CharField(max_length=200, blank=True, default="", editable=False)
    status = models.CharField(
        _("status"), max_length=12, choices=ServiceStatus.choices, default=ServiceStatus.PENDING
    )
    suspension_reason = models.CharField(
        _("suspension reason"),
        max_length=10,
        choices=SuspensionReason.choices,
        blank=True,
        default="",
    )
    start_date = models.DateField(_("start date"), null=True, blank=True)
    next_due_date = models.DateField(_("next due date"), null=True, blank=True)
    coupon = models.ForeignKey(
        "catalog.Coupon",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="services",
        verbose_name=_("recurring coupon"),
        help_text=_(
            "A recurring coupon used when ordering: its discount applies to every renewal."
        ),
    )
    anchor_day = models.PositiveSmallIntegerField(
        _("billing day"),
        null=True,
        blank=True,
        help_text=_("Day of month the service is due (keeps month-end dates stable)."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("customer service")
        verbose_name_plural = _("customer services")
        ordering = ["next_due_date", "id"]
        indexes = [
            models.Index(fields=["status", "next_due_date"]),
            models.Index(fields=["customer", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.product} · {self.label}" if self.label else str(self.product)


class ServiceOption(models.Model):
    """An option the customer chose for a service, with its unit price at purchase (before IVA).

    Renewals bill ``quantity × price`` for each one beside the service's own price.
    """

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="options", verbose_name=_("service")
    )
    option = models.ForeignKey(
        "catalog.Option", on_delete=models.PROTECT, related_name="+", verbose_name=_("option")
    )
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    price = models.DecimalField(
        _("price per unit at purchase (before IVA)"), max_digits=14, decimal_places=2
    )
    description = models.CharField(_("description"), max_length=200)

    class Meta:
        verbose_name = _("service option")
        verbose_name_plural = _("service options")
        ordering = ["service", "id"]
        constraints = [
            models.UniqueConstraint(fields=["service", "option"], name="unique_service_option"),
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="service_option_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.description} × {self.quantity}"


class ServiceEventKind(models.TextChoices):
    CREATED = "created", _("Created")
    ACTIVATED = "activated", _("Activated")
    RENEWED = "renewed", _("Renewed")
    SUSPENDED = "suspended", _("Suspended")
    UNSUSPENDED = "unsuspended", _("Unsuspended")
    CANCELLED = "cancelled", pgettext_lazy("service", "Cancelled")
    TERMINATED = "terminated", pgettext_lazy("service", "Terminated")
    DUE_DATE_CHANGED = "due_date_changed", _("Due date changed")
    EDITED = "edited", _("Edited by staff")
    PLAN_CHANGED = "plan_changed", _("Plan changed")
    CYCLE_CHANGED = "cycle_changed", _("Billing cycle changed")
    OPTIONS_CHANGED = "options_changed", _("Options changed")


class ServiceEvent(models.Model):
    """Append-only: who changed a service's status or due date, when and why."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(_("when"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("who"),
    )
    kind = models.CharField(_("event"), max_length=20, choices=ServiceEventKind.choices)
    from_status = models.CharField(_("from"), max_length=12, blank=True)
    to_status = models.CharField(_("to"), max_length=12, blank=True)
    old_due_date = models.DateField(_("old due date"), null=True, blank=True)
    new_due_date = models.DateField(_("new due date"), null=True, blank=True)
    order_number = models.CharField(_("order"), max_length=20, blank=True)
    #: The English sentence (logs, searches), or what a person typed; rows recorded before the
    #: codes keep the sentence they were written with.
    reason = models.CharField(_("why"), max_length=300, blank=True)
    #: Why, as a code of ``subscriptions.event_texts`` and its values: put into words in the
    #: reader's language (empty for a typed reason).
    reason_code = models.CharField(max_length=40, blank=True, default="")
    reason_values = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("service event")
        verbose_name_plural = _("service history")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.service_id} {self.kind}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class ProvisioningDelivery(models.Model):
    """One provisioning event for one provisioner (outbox row, written in its cause's transaction).

    While a worker sends it, ``status`` is ``sending`` and ``next_attempt_at`` is the end of
    its lease; a worker that died leaves a lease that expires, and the sweep sends it again.
    """

    provisioner = models.CharField(_("provisioner"), max_length=200)
    event = models.CharField(_("event"), max_length=40)
    service_ids = models.JSONField(_("services"), default=list)
    order_number = models.CharField(_("order"), max_length=20, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("provisioning delivery")
        verbose_name_plural = _("provisioning deliveries")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event} → {self.provisioner}"


class CancellationWhen(models.TextChoices):
    END_OF_PERIOD = "end_of_period", _("At the end of the paid period")
    IMMEDIATE = "immediate", _("Now")


class CancellationReason(models.TextChoices):
    NO_LONGER_NEEDED = "not_needed", _("I no longer need it")
    TOO_EXPENSIVE = "too_expensive", _("It is too expensive")
    MOVING = "moving", _("I am moving to another provider")
    TECHNICAL = "technical", _("Technical problems")
    FEATURES = "features", _("It lacks something I need")
    OTHER = "other", _("Other")


class TerminationReason(models.TextChoices):
    """Why staff end a service at once (back office → Terminate): stored as a code in the
    service's history and read in the reader's language; a note staff add is shown as theirs."""

    CUSTOMER_REQUEST = "customer_request", _("At the customer's request")
    NOT_PAID = "not_paid", _("Not paid")
    TERMS = "terms", _("Breach of the terms of service")
    MISTAKE = "mistake", _("Created by mistake")
    OTHER = "other", _("Other")


class CancellationStatus(models.TextChoices):
    PENDING = "pending", _("Requested")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    DONE = "done", _("Done")


class CancellationRequest(models.Model):
    """A customer's request to end a service, now or when its paid period ends.

    While it is pending the service gets no renewal orders; the customer can withdraw it until it
    takes effect; the daily billing run terminates the service on ``effective_date``.
    """

    service = models.ForeignKey(
        Service,
        on_delete=models.CASCADE,
        related_name="cancellation_requests",
        verbose_name=_("service"),
    )
    when = models.CharField(_("when"), max_length=16, choices=CancellationWhen.choices)
    reason = models.CharField(_("reason"), max_length=16, choices=CancellationReason.choices)
    comment = models.TextField(_("comment"), blank=True, max_length=1000)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=CancellationStatus.choices,
        default=CancellationStatus.PENDING,
    )
    effective_date = models.DateField(_("takes effect on"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("requested by"),
    )
    created_at = models.DateTimeField(_("requested"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("cancellation request")
        verbose_name_plural = _("cancellation requests")
        ordering = ["effective_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["service"],
                condition=models.Q(status="pending"),
                name="one_pending_cancellation_per_service",
            )
        ]
        indexes = [models.Index(fields=["status", "effective_date"])]

    def __str__(self) -> str:
        return f"{self.service} → {short_date(self.effective_date)}"


class PlanChangeDirection(models.TextChoices):
    UPGRADE = "upgrade", _("Upgrade")
    DOWNGRADE = "downgrade", _("Downgrade")


class PlanChangeStatus(models.TextChoices):
    AWAITING_PAYMENT = "awaiting_payment", _("Waiting for payment")
    SCHEDULED = "scheduled", _("Scheduled for the next renewal")
    APPLIED = "applied", _("Applied")
    CANCELLED = "cancelled", _("Cancelled")


class PlanChangeKind(models.TextChoices):
    PLAN = "plan", _("Plan")
    OPTIONS = "options", _("Options")


OPEN_PLAN_CHANGE_STATUSES = (PlanChangeStatus.AWAITING_PAYMENT, PlanChangeStatus.SCHEDULED)


class PlanChange(models.Model):
    """A service moving to another product and/or billing cycle, or changing its configurable
    options (``kind``), through ``billing.planchanges``.

    An upgrade waits for its order (``order_number``) to be paid; a downgrade is applied at once
    or scheduled for the next due date (``PLAN_CHANGE_DOWNGRADE_AT``). The amounts are the
    proration (``billing.proration``) before IVA, and ``amount`` what was charged or credited
    with IVA. A service has at most one open change (database constraint).

    An options change keeps the product, cycle and price (``to_* == from_*``) and carries the
    options before and after (``from_options``/``to_options``: a list of ``{"option": id,
    "quantity": n, "price": "unit price before IVA", "description": text}``); the proration is
    over the options' recurring total.
    """

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="plan_changes", verbose_name=_("service")
    )
    kind = models.CharField(
        _("what changes"),
        max_length=10,
        choices=PlanChangeKind.choices,
        default=PlanChangeKind.PLAN,
    )
    direction = models.CharField(_("direction"), max_length=10, choices=PlanChangeDirection.choices)
    status = models.CharField(_("status"), max_length=16, choices=PlanChangeStatus.choices)
    from_product = models.ForeignKey(
        "catalog.Product",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("from product"),
    )
    from_cycle = models.CharField(_("from cycle"), max_length=12, choices=BillingCycle.choices)
    from_price = models.DecimalField(_("from price"), max_digits=14, decimal_places=2)
    to_product = models.ForeignKey(
        "catalog.Product",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("to product"),
    )
    to_cycle = models.CharField(_("to cycle"), max_length=12, choices=BillingCycle.choices)
    to_price = models.DecimalField(_("to price"), max_digits=14, decimal_places=2)
    from_options = models.JSONField(_("options before"), default=list, blank=True)
    to_options = models.JSONField(_("options after"), default=list, blank=True)
    days_remaining = models.PositiveIntegerField(_("days prorated"), default=0)
    credit = models.DecimalField(
        _("credit for unused days (before IVA)"), max_digits=14, decimal_places=2, default=0
    )
    charge = models.DecimalField(
        _("charge for the remaining days (before IVA)"),
        max_digits=14,
        decimal_places=2,
        default=0,
    )
    amount = models.DecimalField(
        _("charged or credited (with IVA)"), max_digits=14, decimal_places=2, default=0
    )
    effective_date = models.DateField(_("takes effect on"))
    order_number = models.CharField(_("order"), max_length=20, blank=True, db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("requested by"),
    )
    by_staff = models.BooleanField(_("by staff"), default=False)
    created_at = models.DateTimeField(_("requested"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("plan change")
        verbose_name_plural = _("plan changes")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["service"],
                condition=models.Q(status__in=["awaiting_payment", "scheduled"]),
                name="one_open_plan_change_per_service",
            )
        ]
        indexes = [models.Index(fields=["status", "effective_date"])]

    def __str__(self) -> str:
        return f"{self.from_product} → {self.to_product}"

    @property
    def cycle_only(self) -> bool:
        """The same plan billed over another cycle (quarterly → monthly): a change of billing
        cycle, not an upgrade or a downgrade, whatever it costs per day."""
        return (
            self.kind == PlanChangeKind.PLAN
            and self.from_product_id == self.to_product_id
            and self.from_cycle != self.to_cycle
        )

    @property
    def change_label(self) -> str:
        """What the change is, in words: "Change of billing cycle", "Upgrade" or "Downgrade"."""
        if self.cycle_only:
            return str(_("Change of billing cycle"))
        return str(self.get_direction_display())
