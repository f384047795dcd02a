"""``billing.selectors.charge_for``: the one place that says what a gateway charges for some
pending orders and the IVA and taxed base within it (after partial payments, credit and a
withholding agent's withholdings)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from clientarea.billing import ledger, selectors
from clientarea.billing import services as billing
from clientarea.billing.models import ItemKind
from clientarea.catalog.models import TaxTreatment
from clientarea.lib.dates import local_today
from clientarea.test import BaseTestCase, make_customer, make_provider
from clientarea.withholdings.tests.helpers import make_agent, make_rules


def order_for(customer, price: str = "100000", **line):
    return billing.create_order(
        customer=customer,
        notify=False,
        lines=[
            billing.LineSpec(
                kind=ItemKind.OTHER, description="Hosting", unit_price=Decimal(price), **line
            )
        ],
    )


class ChargeForTests(BaseTestCase):
    def test_an_order_is_charged_its_total_with_its_iva_and_base(self):
        order = order_for(self.alice)
        charge = selectors.charge_for([order])
        self.assertEqual(
            (charge.amount, charge.tax, charge.tax_base),
            (Decimal("119000.00"), Decimal("19000.00"), Decimal("100000.00")),
        )
        self.assertEqual(charge.amount, selectors.amount_to_charge([order]))

    def test_exempt_lines_add_to_the_amount_but_not_to_the_taxed_base(self):
        taxed = order_for(self.alice)
        exempt = order_for(
            self.alice, "95000", tax_treatment=TaxTreatment.EXEMPT, tax_rate=Decimal("0")
        )
        charge = selectors.charge_for([taxed, exempt])
        self.assertEqual(
            (charge.amount, charge.tax, charge.tax_base),
            (Decimal("214000.00"), Decimal("19000.00"), Decimal("100000.00")),
        )
        self.assertEqual(
            charge.dues, {taxed.pk: Decimal("119000.00"), exempt.pk: Decimal("95000.00")}
        )

    def test_what_is_left_after_a_partial_payment_carries_its_share_of_the_iva(self):
        order = order_for(self.alice)
        ledger.record_payment(
            customer_id=self.alice.pk, amount=Decimal("59500"),
            allocations=[ledger.Allocation(order_id=order.pk)], reference="t-1", via="manual",
            notify=False,
        )  # fmt: skip
        charge = selectors.charge_for([order])
        self.assertEqual(
            (charge.amount, charge.tax, charge.tax_base),
            (Decimal("59500.00"), Decimal("9500.00"), Decimal("50000.00")),
        )

    def test_paid_orders_add_nothing(self):
        order = order_for(self.alice)
        ledger.record_payment(
            customer_id=self.alice.pk, amount=Decimal("119000"),
            allocations=[ledger.Allocation(order_id=order.pk)], reference="t-2", via="manual",
            notify=False,
        )  # fmt: skip
        order.refresh_from_db()
        charge = selectors.charge_for([order])
        self.assertEqual((charge.amount, charge.tax, charge.tax_base), (0, 0, 0))

    def test_a_withholding_agent_is_charged_the_net_and_the_cash_part_of_iva_and_base(self):
        # The README's worked example: 1.000.000 + IVA 190.000, ReteFuente 4 %, ReteIVA 15 %,
        # ReteICA 9,66 per mil.
        make_rules(local_today().year)
        order = order_for(self.bob, "1000000")
        make_agent(self.bob)
        charge = selectors.charge_for([order])
        self.assertEqual(charge.amount, Decimal("1111840.00"))
        self.assertEqual(charge.amount, selectors.amount_to_charge([order]))
        # IVA − ReteIVA (190.000 − 28.500) and base − ReteFuente − ReteICA (1.000.000 − 40.000
        # − 9.660): tax + base never exceed the amount.
        self.assertEqual(
            (charge.tax, charge.tax_base), (Decimal("161500.00"), Decimal("950340.00"))
        )
        self.assertLessEqual(charge.tax + charge.tax_base, charge.amount)


class WholePesosTests(BaseTestCase):
    def test_an_order_rounded_down_to_whole_pesos_is_charged_iva_and_base_within_its_amount(self):
        # 8.604,49 + IVA 1.634,85 = 10.239,34, paid as 10.239: PayU refuses tax + taxReturnBase
        # above the amount ("invalid_tax"), so the base gives back the 34 cents.
        order = order_for(self.alice, "8604.49")
        self.assertEqual((order.total, order.rounding), (Decimal("10239.00"), Decimal("-0.34")))
        charge = selectors.charge_for([order])
        self.assertEqual(
            (charge.amount, charge.tax, charge.tax_base),
            (Decimal("10239.00"), Decimal("1634.85"), Decimal("8604.15")),
        )


class ChargeWithinAmountTests(HypothesisTestCase):
    """Whatever the prices and the part already paid, the IVA and base a gateway is sent fit in
    the amount it is asked for (PayU refuses the payment otherwise)."""

    @classmethod
    def setUpTestData(cls):
        make_provider()
        cls.customer = make_customer("charge@example.com")

    @settings(max_examples=40, deadline=None)
    @given(
        st.lists(
            st.decimals(min_value=Decimal("1"), max_value=Decimal("9999999.99"), places=2),
            min_size=1,
            max_size=3,
        ),
        st.integers(min_value=0, max_value=99),
    )
    def test_tax_and_base_never_exceed_the_amount(self, prices, paid_percent):
        orders = [order_for(self.customer, str(price)) for price in prices]
        first = orders[0]
        paid = (first.total * paid_percent / 100).quantize(Decimal("1"))
        if paid:
            ledger.record_payment(
                customer_id=self.customer.pk, amount=paid,
                allocations=[ledger.Allocation(order_id=first.pk)], reference=f"p-{first.pk}",
                via="manual", notify=False,
            )  # fmt: skip
        charge = selectors.charge_for(orders)
        assert charge.tax >= 0 and charge.tax_base >= 0
        assert charge.tax + charge.tax_base <= charge.amount
