"""Money helpers. Amounts are Decimal in COP, never float.

Rounding rule (documented once, used everywhere): every monetary amount is
rounded to 2 decimals with ROUND_HALF_UP, per line: the tax of a line is
``round(line_subtotal * rate / 100)``, and order subtotal and IVA are the plain
sums of the already-rounded line figures. The amount to pay is that sum rounded
to whole pesos (half up), and the difference is shown as its own "rounding"
figure (DIAN's ``PayableRoundingAmount``): Colombia has no coins below 50 pesos,
and cash networks and Payvalida take whole pesos only. So
``total = subtotal + IVA + rounding`` always, with ``|rounding| <= 0.50``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def quantize(amount: Decimal | int | str) -> Decimal:
    """Round to 2 decimals, half up (the project's single rounding rule)."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


PESO = Decimal("1")


def payable_rounding(amount: Decimal) -> Decimal:
    """What to add to ``amount`` to make it whole pesos (half up): between -0.49 and +0.50."""
    amount = quantize(amount)
    return quantize(amount.quantize(PESO, rounding=ROUND_HALF_UP) - amount)


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
