"""Payment pages (Pay now, result) and the gateways' endpoints (notifications and browser returns).

Gateway notifications are CSRF-exempt because the gateway cannot hold a CSRF
token: each one is authenticated by its signature instead (checked by the gateway
adapter), accepted only by POST, limited in size and, optionally, by source IP.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Callable
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clientarea.accounts import impersonation
from clientarea.accounts.permissions import Permission, client_area, request_customer
from clientarea.billing import selectors as billing_selectors
from clientarea.billing.models import OrderState
from clientarea.helpcenter.selectors import article_url_for
from clientarea.lib import http
from clientarea.payments import selectors, services
from clientarea.payments.forms import AddFundsForm, ChooseGatewayForm
from clientarea.payments.gateways.base import GatewayStatus
from clientarea.payments.models import MessageKind, Outcome
from clientarea.withholdings.selectors import withholdings_for_order

logger = logging.getLogger(__name__)

#: The result page refreshes every 3 s while no news arrived, for about two minutes.
REFRESH_SECONDS = 3
MAX_POLLS = 40
#: A payment still pending when the customer comes back from the gateway: about one minute.
MAX_POLLS_PENDING = 20


def help_url(topic: str) -> str | None:
    """The help-center article on ``topic`` ("pse", "cash"), or None when none is published."""
    return (
        article_url_for(topic, translation.get_language()) or None
    )  # never raises (links home when missing)


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address (PROXY_COUNT honoured): the project's one client-address function."""
    return http.client_ip(request)


def ip_allowed(gateway_code: str, ip: str | None) -> bool:
    """With PAYMENTS_IP_ALLOWLIST on, only the gateway's listed addresses/networks (an empty list allows all)."""
    if not settings.PAYMENTS_IP_ALLOWLIST:
        return True
    allowed = getattr(settings, f"{gateway_code.upper()}_ALLOWED_IPS", None) or []
    if not allowed:
        return True
    if ip is None:
        return False
    address = ipaddress.ip_address(ip)
    for entry in allowed:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            logger.warning("%s_ALLOWED_IPS has an invalid entry %r", gateway_code.upper(), entry)
    return False


# --------------------------------------------------------------------------------------
# Gateway endpoints
# --------------------------------------------------------------------------------------


def _notification(request: HttpRequest, gateway_code: str) -> HttpResponse:
    kind = services.NOTIFICATION_KINDS.get(gateway_code, MessageKind.NOTIFICATION)
    ip = client_ip(request)
    limit = settings.PAYMENTS_NOTIFICATION_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return HttpResponse("bad content length", status=400, content_type="text/plain")
    if declared > limit:
        services.record_message(
            gateway_code=gateway_code,
            kind=kind,
            headers=request.headers,
            ip=ip,
            outcome=f"rejected: too large ({declared} bytes)",
            result=Outcome.REJECTED,
            processed=True,
        )
        return HttpResponse("payload too large", status=413, content_type="text/plain")
    if not ip_allowed(gateway_code, ip):
        services.record_message(
            gateway_code=gateway_code,
            kind=kind,
            headers=request.headers,
            ip=ip,
            outcome="rejected: source IP not allowed",
            result=Outcome.REJECTED,
            processed=True,
        )
        logger.warning("%s notification from %s refused: not in the allow-list", gateway_code, ip)
        return HttpResponse("forbidden", status=403, content_type="text/plain")
    try:
        body = request.body
    except RequestDataTooBig:
        body = None
    if body is None or len(body) > limit:
        services.record_message(
            gateway_code=gateway_code,
            kind=kind,
            headers=request.headers,
            ip=ip,
            outcome="rejected: too large",
            result=Outcome.REJECTED,
            processed=True,
        )
        return HttpResponse("payload too large", status=413, content_type="text/plain")
    reply = services.handle_notification(
        gateway_code=gateway_code,
        body=body,
        content_type=request.META.get("CONTENT_TYPE", ""),
        headers=request.headers,
        ip=ip,
    )
    return HttpResponse(reply.body, status=reply.status_code, content_type=reply.content_type)


@csrf_exempt
@require_POST
def payu_confirmation(request: HttpRequest) -> HttpResponse:
    """PayU's confirmation page (server-to-server POST, form-encoded or JSON)."""
    return _notification(request, "payu")


@csrf_exempt
@require_POST
def payvalida_notification(request: HttpRequest) -> HttpResponse:
    """Payvalida's notification (server-to-server POST, JSON or form-encoded)."""
    return _notification(request, "payvalida")


def _browser_return(request: HttpRequest, gateway_code: str) -> HttpResponse:
    payment, info = services.record_return(
        gateway_code=gateway_code,
        params=request.GET.dict(),
        query_string=request.META.get("QUERY_STRING", ""),
        headers=request.headers,
        ip=client_ip(request),
    )
    if payment is None:
        messages.warning(
            request,
            _(
                "We could not find that payment. If you paid, it will appear in your orders as soon as the gateway confirms it."
            ),
        )
        return redirect("billing:orders")
    # Display only: the gateway's own words about a declined payment, when its signature checks out.
    if (
        info is not None
        and info.signature_valid
        and info.status in (GatewayStatus.DECLINED, GatewayStatus.ERROR)
        and info.message
    ):
        # A warning, not the green of good news: the gateway turned the payment down.
        messages.warning(
            request, _("The gateway said: %(message)s") % {"message": info.message[:120]}
        )
    # "back": the customer has just finished at the gateway, so its notification is on its way.
    return redirect(reverse("payments:result", kwargs={"reference": payment.reference}) + "?back=1")


