"""Template filters for order pages: a payment attempt named in words, never by its codes."""

from __future__ import annotations

from django import template

from clientarea.billing import selectors

register = template.Library()


@register.filter
def payment_label(payment) -> str:
    """ "PayU Latam (card)", "Payvalida (cash)" or "Payvalida" for a payment attempt."""
    method = getattr(payment, "method", "") or getattr(payment, "requested_method", "") or ""
    return selectors.payment_description(via=payment.gateway, method=method)
