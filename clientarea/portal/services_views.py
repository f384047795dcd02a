"""The customer's Services pages: the list, one service with its history and the orders that bill
it, and ordering a new one (a pending service and its order, through billing)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clientarea.accounts.permissions import Permission, client_area, request_customer
from clientarea.billing import cancellations, planchanges
from clientarea.billing import selectors as billing_selectors
from clientarea.billing.services import OrderStateError, order_new_service
from clientarea.catalog import selectors as catalog_selectors
from clientarea.lib.http import client_ip
from clientarea.lib.money import format_cop
from clientarea.portal.order_forms import ServiceOptionsForm
from clientarea.subscriptions import selectors
from clientarea.subscriptions.forms import CancellationForm, OrderServiceForm
from clientarea.subscriptions.models import CancellationStatus, CancellationWhen, PlanChangeStatus
from clientarea.withholdings import selectors as withholdings


@client_area(Permission.SERVICES_VIEW)
@require_GET
def service_list(request: HttpRequest) -> HttpResponse:
    customer = request_customer(request)
    language = translation.get_language()
    services = [
        (s, s.product.display_name(language)) for s in selectors.services_for_customer(customer)
    ]
    return render(request, "subscriptions/service_list.html", {"services": services})


@client_area(Permission.SERVICES_VIEW)
@require_GET
def service_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = request_customer(request)
    service = selectors.service_for_customer(customer, pk)
    history = [(event, selectors.event_reason(event)) for event in service.events.all()]
    plan_change = planchanges.open_change(service)
    return render(
        request,
        "subscriptions/service_detail.html",
        {
            "service": service,
            "history": history,
            "orders": billing_selectors.orders_billing_service(service),
            "product_name": service.product.display_name(translation.get_language()),
            "cancellation": selectors.pending_cancellation(service),
            "can_cancel": service.status in cancellations.CANCELLABLE,
            "plan_change": plan_change,
            "may_change_plan": planchanges.may_offer_change(service),
            "has_options": planchanges.has_option_groups(service),
            "plan_change_name": plan_change.to_product.display_name(translation.get_language())
            if plan_change
            else "",
        },
    )


@client_area(Permission.SERVICES)
@require_http_methods(["GET", "POST"])
def request_cancellation(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask to end a service now or at the end of its paid period."""
    customer = request_customer(request)
    service = selectors.service_for_customer(customer, pk)
    pending = selectors.pending_cancellation(service)
    if pending is not None or service.status not in cancellations.CANCELLABLE:
        return redirect("subscriptions:detail", pk=service.pk)
    at_once = cancellations.ends_at_once(service)
    form = CancellationForm(request.POST or None, ends_at_once=at_once)
    if request.method == "POST" and form.is_valid():
        try:
            done = cancellations.request_cancellation(
                service=service,
                when=form.cleaned_data.get("when", CancellationWhen.IMMEDIATE),
                reason=form.cleaned_data["reason"],
                comment=form.cleaned_data["comment"],
                actor=request.user,  # type: ignore[arg-type]
                ip=client_ip(request),
            )
        except cancellations.CancellationError as exc:
            messages.error(request, str(exc))
        else:
            if done.status == CancellationStatus.DONE:
                messages.success(request, _("The service was cancelled."))
            else:
                messages.success(
                    request,
                    _(
                        "Your request is recorded: the service ends on %(date)s. You can withdraw it until then."
                    )
                    % {"date": formats.date_format(done.effective_date, "DATE_FORMAT")},
                )
            return redirect("subscriptions:detail", pk=service.pk)
    return render(
        request,
        "subscriptions/cancel.html",
        {
            "service": service,
            "form": form,
            "ends_at_once": at_once,
            "product_name": service.product.display_name(translation.get_language()),
        },
    )


