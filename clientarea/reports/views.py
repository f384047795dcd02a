"""Staff pages: the dashboard, the aging drill-down, the reports and their exports.

Each view needs a staff login (``admin_site.admin_view``) and its permission (403 without it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from clientarea.billing.models import PaidVia, PaymentMethod
from clientarea.lib.http import client_ip
from clientarea.lib.money import format_cop
from clientarea.payments.models import PaymentMethodChoice, gateway_choices
from clientarea.reports import charts, exports, movements, sales, selectors, services
from clientarea.reports.forms import ReportFilterForm, default_filters
from clientarea.reports.models import ExportJob, ExportStatus, ReportKind

VIEW_DASHBOARD = "reports.view_dashboard"
EXPORT_REPORTS = "reports.export_reports"

View = Callable[..., HttpResponseBase]


def staff_view(perm: str) -> Callable[[View], View]:
    """A back-office page: staff login (the admin's), then ``perm`` or 403."""

    def decorate(view: View) -> View:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.has_perm(perm):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return admin.site.admin_view(checked)

    return decorate


def page_context(request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {
        **admin.site.each_context(request),
        "title": title,
        "can_export": request.user.has_perm(EXPORT_REPORTS),
        **extra,
    }


def _label(choices: Any, value: str) -> str:
    return str(dict(choices).get(value, value or "—"))


@staff_view(VIEW_DASHBOARD)
def dashboard(request: HttpRequest) -> HttpResponse:
    income = selectors.income_by_month()
    per_month: dict[Any, Decimal] = defaultdict(Decimal)
    for row in income:
        per_month[row.month] += row.amount
    income_chart = charts.bar_chart(
        _("Income per month (paid orders, COP)"),
        [
            # "dic. 2026" / "Dec. 2026": short enough under a bar, lowercase in Spanish
            (date_format(month, "N Y"), amount, format_cop(amount))
            for month, amount in sorted(per_month.items())
        ],
    )
    income_rows = [
        {
            "month": row.month,
            "via": _label(PaidVia.choices, row.via),
            "method": _label(PaymentMethod.choices, row.method),
            "orders": row.orders,
            "amount": row.amount,
        }
        for row in income
    ]

    mrr = selectors.mrr_by_product()
    mrr_chart = charts.bar_chart(
        _("Monthly recurring revenue by product (before IVA)"),
        [(row.product, row.mrr, format_cop(row.mrr)) for row in mrr[:12]],
        colours=[1] * len(mrr[:12]),
    )

    aging = selectors.aging_totals()
    bucket_labels = _bucket_labels()
    aging_chart = charts.bar_chart(
        _("Accounts receivable aging (COP)"),
        [
            (bucket_labels[key], aging.buckets[key], format_cop(aging.buckets[key]))
            for key in selectors.BUCKET_KEYS
        ],
        colours=[0, 2, 3, 4, 4],
    )
    aging_rows = [
        {
            "key": key,
            "label": bucket_labels[key],
            "amount": aging.buckets[key],
            "customers": aging.customers[key],
        }
        for key in selectors.BUCKET_KEYS
    ]

    gateway_names = dict(gateway_choices())
    rates = selectors.approval_rates()
    rate_rows = [
        {
            "gateway": gateway_names.get(rate.gateway, rate.gateway),
            "method": _label(PaymentMethodChoice.choices, rate.method),
            "attempts": rate.attempts,
            "approved": rate.approved,
            "declined": rate.declined,
            "expired": rate.expired,
            "rate": rate.rate,
        }
        for rate in rates
    ]
    # A bar needs a rate: a gateway and method with only abandoned attempts has none.
    decided = [(rate, rate.rate) for rate in rates if rate.rate is not None]
    rate_chart = charts.bar_chart(
        _("Gateway approval rate, last 30 days (%)"),
        [
            (
                f"{gateway_names.get(rate.gateway, rate.gateway)} · "
                f"{_label(PaymentMethodChoice.choices, rate.method)}",
                value,
                f"{number_format(value)} %",  # "87,5 %" in Spanish, as in the table
            )
            for rate, value in decided
        ],
        colours=[2] * len(decided),
    )

    context = page_context(
        request,
        pgettext("back office", "Dashboard"),
        income_chart=income_chart,
        income_rows=income_rows,
        mrr_chart=mrr_chart,
        mrr_rows=mrr,
        mrr_total=sum((row.mrr for row in mrr), Decimal(0)),
        mrr_change=selectors.mrr_change(),
        aging_chart=aging_chart,
        aging_rows=aging_rows,
        aging_total=aging.total,
        about_to_suspend=selectors.services_about_to_be_suspended(),
        invoices_waiting=list(selectors.invoices_not_accepted()[:20]),
        invoices_by_status=selectors.invoices_not_accepted_by_status(),
        rate_chart=rate_chart,
        rate_rows=rate_rows,
    )
    return TemplateResponse(request, "reports/dashboard.html", context)


def _bucket_labels() -> dict[str, str]:
    return {
        "current": _("Not yet due"),
        "d1_30": _("1–30 days"),
        "d31_60": _("31–60 days"),
        "d61_90": _("61–90 days"),
        "d90": _("Over 90 days"),
    }


@staff_view(VIEW_DASHBOARD)
def aging_bucket(request: HttpRequest, bucket: str) -> HttpResponse:
    labels = _bucket_labels()
    if bucket not in labels:
        raise Http404
    page = Paginator(selectors.customers_in_bucket(bucket=bucket), 50).get_page(
        request.GET.get("page")
    )
    rows = [
        {
            "customer": customer,
            "document": selectors.customer_document(customer),
            "amount": getattr(customer, bucket),
        }
        for customer in page
    ]
    context = page_context(
        request,
        _("Customers owing: %(bucket)s") % {"bucket": labels[bucket]},
        page_obj=page,
        rows=rows,
        bucket_label=labels[bucket],
    )
    return TemplateResponse(request, "reports/aging_bucket.html", context)


def _reports_page(
    request: HttpRequest, form: ReportFilterForm, *, status: int = 200
) -> TemplateResponse:
    totals = None
    if form.is_bound and form.is_valid():
        f = form.filters()
        totals = sales.sales_book_totals(date_from=f.date_from, date_to=f.date_to)
    jobs = ExportJob.objects.select_related("requested_by")[:20]
    context = page_context(
        request,
        _("Reports"),
        form=form,
        reports=[(kind, label) for kind, label in ReportKind.choices],
        totals=totals,
        jobs=jobs,
        query=request.GET.urlencode(),
    )
    return TemplateResponse(request, "reports/reports.html", context, status=status)


@staff_view(VIEW_DASHBOARD)
def reports(request: HttpRequest) -> HttpResponse:
    form = ReportFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return _reports_page(request, form, status=400)
    return _reports_page(request, form)


def _kind(kind: str) -> str:
    if kind not in ReportKind.values:
        raise Http404
    return kind


@staff_view(EXPORT_REPORTS)
def export_csv(request: HttpRequest, kind: str) -> HttpResponseBase:
    """The report as CSV, streamed row by row while the database is read (any size, constant memory)."""
    kind = _kind(kind)
    form = ReportFilterForm(request.GET)
    if not form.is_valid():
        return _reports_page(request, form, status=400)
    filters = form.filters()
    response = StreamingHttpResponse(
        exports.csv_lines(kind, filters), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{exports.file_stem(kind, filters)}.csv"'
    )
    return response


@require_POST
@staff_view(EXPORT_REPORTS)
def export_xlsx(request: HttpRequest, kind: str) -> HttpResponseBase:
    """Queue the XLSX export in the worker and show its progress page."""
    kind = _kind(kind)
    form = ReportFilterForm(request.POST)
    if not form.is_valid():
        return _reports_page(request, form, status=400)
    job = services.request_export(
        kind=kind, filters=form.filters(), actor=request.user, ip=client_ip(request)
    )
    messages.success(request, _("The export was queued; this page shows its progress."))
    return redirect("reports:export", job_id=job.pk)


@staff_view(EXPORT_REPORTS)
def export_status(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ExportJob.objects.select_related("requested_by"), pk=job_id)
    context = page_context(
        request,
        str(job),
        job=job,
        running=job.status in (ExportStatus.QUEUED, ExportStatus.RUNNING),
        ready=services.export_path(job) is not None,
    )
    return TemplateResponse(request, "reports/export_status.html", context)


@staff_view(EXPORT_REPORTS)
def export_download(request: HttpRequest, job_id: int) -> FileResponse:
    job = get_object_or_404(ExportJob, pk=job_id)
    path = services.export_path(job)
    if path is None:
        raise Http404
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=path.name,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@staff_view(VIEW_DASHBOARD)
def money_movements(request: HttpRequest) -> HttpResponse:
    """Money movements of a period: the bank section's totals per gateway and method, the other
    sections' per ledger kind, and every movement, 50 to a page (CSV and XLSX: the exports)."""
    form = ReportFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        context = page_context(request, _("Money movements"), form=form, totals=None)
        return TemplateResponse(request, "reports/movements.html", context, status=400)
    f = form.filters() if form.is_bound else default_filters()
    kwargs: dict[str, Any] = {
        "date_from": f.date_from,
        "date_to": f.date_to,
        "via": f.via,
        "method": f.method,
    }
    pages: Paginator[movements.MovementRow] = Paginator(movements.MovementPages(**kwargs), 50)
    page = pages.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = page_context(
        request,
        _("Money movements"),
        form=form,
        filters=f,
        totals=movements.summary(**kwargs),
        page_obj=page,
        sections=exports.section_labels(),
        directions=exports.direction_labels(),
        query=query.urlencode(),
        kind=ReportKind.MOVEMENTS,
    )
    return TemplateResponse(request, "reports/movements.html", context)
