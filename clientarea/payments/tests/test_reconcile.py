"""Reconciliation: missed confirmations applied through the same code path, expiry, backoff, the command."""

from __future__ import annotations

import datetime as dt
import io
import json

from django.core.management import call_command
from django.utils import timezone, translation

from clientarea.payments import services
from clientarea.payments.gateways.base import GatewayUnavailable
from clientarea.payments.models import MessageKind, Payment, PaymentMessage, PaymentStatus
from clientarea.payments.tests.base import PaymentsTestCase, payu_transaction
from clientarea.payments.tests.helpers import payu_confirmation, post_payu, renewals


class ReconcileTests(PaymentsTestCase):
    def age(self, payment: Payment, minutes: int) -> None:
        Payment.objects.filter(pk=payment.pk).update(
            created_at=timezone.now() - dt.timedelta(minutes=minutes)
        )

    def test_a_missed_approval_is_applied_once_through_the_same_path(self):
        payment, _ = self.start()
        self.age(payment, 8)
        self.network.payu_transactions[payment.reference] = [
            payu_transaction("tx-declined", state="DECLINED"),
            payu_transaction("tx-ok", state="APPROVED"),
        ]
        summary = services.reconcile_payments()
        self.assertEqual((summary.checked, summary.paid, summary.changed), (1, 1, 1))
        self.refresh()
        payment.refresh_from_db()
        self.assertEqual(self.order.state, "paid")
        self.assertEqual(self.order.payment_reference, "payu:tx-ok")
        self.assertEqual(payment.status, PaymentStatus.APPROVED)
        self.assertEqual(renewals(self.service), 1)
        queries = PaymentMessage.objects.filter(
            kind=MessageKind.QUERY, dedupe_key__isnull=False
        ).order_by("id")
        self.assertEqual(
            [m.dedupe_key for m in queries], ["query:payu:tx-declined:6", "query:payu:tx-ok:4"]
        )
        self.assertEqual([m.outcome for m in queries], ["recorded: declined", "applied"])
        # ...and PayU's answer itself, raw, with what it caused
        answer = PaymentMessage.objects.get(kind=MessageKind.QUERY, dedupe_key__isnull=True)
        self.assertEqual(answer.outcome, "answer: recorded: declined; applied")
        self.assertEqual(answer.payment_id, payment.pk)
        self.assertEqual(
            json.loads(answer.body)["result"]["payload"][0]["transactions"][1]["id"], "tx-ok"
        )
        # The confirmation arrives late: acknowledged, nothing applied twice.
        response = post_payu(
            self.client, payu_confirmation(payment.reference, "119000.00", transaction_id="tx-ok")
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(PaymentMessage.objects.latest("id").outcome, "already applied")
        self.assertEqual(renewals(self.service), 1)

    def test_young_payments_wait_for_the_guideline(self):
        payment, _ = self.start()
        self.age(payment, 3)
        self.network.payu_transactions[payment.reference] = [payu_transaction("tx-ok")]
        self.assertEqual(services.reconcile_payments().checked, 0)
        self.assertEqual(services.reconcile_payments(older_than_minutes=0).paid, 1)

    def test_a_pending_payment_is_queried_again_only_after_its_backoff(self):
        payment, _ = self.start(method="pse")
        self.age(payment, 8)
        self.network.payu_transactions[payment.reference] = [
            payu_transaction("tx-pse", state="PENDING", method="PSE")
        ]
        first = services.reconcile_payments()
        payment.refresh_from_db()
        self.assertEqual(first.changed, 1)
        self.assertEqual(payment.status, PaymentStatus.PENDING)
        self.assertEqual(payment.method, "pse")
        self.assertGreater(payment.next_check_at, timezone.now() + dt.timedelta(minutes=9))
        calls = len(self.network.calls)
        self.assertEqual(services.reconcile_payments().checked, 0)
        self.assertEqual(len(self.network.calls), calls)
        # An unchanged answer later applies nothing new.
        later = services.reconcile_payments(now=timezone.now() + dt.timedelta(minutes=11))
        self.assertEqual((later.checked, later.unchanged), (1, 1))
        # One statement (applied once); every answer is in the log
        self.assertEqual(
            PaymentMessage.objects.filter(kind=MessageKind.QUERY, dedupe_key__isnull=False).count(),
            1,
        )
        self.assertEqual(
            PaymentMessage.objects.filter(kind=MessageKind.QUERY, dedupe_key__isnull=True).count(),
            2,
        )

    def test_an_expired_payvalida_voucher_is_closed_and_deleted_at_the_gateway(self):
        payment, _ = self.start("payvalida", method="cash")
        Payment.objects.filter(pk=payment.pk).update(
            expires_at=timezone.now() - dt.timedelta(minutes=1)
        )
        self.age(payment, 60 * 24 * 8)
        summary = services.reconcile_payments()
        payment.refresh_from_db()
        self.assertEqual((summary.expired, summary.cancelled_at_gateway), (1, 1))
        self.assertEqual(payment.status, PaymentStatus.EXPIRED)
        self.assertEqual(self.network.deleted, [payment.gateway_reference])
        self.refresh()
        self.assertEqual(self.order.state, "pending")

    def test_a_voucher_paid_at_the_last_minute_is_paid_not_closed(self):
        payment, _ = self.start("payvalida", method="cash")
        Payment.objects.filter(pk=payment.pk).update(
            expires_at=timezone.now() - dt.timedelta(minutes=1)
        )
        self.age(payment, 60 * 24 * 8)
        self.network.payvalida_orders[payment.gateway_reference].update(
            STATE="APROBADA", PAYMNENT_METHOD="EFECTY"
        )
        summary = services.reconcile_payments()
        payment.refresh_from_db()
        self.refresh()
        self.assertEqual((summary.paid, summary.expired), (1, 0))
        self.assertEqual(payment.status, PaymentStatus.APPROVED)
        self.assertEqual(self.order.state, "paid")
        self.assertEqual(self.network.deleted, [])

    def test_an_abandoned_payu_attempt_is_closed_after_a_day(self):
        payment, _ = self.start()
        self.age(payment, 60 * 25)
        summary = services.reconcile_payments()
        payment.refresh_from_db()
        self.assertEqual(summary.expired, 1)
        self.assertEqual(payment.status, PaymentStatus.EXPIRED)

    def test_a_replaced_attempt_gets_one_last_query(self):
        first, _ = self.start()
        self.start()
        self.age(first, 10)
        self.network.payu_transactions[first.reference] = [payu_transaction("tx-late")]
        summary = services.reconcile_payments()
        first.refresh_from_db()
        self.refresh()
        self.assertEqual(first.status, PaymentStatus.APPROVED)
        self.assertEqual(self.order.state, "paid")
        self.assertEqual(summary.paid, 1)

    def test_a_registered_payvalida_order_nobody_started_is_not_a_payment_in_process(self):
        """Payvalida says PENDIENTE for every unpaid order; without a method it means "not started"."""
        from clientarea.payments import selectors

        payment, _ = self.start("payvalida")  # "choose on Payvalida's page": no method registered
        self.age(payment, 40)
        services.reconcile_payments()
        payment.refresh_from_db()
        self.assertEqual(payment.status, PaymentStatus.CREATED)
        self.assertIsNone(selectors.payment_in_process(self.order))
        # A day later it is still not deleted: the customer may hold a voucher printed on Payvalida's page
        self.age(payment, 60 * 25)
        services.reconcile_payments(now=timezone.now() + dt.timedelta(hours=1))
        payment.refresh_from_db()
        self.assertEqual(payment.status, PaymentStatus.CREATED)
        self.assertEqual(self.network.deleted, [])
        # At its expiry it is closed and deleted at Payvalida
        summary = services.reconcile_payments(now=payment.expires_at + dt.timedelta(hours=2))
        payment.refresh_from_db()
        self.assertEqual((summary.expired, summary.cancelled_at_gateway), (1, 1))
        self.assertEqual(payment.status, PaymentStatus.EXPIRED)
        self.assertEqual(self.network.deleted, [payment.gateway_reference])

    def test_a_cash_voucher_registered_at_payvalida_is_in_process(self):
        payment, _ = self.start("payvalida", method="cash")
        self.age(payment, 40)
        services.reconcile_payments()
        payment.refresh_from_db()
        self.assertEqual(payment.status, PaymentStatus.PENDING)
        self.assertEqual(payment.method, "cash")

    def test_a_replaced_payvalida_attempt_is_withdrawn_after_its_last_query(self):
        first, _ = self.start("payvalida", method="cash")
        self.start("payvalida", method="cash")
        self.age(first, 10)
        services.reconcile_payments()
        first.refresh_from_db()
        self.assertEqual(first.status, PaymentStatus.EXPIRED)
        self.assertIsNone(first.next_check_at)
        self.assertEqual(self.network.deleted, [first.gateway_reference])
        self.assertEqual(
            self.network.payvalida_orders[first.gateway_reference]["STATE"], "CANCELADA"
        )

    def test_when_the_order_is_paid_elsewhere_its_open_voucher_is_closed_and_withdrawn(self):
        voucher, _ = self.start("payvalida", method="cash")
        self.age(voucher, 40)
        services.reconcile_payments()  # the voucher is pending at Payvalida
        card = Payment.objects.create(
            reference=f"{self.order.number}-7",
            gateway_reference=f"{self.order.number}-7",
            attempt=7,
            order=self.order,
            customer=self.alice,
            gateway="payu",
            amount=self.order.total,
            currency="COP",
            tax=self.order.tax_total,
            tax_base=voucher.tax_base,
        )
        post_payu(
            self.client, payu_confirmation(card.reference, "119000.00", transaction_id="tx-card")
        )
        self.refresh()
        self.assertEqual(self.order.state, "paid")
        voucher.refresh_from_db()
        self.assertLessEqual(voucher.next_check_at, timezone.now())
        summary = services.reconcile_payments(now=timezone.now() + dt.timedelta(seconds=1))
        voucher.refresh_from_db()
        self.assertEqual(voucher.status, PaymentStatus.EXPIRED)
        self.assertEqual(voucher.status_note_code, "closed_orders_paid")
        with translation.override("en"):
            self.assertEqual(
                voucher.status_note_text,
                "its order was paid another way: closed by reconciliation",
            )
        self.assertEqual(
            voucher.status_note_text, "su orden se pagó por otro medio: cerrado por la conciliación"
        )
        self.assertEqual(voucher.status_message, "")  # the gateway said nothing of it
        self.assertEqual(summary.cancelled_at_gateway, 1)
        self.assertEqual(self.network.deleted, [voucher.gateway_reference])

    def test_an_unreachable_gateway_is_retried_later(self):
        payment, _ = self.start()
        self.age(payment, 8)
        self.network.unavailable = True
        summary = services.reconcile_payments()
        payment.refresh_from_db()
        self.assertEqual(summary.unavailable, 1)
        self.assertEqual(payment.status, PaymentStatus.CREATED)
        self.assertIsNotNone(payment.next_check_at)

    def test_the_command_prints_a_summary(self):
        payment, _ = self.start()
        self.age(payment, 8)
        self.network.payu_transactions[payment.reference] = [payu_transaction("tx-ok")]
        out = io.StringIO()
        call_command("reconcile_payments", "--verbose-outcomes", stdout=out)
        text = out.getvalue()
        self.assertIn("Payments checked: 1 · paid: 1", text)
        self.assertIn(f"{payment.reference}: applied", text)

    def test_the_browser_return_check_uses_the_same_path(self):
        from clientarea.payments.tasks import check_payment_task

        payment, _ = self.start()
        self.network.payu_transactions[payment.reference] = [payu_transaction("tx-ok")]
        check_payment_task.call_local(payment.pk)
        self.refresh()
        self.assertEqual(self.order.state, "paid")


class AnswerLogTests(PaymentsTestCase):
    def test_an_error_answer_is_logged_raw_too(self):
        payment, _ = self.start("payvalida")
        # An order unknown to the fake answers the consult with "Not exist transaction ID".
        del self.network.payvalida_orders[payment.gateway_reference]
        services.check_payment(payment, close_expired=False)
        answer = PaymentMessage.objects.get(kind=MessageKind.QUERY)
        self.assertEqual(answer.outcome, "answer: no transaction at the gateway")
        self.assertIn('"0013"', answer.body)

    def test_an_unreachable_gateway_is_logged(self):
        payment, _ = self.start()
        self.network.unavailable = True
        with self.assertRaises(GatewayUnavailable):
            services.check_payment(payment, close_expired=False)
        answer = PaymentMessage.objects.get(kind=MessageKind.QUERY)
        self.assertTrue(answer.outcome.startswith("answer: error: PayU queries API unreachable"))

    def test_a_browser_return_keeps_its_headers(self):
        payment, _ = self.start("payvalida")
        self.login(self.alice)
        self.client.get(
            "/payments/payvalida/return/",
            {"order": payment.gateway_reference},
            headers={"user-agent": "Firefox/140"},
        )
        message = PaymentMessage.objects.get(kind=MessageKind.RETURN)
        self.assertEqual(message.headers["user-agent"], "Firefox/140")
