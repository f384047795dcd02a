"""Back-office pages that the Django admin does not fit: the customer page (360), the global
search, custom orders and services, staff notes and "login as customer".

Thin: each view checks one Django permission (so roles can map onto them) and calls one service.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from clientarea.accounts import impersonation
from clientarea.accounts import services as account_services
from clientarea.accounts.models import Customer, User
from clientarea.backoffice import forms, selectors, services
from clientarea.backoffice.models import StaffNote
from clientarea.billing import custom_orders, planchanges
from clientarea.billing import selectors as billing_selectors
from clientarea.billing import services as billing_services
from clientarea.billing.services import OrderStateError
from clientarea.lib.dates import local_now
from clientarea.lib.http import client_ip
from clientarea.lib.money import format_cop
from clientarea.payments import services as payment_services
from clientarea.subscriptions import services as subscription_services
from clientarea.subscriptions.models import Service

#: The permissions these pages check (Django codenames), for roles to map onto.
PERMISSIONS = {
    "customer page": "accounts.view_customer",
    "staff notes": "backoffice.add_staffnote",
    "pin notes": "backoffice.change_staffnote",
    "new order": "billing.add_order",
    "new service": "subscriptions.add_service",
    "edit, suspend, unsuspend, terminate a service": "subscriptions.change_service",
    "resend the access code": "accounts.change_customer",
    "unlock a login": "accounts.change_customer",
    "login as customer": impersonation.PERMISSION,
    "pay out credit": "payments.add_refund",
    # As registering a manual payment on an order (the order admin's "change order").
    "register a transfer as credit": "billing.change_order",
}


def staff_view(permission: str | None) -> Callable:
    """The admin's login and CSRF handling, then 403 without ``permission``."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if permission and not request.user.has_perm(permission):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return admin.site.admin_view(checked)

    return decorator


def _staff(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):  # admin_view let only logged-in staff through
        raise PermissionDenied
    return user


def _render(request: HttpRequest, template: str, context: dict[str, Any]) -> TemplateResponse:
    return TemplateResponse(
        request, f"backoffice/{template}", {**admin.site.each_context(request), **context}
    )


def _customer_url(customer_id: int, anchor: str = "") -> str:
    return reverse("backoffice:customer", args=[customer_id]) + (f"#{anchor}" if anchor else "")


# --- Search and the customer page -----------------------------------------------------------


@staff_view(None)
def search(request: HttpRequest) -> HttpResponse:
    form = forms.SearchForm(request.GET or None)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    groups = selectors.search(query, user=_staff(request))
    return _render(
        request,
        "search.html",
        {
            "title": _("Search"),
            "form": form,
            "query": query,
            "groups": groups,
            "too_short": 0 < len(query.strip()) < selectors.MIN_QUERY,
        },
    )


@staff_view(PERMISSIONS["customer page"])
def customer(request: HttpRequest, pk: int) -> HttpResponse:
    data = selectors.customer_360(pk)
    if data is None:
        raise Http404
    user = _staff(request)
    return _render(
        request,
        "customer.html",
        {
            "title": data.customer.display_name,
            "data": data,
            "c": data.customer,
            "note_form": forms.NoteForm(),
            "can": {
                "note": user.has_perm(PERMISSIONS["staff notes"]),
                "pin": user.has_perm(PERMISSIONS["pin notes"]),
                "order": user.has_perm(PERMISSIONS["new order"]),
                "service": user.has_perm(PERMISSIONS["new service"]),
                "change_service": user.has_perm(
                    PERMISSIONS["edit, suspend, unsuspend, terminate a service"]
                ),
                "pay": user.has_perm(PERMISSIONS["register a transfer as credit"]),
                "pay_out": user.has_perm(PERMISSIONS["pay out credit"]),
                # The PDF and XML downloads are the invoice admin's (its view permission).
                "documents": user.has_perm("einvoice.view_invoice"),
                "code": user.has_perm(PERMISSIONS["resend the access code"]),
                "unlock": user.has_perm(PERMISSIONS["unlock a login"]),
                "contacts": user.has_perm("accounts.view_contact"),
                "add_contact": user.has_perm("accounts.add_contact"),
                "impersonate": user.has_perm(PERMISSIONS["login as customer"])
                and not (data.customer.user.is_staff or data.customer.user.is_superuser),
            },
            "limit": selectors.LIMIT,
            "login_limit": settings.AXES_FAILURE_LIMIT,
        },
    )


# --- Notes ------------------------------------------------------------------------------------


