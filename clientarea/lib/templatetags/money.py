from django import template

from clientarea.lib.money import format_cop

register = template.Library()


@register.filter
def cop(value, decimals: bool = False) -> str:
    """``{{ order.total|cop }}`` → ``$ 119.000``."""
    return format_cop(value, decimals=bool(decimals))
