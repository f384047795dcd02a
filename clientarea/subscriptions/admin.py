"""Back office for customer services: look up, and suspend, unsuspend or terminate through the services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import F, Q
from django.utils.functional import Promise
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy, pgettext_lazy

from clientarea.lib.admin import CustomerScopedAdminMixin, ReadOnlyAdminMixin, ReadOnlyInline
from clientarea.lib.money import format_cop
from clientarea.subscriptions import selectors, services
from clientarea.subscriptions.event_texts import ServiceText
from clientarea.subscriptions.models import (
    CancellationRequest,
    CancellationWhen,
    PlanChange,
    PlanChangeDirection,
    PlanChangeKind,
    ProvisioningDelivery,
    Service,
    ServiceEvent,
    ServiceOption,
    ServiceStatus,
    SuspensionReason,
)

STAFF_REASON = ServiceText("staff")


class ServiceEventInline(ReadOnlyInline):
    model = ServiceEvent
    fields = (
        "created_at",
        "kind",
        "was",
        "became",
        "old_due_date",
        "new_due_date",
        "order_number",
        "why",
        "actor",
    )
    readonly_fields = fields
    ordering = ["-created_at", "-id"]

    @admin.display(description=_("from"))
    def was(self, obj: ServiceEvent) -> str:
        return selectors.status_label(obj.from_status) or self.get_empty_value_display()

    @admin.display(description=_("to"))
    def became(self, obj: ServiceEvent) -> str:
        return selectors.status_label(obj.to_status) or self.get_empty_value_display()

    @admin.display(description=_("why"))
    def why(self, obj: ServiceEvent) -> str:
        """In the reader's language (a typed reason, or a row recorded before the codes, as stored)."""
        return selectors.event_reason(obj)


class ServiceOptionInline(ReadOnlyInline):
    """The options the customer chose, billed on every renewal (read-only here)."""

    model = ServiceOption
    fields = ("description", "option", "quantity", "price")
    readonly_fields = fields


#: What the service page shows; status and dates change only through the lifecycle services.
SERVICE_FIELDS = (
    "customer",
    "product",
    "label",
    "cycle",
    "price_cop",
    "status",
    "suspended_for",
    "start_date",
    "next_due_date",
    "anchor_day",
    "coupon",
    "created_at",
    "updated_at",
)


class SuspendedForFilter(admin.SimpleListFilter):
    """Suspended services by why they were suspended (a terminated service keeps the reason of
    its last suspension in ``suspension_reason``: it is not suspended any more)."""

    title = _("suspended for")
    parameter_name = "suspended_for"

    def lookups(self, request, model_admin):
        return [(value, label) for value, label in SuspensionReason.choices if value]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(status=ServiceStatus.SUSPENDED, suspension_reason=self.value())
        return queryset


