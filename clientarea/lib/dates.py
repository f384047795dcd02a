"""Date arithmetic for billing cycles."""

from __future__ import annotations

import calendar
import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import formats, timezone

BOGOTA = ZoneInfo("America/Bogota")


def add_months(day: dt.date, months: int, *, anchor_day: int | None = None) -> dt.date:
    """Add calendar months, clamping to the last day of the month.

    ``anchor_day`` keeps a service due on the 31st due on the last day of short
    months and back on the 31st afterwards (Jan 31 → Feb 28/29 → Mar 31).
    """
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    wanted = anchor_day or day.day
    last = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(wanted, last))


def local_today() -> dt.date:
    """Today in Colombia (UTC-05:00)."""
    return timezone.localtime(timezone.now(), BOGOTA).date()


def local_now() -> dt.datetime:
    return timezone.localtime(timezone.now(), BOGOTA)


def short_date(value: dt.date) -> str:
    """A date as every page shows it, in the active language: "4 dic 2026", "4 Dec 2026"
    (``SHORT_DATE_FORMAT``, clientarea/formats). Not for exports, which keep ISO dates."""
    return formats.date_format(value, "SHORT_DATE_FORMAT")


def short_datetime(value: dt.datetime) -> str:
    """A moment in Colombia's time as every page shows it: "4 dic 2026 14:05"."""
    return formats.date_format(timezone.localtime(value, BOGOTA), "SHORT_DATETIME_FORMAT")