@client_area(Permission.SERVICES)
@require_POST
def withdraw_cancellation(request: HttpRequest, pk: int) -> HttpResponse:
    customer = request_customer(request)
    service = selectors.service_for_customer(customer, pk)
    pending = selectors.pending_cancellation(service)
    if pending is None:
        raise Http404
    try:
        cancellations.withdraw_cancellation(
            request=pending,
            actor=request.user,  # type: ignore[arg-type]
            ip=client_ip(request),
        )
    except cancellations.CancellationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("Your cancellation request was withdrawn. The service renews as usual.")
        )
    return redirect("subscriptions:detail", pk=service.pk)


@client_area(Permission.BILLING)
@require_http_methods(["GET", "POST"])
def order_service(request: HttpRequest) -> HttpResponse:
    customer = request_customer(request)
    catalog = catalog_selectors.orderable_catalog(translation.get_language())
    initial = {key: request.GET[key] for key in ("product", "cycle") if key in request.GET}
    form = OrderServiceForm(
        request.POST if request.method == "POST" else None, catalog=catalog, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            order = order_new_service(
                customer=customer,
                product=data["product"],
                cycle=data["cycle"],
                label=data["label"],
                actor=request.user,
            )
        except OrderStateError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("We created service order %(number)s. Pay it to activate your service.")
                % {"number": order.number},
            )
            return redirect("billing:order", number=order.number)
    return render(request, "subscriptions/order_service.html", {"form": form, "catalog": catalog})


def _plan_choice(request: HttpRequest, quotes: list[planchanges.Quote]) -> planchanges.Quote | None:
    wanted = request.POST.get("plan", "")
    return next((q for q in quotes if q.key == wanted), None)


@client_area(Permission.SERVICES)
@require_http_methods(["GET", "POST"])
def change_plan(request: HttpRequest, pk: int) -> HttpResponse:
    """Pick another plan (product of the same kind and/or cycle) with the amounts previewed."""
    customer = request_customer(request)
    service = selectors.service_for_customer(customer, pk)
    language = translation.get_language()
    refused = planchanges.refusal(service)
    quotes = [] if refused else planchanges.plan_options(service, language=language)
    error = ""
    if request.method == "POST" and not refused:
        chosen = _plan_choice(request, quotes)
        if chosen is None:
            error = _("Choose one of the plans below.")
        else:
            try:
                change = planchanges.request_plan_change(
                    service=service,
                    product=chosen.product,
                    cycle=chosen.cycle,
                    actor=request.user,  # type: ignore[arg-type]
                    ip=client_ip(request),
                )
            except planchanges.PlanChangeError as exc:
                error = str(exc)
            else:
                cycle = change.cycle_only  # the same plan, another billing cycle
                if change.status == PlanChangeStatus.AWAITING_PAYMENT:
                    messages.success(
                        request,
                        (
                            _(
                                "We created service order %(number)s for the difference. Your new billing cycle starts as soon as it is paid."
                            )
                            if cycle
                            else _(
                                "We created service order %(number)s for the difference. Your new plan starts as soon as it is paid."
                            )
                        )
                        % {"number": change.order_number},
                    )
                    return redirect("billing:order", number=change.order_number)
                if change.status == PlanChangeStatus.SCHEDULED:
                    messages.success(
                        request,
                        (
                            _("Your billing cycle changes on %(date)s.")
                            if cycle
                            else _("Your plan changes on %(date)s.")
                        )
                        % {"date": formats.date_format(change.effective_date, "DATE_FORMAT")},
                    )
                elif change.amount > 0:
                    messages.success(
                        request,
                        (
                            _(
                                "Your service has its new billing cycle. %(amount)s (IVA included) went to your account's credit."
                            )
                            if cycle
                            else _(
                                "Your service has its new plan. %(amount)s (IVA included) went to your account's credit."
                            )
                        )
                        % {"amount": format_cop(change.amount)},
                    )
                else:
                    messages.success(
                        request,
                        _("Your service has its new billing cycle.")
                        if cycle
                        else _("Your service has its new plan."),
                    )
                return redirect("subscriptions:detail", pk=service.pk)
    return render(
        request,
        "subscriptions/change_plan.html",
        {
            "service": service,
            "product_name": service.product.display_name(language),
            "quotes": quotes,
            "refused": refused,
            # The unpaid renewal a refusal names, so the page links it instead of a dead end.
            "pay_first": planchanges.pending_renewal(service) if refused else None,
            # An upgrade's order asks a withholding agent for the net: the page says so.
            "withholding_agent": withholdings.approved_agent(customer.pk) is not None,
            "error": error,
            "chosen": request.POST.get("plan", ""),
        },
        status=400 if error else 200,
    )