@admin.register(Service)
class ServiceAdmin(CustomerScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "customer",
        "product",
        "label",
        "cycle",
        "price_cop",
        "status",
        "suspended_for",
        "next_due_date",
    ]
    list_filter = ["status", "cycle", "product", SuspendedForFilter]
    search_fields = ["label", "customer__user__email", "customer__document_number"]
    list_select_related = ["customer__user", "product"]
    raw_id_fields = ["customer"]
    date_hierarchy = "next_due_date"
    # Status and dates change only through the lifecycle services (each writes a ServiceEvent).
    fields = list(SERVICE_FIELDS)
    # Only the label is edited here.
    readonly_fields = [name for name in SERVICE_FIELDS if name != "label"]
    inlines = [ServiceOptionInline, ServiceEventInline]
    actions = ["suspend_services", "unsuspend_services", "terminate_services"]

    add_message = _("Find the customer, then use “New service” on the customer's page.")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # terminate instead: the history and the orders refer to the service

    @admin.display(description=Service._meta.get_field("price").verbose_name, ordering="price")
    def price_cop(self, obj: Service) -> str:
        return format_cop(obj.price)

    @admin.display(description=_("suspended for"))
    def suspended_for(self, obj: Service) -> str:
        """Only while suspended: the field keeps the last suspension's reason after the service
        is terminated or cancelled, when it no longer describes the service."""
        if obj.status == ServiceStatus.SUSPENDED and obj.suspension_reason:
            return obj.get_suspension_reason_display()
        return self.get_empty_value_display()

    def save_model(self, request, obj, form, change) -> None:
        """The label edited here is saved by the service that edits services (its history, the
        audit log, the folded search label, provisioning told)."""
        if change and "label" in form.changed_data:
            services.update_service(
                service=obj,
                changes={"label": form.cleaned_data["label"]},
                actor=request.user,
                reason=ServiceText("label_edited"),
            )

    def _apply(
        self, request, queryset, change, *, done_message, event: str = "services.changed"
    ) -> None:
        """Run one lifecycle service per selected service, each under a row lock; report what was refused."""
        changed, refused = [], []
        for pk in queryset.values_list("pk", flat=True):
            with transaction.atomic():
                service = Service.objects.select_for_update().get(pk=pk)
                try:
                    change(service)
                except services.ServiceStateError:
                    refused.append(service)
                    continue
                changed.append(service.pk)
        if changed:
            services.notify_services_changed(service_ids=changed, event=event)
            self.message_user(request, done_message % {"count": len(changed)}, messages.SUCCESS)
        if refused:
            self.message_user(
                request,
                _("Not changed (their status does not allow it): %(services)s")
                % {"services": ", ".join(f"#{s.pk} ({s.get_status_display()})" for s in refused)},
                messages.WARNING,
            )

    @admin.action(description=_("Suspend selected services (manual)"), permissions=["change"])
    def suspend_services(self, request, queryset):
        self._apply(
            request,
            queryset,
            lambda s: services.suspend_service(
                service=s, reason=SuspensionReason.MANUAL, actor=request.user, note=STAFF_REASON
            ),
            done_message=ngettext_lazy(
                "%(count)d service suspended.", "%(count)d services suspended.", "count"
            ),
        )

    @admin.action(description=_("Unsuspend selected services"), permissions=["change"])
    def unsuspend_services(self, request, queryset):
        self._apply(
            request,
            queryset,
            lambda s: services.unsuspend_service(
                service=s, actor=request.user, reason=STAFF_REASON
            ),
            done_message=ngettext_lazy(
                "%(count)d service unsuspended.", "%(count)d services unsuspended.", "count"
            ),
        )

    @admin.action(description=_("Terminate selected services"), permissions=["change"])
    def terminate_services(self, request, queryset):
        self._apply(
            request,
            queryset,
            lambda s: services.terminate_service(
                service=s, reason=STAFF_REASON, actor=request.user
            ),
            done_message=ngettext_lazy(
                "%(count)d service terminated.", "%(count)d services terminated.", "count"
            ),
        )


