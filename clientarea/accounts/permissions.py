"""Who may do what in the client area: one decorator for every customer-facing view.

Every client-area view is wrapped in :func:`client_area`::

    @client_area(Permission.BILLING_VIEW)                       # GET and POST need it
    def statement(request): customer = request.customer ...

    @client_area(Permission.BILLING_VIEW, write=Permission.BILLING)   # reading vs changing
    def profile(request): ...

It sends anonymous visitors to log in, resolves the customer account and the contact of the
logged-in user (404 for staff without a customer profile), and answers a clear 403 page when the
contact lacks the permission, before any object is looked up. The view then reads
``request.customer`` and ``request.contact``. ``clientarea/tests/test_contact_permissions.py``
walks every client-area URL and fails for a view that is not wrapped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from clientarea.accounts import selectors
from clientarea.accounts.models import Contact, Customer, Permission

__all__ = ["Access", "Permission", "client_area", "current_access", "request_customer"]

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Access:
    """The logged-in person in the client area: their account, their contact row, what they may do."""

    customer: Customer
    contact: Contact | None
    permissions: frozenset[str]

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def cache_key(self) -> str:
        """The permissions as one stable text: the key of what is rendered once per permission
        set (the client area's menu)."""
        return ",".join(sorted(self.permissions))

    # For templates: {% if access.billing_view %} …
    @property
    def billing_view(self) -> bool:
        return self.can(Permission.BILLING_VIEW)

    @property
    def billing(self) -> bool:
        return self.can(Permission.BILLING)

    @property
    def services_view(self) -> bool:
        return self.can(Permission.SERVICES_VIEW)

    @property
    def services(self) -> bool:
        return self.can(Permission.SERVICES)

    @property
    def account(self) -> bool:
        return self.can(Permission.ACCOUNT)


def current_access(request: HttpRequest) -> Access | None:
    """The access resolved by :func:`client_area` for this request (None outside it)."""
    return getattr(request, "access", None)


def resolve_access(request: HttpRequest) -> Access:
    """The account and permissions of the logged-in user (404 without a customer profile)."""
    found = current_access(request)
    if found is not None:
        return found
    customer, contact = selectors.account_of_user(request.user)
    if contact is None:  # the holder of an account made before contacts existed
        permissions = frozenset(Permission.values)
    else:
        permissions = contact.permissions
    access = Access(customer=customer, contact=contact, permissions=permissions)
    request.access = access  # type: ignore[attr-defined]
    request.customer = customer  # type: ignore[attr-defined]
    request.contact = contact  # type: ignore[attr-defined]
    return access


def request_customer(request: HttpRequest) -> Customer:
    """The customer account of a :func:`client_area` view's request."""
    return resolve_access(request).customer


def forbidden(request: HttpRequest, permission: str) -> HttpResponse:
    """The 403 page: what is missing and who can grant it."""
    return render(
        request,
        "accounts/forbidden.html",
        {"needed": Permission(permission).label},
        status=403,
    )


def client_area(read: str, *, write: str | None = None) -> Callable[[Callable[..., Any]], Any]:
    """Decorate a client-area view: login, the contact's account, and ``read`` (safe methods) or
    ``write`` (other methods; default ``read``) checked before the view runs."""
    needed_write = write or read
    Permission(read)  # an unknown name fails at import, not at the first request
    Permission(needed_write)

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            access = resolve_access(request)
            needed = read if request.method in SAFE_METHODS else needed_write
            if not access.can(needed):
                return forbidden(request, needed)
            return view(request, *args, **kwargs)

        wrapper.client_area_permissions = (read, needed_write)  # type: ignore[attr-defined]
        return wrapper

    return decorate
