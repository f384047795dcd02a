"""The customer's dashboard."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from clientarea.accounts.selectors import customer_for_user
from clientarea.portal.dashboard import dashboard_context


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    if request.user.is_staff and not hasattr(request.user, "customer"):
        return redirect("admin:index")
    customer = customer_for_user(request.user)
    return render(
        request, "accounts/dashboard.html", {"customer": customer, **dashboard_context(customer)}
    )
