"""Date arithmetic for billing cycles."""

from __future__ import annotations

import calendar
import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import timezone

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
