"""What the customer's dashboard shows: one card per app, from that app's selectors."""

from __future__ import annotations

from typing import Any

from clientarea.accounts.models import Customer
from clientarea.billing import selectors as billing_selectors
from clientarea.einvoice import selectors as einvoice_selectors
from clientarea.subscriptions import selectors as subscription_selectors


def dashboard_context(customer: Customer) -> dict[str, Any]:
    return {
        **subscription_selectors.dashboard_summary(customer),
        **billing_selectors.dashboard_summary(customer),
        **einvoice_selectors.dashboard_summary(customer),
    }
