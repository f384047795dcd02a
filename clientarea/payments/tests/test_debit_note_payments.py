"""Debit notes paid online: alone or in one basket with orders, through both gateways' messages.
On approval, in the one paid transaction, the ledger records the payment, the note's order becomes
paid and no invoice is issued for it; the orders in the basket are paid and invoiced as always."""

from __future__ import annotations

from decimal import Decimal
from unittest import mock

from clientarea.billing import debit_notes
from clientarea.billing import selectors as billing_selectors
from clientarea.billing import services as billing_services
from clientarea.billing.models import LedgerEntry, LedgerKind, Order
from clientarea.billing.tests.test_debit_notes import accepted_invoice
from clientarea.einvoice.models import Invoice
from clientarea.payments import services
from clientarea.payments.models import Outcome, PaymentMessage
from clientarea.payments.tests.base import PaymentsTestCase
from clientarea.payments.tests.helpers import (
    payu_confirmation,
    payvalida_notification,
    post_payu,
    post_payvalida,
    renewals,
)


class DebitNotePaymentTests(PaymentsTestCase):
    """alice's renewal order ($ 119.000) is pending; a debit note of $ 11.900 on another of her
    (paid, accepted) invoices is owed too."""

    def setUp(self) -> None:
        super().setUp()
        invoice = accepted_invoice(self.captureOnCommitCallbacks, self.alice)
        with self.captureOnCommitCallbacks(execute=True):
            self.note, self.debit = debit_notes.issue_debit_note(
                invoice=invoice, concept="3", reason="Ajuste de precio", amount=Decimal("10000")
            )
        self.assertEqual(self.debit.total, Decimal("11900.00"))
        self.invoices = Invoice.objects.count()

    def test_payu_pays_the_debit_note_alone_without_an_invoice(self):
        payment, action = services.start_payment(
            order=self.debit, customer=self.alice, gateway_code="payu", language="es"
        )
        self.assertEqual(payment.amount, Decimal("11900.00"))
        self.assertIn(self.debit.number, action.fields["description"])
        response = post_payu(self.client, payu_confirmation(payment.reference, "11900.00"))
        self.assertEqual(response.status_code, 200)
        self.debit.refresh_from_db()
        self.assertEqual((self.debit.state, self.debit.paid_via), ("paid", "payu"))
        self.assertEqual(Invoice.objects.count(), self.invoices)  # none for the note
        self.assertEqual(PaymentMessage.objects.get().result, Outcome.APPLIED)
        payments = LedgerEntry.objects.filter(order=self.debit, kind=LedgerKind.PAYMENT)
        self.assertEqual([e.amount for e in payments], [Decimal("-11900.00")])
        self.assertEqual(billing_selectors.account_summary(self.alice).due, Decimal("119000.00"))

    def test_payvalida_pays_the_debit_note(self):
        payment, _action = services.start_payment(
            order=self.debit, customer=self.alice, gateway_code="payvalida", method="cash"
        )
        response = post_payvalida(
            self.client, payvalida_notification(payment.reference, amount="11900")
        )
        self.assertTrue(response.content.decode().startswith("OK"))
        self.debit.refresh_from_db()
        self.assertEqual((self.debit.state, self.debit.paid_via), ("paid", "payvalida"))
        self.assertEqual(Invoice.objects.count(), self.invoices)

    def test_one_basket_pays_the_note_and_the_order_and_invoices_only_the_order(self):
        payment, _action = services.start_orders_payment(
            orders=[self.order, self.debit], customer=self.alice, gateway_code="payu"
        )
        self.assertEqual(payment.amount, Decimal("130900.00"))
        post_payu(self.client, payu_confirmation(payment.reference, "130900.00"))
        self.order.refresh_from_db()
        self.debit.refresh_from_db()
        self.assertEqual((self.order.state, self.debit.state), ("paid", "paid"))
        self.assertEqual(Invoice.objects.count(), self.invoices + 1)
        self.assertTrue(Invoice.objects.filter(order=self.order).exists())
        self.assertFalse(Invoice.objects.filter(order=self.debit).exists())
        self.assertEqual(renewals(self.service), 1)
        self.assertEqual(billing_selectors.account_summary(self.alice).due, 0)
        self.assertEqual(billing_selectors.credit_available(self.alice), 0)

    def test_a_failure_on_the_note_pays_nothing_in_the_basket(self):
        payment, _action = services.start_orders_payment(
            orders=[self.order, self.debit], customer=self.alice, gateway_code="payu"
        )
        real = billing_services.mark_order_paid

        def note_fails(**kwargs):
            if kwargs["order_id"] == self.debit.pk:
                raise RuntimeError("the database went away")
            return real(**kwargs)

        with (
            self.settings(DEBUG=False),
            mock.patch.object(billing_services, "mark_order_paid", note_fails),
        ):
            post_payu(self.client, payu_confirmation(payment.reference, "130900.00"))
        for order in (self.order, self.debit):
            order.refresh_from_db()
            self.assertEqual(order.state, "pending")
        self.assertFalse(
            LedgerEntry.objects.filter(
                kind=LedgerKind.PAYMENT, order__in=[self.order, self.debit]
            ).exists()
        )
        self.assertEqual(Invoice.objects.count(), self.invoices)
        # The message waits in the inbox and applies once the cause is gone.
        services.apply_message(message_id=PaymentMessage.objects.get().pk)
        self.assertEqual(
            set(
                Order.objects.filter(pk__in=[self.order.pk, self.debit.pk]).values_list(
                    "state", flat=True
                )
            ),
            {"paid"},
        )

    def test_pay_all_due_includes_the_debit_note(self):
        self.login(self.alice)
        response = self.client.get("/payments/pay-orders/?all=1")
        self.assertEqual(response.status_code, 200)
        html = response.content.decode()
        self.assertIn(self.debit.number, html)
        self.assertIn(self.order.number, html)