@require_GET
def payu_response(request: HttpRequest) -> HttpResponse:
    """PayU's response page: the browser comes back here (GET). Never changes a payment."""
    return _browser_return(request, "payu")


@require_GET
def payvalida_return(request: HttpRequest) -> HttpResponse:
    """The browser comes back from Payvalida's checkout with ``?order=<po_id>``."""
    return _browser_return(request, "payvalida")


# --------------------------------------------------------------------------------------
# Customer pages
# --------------------------------------------------------------------------------------


def _order_url(order) -> str:
    return reverse("billing:order", kwargs={"number": order.number})


def _checkout(
    request: HttpRequest,
    *,
    customer,
    amount: Decimal,
    start: Callable[..., tuple],
    context: dict,
    back_url: str,
) -> HttpResponse:
    """The gateway choice page for ``amount``; POST starts the attempt with ``start`` and
    sends the browser on (shared by one order, several orders and added funds)."""
    options = selectors.gateway_options(amount)
    form = ChooseGatewayForm(
        request.POST or None, options=[option for option in options if not option.unavailable]
    )
    if request.method == "POST":
        impersonation.refuse_sensitive(request)  # staff viewing as the customer
        if form.is_valid():
            try:
                payment, action = start(
                    customer=customer,
                    actor=request.user,
                    gateway_code=form.cleaned_data["gateway"],
                    method=form.cleaned_data["method"],
                    language=translation.get_language(),
                )
            except services.PaymentRefused as exc:
                if exc.code == "not_found":
                    raise Http404("No such order") from exc
                if exc.code == "profile_incomplete":
                    messages.warning(request, exc.message)
                    return redirect("accounts:profile")
                if exc.code == "not_payable":
                    messages.info(request, exc.message)
                    return redirect(back_url)
                messages.error(request, exc.message)
            else:
                if action.method == "GET":
                    return redirect(action.url)
                chosen = form.options.get(payment.gateway)
                return render(
                    request,
                    "payments/redirect.html",
                    {
                        "payment": payment,
                        "action": action,
                        "gateway_name": chosen.name if chosen else payment.gateway,
                    },
                )
        else:
            messages.error(request, _("Choose one of the payment options below."))
    return render(
        request,
        "payments/choose.html",
        {
            "amount": amount,
            "options": options,
            "form": form,
            "back_url": back_url,
            "pse_help_url": help_url("pse"),
            "cash_help_url": help_url("cash"),
            **context,
        },
    )


def _profile_missing(request: HttpRequest, customer) -> bool:
    missing = customer.missing_invoice_fields()
    if missing:
        messages.warning(
            request,
            _(
                "Before paying, complete your profile so that we can issue your electronic invoice. Missing: %(fields)s."
            )
            % {"fields": ", ".join(missing)},
        )
    return bool(missing)


@client_area(Permission.BILLING)
@never_cache
@require_http_methods(["GET", "POST"])
def choose(request: HttpRequest, number: str) -> HttpResponse:
    """Pay now: the order, the gateways and their methods; POST starts an attempt and sends the browser on."""
    customer = request_customer(request)
    order = selectors.payable_order_for_customer(customer, number)
    if order.state == OrderState.PAID:
        messages.info(
            request, _("Order %(number)s is already paid. Thank you!") % {"number": order.number}
        )
        return redirect(_order_url(order))
    if order.state != OrderState.PENDING:
        messages.warning(
            request,
            _("Order %(number)s is cancelled and can no longer be paid.")
            % {"number": order.number},
        )
        return redirect(_order_url(order))
    if _profile_missing(request, customer):
        return redirect("accounts:profile")
    in_process = selectors.payment_in_process(order)
    amount = billing_selectors.amount_to_charge([order])
    withheld = withholdings_for_order(order)
    if amount <= 0:  # pragma: no cover - an order that owes nothing is paid
        return redirect(_order_url(order))
    return _checkout(
        request,
        customer=customer,
        amount=amount,
        start=functools.partial(services.start_orders_payment, orders=[order]),
        back_url=_order_url(order),
        context={
            "order": order,
            "orders": [order],
            "items": list(order.items.all()),
            # Paid before or covered by credit; an agent's withholdings are not "paid before".
            "paid_before": order.total - amount - (withheld.total - withheld.net),
            "withholdings": withheld,
            "in_process": in_process,
            "in_process_gateway": in_process.gateway_name if in_process else "",
            "in_process_method": selectors.method_label(
                in_process.method or in_process.requested_method
            )
            if in_process
            else "",
        },
    )


