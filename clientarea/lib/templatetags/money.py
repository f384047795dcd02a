from django import template
from django.utils.html import format_html

from clientarea.lib.money import format_cop

register = template.Library()


@register.filter
def cop(value, decimals: bool = False) -> str:
    """``{{ order.total|cop }}`` → ``$ 119.000``."""
    return format_cop(value, decimals=bool(decimals))


@register.filter
def received(value):
    """A ledger movement as money received: a payment (−, the customer's money) reads positive."""
    return -value if value is not None else None


@register.filter
def cop_nowrap(value, decimals: bool = False) -> str:
    """``{{ left|cop_nowrap }}`` inside a sentence that may wrap: ``$`` and its figure stay on one
    line (``<span class="nowrap">$ 99.000</span>``)."""
    return format_html('<span class="nowrap">{}</span>', format_cop(value, decimals=bool(decimals)))
