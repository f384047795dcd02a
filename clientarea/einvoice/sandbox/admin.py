"""Back office for the DIAN simulator: what it knows, what it received, its fault switches."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import (
    Batch,
    Fault,
    NumberingRange,
    ReceivedDocument,
    SimulatorSettings,
    Software,
    TestSet,
)


@admin.register(SimulatorSettings)
class SimulatorSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "require_certificate_nit", "clock_skew_seconds", "batch_seconds"]

    def has_add_permission(self, request) -> bool:
        return not SimulatorSettings.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class NumberingRangeInline(admin.TabularInline):
    model = NumberingRange
    extra = 0


@admin.register(Software)
class SoftwareAdmin(admin.ModelAdmin):
    list_display = ["software_id", "name", "provider_nit", "issuer_nits"]
    search_fields = ["software_id", "name", "provider_nit", "issuer_nits"]
    inlines = [NumberingRangeInline]


@admin.register(NumberingRange)
class NumberingRangeAdmin(admin.ModelAdmin):
    list_display = [
        "resolution_number",
        "prefix",
        "from_number",
        "to_number",
        "valid_from",
        "valid_to",
        "software",
    ]
    list_filter = ["prefix"]


@admin.register(TestSet)
class TestSetAdmin(admin.ModelAdmin):
    list_display = [
        "test_set_id",
        "software",
        "status",
        "invoices_required",
        "credit_notes_required",
        "debit_notes_required",
    ]
    list_filter = ["status"]


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ["zip_key", "test_set", "file_name", "received_at", "refusal"]
    readonly_fields = ["zip_key", "test_set", "file_name", "received_at", "ready_at", "refusal"]


@admin.register(ReceivedDocument)
class ReceivedDocumentAdmin(admin.ModelAdmin):
    list_display = ["number", "kind", "issuer_nit", "status_code", "is_valid", "received_at"]
    list_filter = ["kind", "is_valid", "status_code"]
    search_fields = ["number", "document_key", "issuer_nit"]
    readonly_fields = [
        "document_key", "kind", "issuer_nit", "number", "batch", "xml_file_name", "is_valid",
        "status_code", "status_description", "status_message", "errors", "received_at",
        "type_code", "payable_amount", "referenced_key",
    ]  # fmt: skip
    exclude = ["application_response", "xml", "duplicate_key"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Fault)
class FaultAdmin(admin.ModelAdmin):
    list_display = ["kind", "seconds", "rule_code", "remaining", "used", "active", "created_at"]
    list_filter = ["active", "kind"]
    readonly_fields = ["used", "created_at"]
    actions = ["deactivate"]
    #: What each box does for which fault (the form gave no hint; an empty rule is not an error).
    help_texts = {
        "seconds": _("Only for a slow answer or a timeout."),
        "rule_code": _(
            "Only for rejecting or notifying the next document. Empty: FAD06 (the CUFE is not "
            "calculated correctly; CAD06 or DAD06 for a note) to reject, FAJ44b (the name given "
            "does not match the RUT) to notify."
        ),
        "rule_text": _("DIAN's text for that rule. Empty: the rule's usual text."),
    }

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["help_texts"] = {**self.help_texts, **kwargs.get("help_texts", {})}
        return super().get_form(request, obj, change, **kwargs)

    @admin.action(description=_("Switch the selected faults off"), permissions=["change"])
    def deactivate(self, request, queryset) -> None:
        queryset.update(active=False)
