"""Order totals: the sum of the rounded lines, then whole pesos, whatever the prices, quantities and IVA rates."""

from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from clientarea.accounts.models import Customer
from clientarea.billing import services
from clientarea.billing.models import ItemKind
from clientarea.catalog.models import TaxTreatment
from clientarea.lib.money import format_cop
from clientarea.test import make_customer, make_provider

prices = st.decimals(min_value=Decimal("0"), max_value=Decimal("99999999.99"), places=2)
quantities = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2)
rates = st.sampled_from(
    [Decimal("19.00"), Decimal("5.00"), Decimal("0.00"), Decimal("16.00"), Decimal("8.00")]
)
treatments = st.sampled_from(TaxTreatment.values)
lines = st.lists(st.tuples(prices, quantities, rates, treatments), min_size=1, max_size=8)


class OrderTotalsTests(TestCase):
    customer: Customer

    @classmethod
    def setUpTestData(cls):
        make_provider()
        cls.customer = make_customer("totals@example.com")

    @settings(max_examples=60, deadline=None)
    @given(lines)
    def test_the_order_totals_are_the_sums_of_its_lines(self, specs):
        order = services.create_order(
            customer=self.customer,
            notify=False,
            lines=[
                services.LineSpec(
                    kind=ItemKind.OTHER,
                    description=f"L{i}",
                    unit_price=price,
                    quantity=qty,
                    tax_rate=rate,
                    tax_treatment=treatment,
                )
                for i, (price, qty, rate, treatment) in enumerate(specs)
            ],
        )
        order.refresh_from_db()
        items = list(order.items.all())
        lines_total = sum((item.total for item in items), Decimal(0))
        assert order.tax_total == sum(item.tax_amount for item in items)
        assert order.subtotal == sum(item.subtotal for item in items)
        # The amount to pay is whole pesos; the rounding is its own, visible figure
        assert (
            order.total
            == order.subtotal + order.tax_total + order.rounding
            == lines_total + order.rounding
        )
        assert order.total == order.total.to_integral_value()
        assert Decimal("-0.49") <= order.rounding <= Decimal("0.50")
        assert order.rounding == (
            lines_total.quantize(Decimal("1"), rounding=ROUND_HALF_UP) - lines_total
        )
        for item in items:
            assert item.total == item.subtotal + item.tax_amount
            if item.tax_treatment != TaxTreatment.TAXED:
                assert item.tax_amount == 0 and item.tax_rate == 0


def test_amounts_are_shown_as_colombian_pesos():
    assert format_cop(Decimal("119000.00")) == "$ 119.000"
    assert format_cop(Decimal("1234567.5")) == "$ 1.234.567,50"
    assert format_cop(Decimal("0")) == "$ 0"


def test_the_amount_to_pay_is_rounded_to_whole_pesos_half_up():
    from clientarea.lib.money import payable_rounding

    assert payable_rounding(Decimal("54728.10")) == Decimal("-0.10")
    assert payable_rounding(Decimal("54728.50")) == Decimal("0.50")
    assert payable_rounding(Decimal("54728.49")) == Decimal("-0.49")
    assert payable_rounding(Decimal("119000.00")) == Decimal("0.00")