@admin.register(ProvisioningDelivery)
class ProvisioningDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The provisioning outbox, read-only: what each provisioner was told, and what failed."""

    list_display = ["created_at", "event", "order_number", "provisioner", "status", "attempts"]
    list_filter = ["status", "event", "provisioner"]
    search_fields = ["order_number"]
    fields = (
        "created_at",
        "event",
        "order_number",
        "service_ids",
        "provisioner",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error",
    )


#: When a request ends the service, as a record read later: the customer's choice "Now" read
#: "Now" in the queue (in a column the model calls "when", "Fecha" in Spanish) long after.
ENDS: dict[str, Promise] = {
    CancellationWhen.IMMEDIATE: _("At once, when requested"),
    CancellationWhen.END_OF_PERIOD: _("At the end of the paid period"),
}


class CancellationEndsFilter(admin.SimpleListFilter):
    title = _("ends")
    parameter_name = "when"

    def lookups(self, request, model_admin):
        return list(ENDS.items())

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(when=value) if value in ENDS else queryset


@admin.register(CancellationRequest)
class CancellationRequestAdmin(admin.ModelAdmin):
    """The queue of customers' cancellation requests (read-only: customers make and withdraw them;
    the billing run ends the service on the effective date)."""

    list_display = [
        "service",
        "customer",
        "ends",
        "why",
        "effective_date",
        "status",
        "created_at",
    ]
    list_filter = ["status", "reason", CancellationEndsFilter]
    list_select_related = ["service__customer", "service__product"]
    search_fields = ["service__label", "service__customer__user__email"]
    date_hierarchy = "effective_date"
    exclude = ["when"]  # shown as "ends"
    readonly_fields = [
        "service",
        "ends",
        "reason",
        "comment",
        "status",
        "effective_date",
        "requested_by",
        "created_at",
        "closed_at",
    ]

    @admin.display(description=_("ends"), ordering="when")
    def ends(self, obj: CancellationRequest) -> str:
        return str(ENDS[obj.when]) if obj.when in ENDS else obj.when

    @admin.display(description=_("reason"), ordering="reason")
    def why(self, obj: CancellationRequest) -> str:
        """The reason (in the reader's language) and under it the optional comment, as the
        customer typed it, said to be their words (its start: the whole is on its page)."""
        reason = obj.get_reason_display()
        if not obj.comment:
            return reason
        words = obj.comment if len(obj.comment) <= 140 else obj.comment[:139] + "…"
        return format_html(
            '{}<div class="help customer-words">{}: “{}”</div>',
            reason,
            _("In the customer's words"),
            words,
        )

    @admin.display(description=_("Customer"), ordering="service__customer__user__email")
    def customer(self, obj):
        return obj.service.customer

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # every field is read-only: its page is "View cancellation request"

    def has_delete_permission(self, request, obj=None):
        return False


class PlanChangeLabelFilter(admin.SimpleListFilter):
    """Upgrades, downgrades and changes of billing cycle of the same plan, as the list says."""

    title = pgettext_lazy("plan change", "change")
    parameter_name = "change"

    def lookups(self, request, model_admin):
        return [
            ("upgrade", PlanChangeDirection.UPGRADE.label),
            ("downgrade", PlanChangeDirection.DOWNGRADE.label),
            ("cycle", _("Change of billing cycle")),
        ]

    def queryset(self, request, queryset):
        cycle_only = Q(kind=PlanChangeKind.PLAN, from_product=F("to_product")) & ~Q(
            from_cycle=F("to_cycle")
        )
        if self.value() == "cycle":
            return queryset.filter(cycle_only)
        if self.value() in ("upgrade", "downgrade"):
            return queryset.filter(direction=self.value()).exclude(cycle_only)
        return queryset


class PlanChangeRequesterFilter(admin.SimpleListFilter):
    """Who asked for the change: the field's own name made the title read "By by staff"."""

    title = pgettext_lazy("plan change", "requester")
    parameter_name = "by_staff"

    def lookups(self, request, model_admin):
        return [
            ("1", pgettext_lazy("plan change requester", "Staff")),
            ("0", pgettext_lazy("plan change requester", "The customer")),
        ]

    def queryset(self, request, queryset):
        if self.value() in ("0", "1"):
            return queryset.filter(by_staff=self.value() == "1")
        return queryset


@admin.register(PlanChange)
class PlanChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Plan changes (read-only: customers and staff make them from the service pages; an
    upgrade's order, a downgrade's credit and the billing run do the rest)."""

    list_display = [
        "service",
        "customer",
        "kind",
        "change",
        "from_product",
        "to_product",
        "to_cycle",
        "amount",
        "status",
        "effective_date",
        "order_number",
        "created_at",
    ]
    list_filter = ["status", "kind", PlanChangeLabelFilter, PlanChangeRequesterFilter]
    list_select_related = [
        "service__customer",
        "service__product",
        "from_product",
        "to_product",
    ]
    search_fields = ["service__label", "service__customer__user__email", "order_number"]
    date_hierarchy = "created_at"
    fields = [
        "service",
        "kind",
        "change",
        "status",
        "from_product",
        "from_cycle",
        "from_price",
        "to_product",
        "to_cycle",
        "to_price",
        "from_options",
        "to_options",
        "days_remaining",
        "credit",
        "charge",
        "amount",
        "effective_date",
        "order_number",
        "requested_by",
        "by_staff",
        "created_at",
        "closed_at",
    ]

    @admin.display(description=_("Customer"), ordering="service__customer__user__email")
    def customer(self, obj):
        return obj.service.customer

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "change"]

    @admin.display(description=pgettext_lazy("plan change", "change"), ordering="direction")
    def change(self, obj: PlanChange) -> str:
        """Upgrade, downgrade, or a change of billing cycle of the same plan (paid or credited
        like an upgrade or a downgrade, but neither in words)."""
        return obj.change_label
