"""The customer's Billing pages: the list of service orders with the account's balance, one
order with its payments, its printable version, "Apply my credit" and the statement of account."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clientarea.accounts.models import Customer
from clientarea.accounts.permissions import Permission, client_area, request_customer
from clientarea.billing import ledger, selectors, statement_files
from clientarea.billing.models import OrderState
from clientarea.lib.dates import local_today
from clientarea.payments.selectors import payment_in_process
from clientarea.withholdings import selectors as withholdings


def _customer(request: HttpRequest) -> Customer:
    return request_customer(request)


@client_area(Permission.BILLING_VIEW)
@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    state = request.GET.get("state", "")
    if state not in OrderState.values:
        state = ""
    orders = selectors.orders_for_customer(customer, state=state or None)
    page = Paginator(orders, selectors.ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    summary = selectors.order_summary(customer)
    account = selectors.account_summary(customer)
    dues = selectors.order_balances(
        [order.pk for order in page.object_list if order.state == OrderState.PENDING]
    )
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
            "account": account,
            "dues": dues,
            # A withholding agent pays the net of its pending orders.
            # What checkout would charge for all of them: dues after payments and credit,
            # minus what the agent withholds (the same selector checkout uses).
            "net_due": selectors.amount_to_charge(
                list(selectors.orders_for_customer(customer, state=OrderState.PENDING))
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


@client_area(Permission.BILLING_VIEW)
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
        movements=selectors.order_movements(order),
        balance_due=selectors.amount_to_charge([order])
        if order.state == OrderState.PENDING
        else selectors.order_balance_due(order),
        credit=selectors.credit_available(order.customer) if order.is_pending else 0,
    )
    return render(request, "billing/order_detail.html", context)


@client_area(Permission.BILLING_VIEW)
@require_GET
def order_print(request: HttpRequest, number: str) -> HttpResponse:
    context = _order_context(request, number)
    context["order_url"] = request.build_absolute_uri(
        reverse("billing:order", kwargs={"number": number})
    )
    return render(request, "billing/order_print.html", context)


@client_area(Permission.BILLING)
@require_POST
def apply_credit(request: HttpRequest, number: str) -> HttpResponse:
    """ "Apply my credit" on a pending order: as much of the customer's credit as it owes."""
    customer = _customer(request)
    order = selectors.order_for_customer(customer, number)  # 404 for another customer's order
    try:
        posting = ledger.apply_credit(
            customer_id=customer.pk, order_ids=[order.pk], actor=request.user
        )
    except ledger.LedgerError as exc:
        messages.error(request, str(exc))
    else:
        if posting.paid:
            messages.success(
                request,
                _("Your credit paid order %(number)s. Thank you!") % {"number": order.number},
            )
        elif posting.credit_applied:
            messages.success(
                request,
                _("Your credit paid part of order %(number)s; pay the rest below.")
                % {"number": order.number},
            )
        else:
            messages.info(request, _("There is no credit to apply to this order."))
    return redirect("billing:order", number=order.number)


@client_area(Permission.BILLING_VIEW)
@require_GET
def statement(request: HttpRequest) -> HttpResponse:
    """The statement of account for a date range (default: this year), as a page, CSV or PDF."""
    customer = _customer(request)
    form, result, download = statement_files.from_query(customer=customer, params=request.GET)
    if download is not None:
        return download
    return render(
        request,
        "billing/statement.html",
        {
            "form": form,
            "statement": result,
            "query": f"start={result.start.isoformat()}&end={result.end.isoformat()}",
            "today": local_today(),
            "since": local_today() - dt.timedelta(days=365),
        },
    )
