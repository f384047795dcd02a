"""The customer's Add funds amount: typed the Colombian way, limits said in pesos."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from clientarea.payments.forms import AddFundsForm
from clientarea.test import make_customer, make_provider


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("50.000", Decimal("50000")),
        ("$ 1.500.000", Decimal("1500000")),
        ("50000", Decimal("50000")),
    ],
)
def test_an_amount_typed_the_colombian_way_is_read(typed, amount):
    form = AddFundsForm({"amount": typed})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["amount"] == amount
    assert str(form.cleaned_data["amount"]) == str(amount)  # whole pesos, carried on as typed


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("5.000", "Enter at least $ 10.000."),
        ("9.000.000", "Enter at most $ 5.000.000."),
        ("50.000,50", "Enter whole pesos, without cents."),
        ("1.50.000", "Enter an amount in pesos, for example 150.000 or 150.000,50."),
    ],
)
def test_a_refused_amount_says_why_in_pesos(typed, message):
    with translation.override("en"):
        form = AddFundsForm({"amount": typed})
        assert not form.is_valid()
        assert form.errors["amount"] == [message]


@pytest.mark.django_db
def test_the_page_says_the_minimum_in_pesos_in_spanish(client, settings):
    make_provider()
    alice = make_customer("alice@example.com")
    client.force_login(alice.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    page = client.get(reverse("payments:add_funds"), {"amount": "5000"}).content.decode()
    assert "El valor mínimo es $ 10.000." in page and "10000" not in page
    page = client.get(reverse("payments:add_funds"), {"amount": "50.000"}).content.decode()
    assert "decimal" not in page and "El valor mínimo" not in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "said"),
    [("es", "paga sus"), ("en", "pay your")],
)
def test_the_page_says_once_what_the_funds_become(client, settings, language, said):
    # The field's hint repeated the paragraph above the form ("…paga sus próximas órdenes").
    make_provider()
    alice = make_customer("alice@example.com")
    client.force_login(alice.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = client.get(reverse("payments:add_funds")).content.decode()
    assert page.count(said) == 1
    hint = (
        "Pesos enteros, de $ 10.000 a $ 5.000.000."
        if language == "es"
        else "Whole pesos, from $ 10.000 to $ 5.000.000."
    )
    assert hint in page  # the limits the form holds to, before a refusal says them
