"""Form fields shared by the back office and the client area."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from clientarea.lib.money import format_cop

# "150.000" and "1.500.000" (Colombian) or "150,000" (English): thousands in groups of three.
_GROUPED = {".": re.compile(r"\d{1,3}(?:\.\d{3})+"), ",": re.compile(r"\d{1,3}(?:,\d{3})+")}
_PLAIN = re.compile(r"\d+")
_CENTS = re.compile(r"\d{1,2}")


def parse_cop(text: str) -> Decimal | None:
    """An amount of pesos as a person types it, or None when it cannot be read for sure.

    Accepts ``150000``, ``150.000``, ``1.500.000,50``, ``$ 150.000``, ``150000,5`` and, for
    people used to the other convention, ``150,000.50`` and ``150000.50``. A separator followed
    by groups of exactly three digits groups thousands; one followed by one or two digits marks
    the cents. Anything else (``1.50.000``, ``150.0000``, letters) is refused rather than guessed.
    """
    value = text.strip().replace("$", "").replace("COP", "").replace("cop", "")
    value = re.sub(r"\s", "", value)
    sign = ""
    if value.startswith("-"):
        sign, value = "-", value[1:]
    if not value:
        return None
    whole, cents = value, ""
    last = max(value.rfind("."), value.rfind(","))
    if last >= 0 and _CENTS.fullmatch(value[last + 1 :]):
        whole, cents = value[:last], value[last + 1 :]
    if _PLAIN.fullmatch(whole):
        digits = whole
    else:
        separator = next((s for s in ".," if s in whole), "")
        if not separator or not _GROUPED[separator].fullmatch(whole):
            return None
        if cents and value[last] == separator:
            return None  # "1.500.00": the same sign cannot group and mark cents
        digits = whole.replace(separator, "")
    try:
        return Decimal(f"{sign}{digits}.{cents or '0'}")
    except InvalidOperation:
        return None


class MoneyInput(forms.TextInput):
    """A text box for pesos: a number box (``type=number``) in a Spanish browser drops the
    thousands dots and the decimal comma as they are typed ("150000,50" arrives as 15000050)."""

    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"inputmode": "decimal", "autocomplete": "off", **(attrs or {})})

    def format_value(self, value: Any) -> str | None:
        """An amount the form offers (its initial value) written as staff and customers write
        it, ``83.300`` or ``83.300,50`` (it read ``83300.00``); what a person typed is shown as
        typed."""
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            amount = Decimal(value)
            text = format_cop(abs(amount)).removeprefix("$ ")
            return f"-{text}" if amount < 0 else text
        return super().format_value(value)


class MoneyField(forms.DecimalField):
    """An amount in COP typed the Colombian way (``150.000``, ``1.500.000,50``) or plainly
    (``150000.50``), with messages a person understands: greater than zero, not negative, at
    most two decimals (none with ``decimal_places=0``), a minimum above one peso said in pesos
    ("Enter at least $ 10.000."), never "Ensure this value is greater than or equal to 0.01"."""

    widget = MoneyInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]  # DecimalField's
        if value in self.empty_values:
            return None
        if isinstance(value, Decimal | int):
            return Decimal(value)
        amount = parse_cop(str(value))
        if amount is None:
            raise ValidationError(
                _("Enter an amount in pesos, for example 150.000 or 150.000,50."), code="invalid"
            )
        return amount

    def validate(self, value: Decimal | None) -> None:
        super(forms.DecimalField, self).validate(value)

    def run_validators(self, value: Decimal | None) -> None:
        if value in self.empty_values:
            return
        assert value is not None
        if self.min_value is not None and value < self.min_value:
            if self.min_value > 1:  # a real minimum (e.g. $ 10.000 to add funds), said in pesos
                raise ValidationError(
                    _("Enter at least %(limit)s.") % {"limit": format_cop(self.min_value)},
                    code="min_value",
                )
            if self.min_value > 0:
                raise ValidationError(_("Enter an amount greater than zero."), code="min_value")
            raise ValidationError(_("The amount cannot be negative."), code="min_value")
        if self.max_value is not None and value > self.max_value:
            raise ValidationError(
                _("Enter at most %(limit)s.") % {"limit": format_cop(self.max_value)},
                code="max_value",
            )
        if self.decimal_places == 0 and value != value.to_integral_value():
            raise ValidationError(_("Enter whole pesos, without cents."), code="max_decimal_places")
        if value != value.quantize(Decimal("0.01")):
            raise ValidationError(_("Pesos have at most two decimals."), code="max_decimal_places")
        whole_digits = (self.max_digits or 14) - (self.decimal_places or 0)
        if abs(value) >= Decimal(10) ** whole_digits:
            raise ValidationError(_("That amount is too large."), code="max_digits")

    def clean(self, value: Any) -> Decimal | None:
        amount = super().clean(value)
        if amount is not None and self.decimal_places == 0:
            return amount.quantize(Decimal(1))  # "50.000" is 50000, not 50000.0
        return amount

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        # No min/max/step: they belong to a number box, not to this text box.
        return forms.Field.widget_attrs(self, widget)


#: What staff type in a moment box, in both languages: day first, 24-hour time (the way the
#: pages write dates and Colombian bank statements print them).
MOMENT_FORMAT = "%d/%m/%Y %H:%M"
MOMENT_INPUT_FORMATS = [MOMENT_FORMAT, "%d/%m/%Y %H:%M:%S", "%d/%m/%y %H:%M"]


class MomentInput(forms.DateTimeInput):
    """A text box for a date and time written day/month/year hours:minutes, whatever the
    browser's language. A ``datetime-local`` box shows and takes its parts in the browser's
    order: on a Spanish page in an English browser it read "04/12/2026, 09:30 AM" as 12 April,
    and a day typed first became the month."""

    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        defaults = {"placeholder": _("dd/mm/yyyy hh:mm"), "autocomplete": "off", "size": 16}
        super().__init__({**defaults, **(attrs or {})}, format=MOMENT_FORMAT)


class MomentField(forms.DateTimeField):
    """A moment in Colombia time typed as ``04/12/2026 09:30`` (day/month/year, 24-hour) in
    both languages; ISO 8601 (``2026-12-04T09:30``) is read too, for machines and scripts.
    Anything else is refused with the format to use, never guessed."""

    widget = MomentInput
    input_formats = MOMENT_INPUT_FORMATS
    default_error_messages = {
        "invalid": _(
            "Write the date and time as day/month/year and 24-hour time, e.g. 04/12/2026 09:30."
        ),
    }

    def to_python(self, value: Any) -> dt.datetime | None:
        if isinstance(value, str):
            value = " ".join(value.split())  # "04/12/2026  09:30", a pasted line break
        return super().to_python(value)


#: What a person types in a date box, in both languages: day first (the way the pages write
#: dates); ISO 8601 (``2026-12-04``) is read too, for links, machines and scripts.
DAY_FORMAT = "%d/%m/%Y"
DAY_INPUT_FORMATS = [DAY_FORMAT, "%d/%m/%y", "%Y-%m-%d"]


class DayInput(forms.DateInput):
    """A text box for a date written day/month/year, whatever the browser's language. A
    ``type=date`` box shows and takes its parts in the browser's order: on a Spanish page in an
    English browser it showed 12/04/2026 for 4 December, and a day typed first became the
    month. MomentInput's sibling, without the time."""

    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        defaults = {"placeholder": _("dd/mm/yyyy"), "autocomplete": "off", "size": 10}
        super().__init__({**defaults, **(attrs or {})}, format=DAY_FORMAT)


class DayField(forms.DateField):
    """A date typed as ``04/12/2026`` (day/month/year) in both languages, or ISO 8601
    (``2026-12-04``). Anything else (month first, words, a day that does not exist) is refused
    with the format to use, never guessed."""

    widget = DayInput
    input_formats = DAY_INPUT_FORMATS
    default_error_messages = {
        "invalid": _("Write the date as day/month/year, e.g. 04/12/2026."),
    }

    def to_python(self, value: Any) -> dt.date | None:
        if isinstance(value, str):
            value = "".join(value.split())  # " 04 / 12 / 2026 ", a pasted line break
        return super().to_python(value)
