"""The proration of an options change: the plan changes' formula (``billing.proration``) over
the options' recurring total, old and new (properties with hypothesis, no database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clientarea.billing.proration import credit_with_tax, cycle_days, prorate
from clientarea.lib.money import tax_for
from clientarea.subscriptions.services import options_diff_text, options_total

MONTHS = st.sampled_from([1, 3, 6, 12, 24, 36])
RATES = st.sampled_from([Decimal("0"), Decimal("5"), Decimal("19")])
UNIT_PRICES = st.decimals(min_value=Decimal("0"), max_value=Decimal("2000000"), places=2)
OPTION = st.fixed_dictionaries(
    {
        "option": st.integers(min_value=1, max_value=6),
        "quantity": st.integers(min_value=1, max_value=500),
        "price": UNIT_PRICES.map(str),
        "description": st.just("Opción"),
    }
)
OPTIONS = st.lists(OPTION, max_size=5, unique_by=lambda o: o["option"])
DUE_DATES = st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2032, 12, 31))
RELAXED = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)


@st.composite
def a_change(draw):
    months = draw(MONTHS)
    due = draw(DUE_DATES)
    length = cycle_days(due_date=due, months=months)
    today = due - dt.timedelta(days=draw(st.integers(min_value=0, max_value=length)))
    return months, due, today, draw(OPTIONS), draw(OPTIONS)


def _prorate(months, due, today, before, after):
    return prorate(
        old_price=options_total(before),
        old_months=months,
        new_price=options_total(after),
        new_months=months,
        due_date=due,
        today=today,
    )


@RELAXED
@given(a_change())
def test_never_a_negative_charge_or_credit_and_never_both(change):
    p = _prorate(*change)
    assert p.amount_due >= 0 and p.credit_due >= 0
    assert p.amount_due == 0 or p.credit_due == 0
    assert p.difference == p.amount_due - p.credit_due


@RELAXED
@given(a_change(), RATES)
def test_the_credit_is_never_more_than_the_old_options_cost_for_the_period(change, rate):
    before = change[3]
    p = _prorate(*change)
    paid = options_total(before) + tax_for(options_total(before), rate)
    assert credit_with_tax(p, old_rate=rate, new_rate=rate) <= paid


@RELAXED
@given(a_change())
def test_going_back_is_exactly_the_opposite(change):
    months, due, today, before, after = change
    there = _prorate(months, due, today, before, after)
    back = _prorate(months, due, today, after, before)
    assert there.difference == -back.difference


@RELAXED
@given(a_change(), st.integers(min_value=1, max_value=50))
def test_adding_units_costs_the_added_units_for_the_days_left(change, added):
    """Up to rounding each side once: more of one option costs what those units cost for the
    days left, whatever the other options are."""
    months, due, today, before, _after = change
    base = before or [{"option": 9, "quantity": 1, "price": "1000.00", "description": "x"}]
    grown = [dict(base[0], quantity=base[0]["quantity"] + added), *base[1:]]
    p = _prorate(months, due, today, base, grown)
    alone = prorate(
        old_price=Decimal(0),
        old_months=months,
        new_price=Decimal(base[0]["price"]) * added,
        new_months=months,
        due_date=due,
        today=today,
    )
    assert abs(p.difference - alone.charge) <= Decimal("0.02")


def test_the_line_of_text_names_only_what_changes():
    before = [
        {"option": 1, "quantity": 20, "price": "500", "description": "Disco (GB)"},
        {"option": 2, "quantity": 1, "price": "40000", "description": "Panel: cPanel"},
        {"option": 3, "quantity": 2, "price": "10000", "description": "IP"},
    ]
    after = [
        {"option": 1, "quantity": 80, "price": "500", "description": "Disco (GB)"},
        {"option": 3, "quantity": 2, "price": "10000", "description": "IP"},
        {"option": 4, "quantity": 1, "price": "30000", "description": "Panel: Plesk"},
    ]
    assert options_diff_text(before, after) == (
        "Disco (GB) 20 → 80, Panel: cPanel 1 → 0, Panel: Plesk 0 → 1"
    )
    assert options_total(after) == Decimal("90000.00")
