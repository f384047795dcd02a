"""The lines of a credit or debit note, from the lines of the invoice it corrects (pure data).

A note is full (every line of the invoice again), by line (an amount before IVA on some lines of
the invoice) or by amount (an amount before IVA spread over the invoice's lines in proportion to
their value, the last line taking the rounding remainder). Each note line keeps the description,
IVA treatment and rate of the invoice line it corrects, so its IVA follows the invoice's.

Except late-payment interest (debit-note concept 1, :func:`interest`): one line of its own, not
subject to IVA. Moratory interest compensates a late payment; it is no sale of the service, so
it is outside IVA's base whatever the invoice's lines carry. In DIAN's UBL an amount outside IVA
is a line without IVA subtotal (``excluded``: no line TaxTotal, not in TaxExclusiveAmount).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from django.utils.translation import gettext as _

from clientarea.einvoice.documents import Line
from clientarea.lib.money import ZERO, format_cop, quantize


class BadNoteLines(ValueError):
    """The requested lines or amount cannot make a note (the message is for a person)."""


def _line(source: Line, amount: Decimal) -> Line:
    return Line.build(
        description=source.description,
        quantity=Decimal("1"),
        unit_price=amount,
        tax_rate=source.tax_rate,
        tax_treatment=source.tax_treatment,
        period_start=source.period_start,
        period_end=source.period_end,
        code=source.code,
    )


def full(lines: tuple[Line, ...]) -> tuple[Line, ...]:
    return tuple(lines)


def by_line(
    lines: tuple[Line, ...], amounts: Mapping[int, Decimal], *, at_most_the_line: bool
) -> tuple[Line, ...]:
    """``amounts``: invoice line number (from 1) -> amount before IVA; a credit note credits at
    most a line's own value (``at_most_the_line``)."""
    result = []
    for number, amount in sorted(amounts.items()):
        if not isinstance(amount, Decimal):
            raise TypeError("line amounts must be Decimal")
        if not 1 <= number <= len(lines):
            raise BadNoteLines(_("The invoice has no line %(n)s.") % {"n": number})
        if amount == 0:
            continue
        if amount < 0 or quantize(amount) != amount:
            raise BadNoteLines(
                _("Line %(n)s: the amount must be positive, in pesos with up to 2 decimals.")
                % {"n": number}
            )
        if at_most_the_line and amount > lines[number - 1].line_extension:
            raise BadNoteLines(
                _("Line %(n)s: at most %(value)s before IVA can be credited.")
                % {
                    "n": number,
                    "value": format_cop(lines[number - 1].line_extension, decimals=True),
                }
            )
        result.append(_line(lines[number - 1], amount))
    if not result:
        raise BadNoteLines(_("Give an amount for at least one line."))
    return tuple(result)


def by_amount(lines: tuple[Line, ...], amount: Decimal) -> tuple[Line, ...]:
    """``amount`` before IVA, spread over the invoice's lines in proportion to their value."""
    if not isinstance(amount, Decimal):
        raise TypeError("amount must be a Decimal")
    if amount <= 0 or quantize(amount) != amount:
        raise BadNoteLines(_("The amount must be positive, in pesos with up to 2 decimals."))
    priced = [line for line in lines if line.line_extension > 0]
    base = sum((line.line_extension for line in priced), ZERO)
    if not priced or base <= 0:
        raise BadNoteLines(_("The invoice has no line with a value to spread the amount over."))
    result = []
    left = amount
    for index, line in enumerate(priced):
        share = left if index == len(priced) - 1 else quantize(amount * line.line_extension / base)
        left -= share
        if share > 0:
            result.append(_line(line, share))
    return tuple(result)


def total(lines: tuple[Line, ...]) -> Decimal:
    """What the note's lines add up to, IVA included (its PayableAmount: no rounding on notes)."""
    return quantize(sum((line.total for line in lines), ZERO))


def interest(amount: Decimal, *, description: str) -> tuple[Line, ...]:
    """Late-payment interest: one line of ``amount``, outside IVA (no IVA subtotal)."""
    if not isinstance(amount, Decimal):
        raise TypeError("amount must be a Decimal")
    if amount <= 0 or quantize(amount) != amount:
        raise BadNoteLines(_("The amount must be positive, in pesos with up to 2 decimals."))
    return (
        Line.build(
            description=description,
            quantity=Decimal("1"),
            unit_price=amount,
            tax_rate=ZERO,
            tax_treatment="excluded",
        ),
    )
