"""Back office: invoices and notes (list, detail, downloads, resend), numbering resolutions and
note numbering. Issuing notes from an invoice is in ``admin_notes``; "Import from DIAN" and the
habilitación test sets are in ``admin_habilitacion``."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince
from django.utils.translation import get_language, gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from clientarea.einvoice import services
from clientarea.einvoice.admin_habilitacion import NumberingImportAdminMixin
from clientarea.einvoice.admin_notes import InvoiceNotesMixin, note_reference
from clientarea.einvoice.attempt_texts import rule_kind
from clientarea.einvoice.delivery import CONTINGENCY_RETRY
from clientarea.einvoice.models import (
    DELIVERABLE_STATUSES,
    DocumentKind,
    Invoice,
    InvoiceStatus,
    Note,
    NoteNumbering,
    NumberingResolution,
    TransmissionAttempt,
    TransmissionExchange,
)
from clientarea.einvoice.pdf_labels import payment_means_name
from clientarea.einvoice.rules import plain_words
from clientarea.einvoice.selectors import numbering_warnings
from clientarea.lib.admin import ReadOnlyInline, ViewPageAdminMixin
from clientarea.lib.money import format_cop

CONTINGENCY_RETRY_MINUTES = int(CONTINGENCY_RETRY.total_seconds() // 60)


class WarningsMixin(admin.ModelAdmin):
    def changelist_view(self, request, extra_context=None):
        for warning in numbering_warnings():
            messages.warning(request, warning)
        return super().changelist_view(request, extra_context)


@admin.register(NumberingResolution)
class NumberingResolutionAdmin(NumberingImportAdminMixin, WarningsMixin, admin.ModelAdmin):
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


def _rule_lines(rule_messages: list[dict]) -> str:
    """DIAN's rule messages, each with our plain-words explanation when we have one."""
    if not rule_messages:
        return "—"
    return format_html_join(
        "",
        "<p><strong>{}</strong> ({}): {}<br><em>{}</em></p>",
        (
            (
                m.get("rule", ""),
                rule_kind(m.get("kind", "")),
                m.get("text", ""),
                plain_words(m.get("rule", "")),
            )
            for m in rule_messages
        ),
    )


class TransmissionInline(ReadOnlyInline):
    """DIAN exchanges as they happened: read only, never added or deleted here."""

    model = TransmissionAttempt
    fields = ("when", "outcome", "message_text", "rules", "retryable", "key", "raw")
    readonly_fields = fields

    @admin.display(description=_("date"))
    def when(self, obj):
        return _short(obj.created_at)

    @admin.display(description=_("DIAN document key"))
    def key(self, obj):
        """The CUFE/CUDE DIAN answered with, shortened (the whole key on hover; it is the
        document's own, shown in full above)."""
        if not obj.document_key:
            return "—"
        return format_html('<span title="{}">{}…</span>', obj.document_key, obj.document_key[:12])

    @admin.display(description=_("outcome"))
    def outcome(self, obj):
        """An attempt DIAN gave no usable answer to is stored as "sent" (the document's state
        while it waits): here it says it was not answered."""
        return attempt_outcome(obj)

    @admin.display(description=_("message"))
    def message_text(self, obj):
        """Ours in the reader's language; DIAN's answer as DIAN wrote it; the client's or the
        transport's own text under it, labelled as the technical detail."""
        return attempt_message(obj)

    @admin.display(description=_("DIAN rules, in plain words"))
    def rules(self, obj):
        return _rule_lines(obj.rule_messages)

    @admin.display(description=_("request / response"))
    def raw(self, obj):
        links = [
            (
                reverse("admin:einvoice_invoice_exchange", args=[obj.invoice_id, e.pk, part]),
                f"{e.operation} {label} ({e.http_status or '—'})",
            )
            for e in obj.exchanges.all()
            for part, label in (("request", _("request")), ("response", _("response")))
        ]
        if obj.application_response:
            links.append(
                (
                    reverse("admin:einvoice_invoice_attempt_ar", args=[obj.invoice_id, obj.pk]),
                    "ApplicationResponse",
                )
            )
        return format_html_join(" · ", '<a href="{}">{}</a>', links) if links else "—"