@require_POST
@staff_view(PERMISSIONS["staff notes"])
def note_add(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=pk)
    form = forms.NoteForm(request.POST)
    if form.is_valid():
        try:
            services.add_note(
                customer=customer,
                text=form.cleaned_data["text"],
                pinned=form.cleaned_data["pinned"],
                author=_staff(request),
            )
        except services.NoteError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Note added."))
    else:
        messages.error(request, _("Write the note (at most 2000 characters)."))
    return HttpResponseRedirect(_customer_url(customer.pk, "notes"))


@require_POST
@staff_view(PERMISSIONS["pin notes"])
def note_pin(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_object_or_404(StaffNote.objects.select_related("customer"), pk=pk)
    services.set_note_pinned(
        note=note, pinned=request.POST.get("pinned") == "1", actor=_staff(request)
    )
    return HttpResponseRedirect(_customer_url(note.customer_id, "notes"))


# --- Orders ---------------------------------------------------------------------------------


@staff_view(PERMISSIONS["new order"])
def order_new(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer.objects.select_related("user"), pk=pk)
    post = request.POST if request.method == "POST" else None
    form = forms.OrderForm(post, initial={"due_date": forms.default_due_date(), "notify": True})
    lines = cast(
        forms.BaseLineFormSet,
        forms.LineFormSet(post, form_kwargs={"customer": customer}, prefix="lines"),
    )
    if post is not None and form.is_valid() and lines.is_valid():
        try:
            order = custom_orders.create_custom_order(
                customer=customer,
                lines=lines.lines(),
                due_date=form.cleaned_data["due_date"],
                note=form.cleaned_data["note"],
                notify=form.cleaned_data["notify"],
                actor=_staff(request),
            )
        except OrderStateError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("Order %(number)s created for %(customer)s.")
                % {"number": order.number, "customer": customer.display_name},
            )
            return HttpResponseRedirect(_customer_url(customer.pk, "orders"))
    return _render(
        request,
        "order_form.html",
        {
            "title": _("New service order for %(name)s") % {"name": customer.display_name},
            "c": customer,
            "form": form,
            "lines": lines,
        },
    )


# --- Credit -------------------------------------------------------------------------------


@staff_view(PERMISSIONS["pay out credit"])
def credit_payout(request: HttpRequest, pk: int) -> HttpResponse:
    """*Pay out credit*: staff return part of the customer's credit by bank transfer."""
    customer = get_object_or_404(Customer.objects.select_related("user"), pk=pk)
    credit = billing_selectors.credit_available(customer)
    form = forms.CreditPayoutForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            billing_services.pay_out_credit(
                customer=customer,
                amount=data["amount"],
                bank_reference=data["bank_reference"],
                reason=data["reason"],
                actor=_staff(request),
            )
        except billing_services.CreditPayoutRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("%(amount)s of %(customer)s's credit paid out (reference %(reference)s).")
                % {
                    "amount": format_cop(data["amount"]),
                    "customer": customer.display_name,
                    "reference": data["bank_reference"],
                },
            )
            return HttpResponseRedirect(_customer_url(customer.pk, "balance"))
    return _render(
        request,
        "credit_payout.html",
        {
            "title": _("Pay out credit to %(name)s") % {"name": customer.display_name},
            "c": customer,
            "form": form,
            "credit": credit,
        },
    )


