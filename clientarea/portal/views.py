"""The customer's dashboard."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from clientarea.accounts.permissions import (
    Permission,
    client_area,
    current_access,
    request_customer,
)
from clientarea.portal.dashboard import dashboard_context


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    if request.user.is_staff and not hasattr(request.user, "customer"):
        return redirect("admin:index")
    return _dashboard(request)


@client_area(Permission.SELF)
def _dashboard(request: HttpRequest) -> HttpResponse:
    customer = request_customer(request)
    access = current_access(request)
    return render(
        request,
        "accounts/dashboard.html",
        {"customer": customer, **dashboard_context(customer, access=access)},
    )


dashboard.client_area_permissions = _dashboard.client_area_permissions  # type: ignore[attr-defined]
