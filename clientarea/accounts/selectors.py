"""Read queries for accounts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from clientarea.accounts.models import Customer, ProviderProfile, User

#: Set only inside ``provider_cached()``: the provider row read once for that scope.
_provider_scope: ContextVar[dict | None] = ContextVar("provider_scope", default=None)


def get_provider() -> ProviderProfile | None:
    """The provider profile (one row), or None before demo data or setup."""
    scope = _provider_scope.get()
    if scope is None:
        return ProviderProfile.objects.order_by("pk").first()
    if "provider" not in scope:
        scope["provider"] = ProviderProfile.objects.order_by("pk").first()
    return scope["provider"]


def email_context() -> dict[str, ProviderProfile | None]:
    """What every email shows of its sender (the provider): added to every email's context."""
    return {"provider": get_provider()}


@contextmanager
def provider_cached() -> Iterator[None]:
    """Within this block (one unit of work inside one transaction), ``get_provider()`` queries at most once.

    The cache lives only for the block, so it never outlives the transaction that
    opened it; nested blocks share the outer one.
    """
    if _provider_scope.get() is not None:
        yield
        return
    token = _provider_scope.set({})
    try:
        yield
    finally:
        _provider_scope.reset(token)


def customer_for_user(user: User | AnonymousUser) -> Customer:
    """The customer profile of a logged-in user, or 404 (staff without a customer profile, or not logged in)."""
    if not user.is_authenticated:
        raise Http404("No customer profile")
    try:
        return Customer.objects.select_related("user").get(user=user)
    except Customer.DoesNotExist as exc:
        raise Http404("No customer profile") from exc


def find_active_user_by_email(email: str) -> User | None:
    return User.objects.filter(email__iexact=(email or "").strip(), is_active=True).first()
