"""The customer's Billing pages: the list of service orders, one order, and its printable version."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.http import require_GET

from clientarea.accounts.models import Customer, User
from clientarea.accounts.selectors import customer_for_user
from clientarea.billing import selectors
from clientarea.billing.models import OrderState
from clientarea.payments.selectors import payment_in_process
from clientarea.withholdings import selectors as withholdings


def _customer(request: HttpRequest) -> Customer:
    user = request.user
    if not isinstance(user, User):  # login_required has sent anonymous visitors to log in
        raise Http404("No customer profile")
    return customer_for_user(user)


@login_required
@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    state = request.GET.get("state", "")
    if state not in OrderState.values:
        state = ""
    orders = selectors.orders_for_customer(customer, state=state or None)
    page = Paginator(orders, selectors.ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    summary = selectors.order_summary(customer)
    counts = summary["counts"]
    filters = [("", translation.gettext("All"), counts["all"])] + [
        (value, label, counts[value]) for value, label in OrderState.choices
    ]
    return render(
        request,
        "billing/order_list.html",
        {
            "page": page,
            "state": state,
            "filters": filters,
            "counts": counts,
            "summary": summary,
            # A withholding agent pays the net of its pending orders.
            "net_due": withholdings.pending_net_total(
                selectors.orders_for_customer(customer, state=OrderState.PENDING)
            )
            if summary["due_total"] and withholdings.approved_agent(customer.pk)
            else None,
            "help_url": selectors.pay_help_url(translation.get_language()),
        },
    )


def _order_context(request: HttpRequest, number: str) -> dict:
    customer = _customer(request)
    order = selectors.order_for_customer(customer, number)
    return {
        "order": order,
        "items": [(item, selectors.tax_label(item)) for item in order.items.all()],
        "seller": order.seller_snapshot,
        "seller_document": selectors.party_document(order.seller_snapshot),
        "buyer": order.buyer_snapshot,
        "buyer_document": selectors.party_document(order.buyer_snapshot),
        "withholdings": withholdings.withholdings_for_order(order),
        "withholdings_paid": order.state == OrderState.PAID,
        "paid_via": selectors.payment_description(via=order.paid_via, method=order.payment_method)
        if order.paid_at
        else "",
    }


@login_required
@require_GET
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    context = _order_context(request, number)
    order = context["order"]
    context.update(
        history=selectors.order_history(order),
        due=selectors.due_status(order),
        pay_url=selectors.pay_url(order) if order.is_pending else "",
        help_url=selectors.pay_help_url(translation.get_language()) if order.is_pending else None,
        in_process=payment_in_process(order),
        invoice=selectors.order_invoice(order),
    )
    return render(request, "billing/order_detail.html", context)


@login_required
@require_GET
def order_print(request: HttpRequest, number: str) -> HttpResponse:
    context = _order_context(request, number)
    context["order_url"] = request.build_absolute_uri(
        reverse("billing:order", kwargs={"number": number})
    )
    return render(request, "billing/order_print.html", context)
