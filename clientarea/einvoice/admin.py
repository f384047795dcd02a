"""Back office: invoices (list, detail, downloads, resend) and numbering resolutions."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from clientarea.einvoice import services
from clientarea.einvoice.models import Invoice, NumberingResolution, TransmissionAttempt
from clientarea.einvoice.selectors import numbering_warnings


class WarningsMixin(admin.ModelAdmin):
    def changelist_view(self, request, extra_context=None):
        for warning in numbering_warnings():
            messages.warning(request, warning)
        return super().changelist_view(request, extra_context)


@admin.register(NumberingResolution)
class NumberingResolutionAdmin(WarningsMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "prefix",
        "range_from",
        "range_to",
        "next_number",
        "remaining",
        "valid_from",
        "valid_to",
        "environment",
        "active",
    ]
    list_filter = ["active", "environment"]
    fields = [
        "number",
        "prefix",
        "range_from",
        "range_to",
        "next_number",
        "valid_from",
        "valid_to",
        "technical_key",
        "environment",
        "active",
        "warn_remaining_numbers",
        "warn_remaining_days",
    ]

    @admin.display(description=_("numbers left"))
    def remaining(self, obj):
        return obj.remaining_numbers

    def get_readonly_fields(self, request, obj=None):
        # Once a number was used, the range start and the counter are history.
        if obj and obj.invoices.exists():
            return ["number", "prefix", "range_from", "next_number", "technical_key", "environment"]
        return []

    def has_delete_permission(self, request, obj=None):
        return obj is None or not obj.invoices.exists()


class TransmissionInline(admin.TabularInline):
    model = TransmissionAttempt
    fields = ("created_at", "transmitter", "status", "message", "retryable")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Invoice)
class InvoiceAdmin(WarningsMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "order",
        "customer",
        "status",
        "issued_at",
        "total",
        "rendered",
        "emailed_at",
    ]
    list_filter = ["status", "resolution"]
    search_fields = [
        "full_number",
        "cufe",
        "order__number",
        "customer__user__email",
        "customer__document_number",
    ]
    list_select_related = ["order", "customer__user"]
    date_hierarchy = "issued_at"
    inlines = [TransmissionInline]
    actions = ["resend_email", "issue_waiting"]
    fields = (
        "full_number",
        "status",
        "waiting_reason",
        "order",
        "customer",
        "resolution",
        "cufe",
        "issued_at",
        "paid_at",
        "payment_means_code",
        "total",
        "rendered_at",
        "render_error",
        "emailed_at",
        "transmitted_at",
        "lease_until",
        "downloads",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .defer("xml_unsigned", "xml_signed", "attached_document", "pdf", "document")
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(boolean=True, description=_("rendered"))
    def rendered(self, obj):
        return bool(obj.rendered_at)

    @admin.display(description=_("downloads"))
    def downloads(self, obj):
        if not obj.rendered_at:
            return "—"
        return format_html_join(
            " · ",
            '<a href="{}">{}</a>',
            (
                (reverse("admin:einvoice_invoice_download", args=[obj.pk, kind]), kind.upper())
                for kind in ("pdf", "xml", "attached")
            ),
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/download/<str:kind>/",
                self.admin_site.admin_view(self.download),
                name="einvoice_invoice_download",
            ),
            *super().get_urls(),
        ]

    def download(self, request, pk: int, kind: str):
        invoice = get_object_or_404(Invoice, pk=pk)
        data = {
            "pdf": (invoice.pdf, "application/pdf", "pdf"),
            "xml": (invoice.xml_signed, "application/xml", "xml"),
            "attached": (invoice.attached_document, "application/xml", "attached.xml"),
        }.get(kind)
        if data is None or not invoice.rendered_at:
            raise Http404
        response = HttpResponse(bytes(data[0]), content_type=data[1])
        response["Content-Disposition"] = f'attachment; filename="{invoice.full_number}.{data[2]}"'
        return response

    @admin.action(description=_("Email the invoice to the customer again"))
    def resend_email(self, request, queryset):
        sent = 0
        for invoice in queryset:
            try:
                services.resend_invoice_email(invoice=invoice, actor=request.user)
                sent += 1
            except services.InvoiceWaiting as exc:
                self.message_user(request, f"{invoice}: {exc}", messages.ERROR)
        if sent:
            self.message_user(request, _("%(n)d invoice email(s) queued.") % {"n": sent})

    @admin.action(description=_("Issue waiting invoices now"))
    def issue_waiting(self, request, queryset):
        counts = services.issue_waiting_invoices()
        self.message_user(request, _("Issued: %(issued)d. Still waiting: %(waiting)d.") % counts)
