"""Refunds of money that was never invoiced (a duplicate payment kept as credit), Payvalida's
manual refunds and its ANULADA, and a credit note issued later because DIAN had not accepted
the invoice when the money went back."""

from __future__ import annotations

from decimal import Decimal

from django.test import override_settings
from django.utils import translation

from clientarea.accounts.models import AuditEvent
from clientarea.billing import ledger
from clientarea.billing import selectors as billing_selectors
from clientarea.billing.models import LedgerEntry, LedgerKind
from clientarea.einvoice.models import DocumentKind, Invoice
from clientarea.einvoice.services import issue_waiting_invoices
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.lib.dates import local_today
from clientarea.notifications.models import OutgoingEmail
from clientarea.payments import services
from clientarea.payments.models import (
    Outcome,
    Payment,
    PaymentMessage,
    RefundLine,
    RefundState,
)
from clientarea.payments.tests.base import PaymentsTestCase
from clientarea.payments.tests.helpers import (
    make_renewal_order,
    payu_confirmation,
    payvalida_notification,
    post_payu,
    post_payvalida,
)
from clientarea.payments.tests.test_account import balance_is_sum_of_movements
from clientarea.reports import movements


@override_settings(BILLING_AUTO_APPLY_CREDIT=False)
class CreditRefundTests(PaymentsTestCase):
    def setUp(self) -> None:
        super().setUp()
        translation.activate("en")
        self.addCleanup(translation.deactivate)

    def duplicate(self):
        """Two tabs, both charged: the second approval is kept as the customer's credit."""
        first, _ = self.start()
        second, _ = self.start()
        post_payu(self.client, payu_confirmation(second.reference, "119000.00"))
        post_payu(self.client, payu_confirmation(first.reference, "119000.00"))
        first.refresh_from_db()
        self.assertTrue(first.duplicate)
        self.assertEqual(billing_selectors.credit_available(self.alice), Decimal("119000.00"))
        return first

    def test_a_duplicate_payment_is_refunded_from_the_credit_without_a_credit_note(self):
        duplicate = self.duplicate()
        notes = Invoice.objects.filter(kind=DocumentKind.CREDIT_NOTE).count()
        refund = services.refund_payment(
            payment=duplicate,
            amount=Decimal("119000"),
            method="manual",
            bank_reference="Davivienda 5566",
            reason="Paid twice",
            actor=self.carol,
        )
        refund.refresh_from_db()
        self.assertEqual(refund.state, RefundState.COMPLETED)
        self.assertEqual(refund.from_credit, Decimal("119000.00"))
        self.assertFalse(RefundLine.objects.filter(refund=refund).exists())
        self.assertEqual(Invoice.objects.filter(kind=DocumentKind.CREDIT_NOTE).count(), notes)
        self.assertEqual(billing_selectors.credit_available(self.alice), 0)
        entry = LedgerEntry.objects.get(kind=LedgerKind.REFUND)
        self.assertEqual(entry.amount, Decimal("119000.00"))
        self.assertIsNone(entry.order_id)
        self.assertTrue(balance_is_sum_of_movements(self.alice))
        duplicate.refresh_from_db()
        self.assertEqual(duplicate.refund_status, "refunded")
        self.assertFalse(duplicate.needs_review)
        email = OutgoingEmail.objects.get(template="refund_issued")
        self.assertIn("saldo a favor", email.body_text)  # alice reads Spanish
        self.assertIn("Davivienda 5566", email.body_text)

    def test_credit_already_refunded_instead_is_not_taken_twice(self):
        duplicate = self.duplicate()
        services.refund_instead_of_credit(duplicate, "asked by phone", self.carol)
        self.assertEqual(billing_selectors.credit_available(self.alice), 0)
        services.refund_payment(
            payment=duplicate,
            amount=Decimal("119000"),
            method="manual",
            bank_reference="T-77",
            reason="asked by phone",
        )
        self.assertEqual(LedgerEntry.objects.filter(kind=LedgerKind.REFUND).count(), 1)
        self.assertEqual(billing_selectors.credit_available(self.alice), 0)
        self.assertTrue(balance_is_sum_of_movements(self.alice))
        duplicate.refresh_from_db()
        self.assertEqual(duplicate.refund_status, "refunded")

    def test_credit_the_customer_already_spent_cannot_be_refunded(self):
        duplicate = self.duplicate()
        following, _service = make_renewal_order(self.alice)
        with self.settings(BILLING_AUTO_APPLY_CREDIT=True):
            ledger.apply_credit(customer_id=self.alice.pk)
        following.refresh_from_db()
        self.assertEqual(following.state, "paid")
        with (
            translation.override("en"),
            self.assertRaisesMessage(services.RefundRefused, "already used on orders"),
        ):
            services.refund_payment(
                payment=duplicate,
                amount=Decimal("119000"),
                method="manual",
                bank_reference="T-1",
                reason="x",
            )
        self.assertFalse(duplicate.refunds.exists())
        self.assertTrue(balance_is_sum_of_movements(self.alice))

    def test_the_refund_form_offers_what_can_be_refunded_when_the_credit_was_partly_spent(self):
        """The credit of a duplicate paid another order at once: the form offered the whole
        payment, and the refusal said "The customer has 83300.00 of credit"."""
        from django.urls import reverse

        from clientarea.billing.tests import make_order

        duplicate = self.duplicate()
        other = make_order(self.alice, price="30000")  # 35.700 with IVA
        with self.settings(BILLING_AUTO_APPLY_CREDIT=True):
            ledger.apply_credit(customer_id=self.alice.pk)
        other.refresh_from_db()
        self.assertEqual(other.state, "paid")
        self.assertEqual(services.refundable(duplicate), Decimal("119000.00"))
        self.assertEqual(services.refundable_now(duplicate), Decimal("83300.00"))
        self.client.force_login(self.carol)
        self.client.cookies["django_language"] = "en"
        url = reverse("admin:payments_payment_refund", args=[duplicate.pk])
        page = self.client.get(url).content.decode()
        self.assertIn('name="amount" value="83.300"', page)  # as staff write it
        self.assertIn("at most $ 83.300", page)
        refused = self.client.post(
            url,
            {"amount": "119000", "method": "manual", "bank_reference": "T-9", "reason": "x",
             "services_action": "keep"},
        ).content.decode()  # fmt: skip
        self.assertIn("The customer has $ 83.300 of credit", refused)
        self.assertFalse(duplicate.refunds.exists())
        services.refund_payment(
            payment=duplicate,
            amount=Decimal("83300"),
            method="manual",
            bank_reference="T-9",
            reason="Paid twice",
        )
        self.assertEqual(billing_selectors.credit_available(self.alice), 0)
        self.assertEqual(services.refundable_now(duplicate), 0)
        self.assertTrue(balance_is_sum_of_movements(self.alice))

    def test_a_partial_refund_of_a_duplicate_keeps_the_rest_as_credit_and_clears_the_flag(self):
        """Staff refund part of a duplicate: the rest, already credit, stays credit; the flag no
        longer says the whole payment waits for a decision, and the money adds up."""
        duplicate = self.duplicate()
        self.assertTrue(duplicate.needs_review)
        services.refund_payment(
            payment=duplicate,
            amount=Decimal("40000"),
            method="manual",
            bank_reference="Davivienda 81",
            reason="Customer asked for part",
            actor=self.carol,
        )
        duplicate.refresh_from_db()
        self.assertFalse(duplicate.needs_review)
        self.assertEqual(duplicate.refund_status, "none")
        with translation.override("en"):
            self.assertEqual(
                duplicate.review_text,
                "$ 40.000 refunded; the rest, $ 79.000, kept as the customer's credit",
            )
        with translation.override("es"):
            self.assertIn("reembolsados", duplicate.review_text)
        decided = AuditEvent.objects.get(action="payment.refund_decided")
        self.assertEqual(decided.changes["amount"], "79000.00")
        self.assertEqual(billing_selectors.credit_available(self.alice), Decimal("79000.00"))
        self.assertTrue(balance_is_sum_of_movements(self.alice))
        # Refunding the rest instead takes only the rest out of the credit (it took the whole
        # payment, which the credit could not cover or, with other credit, took it).
        ledger.record_payment(
            customer_id=self.alice.pk, amount=Decimal("5000"), reference="TRX-OTHER", via="manual"
        )
        services.refund_instead_of_credit(duplicate, "asked by phone", self.carol)
        self.assertEqual(billing_selectors.credit_available(self.alice), Decimal("5000.00"))
        refunds = LedgerEntry.objects.filter(kind=LedgerKind.REFUND)
        self.assertEqual(sum(e.amount for e in refunds), Decimal("119000.00"))
        services.mark_refunded(duplicate, "transfer T-90", self.carol)
        self.assertTrue(balance_is_sum_of_movements(self.alice))
        today = local_today()
        bank = [
            row
            for row in movements.movements(date_from=today, date_to=today)
            if row.section == movements.BANK
        ]
        received = sum(row.amount for row in bank if row.direction == movements.IN)
        returned = sum(row.amount for row in bank if row.direction == movements.OUT)
        self.assertEqual((received, returned), (Decimal("243000.00"), Decimal("119000.00")))

    def test_while_a_refund_of_part_is_on_its_way_the_flag_shows_what_is_left_to_decide(self):
        from django.contrib.admin.sites import site

        duplicate = self.duplicate()
        services.refund_payment(
            payment=duplicate, amount=Decimal("40000"), method="gateway", reason="Part"
        )  # requested: the worker sends it after commit
        duplicate.refresh_from_db()
        self.assertTrue(duplicate.needs_review)
        with translation.override("en"):
            text = site._registry[Payment].review_text(duplicate)  # type: ignore[attr-defined]
        self.assertIn("$ 40.000 refunded or being refunded, $ 79.000 still to decide", text)
        services.keep_as_credit(duplicate, self.carol)
        decided = AuditEvent.objects.get(action="payment.refund_decided")
        self.assertEqual(decided.changes["amount"], "79000.00")