def _changed_message(change) -> str:
    if change.status == PlanChangeStatus.AWAITING_PAYMENT:
        return _(
            "We created service order %(number)s for the difference. Your new options start as soon as it is paid."
        ) % {"number": change.order_number}
    if change.status == PlanChangeStatus.SCHEDULED:
        return _("Your options change on %(date)s.") % {
            "date": formats.date_format(change.effective_date, "DATE_FORMAT")
        }
    if change.amount > 0:
        return _(
            "Your service has its new options. %(amount)s (IVA included) went to your account's credit."
        ) % {"amount": format_cop(change.amount)}
    return _("Your service has its new options.")


@client_area(Permission.SERVICES)
@require_http_methods(["GET", "POST"])
def change_options(request: HttpRequest, pk: int) -> HttpResponse:
    """Change the service's configurable options: the form, then a preview of the prorated
    amount, then confirm (``billing.planchanges.request_options_change``)."""
    customer = request_customer(request)
    service = selectors.service_for_customer(customer, pk)
    language = translation.get_language()
    refused = planchanges.refusal(service)
    groups = [] if refused else planchanges.option_groups_for(service)
    if not refused and not groups:
        refused = _("This service has no options to change.")
    current = planchanges.current_selections(service) if groups else {}
    form = ServiceOptionsForm(
        request.POST if request.method == "POST" else None,
        groups=groups,
        current=current,
        language=language,
    )
    quote = None
    error = ""
    if request.method == "POST" and not refused:
        if not form.is_valid():
            error = _("Check the options below.")
        else:
            selections = form.cleaned_data["selections"]
            try:
                if "confirm" in request.POST:
                    change = planchanges.request_options_change(
                        service=service,
                        selections=selections,
                        actor=request.user,  # type: ignore[arg-type]
                        ip=client_ip(request),
                    )
                else:
                    quote = planchanges.quote_options_change(
                        service=service, selections=selections, language=language
                    )
            except planchanges.PlanChangeError as exc:
                error = str(exc)
            else:
                if quote is None:
                    messages.success(request, _changed_message(change))
                    if change.status == PlanChangeStatus.AWAITING_PAYMENT:
                        return redirect("billing:order", number=change.order_number)
                    return redirect("subscriptions:detail", pk=service.pk)
    return render(
        request,
        "subscriptions/change_options.html",
        {
            "service": service,
            "product_name": service.product.display_name(language),
            "options": service.options.all(),
            "form": form,
            "quote": quote,
            "refused": refused,
            # The unpaid renewal a refusal names, so the page links it instead of a dead end.
            "pay_first": planchanges.pending_renewal(service) if refused else None,
            # An upgrade's order asks a withholding agent for the net: the page says so.
            "withholding_agent": withholdings.approved_agent(customer.pk) is not None,
            "error": error,
        },
        status=400 if error else 200,
    )


@client_area(Permission.SERVICES)
@require_POST
def cancel_plan_change(request: HttpRequest, pk: int) -> HttpResponse:
    customer = request_customer(request)
    service = selectors.service_for_customer(customer, pk)
    change = planchanges.open_change(service)
    if change is None:
        raise Http404
    try:
        planchanges.cancel_plan_change(
            change=change,
            actor=request.user,  # type: ignore[arg-type]
            ip=client_ip(request),
        )
    except planchanges.PlanChangeError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The plan change was withdrawn. Your plan stays as it is."))
    return redirect("subscriptions:detail", pk=service.pk)
