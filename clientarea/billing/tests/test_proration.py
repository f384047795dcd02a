"""The proration formula of plan changes: worked examples and properties (hypothesis) over any
cycle, any day of the period and any pair of prices."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clientarea.billing.proration import credit_with_tax, cycle_days, prorate
from clientarea.lib.money import tax_for

MONTHS = st.sampled_from([1, 3, 6, 12, 24, 36])
PRICES = st.decimals(
    min_value=Decimal("0"), max_value=Decimal("100000000"), places=2, allow_nan=False
)
RATES = st.sampled_from([Decimal("0"), Decimal("5"), Decimal("19")])
DUE_DATES = st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2032, 12, 31))
ANCHORS = st.one_of(st.none(), st.integers(min_value=1, max_value=31))


def test_half_a_month_from_30_000_to_60_000_costs_15_000():
    p = prorate(
        old_price=Decimal("30000"),
        old_months=1,
        new_price=Decimal("60000"),
        new_months=1,
        due_date=dt.date(2026, 12, 16),
        today=dt.date(2026, 12, 1),  # 15 of the 30 days from 16 Nov
    )
    assert (p.days_remaining, p.old_days, p.new_days) == (15, 30, 30)
    assert (p.credit, p.charge, p.difference) == (Decimal("15000.00"), Decimal("30000.00"), 15000)
    assert p.amount_due == Decimal("15000.00") and p.credit_due == 0


def test_a_change_of_cycle_uses_the_new_cycles_daily_price():
    # Monthly 30.000 (31-day month) to annual 300.000 (365 days), 10 days left.
    p = prorate(
        old_price=Decimal("30000"),
        old_months=1,
        new_price=Decimal("300000"),
        new_months=12,
        due_date=dt.date(2027, 1, 15),
        today=dt.date(2027, 1, 5),
    )
    assert (p.old_days, p.new_days) == (31, 365)
    assert p.credit == Decimal("9677.42")  # 30.000 × 10 / 31
    assert p.charge == Decimal("8219.18")  # 300.000 × 10 / 365
    assert p.credit_due == Decimal("1458.24") and p.amount_due == 0


def test_on_or_after_the_due_date_nothing_is_prorated():
    for today in (dt.date(2026, 12, 16), dt.date(2026, 12, 20)):
        p = prorate(
            old_price=Decimal("30000"),
            old_months=1,
            new_price=Decimal("90000"),
            new_months=1,
            due_date=dt.date(2026, 12, 16),
            today=today,
        )
        assert (p.days_remaining, p.credit, p.charge) == (0, 0, 0)


def test_month_end_anchors_keep_the_cycle_length():
    # Due 31 March, anchored on the 31st: the month before starts on 28 February.
    assert cycle_days(due_date=dt.date(2027, 3, 31), months=1, anchor_day=31) == 31
    assert cycle_days(due_date=dt.date(2027, 2, 28), months=1, anchor_day=31) == 28


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        prorate(
            old_price=Decimal("-1"),
            old_months=1,
            new_price=Decimal("1"),
            new_months=1,
            due_date=dt.date(2027, 1, 1),
            today=dt.date(2026, 12, 1),
        )
    with pytest.raises(ValueError):
        cycle_days(due_date=dt.date(2027, 1, 1), months=0)


@st.composite
def changes(draw, *, within_one_period: bool = True):
    old_months = draw(MONTHS)
    due = draw(DUE_DATES)
    anchor = draw(ANCHORS)
    period = cycle_days(due_date=due, months=old_months, anchor_day=anchor)
    # Any day of the paid period (or, paid ahead, up to three periods before the due date).
    back = draw(st.integers(min_value=-5, max_value=period if within_one_period else 3 * period))
    return {
        "old_price": draw(PRICES),
        "old_months": old_months,
        "new_price": draw(PRICES),
        "new_months": draw(MONTHS),
        "due_date": due,
        "today": due - dt.timedelta(days=back),
        "anchor_day": anchor,
    }


@given(changes(within_one_period=False))
def test_never_a_negative_charge_or_credit_and_never_both(change):
    p = prorate(**change)
    assert p.amount_due >= 0 and p.credit_due >= 0
    assert p.amount_due == 0 or p.credit_due == 0
    assert p.difference == p.amount_due - p.credit_due
    assert p.credit >= 0 and p.charge >= 0
    for value in (p.credit, p.charge):
        assert value == value.quantize(Decimal("0.01"))  # cents, as every amount


@given(changes(), RATES, RATES)
def test_the_credit_is_never_more_than_what_was_paid_for_the_period(change, old_rate, new_rate):
    p = prorate(**change)
    assert p.credit <= change["old_price"]
    assert p.credit_due <= change["old_price"]
    paid_with_iva = change["old_price"] + tax_for(change["old_price"], old_rate)
    assert credit_with_tax(p, old_rate=old_rate, new_rate=new_rate) <= paid_with_iva


@given(changes(within_one_period=False))
def test_paid_ahead_the_credit_is_at_most_the_periods_paid(change):
    p = prorate(**change)
    periods = max(math.ceil(p.days_remaining / p.old_days), 1)
    assert p.credit <= change["old_price"] * periods


@given(changes(within_one_period=False))
def test_upgrade_and_downgrade_are_symmetric(change):
    there = prorate(**change)
    back = prorate(
        **{
            **change,
            "old_price": change["new_price"],
            "old_months": change["new_months"],
            "new_price": change["old_price"],
            "new_months": change["old_months"],
        }
    )
    assert there.difference == -back.difference  # each side rounded once: exact
    assert there.amount_due == back.credit_due and there.credit_due == back.amount_due


@given(changes())
def test_the_same_plan_costs_nothing(change):
    p = prorate(**{**change, "new_price": change["old_price"], "new_months": change["old_months"]})
    assert p.difference == 0


@given(changes(), PRICES)
def test_a_dearer_plan_never_costs_less(change, extra):
    cheaper = prorate(**change)
    dearer = prorate(**{**change, "new_price": change["new_price"] + extra})
    assert dearer.difference >= cheaper.difference