class PayvalidaRefundTests(PaymentsTestCase):
    def setUp(self) -> None:
        super().setUp()
        translation.activate("en")
        self.addCleanup(translation.deactivate)

    def approved(self):
        payment, _ = self.start("payvalida")
        post_payvalida(self.client, payvalida_notification(payment.reference, amount="119000"))
        payment.refresh_from_db()
        self.assertEqual(payment.status, "approved")
        return payment

    def test_payvalida_has_no_refund_api_so_staff_record_a_manual_refund(self):
        payment = self.approved()
        with (
            translation.override("en"),
            self.assertRaisesMessage(services.RefundRefused, "Payvalida has no refund API"),
        ):
            services.refund_payment(
                payment=payment, amount=Decimal("119000"), method="gateway", reason="x"
            )
        refund = services.refund_payment(
            payment=payment,
            amount=Decimal("119000"),
            method="manual",
            bank_reference="Bancolombia 123",
            reason="Service never delivered",
            services_action="terminate",
            actor=self.carol,
        )
        self.assertEqual(refund.state, RefundState.COMPLETED)
        self.service.refresh_from_db()
        self.assertEqual(self.service.status, "terminated")
        # Payvalida's consult then says ANULADA: the refund recorded here, nothing to flag.
        self.network.payvalida_orders[payment.gateway_reference]["STATE"] = "ANULADA"
        outcomes = services.check_payment(payment, close_expired=False)
        self.assertIn("already recorded as a manual refund", outcomes[0])
        payment.refresh_from_db()
        self.refresh()
        self.assertFalse(payment.needs_review)
        self.assertEqual((payment.status, self.order.state), ("approved", "paid"))

    def test_a_customers_claim_notified_as_cancelled_is_flagged_never_expires_the_payment(self):
        payment = self.approved()
        with self.captureOnCommitCallbacks(execute=True):
            post_payvalida(
                self.client,
                payvalida_notification(payment.reference, status="cancelled", amount="119000"),
            )
        self.network.payvalida_orders[payment.gateway_reference]["STATE"] = "ANULADA"
        services.check_payment(payment, close_expired=False)
        payment.refresh_from_db()
        self.refresh()
        self.assertEqual((payment.status, self.order.state), ("approved", "paid"))
        self.assertTrue(payment.needs_review)
        self.assertIn("not requested here", payment.review_reason)
        message = PaymentMessage.objects.filter(transaction_id="anulada-95601").get()
        self.assertEqual(message.result, Outcome.REVIEW)