@client_area(Permission.BILLING)
@never_cache
@require_http_methods(["GET", "POST"])
def pay_several(request: HttpRequest) -> HttpResponse:
    """Pay the pending orders chosen on Billing (``orders``, repeated), or all of them
    (``all=1``), in one gateway transaction."""
    customer = request_customer(request)
    data = request.POST if request.method == "POST" else request.GET
    if data.get("all") == "1":
        orders = [order for order, _due in billing_selectors.pending_orders_with_due(customer)]
    else:
        orders = selectors.orders_to_pay(customer, data.getlist("orders"))
    if not orders:
        messages.warning(request, _("Choose at least one pending order to pay."))
        return redirect("billing:orders")
    if _profile_missing(request, customer):
        return redirect("accounts:profile")
    # What each order adds to the charge: due minus what a withholding agent withholds, so the
    # rows add up to the total (they showed the gross due, more than the charge).
    dues = billing_selectors.net_dues(orders)
    amount = sum(dues.values(), Decimal(0))
    if amount <= 0:
        messages.info(request, _("There is nothing left to pay on these orders."))
        return redirect("billing:orders")
    # A withholding agent sees, per order, what it owes, what it withholds and the net it pays
    # (the rows showed only the net, below each order's total, unexplained).
    balances = billing_selectors.order_balances([o.pk for o in orders])
    rows = [
        (o, balances.get(o.pk, Decimal(0)), balances.get(o.pk, Decimal(0)) - dues[o.pk], dues[o.pk])
        for o in orders
    ]
    return _checkout(
        request,
        customer=customer,
        amount=amount,
        start=functools.partial(services.start_orders_payment, orders=orders),
        back_url=reverse("billing:orders"),
        context={
            "orders": orders,
            "rows": rows,
            "withheld": any(withholding for _o, _balance, withholding, _net in rows),
            "hidden": [("orders", o.number) for o in orders],
        },
    )


@client_area(Permission.BILLING)
@never_cache
@require_http_methods(["GET", "POST"])
def add_funds(request: HttpRequest) -> HttpResponse:
    """Add funds to the account's credit through a gateway: an amount, then the gateway."""
    customer = request_customer(request)
    form = AddFundsForm(request.POST or request.GET or None)
    if not form.is_bound or not form.is_valid():
        return render(
            request,
            "payments/add_funds.html",
            {"form": form, "credit": billing_selectors.credit_available(customer)},
        )
    if _profile_missing(request, customer):
        return redirect("accounts:profile")
    amount = form.cleaned_data["amount"]
    return _checkout(
        request,
        customer=customer,
        amount=amount,
        start=functools.partial(services.start_funds_payment, amount=amount),
        back_url=reverse("payments:add_funds"),
        context={"funds": True, "hidden": [("amount", str(amount))]},
    )


@client_area(Permission.BILLING_VIEW)
@never_cache
@require_GET
def result(request: HttpRequest, reference: str) -> HttpResponse:
    """The outcome of one attempt, from our own records only (never from the return parameters)."""
    customer = request_customer(request)
    payment = selectors.payment_for_customer(customer, reference)
    orders = selectors.payment_orders(payment)
    state = selectors.result_state(payment, orders)
    try:
        poll = max(0, min(int(request.GET.get("poll", "0")), MAX_POLLS))
    except ValueError:
        poll = 0
    order = payment.order
    method = payment.method or payment.requested_method
    # Just back from the gateway with a PSE or card payment still pending here: the bank's answer
    # (often already given) is travelling to us, so the page keeps asking for a while. A cash
    # voucher is pending for days; its page stays still so that it can be read and printed.
    back = request.GET.get("back") == "1"
    awaiting_final = state == "pending" and back and method != "cash" and poll < MAX_POLLS_PENDING
    can_retry = (
        order is not None
        and order.state == OrderState.PENDING
        and state
        in (
            "declined",
            "expired",
            "processing",
            "pending",
        )
    )
    return render(
        request,
        "payments/result.html",
        {
            "payment": payment,
            "order": order,
            "orders": orders,
            "numbers": ", ".join(o.number for o in orders),
            "state": state,
            "bills_services": state == "approved" and selectors.orders_bill_services(orders),
            "awaiting_final": awaiting_final,
            # Still waiting for the gateway's word on this attempt (also when another payment
            # paid the order meanwhile: this one may be charged too, and becomes credit then).
            "refresh": (state in ("processing", "order-paid-open") and poll < MAX_POLLS)
            or awaiting_final,
            "refresh_seconds": REFRESH_SECONDS,
            "next_poll_url": f"{request.path}?{'back=1&' if back else ''}poll={poll + 1}",
            "timed_out": state == "processing" and poll >= MAX_POLLS,
            "method_label": selectors.method_label(payment.method or payment.requested_method),
            "instructions": payment.instructions or {},
            "retry_url": reverse("payments:choose", kwargs={"number": order.number})
            if can_retry and order is not None and len(orders) == 1
            else "",
            "order_url": _order_url(order)
            if order is not None and len(orders) == 1
            else reverse("billing:orders"),
            "pse_help_url": help_url("pse")
            if (payment.method or payment.requested_method) == "pse"
            else None,
            "cash_help_url": help_url("cash")
            if (payment.method or payment.requested_method) == "cash"
            else None,
        },
    )
