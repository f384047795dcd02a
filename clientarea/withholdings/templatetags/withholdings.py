from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def withholding_rate(line) -> str:
    """``4 %``, ``15 % of the IVA`` is said by the row; ReteICA's rate is per mil: ``9,66 ‰``."""
    rate = Decimal(line.rate).normalize()
    text = f"{rate:f}".replace(".", ",")
    return f"{text} ‰" if line.per_mil else f"{text} %"