class LaterCreditNoteTests(PaymentsTestCase):
    """No numbering resolution when the order was paid: the invoice waits, so does the note."""

    def test_the_credit_note_follows_once_dian_accepts_the_invoice(self):
        payment, _ = self.start()
        post_payu(self.client, payu_confirmation(payment.reference, "119000.00"))
        payment.refresh_from_db()
        refund = services.refund_payment(
            payment=payment,
            amount=Decimal("19000"),
            method="manual",
            bank_reference="T-5",
            reason="Discount agreed",
        )
        line = RefundLine.objects.get(refund=refund)
        self.assertEqual(refund.state, RefundState.COMPLETED)
        self.assertIsNone(line.credit_note)
        self.assertTrue(line.note_error)
        kinds = set(LedgerEntry.objects.filter(order=self.order).values_list("kind", flat=True))
        self.assertTrue({"credit_note", "payment_refunded"} <= kinds)
        self.assertIn(
            "DIAN", OutgoingEmail.objects.get(template="refund_issued").body_text
        )  # "the credit note will follow"
        make_resolution()
        with self.captureOnCommitCallbacks(execute=True):
            issue_waiting_invoices()
        with self.captureOnCommitCallbacks(execute=True):
            summary = services.sweep_refunds()
        self.assertEqual(summary["notes"], 1)
        line.refresh_from_db()
        self.assertIsNotNone(line.credit_note)
        assert line.credit_note is not None
        self.assertEqual(line.credit_note.concept, "1")
        self.assertEqual(line.note_error, "")
        self.assertTrue(balance_is_sum_of_movements(self.alice))
