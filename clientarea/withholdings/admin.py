"""Back office: the rules and UVT values (data), withholding agents (approve requests),
withheld amounts with the report by customer and period (CSV), and certificate review."""

from __future__ import annotations

import csv

from django.contrib import admin, messages
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from clientarea.lib.admin import ObjectActionsAdminMixin, ReadOnlyAdminMixin
from clientarea.lib.money import format_cop
from clientarea.withholdings import selectors, services
from clientarea.withholdings.calculation import KINDS, NAMES
from clientarea.withholdings.forms import RejectCertificateForm
from clientarea.withholdings.models import (
    AgentStatus,
    CertificateStatus,
    OrderWithholding,
    UvtValue,
    WithholdingAgent,
    WithholdingCertificate,
    WithholdingRule,
)


def _cell(value: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula (a name starting with = + - @)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


@admin.register(UvtValue)
class UvtValueAdmin(admin.ModelAdmin):
    list_display = ["year", "value", "source"]

    def save_model(self, request, obj, form, change) -> None:
        services.save_setting(setting=obj, actor=request.user, changed=form.changed_data)


@admin.register(WithholdingRule)
class WithholdingRuleAdmin(admin.ModelAdmin):
    list_display = ["kind", "municipality_code", "rate", "min_base_uvt", "description", "active"]
    list_filter = ["kind", "active"]

    def save_model(self, request, obj, form, change) -> None:
        services.save_setting(setting=obj, actor=request.user, changed=form.changed_data)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # switch a rule off instead: the audit log keeps what applied


@admin.register(WithholdingAgent)
class WithholdingAgentAdmin(admin.ModelAdmin):
    list_display = ["customer", "status", "retefuente", "reteiva", "reteica", "requested_at"]
    list_filter = ["status"]
    search_fields = ["customer__user__email", "customer__document_number", "customer__legal_name"]
    autocomplete_fields = ["customer"]
    readonly_fields = ["customer_note", "requested_at", "decided_at", "decided_by"]
    actions = ["approve"]
    fields = [
        "customer",
        "status",
        "retefuente",
        "retefuente_rate",
        "reteiva",
        "reteica",
        "ica_municipality_code",
        "customer_note",
        "decision_note",
        "requested_at",
        "decided_at",
        "decided_by",
    ]

    def save_model(self, request, obj, form, change) -> None:
        services.save_agent(agent=obj, actor=request.user, changed=form.changed_data)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead (the status is audited)

    @admin.action(description=_("Approve the selected requests"), permissions=["change"])
    def approve(self, request, queryset) -> None:
        count = 0
        for agent in queryset.filter(status=AgentStatus.REQUESTED):
            agent.status = AgentStatus.APPROVED
            services.save_agent(agent=agent, actor=request.user, changed=["status"])
            count += 1
        self.message_user(
            request, gettext("%(n)s request(s) approved.") % {"n": count}, messages.SUCCESS
        )


@admin.register(OrderWithholding)
class OrderWithholdingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Each withholding, fixed in the transaction that pays its order (read-only)."""

    list_display = [
        "withheld_on",
        "order",
        "customer",
        "kind",
        "base_cop",
        "rate",
        "amount_cop",
        "reversed_cop",
        "state",
    ]
    list_filter = ["kind", ("settled_by", admin.EmptyFieldListFilter), "withheld_on"]
    search_fields = ["order__number", "customer__user__email", "customer__document_number"]
    list_select_related = ["order", "customer__user"]
    date_hierarchy = "withheld_on"
    change_list_template = "admin/withholdings/orderwithholding_change_list.html"
    fields = [
        "order",
        "customer",
        "kind",
        "base",
        "rate",
        "amount",
        "reversed_amount",
        "withheld_on",
        "created_at",
        "settled_by",
        "settled_at",
    ]

    @admin.display(description=_("withholding base"), ordering="base")
    def base_cop(self, obj: OrderWithholding) -> str:
        return format_cop(obj.base)

    @admin.display(description=_("amount"), ordering="amount")
    def amount_cop(self, obj: OrderWithholding) -> str:
        return format_cop(obj.amount)

    @admin.display(description=_("reversed by credit notes"), ordering="reversed_amount")
    def reversed_cop(self, obj: OrderWithholding) -> str:
        return format_cop(obj.reversed_amount) if obj.reversed_amount else ""

    @admin.display(description=_("status"))
    def state(self, obj: OrderWithholding) -> str:
        if obj.settled_by_id:
            return gettext("Settled")
        if obj.is_reversed:
            return gettext("Reversed by a credit note")
        return pgettext("withholding", "Open")

    def get_urls(self) -> list[URLPattern]:
        report = path(
            "report/",
            self.admin_site.admin_view(self.report_view),
            name="withholdings_orderwithholding_report",
        )
        return [report, *super().get_urls()]

    def report_view(self, request: HttpRequest) -> HttpResponse:
        """Withholdings by customer and month with the certificate status; ``?format=csv``."""
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        try:
            year = int(request.GET.get("year") or timezone.localdate().year)
        except ValueError:
            year = timezone.localdate().year
        rows = selectors.report(year=year)
        if request.GET.get("format") == "csv":
            response = HttpResponse(content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="withholdings-{year}.csv"'
            writer = csv.writer(response)
            writer.writerow(
                [gettext("Customer"), gettext("Document"), gettext("Period")]
                + [NAMES[k] for k in KINDS]
                + [
                    gettext("Total"),
                    gettext("Reversed by credit notes"),
                    pgettext("withholding", "Open"),
                    gettext("Certificate status"),
                ]
            )
            for row in rows:
                writer.writerow(
                    [_cell(str(row.customer)), _cell(row.customer.document_number), row.period]
                    + [f"{row.amounts[k]:.2f}" for k in KINDS]
                    + [
                        f"{row.total:.2f}",
                        f"{row.reversed_amount:.2f}",
                        f"{row.open_amount:.2f}",
                        row.status,
                    ]
                )
            return response
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Withholdings by customer and period"),
            "rows": rows,
            "kinds": [NAMES[k] for k in KINDS],
            "kind_codes": KINDS,
            "year": year,
            "csv_url": reverse("admin:withholdings_orderwithholding_report")
            + f"?year={year}&format=csv",
        }
        return TemplateResponse(request, "admin/withholdings/report.html", context)


@admin.register(WithholdingCertificate)
class WithholdingCertificateAdmin(
    ReadOnlyAdminMixin, ObjectActionsAdminMixin[WithholdingCertificate], admin.ModelAdmin
):
    """Certificates the customers upload (read-only: staff act with Accept / Reject)."""

    list_display = ["uploaded_at", "customer", "kind", "period", "status_label", "download"]
    list_filter = ["status", "kind", "year"]
    search_fields = ["customer__user__email", "customer__document_number"]
    list_select_related = ["customer__user"]
    change_form_template = "admin/withholdings/certificate_change_form.html"
    object_actions = [("accept", "accept_view"), ("reject", "reject_view"), ("pdf", "pdf_view")]
    fields = (
        "customer",
        "kind",
        "year",
        "period_type",
        "period_number",
        "original_name",
        "uploaded_at",
        "uploaded_by",
        "status",
        "reject_reason",
        "reviewed_at",
        "reviewed_by",
        "download",
    )

    @admin.display(description=_("period"))
    def period(self, obj: WithholdingCertificate) -> str:
        return obj.period_label

    @admin.display(description=_("status"), ordering="status")
    def status_label(self, obj: WithholdingCertificate) -> str:
        return obj.get_status_display()

    @admin.display(description=_("file"))
    def download(self, obj: WithholdingCertificate) -> str:
        url = reverse("admin:withholdings_withholdingcertificate_pdf", args=[obj.pk])
        return format_html('<a href="{}">PDF</a>', url)

    def pdf_view(self, request: HttpRequest, object_id: str) -> FileResponse:
        # Like the other object actions of this admin: its permission first, then the object.
        certificate = self.get_object_or_404_for_action(request, object_id)
        return FileResponse(
            certificate.file.open("rb"),
            content_type="application/pdf",
            filename=certificate.original_name or "certificate.pdf",
        )

    def _refuse_reviewed(self, request, certificate) -> HttpResponseRedirect | None:
        if certificate.status == CertificateStatus.PENDING:
            return None
        self.message_user(
            request,
            gettext("This certificate was already reviewed (%(status)s).")
            % {"status": certificate.get_status_display().lower()},
            messages.ERROR,
        )
        return HttpResponseRedirect(self.change_url(certificate))

    def accept_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        certificate = self.get_object_or_404_for_action(request, object_id)
        refused = self._refuse_reviewed(request, certificate)
        if refused:
            return refused
        if request.method == "POST":
            try:
                _cert, settled = services.accept_certificate(
                    certificate_id=certificate.pk, actor=request.user
                )
            except services.WithholdingError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext(
                        "Certificate accepted: %(n)s withheld amount(s) settled. The customer was emailed."
                    )
                    % {"n": settled},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(self.change_url(certificate))
        covered = list(selectors.awaiting_certificate(certificate))
        return self.render_action_form(
            request,
            title=gettext("Accept certificate %(c)s") % {"c": certificate},
            objects=[certificate],
            form=None,
            submit=gettext("Accept"),
            intro=gettext(
                "It settles the open %(kind)s amounts of this customer in %(period)s: %(n)s amount(s), %(total)s."
            )
            % {
                "kind": certificate.get_kind_display(),
                "period": certificate.period_label,
                "n": len(covered),
                "total": format_cop(sum((w.expected for w in covered), start=0)),
            },
        )

    def reject_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        certificate = self.get_object_or_404_for_action(request, object_id)
        refused = self._refuse_reviewed(request, certificate)
        if refused:
            return refused
        form = RejectCertificateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.reject_certificate(
                    certificate_id=certificate.pk,
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except services.WithholdingError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext("Certificate rejected. The customer was emailed the reason."),
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(self.change_url(certificate))
        return self.render_action_form(
            request,
            title=gettext("Reject certificate %(c)s") % {"c": certificate},
            objects=[certificate],
            form=form,
            submit=gettext("Reject"),
        )
