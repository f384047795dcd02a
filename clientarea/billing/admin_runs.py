"""Back office for the billing run's history: read-only BillingRun rows, and "Run billing now".

Imported by clientarea.billing.admin. The buttons above the list POST to
``run-now/``, which audits who asked (``billing.run_requested``) and enqueues
``tasks.billing_run_task`` (``tasks.request_billing_run``; the worker runs it;
refresh the list to see it). They need the ``billing.add_billingrun``
permission: a billing run is what they create.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from clientarea.billing import automation, run_chunks
from clientarea.billing.models import BillingRun, BillingRunStatus, ChunkStatus
from clientarea.billing.tasks import request_billing_run

# The most telling counts, in the list column.
SUMMARY_KEYS = (
    "orders_created",
    "reminders_before",
    "reminders_due",
    "reminders_overdue",
    "services_suspended",
    "services_terminated",
    "orders_cancelled_unpaid",
)


@admin.register(BillingRun)
class BillingRunAdmin(admin.ModelAdmin):
    class Media:
        css = {"all": ["css/admin.css"]}

    list_display = [
        "run_date",
        "started_at",
        "duration",
        "status_badge",
        "progress_share",
        "dry_run",
        "triggered_by",
        "summary",
        "error_count",
    ]
    list_filter = ["status", "dry_run", "triggered_by"]
    date_hierarchy = "run_date"
    fields = (
        "run_date",
        "status_badge",
        "dry_run",
        "triggered_by",
        "started_at",
        "finished_at",
        "duration",
        "progress_bar",
        "chunks_table",
        "counts_table",
        "errors_table",
    )
    readonly_fields = fields
    change_list_template = "billing/admin_billingrun_change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_urls(self):
        run_now = path(
            "run-now/",
            self.admin_site.admin_view(self.run_now_view),
            name="billing_billingrun_run_now",
        )
        return [run_now, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra = {"can_run_billing": self.can_run(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    @staticmethod
    def can_run(request: HttpRequest) -> bool:
        return (
            request.user.is_active
            and request.user.is_staff
            and request.user.has_perm("billing.add_billingrun")
        )

    def run_now_view(self, request: HttpRequest):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.can_run(request):
            raise PermissionDenied
        dry_run = request.POST.get("dry_run") == "1"
        request_billing_run(dry_run=dry_run, actor=request.user)
        message = (
            _("Dry run queued: it changes nothing. Refresh this page to see its counts.")
            if dry_run
            else _("Billing run queued for today. Refresh this page to see its progress.")
        )
        self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:billing_billingrun_changelist"))

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, run: BillingRun):
        # Colours in static/css/admin.css (the Content-Security-Policy blocks style attributes).
        return format_html(
            '<strong class="run-status-{}">{}</strong>', run.status, run.get_status_display()
        )

    @admin.display(description=_("duration"))
    def duration(self, run: BillingRun) -> str:
        if not run.finished_at:
            return "—"
        seconds = (run.finished_at - run.started_at).total_seconds()
        return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"

    @admin.display(description=_("what it did"))
    def summary(self, run: BillingRun) -> str:
        counts = run.counts or {}
        parts = [
            f"{counts[key]:,} {str(automation.COUNT_LABELS[key]).lower()}"
            for key in SUMMARY_KEYS
            if counts.get(key)
        ]
        if parts:
            return " · ".join(parts)
        return str(_("nothing to do")) if run.finished_at else "—"

    @admin.display(description=_("errors"))
    def error_count(self, run: BillingRun):
        count = (run.counts or {}).get("errors", len(run.errors or []))
        return format_html('<strong class="run-errors">{}</strong>', count) if count else "0"

    @admin.display(description=_("progress"))
    def progress_share(self, run: BillingRun) -> str:
        if run.status != BillingRunStatus.RUNNING:
            return "—"
        return f"{run_chunks.progress(run.pk).share:.0%}"

    @admin.display(description=_("progress"))
    def progress_bar(self, run: BillingRun):
        state = run_chunks.progress(run.pk)
        if not state.chunks:
            return "—"
        text = _(
            "%(done)s of %(chunks)s chunks done (%(customers_done)s of %(customers)s customers), "
            "%(running)s in progress, %(failed)s failed"
        ) % {
            "done": f"{state.done:,}",
            "chunks": f"{state.chunks:,}",
            "customers_done": f"{state.customers_done:,}",
            "customers": f"{state.customers:,}",
            "running": f"{state.running:,}",
            "failed": f"{state.failed:,}",
        }
        return format_html(
            '<progress class="run-progress" value="{}" max="{}">{}</progress> {}',
            state.done,
            state.chunks,
            f"{state.share:.0%}",
            text,
        )

    @admin.display(description=_("chunks in progress, failed or taken over"))
    def chunks_table(self, run: BillingRun):
        chunks = list(
            run.chunks.exclude(status=ChunkStatus.DONE, attempts__lte=1)
            .exclude(status=ChunkStatus.PENDING)
            .order_by("position")[:50]
        )
        if not chunks:
            return _("None")
        head = format_html(
            "<tr><th>#</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            _("customers"),
            _("status"),
            _("worker"),
            _("claims"),
            _("lease until"),
        )
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class='num'>{}</td><td>{}</td></tr>",
            (
                (
                    c.position + 1,
                    f"{c.after_id + 1}–{c.last_id if c.last_id is not None else '…'}",
                    c.get_status_display(),
                    c.claimed_by,
                    c.attempts,
                    c.lease_until or "—",
                )
                for c in chunks
            ),
        )
        return format_html("<table>{}{}</table>", head, rows)

    @admin.display(description=_("counts per action"))
    def counts_table(self, run: BillingRun):
        counts = run.counts or {}
        if run.status == BillingRunStatus.RUNNING:  # so far: the chunks' counts, added up
            so_far, _errors = run_chunks.chunk_totals(run.pk)
            counts = {**so_far, **counts}
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td class='num'>{}</td></tr>",
            ((label, f"{count:,}") for label, count in automation.summary_rows(counts)),
        )
        return format_html("<table>{}</table>", rows)

    @admin.display(description=_("errors"))
    def errors_table(self, run: BillingRun):
        if not run.errors:
            return _("None")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (self._customer_link(e.get("customer")), e.get("action", ""), e.get("message", ""))
                for e in run.errors
            ),
        )
        head = format_html(
            "<tr><th>{}</th><th>{}</th><th>{}</th></tr>", _("customer"), _("action"), _("message")
        )
        return format_html("<table>{}{}</table>", head, rows)

    @staticmethod
    def _customer_link(customer_id):
        if not customer_id:
            return "—"
        try:
            return format_html(
                '<a href="{}">{}</a>',
                reverse("admin:accounts_customer_change", args=[customer_id]),
                customer_id,
            )
        except NoReverseMatch:
            return str(customer_id)
