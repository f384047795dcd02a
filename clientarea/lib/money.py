"""Money helpers. Amounts are Decimal in COP, never float.

Rounding rule (documented once, used everywhere): every monetary amount is
rounded to 2 decimals with ROUND_HALF_UP, per line: the tax of a line is
``round(line_subtotal * rate / 100)``, and order totals are the plain sums of
the already-rounded line figures. So the sum of the lines always equals the
total, and the IVA of the order is the sum of the IVA of its lines.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def quantize(amount: Decimal | int | str) -> Decimal:
    """Round to 2 decimals, half up (the project's single rounding rule)."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def tax_for(base: Decimal, rate: Decimal) -> Decimal:
    """Tax of one line: base × rate% rounded once."""
    return quantize(Decimal(base) * Decimal(rate) / Decimal(100))


def format_cop(amount: Decimal | int | str | None, *, decimals: bool = False) -> str:
    """Format as Colombian pesos: ``$ 119.000`` (dot thousands, comma decimals)."""
    if amount is None:
        return ""
    value = Decimal(amount)
    sign = "-" if value < 0 else ""
    value = abs(value)
    if decimals or value != value.to_integral_value():
        text = f"{quantize(value):,.2f}"
    else:
        text = f"{value.to_integral_value(rounding=ROUND_HALF_UP):,.0f}"
    text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return f"{sign}$ {text}"
