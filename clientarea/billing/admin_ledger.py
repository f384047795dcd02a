"""Back office for the customers' accounts: the ledger, read-only, and a customer's statement
of account (the same as the client area's, with CSV and PDF). Imported by clientarea.billing.admin."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from clientarea.accounts.models import Customer
from clientarea.billing import selectors, statement_files
from clientarea.billing.models import LedgerEntry, PlanChangeCreditNote
from clientarea.lib.admin import ReadOnlyAdminMixin
from clientarea.lib.money import format_cop


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every movement of every customer's account; append-only, so nothing is editable."""

    class Media:
        css = {"all": ["css/admin.css"]}

    list_display = [
        "created_at",
        "customer",
        "kind",
        "amount_cop",
        "order",
        "reference",
        "via",
        "statement_link",
    ]
    list_filter = ["kind", "via"]
    search_fields = [
        "customer__user__email",
        "customer__document_number",
        "order__number",
        "reference",
    ]
    list_select_related = ["customer__user", "order"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]

    @admin.display(description=_("amount"), ordering="amount")
    def amount_cop(self, obj: LedgerEntry) -> str:
        return format_cop(obj.amount, decimals=True)

    @admin.display(description=_("statement"))
    def statement_link(self, obj: LedgerEntry) -> str:
        url = reverse("admin:billing_ledgerentry_statement", args=[obj.customer_id])
        return format_html('<a href="{}">{}</a>', url, _("statement"))

    def get_urls(self):
        return [
            path(
                "statement/<int:customer_id>/",
                self.admin_site.admin_view(self.statement_view),
                name="billing_ledgerentry_statement",
            ),
            *super().get_urls(),
        ]

    def statement_view(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        customer = Customer.objects.select_related("user").filter(pk=customer_id).first()
        if customer is None:
            raise Http404("No such customer")
        form, statement, download = statement_files.from_query(
            customer=customer, params=request.GET
        )
        if download is not None:
            return download
        return TemplateResponse(
            request,
            "billing/admin_statement.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": _("Statement of account: %(customer)s")
                % {"customer": customer.display_name},
                "customer": customer,
                "form": form,
                "statement": statement,
                "account": selectors.account_summary(customer),
                "query": f"start={statement.start.isoformat()}&end={statement.end.isoformat()}",
            },
        )


@admin.register(PlanChangeCreditNote)
class PlanChangeCreditNoteAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The DIAN credit notes of downgrades' credit (read-only): issued at once, or waiting for
    DIAN to accept the invoice (the billing sweep issues them; ``note_error`` says why)."""

    list_display = [
        "created_at",
        "plan_change",
        "order",
        "amount_cop",
        "credit_note",
        "note_error",
    ]
    list_select_related = ["plan_change__service", "order", "credit_note"]
    search_fields = ["order__number", "credit_note__full_number"]
    ordering = ["-created_at", "-id"]

    @admin.display(description=_("credited (with IVA)"), ordering="amount")
    def amount_cop(self, obj: PlanChangeCreditNote) -> str:
        return format_cop(obj.amount, decimals=True)
