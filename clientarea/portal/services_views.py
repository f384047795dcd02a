"""The customer's Services pages: the list, one service with its history and the orders that bill
it, and ordering a new one (a pending service and its order, through billing)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from clientarea.accounts.selectors import customer_for_user
from clientarea.billing import selectors as billing_selectors
from clientarea.billing.services import OrderStateError, order_new_service
from clientarea.catalog import selectors as catalog_selectors
from clientarea.subscriptions import selectors
from clientarea.subscriptions.forms import OrderServiceForm


@login_required
@require_GET
def service_list(request: HttpRequest) -> HttpResponse:
    customer = customer_for_user(request.user)
    language = translation.get_language()
    services = [
        (s, s.product.display_name(language)) for s in selectors.services_for_customer(customer)
    ]
    return render(request, "subscriptions/service_list.html", {"services": services})


@login_required
@require_GET
def service_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = customer_for_user(request.user)
    service = selectors.service_for_customer(customer, pk)
    history = [(event, selectors.event_reason(event.reason)) for event in service.events.all()]
    return render(
        request,
        "subscriptions/service_detail.html",
        {
            "service": service,
            "history": history,
            "orders": billing_selectors.orders_billing_service(service),
            "product_name": service.product.display_name(translation.get_language()),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def order_service(request: HttpRequest) -> HttpResponse:
    customer = customer_for_user(request.user)
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
