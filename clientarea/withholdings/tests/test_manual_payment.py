"""Staff register a withholding agent's bank transfer: net (withheld posted), gross because it did
not withhold ("The customer did not withhold on this payment"), or more than it owes."""

from __future__ import annotations

from decimal import Decimal

from clientarea.accounts.models import AuditEvent
from clientarea.billing import selectors as billing_selectors
from clientarea.billing import services as billing
from clientarea.billing.models import ItemKind, LedgerEntry, LedgerKind, OrderEvent, OrderState
from clientarea.einvoice.models import Invoice
from clientarea.lib.dates import local_today
from clientarea.notifications.models import OutgoingEmail
from clientarea.notifications.tests.deferred import deliver
from clientarea.payments.services import ManualPaymentDetails, register_manual_payment
from clientarea.test import BaseTestCase
from clientarea.withholdings import selectors
from clientarea.withholdings.models import OrderWithholding
from clientarea.withholdings.tests.helpers import make_agent, make_rules

GROSS = Decimal("1190000.00")  # 1.000.000 + IVA
NET = Decimal("1111840.00")  # less ReteFuente 40.000, ReteIVA 28.500, ReteICA 9.660
WITHHELD = Decimal("78160.00")


class AgentManualPaymentTests(BaseTestCase):
    def setUp(self) -> None:
        from clientarea.einvoice.tests.test_issue_on_payment import make_resolution

        make_resolution()
        make_rules(local_today().year)
        make_agent(self.bob)
        self.order = billing.create_order(
            customer=self.bob,
            notify=False,
            lines=[billing.LineSpec(kind=ItemKind.OTHER, description="Hosting Empresarial", unit_price=Decimal("1000000"))],
        )  # fmt: skip

    def pay(self, amount: Decimal | None, **kwargs):
        return register_manual_payment(
            details=ManualPaymentDetails(
                order=self.order, reference="TRF-77", amount=amount, **kwargs
            ),
            actor=self.carol,
        ).order

    def movements(self) -> list[tuple[str, Decimal]]:
        return sorted(
            (e.kind, e.amount) for e in LedgerEntry.objects.exclude(kind=LedgerKind.ORDER)
        )

    def assertNothingWritten(self) -> None:
        self.order.refresh_from_db()
        self.assertEqual(self.order.state, OrderState.PENDING)
        self.assertEqual(self.movements(), [])
        self.assertFalse(OrderWithholding.objects.exists())
        self.assertFalse(AuditEvent.objects.filter(action="billing.manual_payment").exists())
        self.assertFalse(OutgoingEmail.objects.exists())

    def test_the_gross_without_the_box_is_refused_instead_of_counting_the_withheld_part_twice(
        self,
    ):
        """It paid the order net, posted 78.160 as withheld (a certificate expected) and kept
        the same 78.160 as the agent's credit: the withheld part counted twice."""
        with self.assertRaisesMessage(
            billing.OrderStateError,
            'marque "El cliente no practicó retenciones en este pago"; si las practicó, ingrese '
            "lo que transfirió (el neto es $ 1.111.840)",
        ):
            self.pay(GROSS)
        self.assertNothingWritten()

    def test_an_agent_that_did_not_withhold_pays_the_gross_and_no_withholding_is_expected(self):
        self.pay(GROSS, not_withheld=True)
        self.order.refresh_from_db()
        self.assertEqual(self.order.state, OrderState.PAID)
        self.assertEqual(self.movements(), [(LedgerKind.PAYMENT, -GROSS)])
        self.assertEqual(billing_selectors.credit_available(self.bob), 0)
        # No open withholding, no certificate expected; the order shows it paid in full.
        self.assertFalse(OrderWithholding.objects.exists())
        self.assertEqual(selectors.open_total(self.bob), 0)
        self.assertEqual(selectors.withholdings_for_order(self.order).net, GROSS)
        self.assertEqual(Invoice.objects.get(order=self.order).document["withholdings"], [])
        audit = AuditEvent.objects.get(action="billing.manual_payment")
        self.assertEqual(
            {k: audit.changes[k] for k in ("amount", "withheld", "withholding", "credited")},
            {"amount": "1190000.00", "withheld": "0", "withholding": "not_withheld",
             "credited": "0.00"},
        )  # fmt: skip
        self.assertFalse(AuditEvent.objects.filter(action="withholdings.fixed").exists())
        event = OrderEvent.objects.get(order=self.order, kind="paid")
        self.assertTrue(event.data["not_withheld"])
        email = OutgoingEmail.objects.get(template="order_paid")
        self.assertEqual(email.render_refs, {"order": self.order.pk, "not_withheld": True})
        body = deliver(email).body_text
        self.assertIn("recibimos su pago de $ 1.190.000", body.lower())
        self.assertIn("no se requiere certificado de retención", body)
        self.assertNotIn("Retenido por usted", body)

    def test_left_empty_with_the_box_the_amount_is_the_gross(self):
        self.pay(None, not_withheld=True)
        self.assertEqual(self.movements(), [(LedgerKind.PAYMENT, -GROSS)])
        self.assertFalse(OrderWithholding.objects.exists())

    def test_without_withholding_a_partial_payment_is_refused(self):
        with self.assertRaisesMessage(
            billing.OrderStateError,
            "Sin retenciones el pago debe cubrir los $ 1.190.000",
        ):
            self.pay(NET, not_withheld=True)
        self.assertNothingWritten()

    def test_more_than_the_gross_without_withholding_keeps_the_rest_as_credit(self):
        with self.assertRaises(billing.ExcessNotConfirmed) as refused:
            self.pay(GROSS + 10000, not_withheld=True)
        split = refused.exception.split
        self.assertEqual((split.pays, split.withheld, split.excess), (GROSS, 0, Decimal(10000)))
        self.assertNothingWritten()
        self.pay(GROSS + 10000, not_withheld=True, confirmed_excess=Decimal("10000"))
        self.assertEqual(
            self.movements(),
            [(LedgerKind.CREDIT, Decimal("-10000.00")), (LedgerKind.PAYMENT, -GROSS)],
        )
        self.assertFalse(OrderWithholding.objects.exists())
        self.assertEqual(
            OutgoingEmail.objects.get(template="order_paid").render_refs,
            {"order": self.order.pk, "credited": "10000.00", "not_withheld": True},
        )

    def test_more_than_the_net_without_the_box_is_net_withheld_and_credit_once_confirmed(self):
        with self.assertRaises(billing.ExcessNotConfirmed) as refused:
            self.pay(NET + 5000)
        split = refused.exception.split
        self.assertEqual((split.pays, split.withheld, split.excess), (NET, WITHHELD, 5000))
        self.assertIn("$ 78.160 se registran como retenidos por el cliente", str(refused.exception))
        self.assertNothingWritten()
        self.pay(NET + 5000, confirmed_excess=Decimal("5000.00"))
        self.assertEqual(
            self.movements(),
            [
                (LedgerKind.CREDIT, Decimal("-5000.00")),
                (LedgerKind.PAYMENT, -NET),
                (LedgerKind.WITHHOLDING, -WITHHELD),
            ],
        )
        self.assertEqual(selectors.open_total(self.bob), WITHHELD)
        audit = AuditEvent.objects.get(action="billing.manual_payment")
        self.assertEqual(
            (audit.changes["withheld"], audit.changes["withholding"], audit.changes["credited"]),
            ("78160.00", "withheld", "5000.00"),
        )
        body = deliver(OutgoingEmail.objects.get(template="order_paid")).body_text
        self.assertIn("Pago recibido: $ 1.111.840", body)
        self.assertIn("como saldo a favor de su cuenta: $ 5.000", body)
        self.assertIn("Retenido por usted (agente de retención): $ 78.160", body)

    def test_the_withholdings_fixed_at_a_staff_payment_name_the_staff_member(self):
        self.pay(None)
        fixed = AuditEvent.objects.get(action="withholdings.fixed", target=self.order.number)
        self.assertEqual(fixed.actor, self.carol)

    def test_the_form_offers_the_box_to_an_agent_and_pays_the_gross_with_it(self):
        self.login(self.carol)
        self.client.cookies["django_language"] = "en"
        url = f"/admin/billing/order/{self.order.pk}/pay/"
        page = self.client.get(url).content.decode()
        self.assertIn('name="not_withheld"', page)
        self.assertIn("The customer did not withhold on this payment", page)
        data = {"reference": "TRF-77", "paid_at": "2026-02-12T09:30", "method": "transfer"}
        # Refused on the form itself, next to the box, with what was typed kept.
        refused = self.client.post(url, {**data, "amount": "1190000"})
        self.assertEqual(refused.status_code, 200)
        [error] = refused.context["form"].errors["not_withheld"]
        self.assertIn("owes before withholdings", error)
        self.assertContains(refused, 'value="TRF-77"')
        self.assertNothingWritten()
        done = self.client.post(
            url, {**data, "amount": "1190000", "not_withheld": "on"}, follow=True
        )
        self.assertContains(done, "nothing withheld was posted and no withholding certificate")
        self.order.refresh_from_db()
        self.assertEqual(self.order.state, OrderState.PAID)
        self.assertFalse(OrderWithholding.objects.exists())
        history = self.client.get(f"/admin/billing/order/{self.order.pk}/change/")
        self.assertContains(history, "the customer did not withhold: paid at its total")
        # A customer that withholds nothing is not offered the box.
        other = billing.create_order(
            customer=self.alice,
            notify=False,
            lines=[billing.LineSpec(kind=ItemKind.OTHER, description="Hosting", unit_price=Decimal("1000000"))],
        )  # fmt: skip
        page = self.client.get(f"/admin/billing/order/{other.pk}/pay/").content.decode()
        self.assertNotIn('name="not_withheld"', page)