class DianQueueFilter(admin.SimpleListFilter):
    """The documents DIAN has not accepted yet, oldest first: what staff must watch."""

    title = _("DIAN")
    parameter_name = "dian"

    def lookups(self, request, model_admin):
        return [
            ("pending", _("Not accepted yet")),
            # Of the documents ("Rechazadas" beside "Aún no aceptadas", not "Rechazado").
            ("rejected", pgettext_lazy("documents", "Rejected")),
            ("contingency", _("Contingency")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return (
                queryset.exclude(status=InvoiceStatus.WAITING)
                .exclude(Q(transmitted_at__isnull=False) & Q(status__in=DELIVERABLE_STATUSES))
                .order_by("issued_at", "id")
            )
        if self.value() in ("rejected", "contingency"):
            return queryset.filter(status=self.value()).order_by("issued_at", "id")
        return queryset


def attempt_outcome(attempt: TransmissionAttempt) -> str:
    if attempt.retryable and attempt.status == InvoiceStatus.SENT:
        return gettext("Not answered: to be sent again")
    return attempt.get_status_display()


def attempt_message(attempt: TransmissionAttempt) -> str:
    """The attempt's message and, under it, its technical detail (English, as the DIAN client or
    the transport wrote it), labelled as such."""
    message = attempt.message_text
    if attempt.as_written:
        # Not ours, so not in the reader's language: said whose words they are.
        message = format_html(
            '{}<br><span class="cell-detail">{}</span>',
            message,
            gettext("as DIAN or our DIAN client wrote it, not translated"),
        )
    detail = attempt.detail_text
    if not detail:
        return format_html("{}", message)
    return format_html(
        '{}<br><span class="cell-detail">{}: <code>{}</code></span>',
        message,
        gettext("Technical detail"),
        detail,
    )


def _short(moment) -> str:
    return (
        formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT") if moment else "—"
    )


@admin.register(NoteNumbering)
class NoteNumberingAdmin(admin.ModelAdmin):
    list_display = ["kind", "prefix", "next_number"]

    def get_readonly_fields(self, request, obj=None):
        # Once a note was numbered, the prefix and counter are history (no number skipped or reused).
        if obj and Invoice.objects.filter(kind=obj.kind).exists():
            return ["kind", "prefix", "next_number"]
        return []

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Invoice)
class InvoiceAdmin(ViewPageAdminMixin[Invoice], InvoiceNotesMixin, WarningsMixin, admin.ModelAdmin):
    #: Fits 1366 px beside the navigation sidebar (the DIAN queue is watched there): the DIAN
    #: state says the status (and "not signed yet" for one not rendered) and, under it, how long
    #: the document has waited; the customer's email goes under the name.
    list_display = [
        "__str__",
        "order",
        "customer_column",
        "dian",
        "issued",
        "amount",
        "emailed",
    ]
    list_filter = [DianQueueFilter, "status", "resolution"]

    def get_ordering(self, request):
        """The DIAN queue's views list the oldest document first (what has waited longest), unless
        staff sort by a column; the admin's own ordering would put the newest first."""
        if request.GET.get(DianQueueFilter.parameter_name) in (
            "pending",
            "rejected",
            "contingency",
        ):
            return ["issued_at", "id"]
        return super().get_ordering(request)

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
    actions = ["resend_to_dian", "resend_email", "issue_waiting"]
    change_form_template = "admin/einvoice/invoice_change_form.html"
    #: The invoice page's "Send to DIAN again" button (the staff alert about a rejection or a
    #: contingency points there), besides the notes' "Invoice again with corrected buyer data".
    object_actions = [*InvoiceNotesMixin.object_actions, ("resend", "resend_view")]
    fields = (
        "full_number",
        "status",
        "dian",
        "last_rules",
        "accepted_at",
        "contingency_since",
        "waiting_reason",
        "notes_list",
        "balance",
        "replaces",
        "superseded_at",
        "order",
        "customer",
        "resolution",
        "cufe",
        "issued_at",
        "paid_at",
        "payment_means",
        "amount",
        "rendered_at",
        "render_error",
        "emailed_at",
        "transmitted_at",
        "next_try",
        "downloads",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(kind=DocumentKind.INVOICE)
            .defer(
                "xml_unsigned",
                "xml_signed",
                "attached_document",
                "pdf",
                "document",
                "application_response",
            )
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("total"), ordering="total")
    def amount(self, obj):
        return format_cop(obj.total, decimals=True)

    @admin.display(description=_("payment means"))
    def payment_means(self, obj):
        """DIAN's code with its name, as the invoice's PDF prints it ("Tarjeta crédito (48)"); a
        code the invoices do not use by default gets DIAN's name from its MediosPago list."""
        language = "en" if (get_language() or "").startswith("en") else "es"
        name = payment_means_name(obj.payment_means_code, language)
        return f"{name} ({obj.payment_means_code})" if name else obj.payment_means_code

    @admin.display(boolean=True, description=_("rendered"))
    def rendered(self, obj):
        return bool(obj.rendered_at)

    @admin.display(description=_("DIAN state"), ordering="status")
    def dian(self, obj):
        state = (
            format_html('<strong class="dian-rejected">{}</strong>', obj.dian_state)
            if obj.status == InvoiceStatus.REJECTED
            else obj.dian_state
        )
        if not obj.awaiting_dian or not obj.issued_at:
            return state
        return format_html(
            '{}<br><span class="cell-detail">{}</span>',
            state,
            gettext("waiting for %(time)s") % {"time": self.age(obj)},
        )

    @admin.display(description=_("issued at"), ordering="issued_at")
    def issued(self, obj):
        """The short date and time ("5 dic 2026 18:05"): the long words took three lines."""
        return _short(obj.issued_at)

    @admin.display(description=_("emailed at"), ordering="emailed_at")
    def emailed(self, obj):
        return _short(obj.emailed_at)

    @admin.display(description=_("customer"), ordering="customer__user__email")
    def customer_column(self, obj):
        """The name, and the login email under it (it may break anywhere: it is long)."""
        customer = obj.customer
        return format_html(
            '{}<br><span class="customer-email">{}</span>',
            customer.display_name,
            customer.user.email,
        )

    @admin.display(description=_("waiting for DIAN for"))
    def age(self, obj):
        if not obj.awaiting_dian or not obj.issued_at:
            return "—"
        return timesince(obj.issued_at, timezone.now())

    @admin.display(description=_("next automatic try to DIAN"))
    def next_try(self, obj):
        """``lease_until`` of a document not yet transmitted: no worker takes it up before then
        (DIAN's retry, contingency's 30 minutes, or a worker still at it)."""
        if obj.transmitted_at or not obj.lease_until or obj.status == InvoiceStatus.REJECTED:
            return "—"
        return _short(obj.lease_until)

    @admin.display(description=_("DIAN's last answer, in plain words"))
    def last_rules(self, obj):
        attempt = obj.transmissions.order_by("-created_at", "-id").first()
        if attempt is None:
            return "—"
        # An answer without rule notes (an accepted one) is its message alone: no dash under it.
        rules = _rule_lines(attempt.rule_messages) if attempt.rule_messages else ""
        return format_html("<p>{}</p>{}", attempt_message(attempt), rules)

    @admin.display(description=_("downloads"))
    def downloads(self, obj):
        if not obj.rendered_at:
            return "—"
        kinds = [
            ("pdf", "PDF"),
            ("xml", _("signed XML")),
            ("attached", "AttachedDocument"),
        ]
        if obj.application_response:
            kinds.append(("ar", "ApplicationResponse"))
        return format_html_join(
            " · ",
            '<a href="{}">{}</a>',
            (
                (reverse("admin:einvoice_invoice_download", args=[obj.pk, kind]), label)
                for kind, label in kinds
            ),
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/download/<str:kind>/",
                self.admin_site.admin_view(self.download),
                name="einvoice_invoice_download",
            ),
            path(
                "<int:pk>/exchange/<int:exchange_id>/<str:part>/",
                self.admin_site.admin_view(self.exchange),
                name="einvoice_invoice_exchange",
            ),
            path(
                "<int:pk>/attempt/<int:attempt_id>/application-response/",
                self.admin_site.admin_view(self.attempt_application_response),
                name="einvoice_invoice_attempt_ar",
            ),
            *super().get_urls(),
        ]

    @staticmethod
    def _xml(body: bytes, name: str) -> HttpResponse:
        response = HttpResponse(body, content_type="application/xml")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def _check_view(self, request) -> None:
        """The downloads are views of the invoice: the same permission as its page."""
        if not self.has_view_permission(request):
            raise PermissionDenied

    def download(self, request, pk: int, kind: str):
        self._check_view(request)
        invoice = get_object_or_404(Invoice, pk=pk)
        data = {
            "pdf": (invoice.pdf, "application/pdf", "pdf"),
            "xml": (invoice.xml_signed, "application/xml", "xml"),
            "attached": (invoice.attached_document, "application/xml", "attached.xml"),
            "ar": (invoice.application_response, "application/xml", "application-response.xml"),
        }.get(kind)
        if data is None or not invoice.rendered_at or not data[0]:
            raise Http404
        response = HttpResponse(bytes(data[0]), content_type=data[1])
        response["Content-Disposition"] = f'attachment; filename="{invoice.full_number}.{data[2]}"'
        return response

    def exchange(self, request, pk: int, exchange_id: int, part: str):
        """One raw request or answer of a transmission attempt, byte for byte."""
        self._check_view(request)
        exchange = get_object_or_404(
            TransmissionExchange.objects.select_related("attempt__invoice"),
            pk=exchange_id,
            attempt__invoice_id=pk,
        )
        if part not in ("request", "response"):
            raise Http404
        # Named by the document, as its other downloads are: "SETP990000004.SendBillSync-3-…".
        document = exchange.attempt.invoice.full_number or str(pk)
        return self._xml(
            bytes(getattr(exchange, part)),
            f"{document}.{exchange.operation}-{exchange.pk}-{part}.xml",
        )

    def attempt_application_response(self, request, pk: int, attempt_id: int):
        self._check_view(request)
        attempt = get_object_or_404(
            TransmissionAttempt.objects.select_related("invoice"), pk=attempt_id, invoice_id=pk
        )
        if not attempt.application_response:
            raise Http404
        document = attempt.invoice.full_number or str(pk)
        return self._xml(
            bytes(attempt.application_response),
            f"{document}.application-response-{attempt.pk}.xml",
        )

    def view_title(self, obj: Invoice) -> str:
        """A DIAN document is never edited (the change permission is for its buttons): its page
        is titled by the document, "Invoice SETP990000002", "Debit note ND3"."""
        return f"{obj.get_kind_display()} {obj.full_number or obj}"

    def resend_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Send a rejected document (its cause fixed) or one waiting for DIAN to DIAN again, with
        the same number: a confirmation, then ``services.resend_to_dian``."""
        invoice = self.get_object_or_404_for_action(request, object_id)
        if request.method == "POST":
            try:
                services.resend_to_dian(invoice_id=invoice.pk, actor=request.user)
            except services.CannotResend as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext(
                        "%(number)s was sent to DIAN again with the same number; this page shows "
                        "DIAN's answer when it arrives."
                    )
                    % {"number": invoice.full_number},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(self.change_url(invoice))
        return self.render_action_form(
            request,
            title=gettext("Send %(number)s to DIAN again") % {"number": invoice.full_number},
            objects=[invoice],
            form=None,
            submit=gettext("Send to DIAN again"),
            intro=self._resend_intro(invoice),
        )

    @staticmethod
    def _resend_intro(invoice: Invoice) -> str:
        """A rejected document has a cause to fix first; one in contingency has none (DIAN did
        not answer), so "fix the cause DIAN gave" would send staff looking for what is not there."""
        if invoice.status == InvoiceStatus.CONTINGENCY:
            since = invoice.contingency_since
            return gettext(
                "The document keeps its number and CUFE: it is signed again and sent now. It is "
                "in contingency because DIAN did not answer (since %(since)s): there is nothing to "
                "fix on it. Send it once DIAN answers again; otherwise the worker tries again "
                "every %(minutes)d minutes."
            ) % {
                "since": formats.date_format(timezone.localtime(since), "SHORT_DATETIME_FORMAT")
                if since
                else "—",
                "minutes": CONTINGENCY_RETRY_MINUTES,
            }
        return gettext(
            "The document keeps its number and CUFE: it is signed again and sent. Fix the "
            "cause DIAN gave first (certificate, software, numbering resolution, the "
            "customer's data), or DIAN rejects it again."
        )

    @admin.action(description=_("Send to DIAN again (same number)"), permissions=["change"])
    def resend_to_dian(self, request, queryset):
        sent = 0
        for invoice in queryset:
            try:
                services.resend_to_dian(invoice_id=invoice.pk, actor=request.user)
                sent += 1
            except services.CannotResend as exc:
                self.message_user(request, str(exc), messages.ERROR)
        if sent:
            self.message_user(request, _("%(n)d document(s) sent to DIAN again.") % {"n": sent})

    @admin.action(description=_("Email the document to the customer again"), permissions=["change"])
    def resend_email(self, request, queryset):
        sent = 0
        for invoice in queryset:
            try:
                services.resend_invoice_email(invoice=invoice, actor=request.user)
                sent += 1
            except services.InvoiceWaiting as exc:
                self.message_user(request, f"{invoice}: {exc}", messages.ERROR)
        if sent:
            self.message_user(request, _("%(n)d document email(s) queued.") % {"n": sent})

    @admin.action(description=_("Issue waiting invoices now"), permissions=["change"])
    def issue_waiting(self, request, queryset):
        counts = services.issue_waiting_invoices()
        self.message_user(request, _("Issued: %(issued)d. Still waiting: %(waiting)d.") % counts)


@admin.register(Note)
class NoteAdmin(InvoiceAdmin):
    """Credit and debit notes: the invoice list's DIAN columns, filters, downloads and actions."""

    list_display = [
        "note_column",
        "corrects_for",
        "customer_column",
        "dian",
        "issued",
        "amount",
        "emailed",
    ]
    list_display_links = ["note_column"]
    list_filter = [DianQueueFilter, "kind", "status"]
    search_fields = ["full_number", "cufe", "reference__full_number", "customer__user__email"]
    list_select_related = ["reference", "customer__user"]
    actions = ["resend_to_dian", "resend_email"]
    note_fields = (
        "full_number",
        "kind",
        "corrects",
        "concept_words",
        "reason",
        "issued_by",
        "status",
        "dian",
        "last_rules",
        "accepted_at",
        "contingency_since",
        "customer",
        "cufe",
        "issued_at",
        "amount",
        "rendered_at",
        "render_error",
        "emailed_at",
        "transmitted_at",
        "next_try",
        "downloads",
    )

    def get_fields(self, request, obj=None):
        return self.note_fields

    def get_readonly_fields(self, request, obj=None):
        return self.note_fields

    @admin.display(description=_("credit or debit note"), ordering="full_number")
    def note_column(self, obj):
        """The number, and what the note is under it ("Credit note")."""
        return format_html('{}<br><span class="cell-detail">{}</span>', obj, obj.get_kind_display())

    @admin.display(description=_("DIAN concept"), ordering="concept")
    def concept_words(self, obj):
        """DIAN's concept code with its name ("3 · Partial or total rebate or discount"): the
        list showed the bare code."""
        return f"{obj.concept} · {obj.concept_label}" if obj.concept else "—"

    @admin.display(description=_("invoice corrected"))
    def corrects(self, obj):
        return note_reference(obj)

    @admin.display(description=_("invoice corrected"), ordering="reference__full_number")
    def corrects_for(self, obj):
        """The invoice, and DIAN's concept of the correction under it (the list had no room
        for a column of its own at 1366 px)."""
        return format_html(
            '{}<br><span class="cell-detail">{}</span>',
            note_reference(obj),
            self.concept_words(obj),
        )

    def get_queryset(self, request):
        return (
            admin.ModelAdmin.get_queryset(self, request)
            .exclude(kind=DocumentKind.INVOICE)
            .defer(
                "xml_unsigned",
                "xml_signed",
                "attached_document",
                "pdf",
                "document",
                "application_response",
            )
        )

    def get_urls(self):
        # Downloads and raw exchanges are served by the invoice admin's URLs (same rows); "Send
        # to DIAN again" is the note's own (the invoice admin's finds invoices only): without it
        # the page of a rejected note or one in contingency could not be drawn.
        return [
            path(
                "<path:object_id>/resend/",
                self.admin_site.admin_view(self.resend_view),
                name=f"{self.opts.app_label}_{self.opts.model_name}_resend",
            ),
            *admin.ModelAdmin.get_urls(self),
        ]
