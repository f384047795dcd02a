"""Read queries for accounts."""

from __future__ import annotations

from django.http import Http404

from clientarea.accounts.models import Customer, ProviderProfile, User


def get_provider() -> ProviderProfile | None:
    """The provider profile (one row), or None before demo data or setup."""
    return ProviderProfile.objects.order_by("pk").first()


def customer_for_user(user: User) -> Customer:
    """The customer profile of a logged-in user, or 404 (staff without a customer profile)."""
    try:
        return Customer.objects.select_related("user").get(user=user)
    except Customer.DoesNotExist as exc:
        raise Http404("No customer profile") from exc


def find_active_user_by_email(email: str) -> User | None:
    return User.objects.filter(email__iexact=(email or "").strip(), is_active=True).first()
