"""The customer's Refunds page (under Billing): every refund of their payments, with how the money
was returned and the credit notes it issued, and one refund's page. Another customer's refund is a
404. Read-only: staff request refunds in the back office (``payments.services.refunds``)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from clientarea.accounts.permissions import Permission, client_area, request_customer
from clientarea.payments import selectors

REFUNDS_PER_PAGE = 25


@client_area(Permission.BILLING_VIEW)
@require_GET
def refund_list(request: HttpRequest) -> HttpResponse:
    customer = request_customer(request)
    page = Paginator(selectors.customer_refunds(customer), REFUNDS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "portal/refunds.html", {"page": page})


@client_area(Permission.BILLING_VIEW)
@require_GET
def refund_detail(request: HttpRequest, pk: int) -> HttpResponse:
    refund = selectors.customer_refund(request_customer(request), pk)
    return render(request, "portal/refund_detail.html", {"refund": refund})
