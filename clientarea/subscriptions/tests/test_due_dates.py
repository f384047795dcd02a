"""Due-date arithmetic: calendar months, month ends, leap years, every billing cycle, the anchor day."""

import datetime as dt

import pytest

from clientarea.catalog.models import CYCLE_MONTHS, BillingCycle
from clientarea.lib.dates import add_months
from clientarea.subscriptions.models import Service
from clientarea.subscriptions.services import next_due_after

D = dt.date


@pytest.mark.parametrize(
    ("start", "months", "anchor", "expected"),
    [
        (D(2025, 1, 31), 1, None, D(2025, 2, 28)),  # clamped to the end of a short month
        (D(2024, 1, 31), 1, None, D(2024, 2, 29)),  # leap year
        (D(2025, 2, 28), 1, 31, D(2025, 3, 31)),  # the anchor brings it back to the 31st
        (D(2025, 3, 31), 1, 31, D(2025, 4, 30)),
        (D(2025, 12, 15), 1, None, D(2026, 1, 15)),  # across the year end
        (D(2025, 11, 30), 3, 30, D(2026, 2, 28)),
        (D(2024, 2, 29), 12, 29, D(2025, 2, 28)),  # Feb 29 + 1 year
        (D(2025, 2, 28), 12, 29, D(2026, 2, 28)),
        (D(2027, 2, 28), 12, 29, D(2028, 2, 29)),  # and back to Feb 29 in the next leap year
        (D(2024, 2, 29), 48, None, D(2028, 2, 29)),
        (D(2025, 8, 31), 6, 31, D(2026, 2, 28)),
        (D(2025, 1, 10), -1, None, D(2024, 12, 10)),
    ],
)
def test_add_months(start, months, anchor, expected):
    assert add_months(start, months, anchor_day=anchor) == expected


def _service(cycle: str, anchor: int | None = None) -> Service:
    return Service(
        cycle=cycle, anchor_day=anchor
    )  # unsaved: next_due_after only reads cycle and anchor


@pytest.mark.parametrize(
    ("cycle", "expected"),
    [
        (BillingCycle.MONTHLY, D(2026, 2, 28)),
        (BillingCycle.QUARTERLY, D(2026, 4, 30)),
        (BillingCycle.SEMIANNUAL, D(2026, 7, 31)),
        (BillingCycle.ANNUAL, D(2027, 1, 31)),
        (BillingCycle.BIENNIAL, D(2028, 1, 31)),
        (BillingCycle.TRIENNIAL, D(2029, 1, 31)),
        (BillingCycle.ONE_TIME, None),
    ],
)
def test_every_cycle_from_jan_31(cycle, expected):
    assert next_due_after(service=_service(cycle, anchor=31), due=D(2026, 1, 31)) == expected


def test_every_cycle_has_a_length():
    assert set(CYCLE_MONTHS) == set(BillingCycle.values)


def test_a_monthly_service_anchored_on_the_31st_walks_the_year():
    service, due, seen = _service(BillingCycle.MONTHLY, anchor=31), D(2024, 1, 31), []
    for _ in range(13):
        following = next_due_after(service=service, due=due)
        assert following is not None  # a monthly service always has a next due date
        due = following
        seen.append(due.day)
    #           Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec Jan Feb
    assert seen == [29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31, 28]


def test_without_an_anchor_a_short_month_would_drift():
    # Why services keep anchor_day: chaining from Feb 28 alone loses the 31st.
    assert add_months(D(2025, 2, 28), 1) == D(2025, 3, 28)
    assert add_months(D(2025, 2, 28), 1, anchor_day=31) == D(2025, 3, 31)
