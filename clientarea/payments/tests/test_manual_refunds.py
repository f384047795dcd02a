"""Money staff registered (a bank transfer, cash) is kept as a payment, so **Refund** reaches it
(always manual, with the bank reference); and staff pay out a customer's credit."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone, translation

from clientarea.accounts.models import AuditEvent, User
from clientarea.billing import selectors as billing_selectors
from clientarea.billing import services as billing_services
from clientarea.billing.models import LedgerEntry, LedgerKind
from clientarea.einvoice.models import DocumentKind
from clientarea.einvoice.services import issue_waiting_invoices
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.lib.dates import local_today
from clientarea.payments import services
from clientarea.payments.models import (
    MANUAL_GATEWAY,
    Payment,
    PaymentStatus,
    RefundLine,
    RefundState,
)
from clientarea.payments.tests.base import PaymentsTestCase
from clientarea.payments.tests.helpers import make_renewal_order
from clientarea.payments.tests.test_account import balance_is_sum_of_movements
from clientarea.reports import movements
from clientarea.reports.selectors import approval_rates
from clientarea.test import make_customer, make_provider, make_staff


@override_settings(BILLING_AUTO_APPLY_CREDIT=False)
class ManualPaymentRefundTests(PaymentsTestCase):
    def setUp(self) -> None:
        super().setUp()
        translation.activate("en")
        self.addCleanup(translation.deactivate)

    def register(self, amount: str | None = None, *, excess: str | None = None) -> Payment:
        with self.captureOnCommitCallbacks(execute=True):
            done = services.register_manual_payment(
                details=services.ManualPaymentDetails(
                    order=self.order,
                    reference="TRF-100",
                    method="transfer",
                    amount=Decimal(amount) if amount else None,
                    confirmed_excess=Decimal(excess) if excess else None,
                ),
                actor=self.carol,
            )
        return done.payment

    def bank_rows(self) -> list[movements.MovementRow]:
        today = local_today()
        return [
            row
            for row in movements.movements(date_from=today, date_to=today)
            if row.section == movements.BANK
        ]

    def test_a_transfer_is_kept_as_an_approved_manual_payment_of_its_order(self):
        payment = self.register()
        self.refresh()
        self.assertEqual(self.order.state, "paid")
        self.assertEqual(payment.gateway, MANUAL_GATEWAY)
        self.assertEqual(payment.status, PaymentStatus.APPROVED)
        self.assertEqual(payment.amount, Decimal("119000.00"))
        self.assertEqual(payment.reference, f"{self.order.number}-1")
        self.assertEqual(payment.order_id, self.order.pk)
        self.assertEqual(
            [(b.order_id, b.amount) for b in payment.basket.all()],
            [(self.order.pk, Decimal("119000.00"))],
        )
        self.assertEqual(payment.gateway_name, "Registered by staff (transfer, cash)")
        # The money is counted once: the ledger's row, not the payment row beside it.
        received = [row for row in self.bank_rows() if row.direction == movements.IN]
        self.assertEqual([row.amount for row in received], [Decimal("119000.00")])
        self.assertEqual(AuditEvent.objects.filter(action="billing.manual_payment").count(), 1)
        # No gateway's approval rate counts it.
        self.assertEqual([r.gateway for r in approval_rates()], [])

    def test_its_page_shows_the_bank_reference_and_how_it_came_in_words(self):
        """It showed "transfer" (the stored code), empty gateway ids and the details as JSON."""
        payment = self.register()
        # Our words, not the gateway's: read in the reader's language.
        self.assertEqual(payment.status_message, "")
        self.assertEqual(payment.status_note_code, "registered_by_staff")
        with translation.override("en"):
            self.assertEqual(
                payment.status_note_text, "Registered by staff: bank transfer, reference TRF-100"
            )
        with translation.override("es"):
            self.assertEqual(
                payment.status_note_text,
                "Registrado por el equipo: transferencia bancaria, referencia TRF-100",
            )
        self.client.force_login(self.carol)
        page = self.client.get(reverse("admin:payments_payment_change", args=[payment.pk]))
        html = page.content.decode()
        self.assertIn("TRF-100", html)
        self.assertIn("transferencia bancaria", html)
        self.assertIn("Registrado por el equipo: transferencia bancaria, referencia TRF-100", html)
        self.assertNotIn("&quot;bank_reference&quot;", html)  # no raw JSON
        self.assertNotIn("gateway_transaction_id", html)  # no gateway section
        # Nor the gateway's method names: "transfer" showed as the gateway's method name.
        self.assertNotIn("field-raw_method", html)
        self.assertNotIn("field-requested_method", html)
        self.assertNotIn(">transfer<", html)

    def test_part_of_a_transfer_is_refunded_with_a_credit_note_ledger_pair_and_movement(self):
        make_resolution()
        payment = self.register()
        with self.captureOnCommitCallbacks(execute=True):
            issue_waiting_invoices()
        with self.captureOnCommitCallbacks(execute=True):
            refund = services.refund_payment(
                payment=payment,
                amount=Decimal("19000"),
                method="manual",
                bank_reference="TRF-OUT-7",
                reason="Discount agreed",
                actor=self.carol,
            )
        refund.refresh_from_db()
        self.assertEqual(refund.state, RefundState.COMPLETED)
        self.assertEqual(refund.from_credit, 0)
        line = RefundLine.objects.get(refund=refund)
        self.assertEqual((line.order_id, line.amount), (self.order.pk, Decimal("19000.00")))
        if line.credit_note is None:  # DIAN had not accepted the invoice yet: the sweep issues it
            with self.captureOnCommitCallbacks(execute=True):
                services.sweep_refunds()
            line.refresh_from_db()
        assert line.credit_note is not None
        self.assertEqual(line.credit_note.kind, DocumentKind.CREDIT_NOTE)
        self.assertEqual(line.credit_note.concept, "1")  # a part: partial return
        pair = LedgerEntry.objects.filter(
            order=self.order, kind__in=(LedgerKind.CREDIT_NOTE, LedgerKind.PAYMENT_REFUNDED)
        )
        self.assertEqual(
            sorted((e.kind, e.amount) for e in pair),
            [
                (LedgerKind.CREDIT_NOTE, Decimal("-19000.00")),
                (LedgerKind.PAYMENT_REFUNDED, Decimal("19000.00")),
            ],
        )
        out = [row for row in self.bank_rows() if row.direction == movements.OUT]
        self.assertEqual(len(out), 1)
        self.assertEqual(out[0].amount, Decimal("19000.00"))
        self.assertEqual(out[0].via, "manual")
        self.assertEqual(out[0].gateway_reference, "TRF-OUT-7")
        completed = AuditEvent.objects.get(action="payment.refund_completed")
        self.assertEqual(completed.changes["bank_reference"], "TRF-OUT-7")
        self.assertEqual(completed.target, payment.reference)
        self.assertTrue(balance_is_sum_of_movements(self.alice))
        self.assertEqual(services.refundable(payment), Decimal("100000.00"))

    def test_its_page_reads_a_partial_refund_as_such(self):
        """It read "No refund" beside a completed refund of part of the payment."""
        payment = self.register()
        self.client.force_login(self.carol)
        url = reverse("admin:payments_payment_change", args=[payment.pk])
        self.assertIn("Sin reembolso", self.client.get(url).content.decode())
        with self.captureOnCommitCallbacks(execute=True):
            services.refund_payment(
                payment=payment,
                amount=Decimal("19000"),
                method="manual",
                bank_reference="TRF-OUT-9",
                reason="Discount agreed",
                actor=self.carol,
            )
        html = self.client.get(url).content.decode()
        self.assertIn("Reembolsado en parte: $ 19.000 de $ 119.000", html)
        self.assertNotIn("Sin reembolso", html)
        self.client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        html = self.client.get(url).content.decode()
        self.assertIn("Partly refunded: $ 19.000 of $ 119.000", html)

    def test_an_overpaid_transfer_refunds_its_excess_from_the_credit_first(self):
        payment = self.register("150000", excess="31000")
        self.assertEqual(payment.amount, Decimal("150000.00"))
        self.assertEqual(billing_selectors.credit_available(self.alice), Decimal("31000.00"))
        refund = services.refund_payment(
            payment=payment,
            amount=Decimal("40000"),
            method="manual",
            bank_reference="TRF-OUT-8",
            reason="Paid too much",
            actor=self.carol,
        )
        self.assertEqual(refund.from_credit, Decimal("31000.00"))
        self.assertEqual(
            [(line.order_id, line.amount) for line in refund.lines.all()],
            [(self.order.pk, Decimal("9000.00"))],
        )
        self.assertEqual(billing_selectors.credit_available(self.alice), 0)
        self.assertEqual(LedgerEntry.objects.get(kind=LedgerKind.REFUND).amount, Decimal("31000"))
        self.assertTrue(balance_is_sum_of_movements(self.alice))

    def test_a_manual_payment_is_never_refunded_through_a_gateway(self):
        payment = self.register()
        with self.assertRaisesMessage(services.RefundRefused, "registered by staff"):
            services.refund_payment(
                payment=payment, amount=Decimal("1000"), method="gateway", reason="x"
            )
        with self.assertRaisesMessage(services.RefundRefused, "reference"):
            services.refund_payment(
                payment=payment, amount=Decimal("1000"), method="manual", reason="x"
            )
        self.assertFalse(payment.refunds.exists())
        self.assertEqual(self.network.calls, [])

    def test_the_refund_form_of_a_manual_payment_offers_no_gateway_and_needs_a_reference(self):
        payment = self.register()
        self.client.force_login(self.carol)
        url = reverse("admin:payments_payment_refund", args=[payment.pk])
        page = self.client.get(url).content.decode()
        self.assertIn('value="manual"', page)
        self.assertNotIn('value="gateway"', page)
        data = {
            "amount": "19000",
            "method": "manual",
            "bank_reference": "",
            "reason": "Discount",
            "services_action": "keep",
        }
        response = self.client.post(url, data)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'id="id_bank_reference_error"')
        response = self.client.post(url, {**data, "method": "gateway", "bank_reference": "T-1"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'id="id_method_error"')
        self.assertFalse(payment.refunds.exists())
        # The payment's page has Refund and no "Query the gateway again".
        change = self.client.get(reverse("admin:payments_payment_change", args=[payment.pk]))
        self.assertContains(change, 'id="payment-refund"')
        self.assertNotContains(change, 'id="payment-query"')
        response = self.client.post(url, {**data, "bank_reference": "TRF-OUT-9"})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(payment.refunds.get().state, RefundState.COMPLETED)

    def test_sweeps_and_queries_never_ask_a_gateway_about_a_manual_payment(self):
        payment = self.register()
        # Even with a due check (which only a gateway's approved payment gets), nothing is asked.
        Payment.objects.filter(pk=payment.pk).update(next_check_at=timezone.now())
        summary = services.reconcile_payments(older_than_minutes=0)
        self.assertEqual(summary.checked, 0)
        self.assertEqual(services.check_payment(payment), [])
        with self.assertRaisesMessage(services.PaymentStateError, "no gateway to ask"):
            services.query_payment_again(payment, actor=self.carol)
        services.refund_payment(
            payment=payment,
            amount=Decimal("1000"),
            method="manual",
            bank_reference="T-2",
            reason="x",
        )
        services.sweep_refunds()
        self.assertEqual(self.network.calls, [])
        self.assertEqual(self.scheduled_checks.call_count, 0)

    def test_the_order_page_registers_the_payment_and_links_to_it(self):
        self.client.force_login(self.carol)
        url = reverse("admin:billing_order_pay", args=[self.order.pk])
        response = self.client.post(
            url,
            {
                "reference": "TRF-55",
                "method": "transfer",
                "paid_at": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
                "amount": "",
                "confirmed_excess": "",
            },
        )
        self.assertEqual(response.status_code, 302, response.content.decode()[-2000:])
        payment = Payment.objects.get(gateway=MANUAL_GATEWAY)
        self.assertEqual(payment.instructions["bank_reference"], "TRF-55")
        page = self.client.get(reverse("admin:billing_order_change", args=[self.order.pk]))
        self.assertContains(
            page, reverse("admin:payments_payment_change", args=[payment.pk]), count=1
        )
        customer = self.client.get(reverse("backoffice:customer", args=[self.alice.pk]))
        self.assertContains(customer, reverse("admin:payments_payment_change", args=[payment.pk]))


@override_settings(BILLING_AUTO_APPLY_CREDIT=False)
class PayOutCreditTests(PaymentsTestCase):
    def setUp(self) -> None:
        super().setUp()
        translation.activate("en")
        self.addCleanup(translation.deactivate)
        services.register_manual_payment(
            details=services.ManualPaymentDetails(
                order=self.order,
                reference="TRF-200",
                amount=Decimal("150000"),
                confirmed_excess=Decimal("31000"),
            ),
            actor=self.carol,
        )
        self.assertEqual(billing_selectors.credit_available(self.alice), Decimal("31000.00"))

    def test_more_than_the_credit_is_refused_and_nothing_is_written(self):
        entries = LedgerEntry.objects.count()
        audits = AuditEvent.objects.count()
        with self.assertRaisesMessage(billing_services.CreditPayoutRefused, "31.000"):
            billing_services.pay_out_credit(
                customer=self.alice,
                amount=Decimal("31000.01"),
                bank_reference="TRF-OUT-1",
                reason="asked by email",
                actor=self.carol,
            )
        for amount, reference, reason in (
            (Decimal("1000"), "", "asked"),
            (Decimal("1000"), "TRF-OUT-1", " "),
            (Decimal("-5"), "TRF-OUT-1", "asked"),
            (Decimal("0.001"), "TRF-OUT-1", "asked"),
        ):
            with self.assertRaises(billing_services.CreditPayoutRefused):
                billing_services.pay_out_credit(
                    customer=self.alice,
                    amount=amount,
                    bank_reference=reference,
                    reason=reason,
                    actor=self.carol,
                )
        self.assertEqual(LedgerEntry.objects.count(), entries)
        self.assertEqual(AuditEvent.objects.count(), audits)
        self.assertEqual(billing_selectors.credit_available(self.alice), Decimal("31000.00"))

    def test_credit_paid_out_is_money_out_that_day_and_audited(self):
        billing_services.pay_out_credit(
            customer=self.alice,
            amount=Decimal("20000"),
            bank_reference="TRF-OUT-2",
            reason="asked by email",
            actor=self.carol,
        )
        self.assertEqual(billing_selectors.credit_available(self.alice), Decimal("11000.00"))
        entry = LedgerEntry.objects.get(kind=LedgerKind.REFUND)
        self.assertEqual((entry.amount, entry.via), (Decimal("20000.00"), "manual"))
        today = local_today()
        out = [
            row
            for row in movements.movements(date_from=today, date_to=today)
            if row.section == movements.BANK and row.direction == movements.OUT
        ]
        self.assertEqual(len(out), 1)
        self.assertEqual((out[0].amount, out[0].via), (Decimal("20000.00"), "manual"))
        self.assertEqual(out[0].gateway_reference, "TRF-OUT-2")
        self.assertIn("carol@conexcol.example", out[0].state)
        totals = movements.summary(date_from=today, date_to=today)
        self.assertEqual(totals.returned, Decimal("20000.00"))
        audit = AuditEvent.objects.get(action="billing.credit_paid_out")
        self.assertEqual(
            (audit.changes["amount"], audit.changes["credit_after"]), ("20000", "11000.00")
        )
        self.assertTrue(balance_is_sum_of_movements(self.alice))

    def test_the_customer_page_pays_out_credit(self):
        self.client.force_login(self.carol)
        page = self.client.get(reverse("backoffice:customer", args=[self.alice.pk]))
        url = reverse("backoffice:credit_payout", args=[self.alice.pk])
        self.assertContains(page, url)
        data = {"amount": "40.000", "bank_reference": "TRF-OUT-3", "reason": "asked"}
        response = self.client.post(url, data)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'class="errornote"')
        self.assertFalse(LedgerEntry.objects.filter(kind=LedgerKind.REFUND).exists())
        response = self.client.post(url, {**data, "amount": "31.000"})
        self.assertRedirects(
            response,
            reverse("backoffice:customer", args=[self.alice.pk]) + "#balance",
            fetch_redirect_response=False,
        )
        self.assertEqual(billing_selectors.credit_available(self.alice), 0)

    def test_paying_out_credit_needs_the_add_refund_permission(self):
        clerk = User.objects.create_user(
            email="support@conexcol.example", password="x-long-password", is_staff=True
        )
        clerk.user_permissions.add(Permission.objects.get(codename="view_customer"))
        self.client.force_login(clerk)
        url = reverse("backoffice:credit_payout", args=[self.alice.pk])
        page = self.client.get(reverse("backoffice:customer", args=[self.alice.pk]))
        self.assertNotContains(page, url)
        response = self.client.post(url, {"amount": "1000", "bank_reference": "T", "reason": "r"})
        self.assertEqual(response.status_code, 403)
        self.assertFalse(LedgerEntry.objects.filter(kind=LedgerKind.REFUND).exists())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_payouts_never_take_more_than_the_credit(settings):
    """Six staff pay out 20.000 each of 50.000 of credit at the same moment: two succeed."""
    settings.BILLING_AUTO_APPLY_CREDIT = False
    make_provider()
    customer = make_customer("payout-race@example.com")
    staff = make_staff()
    order, _service = make_renewal_order(customer)
    services.register_manual_payment(
        details=services.ManualPaymentDetails(
            order=order,
            reference="TRF-RACE",
            amount=Decimal("169000"),
            confirmed_excess=Decimal("50000"),
        ),
        actor=staff,
    )
    threads_count = 6
    barrier = threading.Barrier(threads_count)
    results: list[str] = [""] * threads_count

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            billing_services.pay_out_credit(
                customer=customer,
                amount=Decimal("20000"),
                bank_reference=f"T-{index}",
                reason="race",
                actor=staff,
            )
            results[index] = "ok"
        except billing_services.CreditPayoutRefused:
            results[index] = "refused"
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == ["ok", "ok"] + ["refused"] * (threads_count - 2)
    assert billing_selectors.credit_available(customer) == Decimal("10000.00")
    assert LedgerEntry.objects.filter(kind=LedgerKind.REFUND).count() == 2
