"""Staff open the client area as a customer ("login as customer"): session-based, time-limited.

The session of the staff member holds which customer they view and until when. On client-area
requests, :class:`ImpersonationMiddleware` puts the customer's user in ``request.user``, so every
view that reads ``customer_for_user(request.user)`` shows that customer's data, unchanged; the
back office (``/admin/``, ``/backoffice/``) and the simulators keep the staff member. The
customer user is never staff, so nothing can be escalated through it. Changing the access code
and starting a payment are refused in this mode (:func:`sensitive_allowed`) unless the staff
member has ``accounts.impersonate_sensitive``. Starting and stopping (and expiry) are audited by
the services.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from clientarea.accounts import selectors
from clientarea.accounts.models import Customer, User

SESSION_KEY = "impersonation"
PERMISSION = "accounts.impersonate_customer"
SENSITIVE_PERMISSION = "accounts.impersonate_sensitive"
#: Paths that always keep the staff member's own identity.
STAFF_PREFIXES = ("/admin/", "/backoffice/", "/sandbox/", "/i18n/", "/static/")


@dataclass(frozen=True)
class Impersonation:
    staff: User
    customer: Customer
    expires_at: dt.datetime
    can_sensitive: bool


def session_data(*, staff: User, customer: Customer, expires_at: dt.datetime) -> dict:
    return {
        "staff_id": staff.pk,
        "customer_id": customer.pk,
        "expires_at": expires_at.isoformat(),
    }


def current(request: HttpRequest) -> Impersonation | None:
    """The impersonation this client-area request runs under, if any."""
    return getattr(request, "impersonation", None)


def sensitive_allowed(request: HttpRequest) -> bool:
    """May this request change the access code or start a payment? (Always, unless impersonating.)"""
    state = current(request)
    return state is None or state.can_sensitive


def pending_customer_id(request: HttpRequest) -> int | None:
    """In the back office: the customer the staff member is viewing the client area as, if any."""
    data = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    return data.get("customer_id") if isinstance(data, dict) else None


class ImpersonationMiddleware:
    """After ``AuthenticationMiddleware``: swaps in the customer's user on client-area requests."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        data = request.session.get(SESSION_KEY)
        if isinstance(data, dict):
            response = self._apply(request, data)
            if response is not None:
                return response
        return self.get_response(request)

    def _apply(self, request: HttpRequest, data: dict) -> HttpResponse | None:
        # Imported here: services import this module (session_data), and it needs them to end a session.
        from clientarea.accounts import services

        staff = request.user
        if (
            not isinstance(staff, User)
            or staff.pk != data.get("staff_id")
            or not staff.is_staff
            or not staff.has_perm(PERMISSION)
        ):
            request.session.pop(SESSION_KEY, None)  # a session that no longer fits its owner
            return None
        expires_at = dt.datetime.fromisoformat(data["expires_at"])
        login = selectors.customer_login(int(data["customer_id"]))
        if login is None or timezone.now() >= expires_at:
            request.session.pop(SESSION_KEY, None)
            services.stop_impersonation(
                staff=staff,
                customer_id=data.get("customer_id"),
                reason="expired" if login is not None else "customer gone",
                ip=services.audit.client_ip(request),
            )
            if request.path.startswith(STAFF_PREFIXES):
                return None
            messages.info(request, _("The time to view the client area as the customer is over."))
            return HttpResponseRedirect(reverse("admin:index"))
        customer = login.customer
        if request.path.startswith(STAFF_PREFIXES):
            return None
        if request.path == reverse("accounts:logout"):
            # "Log out" in the client area ends the visit, never the staff member's own session.
            request.session.pop(SESSION_KEY, None)
            services.stop_impersonation(
                staff=staff,
                customer_id=customer.pk,
                reason="logout",
                ip=services.audit.client_ip(request),
            )
            return HttpResponseRedirect(reverse("backoffice:customer", args=[customer.pk]))
        request.user = login  # the customer's login, read with its account (no more queries)
        request.impersonation = Impersonation(  # type: ignore[attr-defined]
            staff=staff,
            customer=customer,
            expires_at=expires_at,
            can_sensitive=staff.has_perm(SENSITIVE_PERMISSION),
        )
        return None


def refuse_sensitive(request: HttpRequest) -> None:
    """403 for a staff member viewing as a customer without ``accounts.impersonate_sensitive``."""
    if not sensitive_allowed(request):
        raise PermissionDenied(
            _("Viewing as a customer, you may not change the access code or start a payment.")
        )
