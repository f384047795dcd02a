"""What the customer's dashboard shows: one card per app, from that app's selectors."""

from __future__ import annotations

from typing import Any

from clientarea.accounts.models import Customer
from clientarea.accounts.permissions import Access
from clientarea.billing import selectors as billing_selectors
from clientarea.einvoice import selectors as einvoice_selectors
from clientarea.subscriptions import selectors as subscription_selectors


def dashboard_context(customer: Customer, access: Access | None = None) -> dict[str, Any]:
    """The cards the logged-in contact may see (all of them without ``access``)."""
    context: dict[str, Any] = {}
    if access is None or access.services_view:
        context.update(subscription_selectors.dashboard_summary(customer))
    if access is None or access.billing_view:
        context.update(billing_selectors.dashboard_summary(customer))
        context.update(einvoice_selectors.dashboard_summary(customer))
    return context
