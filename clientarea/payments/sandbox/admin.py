"""Read-mostly admin pages for the simulators' rows (the /sandbox/ dashboard is the main UI)."""

from django.contrib import admin

from clientarea.payments.sandbox.models import (
    SandboxDelivery,
    SandboxNotification,
    SandboxPayUOrder,
    SandboxPayURefund,
    SandboxPayUTransaction,
    SandboxPayvalidaAttempt,
    SandboxPayvalidaOrder,
)


@admin.register(SandboxPayUOrder)
class SandboxPayUOrderAdmin(admin.ModelAdmin):
    list_display = ("payu_order_id", "reference_code", "amount", "currency", "state", "created")
    list_filter = ("state",)
    search_fields = ("reference_code", "payu_order_id", "buyer_email")


@admin.register(SandboxPayUTransaction)
class SandboxPayUTransactionAdmin(admin.ModelAdmin):
    list_display = (
        "transaction_id",
        "order",
        "payment_method",
        "state",
        "response_code",
        "created",
    )
    list_filter = ("state", "instrument")


@admin.register(SandboxPayURefund)
class SandboxPayURefundAdmin(admin.ModelAdmin):
    """Refund requests; approve or decline them on the /sandbox/ dashboard (it notifies)."""

    list_display = ("refund_id", "order", "kind", "value", "currency", "state", "created")
    list_filter = ("state", "kind")
    readonly_fields = (
        "order", "parent", "refund_id", "kind", "value", "currency", "reason", "state",
        "response_code", "created", "updated",
    )  # fmt: skip


@admin.register(SandboxPayvalidaOrder)
class SandboxPayvalidaOrderAdmin(admin.ModelAdmin):
    list_display = ("order", "reference", "amount", "state", "expiration", "created")
    list_filter = ("state",)
    search_fields = ("order", "reference", "email")


@admin.register(SandboxPayvalidaAttempt)
class SandboxPayvalidaAttemptAdmin(admin.ModelAdmin):
    list_display = ("attempt_id", "order", "payment_name", "state", "created")


class SandboxDeliveryInline(admin.TabularInline):
    model = SandboxDelivery
    extra = 0
    readonly_fields = ("attempt", "status_code", "accepted", "body_excerpt", "error", "created")


@admin.register(SandboxNotification)
class SandboxNotificationAdmin(admin.ModelAdmin):
    list_display = ("id", "gateway", "url", "status", "attempts", "created")
    list_filter = ("gateway", "status")
    inlines = [SandboxDeliveryInline]
