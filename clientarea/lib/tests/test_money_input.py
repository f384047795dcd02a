"""Amounts typed the way people type them: ``parse_cop`` and ``MoneyField``."""

from decimal import Decimal

import pytest
from django import forms
from django.utils import translation

from clientarea.lib.forms import MoneyField, parse_cop


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("150000", "150000"),
        ("150.000", "150000"),
        ("1.500.000", "1500000"),
        ("1.500.000,50", "1500000.50"),
        ("$ 150.000", "150000"),
        ("150000,5", "150000.5"),
        ("150000.50", "150000.50"),
        ("150,000", "150000"),
        ("150,000.50", "150000.50"),
        (" 12.345 COP ", "12345"),
        ("-5.000", "-5000"),
    ],
)
def test_an_amount_is_read_the_way_it_was_meant(typed, amount):
    assert parse_cop(typed) == Decimal(amount)


@pytest.mark.parametrize(
    "typed", ["", "abc", "1.50.000", "150.0000", "1.500.00", "1,500.000,00", "1e5", "--5", "$"]
)
def test_an_amount_that_could_be_misread_is_refused(typed):
    assert parse_cop(typed) is None


class PriceForm(forms.Form):
    price = MoneyField(min_value=Decimal("0.01"), max_value=Decimal("200000000"))
    discount = MoneyField(min_value=Decimal("0"), required=False)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"price": "0"}, "price", "Enter an amount greater than zero."),
        ({"price": "-1"}, "price", "Enter an amount greater than zero."),
        ({"price": "10", "discount": "-1"}, "discount", "The amount cannot be negative."),
        ({"price": "300.000.000"}, "price", "Enter at most $ 200.000.000."),
        (
            {"price": "doce"},
            "price",
            "Enter an amount in pesos, for example 150.000 or 150.000,50.",
        ),
    ],
)
def test_bad_amounts_get_a_message_in_words(data, field, message):
    with translation.override("en"):
        form = PriceForm(data)
        assert not form.is_valid()
        assert form.errors[field] == [message]


def test_the_messages_are_in_colombian_spanish():
    with translation.override("es-co"):
        form = PriceForm({"price": "-1", "discount": "abc"})
        assert not form.is_valid()
        assert form.errors == {
            "price": ["Escriba un valor mayor que cero."],
            "discount": ["Escriba un valor en pesos, por ejemplo 150.000 o 150.000,50."],
        }


def test_a_good_amount_is_a_decimal_and_the_box_is_text():
    form = PriceForm({"price": "1.011.500", "discount": ""})
    assert form.is_valid(), form.errors
    assert form.cleaned_data == {"price": Decimal("1011500"), "discount": None}
    html = str(form["price"])
    assert 'type="text"' in html and 'inputmode="decimal"' in html and "step" not in html


@pytest.mark.parametrize(
    ("initial", "shown"),
    [
        (Decimal("83300.00"), "83.300"),
        (Decimal("1500000.50"), "1.500.000,50"),
        (150000, "150.000"),
        (Decimal("-5000"), "-5.000"),
    ],
)
def test_an_offered_amount_is_written_the_colombian_way_and_reads_back_the_same(initial, shown):
    """The refund form offered "83300.00": a dot a Colombian reads as thousands."""
    html = str(PriceForm(initial={"price": initial})["price"])
    assert f'value="{shown}"' in html
    assert parse_cop(shown) == Decimal(initial)
    # What a person typed is shown back as typed.
    assert 'value="83300.00"' in str(PriceForm({"price": "83300.00"})["price"])