@staff_view(PERMISSIONS["register a transfer as credit"])
def credit_register(request: HttpRequest, pk: int) -> HttpResponse:
    """*Register a transfer as credit*: money received for no pending order (in advance, twice,
    for an order cancelled meanwhile) kept as the customer's credit and as a manual payment."""
    customer = get_object_or_404(Customer.objects.select_related("user"), pk=pk)
    form = forms.ManualCreditForm(
        request.POST or None,
        initial={"paid_at": local_now().replace(second=0, microsecond=0)},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            payment = payment_services.register_manual_credit(
                details=payment_services.ManualCreditDetails(
                    customer=customer,
                    amount=data["amount"],
                    reference=data["bank_reference"],
                    method=data["method"],
                    paid_at=data["paid_at"],
                    note=data["note"],
                ),
                actor=_staff(request),
            )
        except billing_services.ManualCreditRefused as exc:
            form.add_error(None, str(exc))
        else:
            credit = billing_selectors.credit_available(customer)
            text = _(
                "%(amount)s registered as %(customer)s's credit: payment %(payment)s (reference "
                "%(reference)s). Credit available now: %(credit)s."
            ) % {
                "amount": format_cop(payment.amount),
                "customer": customer.display_name,
                "payment": payment.reference,
                "reference": data["bank_reference"],
                "credit": format_cop(credit),
            }
            if credit < payment.amount:
                text += " " + _("The credit was applied at once to their pending orders.")
            messages.success(request, text)
            return HttpResponseRedirect(_customer_url(customer.pk, "balance"))
    return _render(
        request,
        "credit_register.html",
        {
            "title": _("Register a transfer as credit for %(name)s")
            % {"name": customer.display_name},
            "c": customer,
            "form": form,
            "auto_apply": settings.BILLING_AUTO_APPLY_CREDIT,
        },
    )


# --- Services -------------------------------------------------------------------------------


@staff_view(PERMISSIONS["new service"])
def service_new(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer.objects.select_related("user"), pk=pk)
    form = forms.NewServiceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            service = subscription_services.create_service(
                customer=customer,
                product=data["product"],
                cycle=data["cycle"],
                label=data["label"],
                price=data["price"],
                next_due_date=data["next_due_date"],
                reason=data["reason"],
                actor=_staff(request),
                notify=data["notify"],
            )
        except subscription_services.ServiceStateError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Service %(service)s created.") % {"service": service})
            return HttpResponseRedirect(_customer_url(customer.pk, f"service-{service.pk}"))
    return _render(
        request,
        "service_form.html",
        {
            "title": _("New service for %(name)s") % {"name": customer.display_name},
            "c": customer,
            "form": form,
        },
    )


@staff_view(PERMISSIONS["edit, suspend, unsuspend, terminate a service"])
def service_edit(request: HttpRequest, pk: int) -> HttpResponse:
    service = get_object_or_404(Service.objects.select_related("customer__user", "product"), pk=pk)
    initial = {name: getattr(service, name) for name in subscription_services.EDITABLE_FIELDS}
    form = forms.ServiceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        changes = {
            name: data[name]
            for name in subscription_services.EDITABLE_FIELDS
            if not (name == "price" and data[name] is None)
        }
        try:
            subscription_services.update_service(
                service=service, changes=changes, reason=data["reason"], actor=_staff(request)
            )
        except subscription_services.ServiceStateError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Service %(service)s saved.") % {"service": service})
            return HttpResponseRedirect(_customer_url(service.customer_id, f"service-{service.pk}"))
    return _render(
        request,
        "service_form.html",
        {
            "title": _("Edit service %(service)s") % {"service": service},
            "c": service.customer,
            "form": form,
            "service": service,
        },
    )


@staff_view(PERMISSIONS["edit, suspend, unsuspend, terminate a service"])
def service_change_plan(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff change a service's plan for the customer: the same service and rules as the
    client area (an upgrade's order, a downgrade's credit or schedule), previewed first."""
    service = get_object_or_404(Service.objects.select_related("customer__user", "product"), pk=pk)
    refused = planchanges.refusal(service)
    quotes = (
        []
        if refused
        else planchanges.plan_options(service, language=translation.get_language() or "es")
    )
    form = forms.PlanChangeForm(request.POST or None, quotes=quotes)
    if request.method == "POST" and not refused and form.is_valid():
        chosen = form.cleaned_data["plan"]
        try:
            change = planchanges.request_plan_change(
                service=service,
                product=chosen.product,
                cycle=chosen.cycle,
                actor=_staff(request),
                ip=client_ip(request),
                by_staff=True,
            )
        except planchanges.PlanChangeError as exc:
            form.add_error(None, str(exc))
        else:
            if change.order_number and change.status == "awaiting_payment":
                done = _("Order %(number)s created: the new plan applies when it is paid.") % {
                    "number": change.order_number
                }
            elif change.status == "scheduled":
                done = _("The plan changes on %(date)s.") % {"date": change.effective_date}
            else:
                done = _("Plan changed.")
            messages.success(request, done)
            return HttpResponseRedirect(_customer_url(service.customer_id, f"service-{service.pk}"))
    return _render(
        request,
        "service_change_plan.html",
        {
            "title": _("Change plan: %(service)s") % {"service": service},
            "c": service.customer,
            "service": service,
            "quotes": quotes,
            "refused": refused,
            "open_change": planchanges.open_change(service),
            "form": form,
        },
    )


# Lazy: built once at import, read in each request's language.
STATUS_ACTIONS = {
    "suspend": (
        gettext_lazy("Suspend"),
        gettext_lazy("Service %(service)s suspended. The customer was emailed."),
    ),
    "unsuspend": (
        gettext_lazy("Unsuspend"),
        gettext_lazy("Service %(service)s is active again. The customer was emailed."),
    ),
    "terminate": (
        gettext_lazy("Terminate"),
        gettext_lazy("Service %(service)s terminated. The customer was emailed."),
    ),
}


@staff_view(PERMISSIONS["edit, suspend, unsuspend, terminate a service"])
def service_status(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in STATUS_ACTIONS:
        raise Http404
    service = get_object_or_404(Service.objects.select_related("customer__user", "product"), pk=pk)
    label, done = STATUS_ACTIONS[action]
    form: forms.ReasonForm | forms.TerminateForm = (
        forms.TerminateForm(request.POST or None)
        if action == "terminate"
        else forms.ReasonForm(request.POST or None)
    )
    if request.method == "POST" and form.is_valid():
        try:
            subscription_services.change_status_by_staff(
                service=service,
                action=action,
                reason=form.cleaned_data["reason"],
                reason_code=form.cleaned_data.get("reason_code", ""),
                actor=_staff(request),
            )
        except subscription_services.ServiceStateError:
            form.add_error(
                None,
                _("The service is %(status)s: it cannot be changed that way.")
                % {"status": service.get_status_display().lower()},
            )
        else:
            messages.success(request, done % {"service": service})
            return HttpResponseRedirect(_customer_url(service.customer_id, f"service-{service.pk}"))
    return _render(
        request,
        "service_status.html",
        {
            "title": f"{label}: {service}",
            "c": service.customer,
            "service": service,
            "form": form,
            "submit": label,
            # Reactivating: why it was suspended, and what it still owes (reactivating pays
            # nothing; the customer page's "Record payment" does).
            "unpaid": selectors.unpaid_orders_of_service(service) if action == "unsuspend" else [],
            "can_pay": _staff(request).has_perm("billing.change_order"),
        },
    )


# --- Access code and login as customer ------------------------------------------------------


@staff_view(PERMISSIONS["resend the access code"])
def resend_code(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks first (the current code stops working at once); POST sends the new one."""
    customer = get_object_or_404(Customer.objects.select_related("user"), pk=pk)
    if request.method != "POST":
        return _render(
            request,
            "resend_code.html",
            {
                "title": _("Send a new access code to %(email)s?") % {"email": customer.user.email},
                "c": customer,
            },
        )
    account_services.reset_access_code(
        customer=customer, actor=_staff(request), ip=client_ip(request)
    )
    messages.success(
        request,
        _("A new access code was emailed to %(email)s; the previous one no longer works.")
        % {"email": customer.user.email},
    )
    return HttpResponseRedirect(_customer_url(customer.pk))


@require_POST
@staff_view(PERMISSIONS["unlock a login"])
def unlock_login(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer.objects.select_related("user"), pk=pk)
    form = forms.UnlockLoginForm(request.POST)
    user = User.objects.filter(pk=form.cleaned_data["user"]).first() if form.is_valid() else None
    try:
        if user is None:
            raise ValidationError(_("This login is not a contact of this account."))
        failures = account_services.unlock_login(
            customer=customer, user=user, actor=_staff(request), ip=client_ip(request)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return HttpResponseRedirect(_customer_url(customer.pk))
    if failures:
        messages.success(
            request,
            _("Login unlocked: %(email)s may log in again (%(n)s failed attempts forgotten).")
            % {"email": user.email, "n": failures},
        )
    else:
        messages.info(
            request,
            _("There were no failed logins of %(email)s to forget.") % {"email": user.email},
        )
    return HttpResponseRedirect(_customer_url(customer.pk))


@require_POST
@staff_view(PERMISSIONS["login as customer"])
def impersonate_start(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer.objects.select_related("user"), pk=pk)
    try:
        data = account_services.start_impersonation(
            staff=_staff(request), customer=customer, ip=client_ip(request)
        )
    except account_services.ImpersonationRefused as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(_customer_url(customer.pk))
    request.session[impersonation.SESSION_KEY] = data
    return HttpResponseRedirect(reverse("accounts:dashboard"))


@require_POST
@staff_view(None)
def impersonate_stop(request: HttpRequest) -> HttpResponse:
    data = request.session.pop(impersonation.SESSION_KEY, None)
    if not isinstance(data, dict):
        return HttpResponseRedirect(reverse("backoffice:search"))
    account_services.stop_impersonation(
        staff=_staff(request),
        customer_id=data.get("customer_id"),
        reason="back",
        ip=client_ip(request),
    )
    return HttpResponseRedirect(_customer_url(int(data["customer_id"])))
