import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clientarea.lib.dates import add_months
from clientarea.lib.money import format_cop, quantize, tax_for


@pytest.mark.parametrize(
    "amount, text",
    [
        (119000, "$ 119.000"),
        (Decimal("1234.5"), "$ 1.234,50"),
        (0, "$ 0"),
        (Decimal("-5000"), "-$ 5.000"),
    ],
)
def test_cop_format(amount, text):
    assert format_cop(amount) == text


def test_half_up_rounding():
    assert quantize("0.005") == Decimal("0.01")
    assert tax_for(Decimal("84033.61"), Decimal("19")) == Decimal("15966.39")


@pytest.mark.parametrize(
    "start, months, expected",
    [
        (dt.date(2025, 1, 31), 1, dt.date(2025, 2, 28)),
        (dt.date(2024, 1, 31), 1, dt.date(2024, 2, 29)),
        (dt.date(2024, 2, 29), 12, dt.date(2025, 2, 28)),
        (dt.date(2024, 2, 29), 48, dt.date(2028, 2, 29)),
        (dt.date(2025, 11, 30), 3, dt.date(2026, 2, 28)),
        (dt.date(2025, 12, 15), 1, dt.date(2026, 1, 15)),
    ],
)
def test_add_months_clamps_to_month_end(start, months, expected):
    assert add_months(start, months) == expected


def test_anchor_day_returns_to_the_31st():
    feb = add_months(dt.date(2025, 1, 31), 1, anchor_day=31)
    assert add_months(feb, 1, anchor_day=31) == dt.date(2025, 3, 31)


@given(
    st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2090, 1, 1)),
    st.sampled_from([1, 3, 6, 12, 24, 36]),
)
def test_add_months_moves_the_month_exactly(day, months):
    result = add_months(day, months, anchor_day=day.day)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    assert result.day == day.day or result.day < day.day
