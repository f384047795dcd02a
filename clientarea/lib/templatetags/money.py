from django import template

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
