"""Template filters for order pages: a payment attempt named in words, never by its codes; a
movement by the reference the customer knows."""

from __future__ import annotations

from django import template

from clientarea.billing import selectors

register = template.Library()


@register.filter
def payment_label(payment) -> str:
    """ "PayU Latam (card)", "Payvalida (cash)" or "Payvalida" for a payment attempt."""
    method = getattr(payment, "method", "") or getattr(payment, "requested_method", "") or ""
    return selectors.payment_description(via=payment.gateway, method=method)


@register.filter
def customer_reference(entry) -> str:
    """The reference a customer knows an account movement by (``selectors.customer_reference``)."""
    return selectors.customer_reference(entry)
