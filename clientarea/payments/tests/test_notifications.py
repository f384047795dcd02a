"""Gateway notifications: exactly-once payment, out-of-order and forged messages, and the inbox."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from django.test import override_settings
from django.utils import timezone

from clientarea.billing import selectors as billing_selectors
from clientarea.billing import services as billing_services
from clientarea.billing.models import OrderEvent
from clientarea.notifications.models import OutgoingEmail
from clientarea.payments import services
from clientarea.payments.gateways import get_gateway
from clientarea.payments.gateways.base import GatewayStatus, PaymentMethod, PaymentUpdate
from clientarea.payments.models import Payment, PaymentMessage, PaymentStatus, RefundStatus
from clientarea.payments.tests.base import PaymentsTestCase, payu_transaction
from clientarea.payments.tests.helpers import (
    payu_confirmation,
    payvalida_notification,
    post_payu,
    post_payvalida,
    renewals,
)


class PayUConfirmationTests(PaymentsTestCase):
    def test_it_pays_the_order_once_when_the_same_confirmation_arrives_twice(self):
        payment, _ = self.start()
        fields = payu_confirmation(payment.reference, "119000.00", transaction_id="tx-1")
        first = post_payu(self.client, fields)
        second = post_payu(self.client, fields)
        self.assertEqual((first.status_code, second.status_code), (200, 200))
        self.refresh()
        payment.refresh_from_db()
        self.assertEqual(self.order.state, "paid")
        self.assertEqual(self.order.paid_via, "payu")
        self.assertEqual(self.order.payment_method, "card")
        self.assertEqual(self.order.payment_reference, "payu:tx-1")
        self.assertEqual(payment.status, PaymentStatus.APPROVED)
        self.assertEqual(payment.gateway_transaction_id, "tx-1")
        self.assertEqual(renewals(self.service), 1)
        self.assertEqual(OrderEvent.objects.filter(order=self.order, kind="paid").count(), 1)
        self.assertEqual(OutgoingEmail.objects.filter(template="order_paid").count(), 1)
        outcomes = list(PaymentMessage.objects.order_by("id").values_list("outcome", flat=True))
        self.assertEqual(outcomes, ["applied", "duplicate"])
        self.assertTrue(all(m.payment_id == payment.pk for m in PaymentMessage.objects.all()))

    def test_it_accepts_a_json_confirmation(self):
        payment, _ = self.start()
        fields = payu_confirmation(payment.reference, "119000.00")
        response = self.client.post(
            "/payments/payu/confirmation/", data=json.dumps(fields), content_type="application/json"
        )
        self.assertEqual(response.status_code, 200)
        self.refresh()
        self.assertEqual(self.order.state, "paid")

    def test_it_ignores_a_declined_report_after_the_approval(self):
        payment, _ = self.start()
        post_payu(
            self.client, payu_confirmation(payment.reference, "119000.00", transaction_id="tx-ok")
        )
        response = post_payu(
            self.client,
            payu_confirmation(
                payment.reference, "119000.00", state_pol="6", transaction_id="tx-old"
            ),
        )
        self.assertEqual(response.status_code, 200)
        payment.refresh_from_db()
        self.refresh()
        self.assertEqual(payment.status, PaymentStatus.APPROVED)
        self.assertEqual(self.order.state, "paid")
        self.assertFalse(payment.needs_review)
        self.assertEqual(
            PaymentMessage.objects.latest("id").outcome, "ignored: declined after approved"
        )

    def test_it_ignores_a_pending_report_after_the_approval(self):
        payment, _ = self.start()
        post_payu(
            self.client, payu_confirmation(payment.reference, "119000.00", transaction_id="tx-ok")
        )
        response = post_payu(
            self.client,
            payu_confirmation(
                payment.reference, "119000.00", state_pol="7", transaction_id="tx-ok"
            ),
        )
        self.assertEqual(response.status_code, 200)
        payment.refresh_from_db()
        self.assertEqual(payment.status, PaymentStatus.APPROVED)
        self.assertTrue(
            PaymentMessage.objects.latest("id").outcome.startswith(
                "ignored: pending after approved"
            )
        )
        self.assertEqual(renewals(self.service), 1)

    def test_a_declined_attempt_followed_by_an_approved_one_pays(self):
        payment, _ = self.start()
        post_payu(
            self.client,
            payu_confirmation(payment.reference, "119000.00", state_pol="6", transaction_id="tx-1"),
        )
        payment.refresh_from_db()
        self.assertEqual(payment.status, PaymentStatus.DECLINED)
        post_payu(
            self.client,
            payu_confirmation(payment.reference, "119000.00", state_pol="4", transaction_id="tx-2"),
        )
        payment.refresh_from_db()
        self.refresh()
        self.assertEqual(payment.status, PaymentStatus.APPROVED)
        self.assertEqual(self.order.state, "paid")

    def test_a_late_decline_of_an_earlier_try_does_not_hide_a_pending_transfer(self):
        payment, _ = self.start()
        self.network.payu_transactions[payment.reference] = [
            payu_transaction("tx-pse", state="PENDING", method="PSE")
        ]
        services.check_payment(payment)
        post_payu(
            self.client,
            payu_confirmation(
                payment.reference, "119000.00", state_pol="6", transaction_id="tx-card"
            ),
        )
        payment.refresh_from_db()
        self.assertEqual(payment.status, PaymentStatus.PENDING)
        self.assertTrue(
            PaymentMessage.objects.latest("id").outcome.startswith(
                "ignored: declined of an older transaction"
            )
        )
        post_payu(
            self.client,
            payu_confirmation(
                payment.reference,
                "119000.00",
                state_pol="4",
                transaction_id="tx-pse",
                method_type="4",
            ),
        )
        self.refresh()
        self.assertEqual(self.order.state, "paid")
        self.assertEqual(self.order.payment_method, "pse")

    def test_a_second_approved_transaction_for_the_same_attempt_becomes_credit_once_the_gateway_lists_it(
        self,
    ):
        payment, _ = self.start()
        post_payu(
            self.client, payu_confirmation(payment.reference, "119000.00", transaction_id="tx-1")
        )
        with self.captureOnCommitCallbacks(execute=True):
            response = post_payu(
                self.client,
                payu_confirmation(payment.reference, "119000.00", transaction_id="tx-2"),
            )
        self.assertEqual(response.status_code, 200)
        # The notification alone proves nothing about tx-2: the gateway is asked first
        self.scheduled_checks.assert_called_once_with(payment.pk, verify=True)
        self.assertTrue(
            PaymentMessage.objects.latest("id").outcome.startswith(
                "held: second approved transaction tx-2"
            )
        )
        payment.refresh_from_db()
        self.assertFalse(payment.duplicate)
        self.assertEqual(payment.refund_status, RefundStatus.NONE)
        self.network.payu_transactions[payment.reference] = [
            payu_transaction("tx-1"),
            payu_transaction("tx-2"),
        ]
        services.check_payment(payment, close_expired=False)
        payment.refresh_from_db()
        self.assertTrue(payment.duplicate)
        self.assertEqual(
            payment.refund_status, RefundStatus.NONE
        )  # kept as credit; staff may refund
        self.assertEqual(billing_selectors.credit_available(self.alice), Decimal("119000.00"))
        self.assertEqual(payment.gateway_transaction_id, "tx-1")
        self.assertIsNone(payment.next_check_at)
        self.assertEqual(renewals(self.service), 1)
        self.assertEqual(OutgoingEmail.objects.filter(template="payment_review").count(), 1)

    def test_a_replayed_approval_with_a_changed_transaction_id_flags_nothing(self):
        """The sign does not cover transaction_id: an attacker can replay a real approval under a new id."""
        payment, _ = self.start()
        fields = payu_confirmation(payment.reference, "119000.00", transaction_id="tx-1")
        post_payu(self.client, fields)
        with self.captureOnCommitCallbacks(execute=True):
            response = post_payu(self.client, {**fields, "transaction_id": "forged-id"})
        self.assertEqual(response.status_code, 200)
        self.network.payu_transactions[payment.reference] = [payu_transaction("tx-1")]
        services.check_payment(payment, close_expired=False)
        payment.refresh_from_db()
        self.assertFalse(payment.duplicate)
        self.assertFalse(payment.needs_review)
        self.assertEqual(payment.refund_status, RefundStatus.NONE)
        self.assertEqual(OutgoingEmail.objects.filter(template="payment_review").count(), 0)
        self.assertEqual(renewals(self.service), 1)

    def test_an_unverified_second_approval_is_checked_again_by_the_reconciliation(self):
        payment, _ = self.start()
        post_payu(
            self.client, payu_confirmation(payment.reference, "119000.00", transaction_id="tx-1")
        )
        post_payu(
            self.client, payu_confirmation(payment.reference, "119000.00", transaction_id="tx-2")
        )
        Payment.objects.filter(pk=payment.pk).update(
            created_at=payment.created_at - timedelta(hours=1)
        )
        self.network.payu_transactions[payment.reference] = [
            payu_transaction("tx-1"),
            payu_transaction("tx-2"),
        ]
        summary = services.reconcile_payments(now=timezone.now() + timedelta(seconds=1))
        self.assertEqual(summary.checked, 1)
        payment.refresh_from_db()
        self.assertTrue(payment.duplicate)
        self.assertEqual(
            payment.refund_status, RefundStatus.NONE
        )  # kept as credit; staff may refund
        self.assertEqual(billing_selectors.credit_available(self.alice), Decimal("119000.00"))
        self.assertIsNone(payment.next_check_at)
        self.assertEqual(
            services.reconcile_payments(now=timezone.now() + timedelta(seconds=2)).checked, 0
        )

    def test_a_replayed_pending_report_for_the_approved_transaction_raises_no_alarm(self):
        payment, _ = self.start()
        post_payu(
            self.client, payu_confirmation(payment.reference, "119000.00", transaction_id="tx-ok")
        )
        post_payu(
            self.client,
            payu_confirmation(
                payment.reference, "119000.00", state_pol="7", transaction_id="tx-ok"
            ),
        )
        post_payu(
            self.client,
            payu_confirmation(
                payment.reference, "119000.00", state_pol="6", transaction_id="tx-ok"
            ),
        )
        self.network.payu_transactions[payment.reference] = [
            payu_transaction("tx-ok", state="PENDING")
        ]
        services.check_payment(
            payment, close_expired=False
        )  # a stale answer racing the confirmation
        payment.refresh_from_db()
        self.assertEqual(payment.status, PaymentStatus.APPROVED)
        self.assertFalse(payment.needs_review)
        self.assertEqual(OutgoingEmail.objects.filter(template="payment_review").count(), 0)

    def test_the_gateway_voiding_the_approved_transaction_needs_a_person(self):
        payment, _ = self.start()
        post_payu(
            self.client, payu_confirmation(payment.reference, "119000.00", transaction_id="tx-ok")
        )
        self.network.payu_transactions[payment.reference] = [
            payu_transaction("tx-ok", state="DECLINED")
        ]
        services.check_payment(payment, close_expired=False)
        payment.refresh_from_db()
        self.assertEqual(payment.status, PaymentStatus.APPROVED)
        self.assertTrue(payment.needs_review)
        self.assertEqual(OutgoingEmail.objects.filter(template="payment_review").count(), 1)

    def test_a_second_attempt_approved_after_the_order_was_paid_is_a_duplicate_kept_as_credit(self):
        first, _ = self.start()
        post_payu(
            self.client, payu_confirmation(first.reference, "119000.00", transaction_id="tx-1")
        )
        # Another attempt the customer had started in another tab before the first was confirmed
        # (start_payment refuses a paid order, so it is built by hand here).
        other = Payment.objects.create(
            reference=f"{self.order.number}-9",
            gateway_reference=f"{self.order.number}-9",
            attempt=9,
            order=self.order,
            customer=self.alice,
            gateway="payu",
            amount=Decimal("119000.00"),
            currency="COP",
            tax=Decimal("19000.00"),
            tax_base=Decimal("100000.00"),
        )
        response = post_payu(
            self.client, payu_confirmation(other.reference, "119000.00", transaction_id="tx-9")
        )
        self.assertEqual(response.status_code, 200)
        other.refresh_from_db()
        self.refresh()
        self.assertEqual(other.status, PaymentStatus.APPROVED)
        self.assertTrue(other.duplicate)
        self.assertEqual(other.refund_status, RefundStatus.NONE)  # kept as credit; staff may refund
        self.assertEqual(billing_selectors.credit_available(self.alice), Decimal("119000.00"))
        self.assertEqual(self.order.payment_reference, "payu:tx-1")
        self.assertEqual(renewals(self.service), 1)
        self.assertEqual(OrderEvent.objects.filter(order=self.order, kind="paid").count(), 1)
        self.assertEqual(
            PaymentMessage.objects.latest("id").outcome,
            "duplicate: order already paid, kept as credit",
        )

    def test_paying_the_order_brings_forward_the_check_of_its_other_open_attempts(self):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from clientarea.payments.models import PaymentOrder
        from clientarea.payments.tests.helpers import make_renewal_order

        first, _ = self.start()
        # Another attempt still open for the same order (at another gateway, say), and one of
        # another order: only the first is asked about at once.
        later = timezone.now() + timedelta(hours=1)
        orders = (self.order, make_renewal_order(self.alice)[0])
        other, unrelated = (
            Payment.objects.create(
                reference=f"{order.number}-9",
                gateway_reference=f"{order.number}-9",
                attempt=9,
                order=order,
                customer=self.alice,
                gateway="payvalida",
                status=PaymentStatus.PENDING,
                amount=Decimal("119000.00"),
                currency="COP",
                tax=Decimal("19000.00"),
                tax_base=Decimal("100000.00"),
                next_check_at=later,
            )
            for order in orders
        )
        for payment, order in zip((other, unrelated), orders, strict=True):
            PaymentOrder.objects.create(payment=payment, order=order, amount=payment.amount)
        post_payu(
            self.client, payu_confirmation(first.reference, "119000.00", transaction_id="tx-1")
        )
        self.refresh()
        self.assertEqual(self.order.state, "paid")
        other.refresh_from_db()
        unrelated.refresh_from_db()
        assert other.next_check_at is not None
        self.assertLessEqual(other.next_check_at, timezone.now())
        self.assertEqual(unrelated.next_check_at, later)
        # Without other open attempts, the paid transaction does not look for them again.
        second_order, _service = make_renewal_order(self.alice)
        second, _ = self.start(order=second_order)
        with CaptureQueriesContext(connection) as queries:
            post_payu(
                self.client,
                payu_confirmation(second.reference, "119000.00", transaction_id="tx-2"),
            )
        second_order.refresh_from_db()
        self.assertEqual(second_order.state, "paid")
        payment_writes = [
            q["sql"]
            for q in queries.captured_queries
            if q["sql"].startswith('UPDATE "payments_payment"')
        ]
        self.assertEqual(len(payment_writes), 1, payment_writes)  # the approval itself

    def test_a_late_approval_of_a_replaced_attempt_still_pays(self):
        first, _ = self.start()
        second, _ = self.start()
        first.refresh_from_db()
        self.assertEqual(first.status, PaymentStatus.EXPIRED)
        self.assertEqual(second.attempt, 2)
        post_payu(self.client, payu_confirmation(first.reference, "119000.00"))
        self.refresh()
        first.refresh_from_db()
        self.assertEqual(first.status, PaymentStatus.APPROVED)
        self.assertEqual(self.order.state, "paid")

    def test_a_wrong_amount_does_not_pay_and_needs_review(self):
        payment, _ = self.start()
        response = post_payu(self.client, payu_confirmation(payment.reference, "1190.00"))
        self.assertEqual(response.status_code, 200)
        payment.refresh_from_db()
        self.refresh()
        self.assertEqual(self.order.state, "pending")
        self.assertEqual(payment.status, PaymentStatus.ERROR)
        self.assertTrue(payment.needs_review)
        self.assertIn("amount mismatch", payment.review_reason)
        self.assertEqual(renewals(self.service), 0)
        self.assertTrue(
            PaymentMessage.objects.latest("id").outcome.startswith("review: amount mismatch")
        )
        self.assertEqual(OutgoingEmail.objects.filter(template="payment_review").count(), 1)

    def test_a_wrong_currency_does_not_pay_and_needs_review(self):
        payment, _ = self.start()
        post_payu(self.client, payu_confirmation(payment.reference, "119000.00", currency="USD"))
        payment.refresh_from_db()
        self.refresh()
        self.assertEqual(self.order.state, "pending")
        self.assertTrue(payment.needs_review)
        self.assertIn("currency mismatch", payment.review_reason)

    def test_another_merchants_approval_is_not_paid_and_flagged_for_review(self):
        payment, _ = self.start()
        response = post_payu(
            self.client, payu_confirmation(payment.reference, "119000.00", merchant_id="999999")
        )
        self.assertEqual(response.status_code, 200)
        self.refresh()
        payment.refresh_from_db()
        self.assertEqual(self.order.state, "pending")
        self.assertEqual(payment.status, PaymentStatus.ERROR)
        self.assertTrue(payment.needs_review)
        self.assertIn("merchant mismatch", payment.review_reason)
        self.assertTrue(
            PaymentMessage.objects.get().outcome.startswith("review: merchant mismatch")
        )
        self.assertEqual(OutgoingEmail.objects.filter(template="payment_review").count(), 1)

    def test_a_merchant_mismatch_reported_by_any_gateway_needs_review(self):
        payment, _ = self.start()
        gateway = get_gateway("payu")
        update = PaymentUpdate(
            reference=payment.reference,
            status=GatewayStatus.APPROVED,
            transaction_id="tx-m",
            amount=Decimal("119000"),
            currency="COP",
            merchant_id="999999",
            method=PaymentMethod.CARD,
            raw_method="VISA",
            message="APPROVED",
            dedupe_key="test:tx-m",
        )
        from django.db import transaction

        with transaction.atomic():
            result = services.apply_update(gateway=gateway, update=update, source="test")
        self.assertTrue(result.outcome.startswith("review: merchant mismatch"))
        self.refresh()
        self.assertEqual(self.order.state, "pending")

    def test_an_approval_for_a_cancelled_order_is_kept_as_credit_for_review(self):
        payment, _ = self.start()
        billing_services.cancel_order(order=self.order, reason="test", notify=False)
        response = post_payu(self.client, payu_confirmation(payment.reference, "119000.00"))
        self.assertEqual(response.status_code, 200)
        payment.refresh_from_db()
        self.refresh()
        self.assertEqual(self.order.state, "cancelled")
        self.assertEqual(payment.status, PaymentStatus.APPROVED)
        self.assertEqual(
            payment.refund_status, RefundStatus.NONE
        )  # kept as credit; staff may refund
        self.assertEqual(billing_selectors.credit_available(self.alice), Decimal("119000.00"))
        self.assertTrue(payment.needs_review)
        self.assertEqual(renewals(self.service), 0)

    def test_a_forged_sign_is_refused_logged_and_changes_nothing(self):
        payment, _ = self.start()
        fields = payu_confirmation(payment.reference, "119000.00")
        fields["sign"] = "0" * 64
        response = post_payu(self.client, fields, REMOTE_ADDR="203.0.113.9")
        self.assertEqual(response.status_code, 403)
        payment.refresh_from_db()
        self.refresh()
        self.assertEqual(payment.status, PaymentStatus.CREATED)
        self.assertEqual(self.order.state, "pending")
        message = PaymentMessage.objects.get()
        self.assertEqual(message.outcome, "invalid signature")
        self.assertIs(message.signature_valid, False)
        self.assertEqual(message.source_ip, "203.0.113.9")
        self.assertIn("reference_sale=", message.body)
        self.assertNotIn("cookie", message.headers)

    def test_a_tampered_amount_is_refused(self):
        payment, _ = self.start()
        fields = payu_confirmation(payment.reference, "1000.00")
        fields["value"] = "119000.00"  # signed for 1,000, claims 119,000
        response = post_payu(self.client, fields)
        self.assertEqual(response.status_code, 403)
        self.refresh()
        self.assertEqual(self.order.state, "pending")

    def test_an_unknown_reference_is_acknowledged_and_logged(self):
        response = post_payu(self.client, payu_confirmation("ODS-999999-1", "119000.00"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(PaymentMessage.objects.get().outcome, "unknown reference")

    def test_bad_requests_get_4xx_never_500(self):
        payment, _ = self.start()
        cases = {
            "get": self.client.get("/payments/payu/confirmation/"),
            "put": self.client.put("/payments/payu/confirmation/", data="x"),
            "empty": self.client.post(
                "/payments/payu/confirmation/",
                data="",
                content_type="application/x-www-form-urlencoded",
            ),
            "missing": post_payu(
                self.client, {"reference_sale": payment.reference, "state_pol": "4"}
            ),
            "garbage": self.client.post(
                "/payments/payu/confirmation/",
                data=b"\xff\xfe\x00garbage",
                content_type="application/octet-stream",
            ),
            "json-array": self.client.post(
                "/payments/payu/confirmation/", data="[1,2]", content_type="application/json"
            ),
            "bad-json": self.client.post(
                "/payments/payu/confirmation/", data="{nope", content_type="application/json"
            ),
            "bad-value": post_payu(
                self.client, {**payu_confirmation(payment.reference, "119000.00"), "value": "1e9"}
            ),
            "bad-state": post_payu(
                self.client, payu_confirmation(payment.reference, "119000.00", state_pol="99")
            ),
        }
        for name, response in cases.items():
            with self.subTest(name):
                self.assertGreaterEqual(response.status_code, 400, name)
                self.assertLess(response.status_code, 500, name)
        self.assertEqual(cases["get"].status_code, 405)
        self.refresh()
        self.assertEqual(self.order.state, "pending")

    @override_settings(PAYMENTS_NOTIFICATION_MAX_BYTES=1024)
    def test_an_oversized_notification_is_refused_with_413(self):
        payment, _ = self.start()
        fields = payu_confirmation(payment.reference, "119000.00", description="x" * 5000)
        response = post_payu(self.client, fields)
        self.assertEqual(response.status_code, 413)
        self.refresh()
        self.assertEqual(self.order.state, "pending")
        self.assertTrue(PaymentMessage.objects.get().outcome.startswith("rejected: too large"))

    @override_settings(
        PAYMENTS_IP_ALLOWLIST=True, PAYU_ALLOWED_IPS=["34.233.144.154", "10.0.0.0/8"]
    )
    def test_the_ip_allow_list_refuses_other_sources(self):
        payment, _ = self.start()
        fields = payu_confirmation(payment.reference, "119000.00")
        refused = post_payu(self.client, fields, REMOTE_ADDR="198.51.100.7")
        self.assertEqual(refused.status_code, 403)
        self.refresh()
        self.assertEqual(self.order.state, "pending")
        accepted = post_payu(self.client, fields, REMOTE_ADDR="34.233.144.154")
        self.assertEqual(accepted.status_code, 200)
        self.refresh()
        self.assertEqual(self.order.state, "paid")

    def test_a_failure_while_applying_keeps_the_message_and_the_sweep_applies_it_later(self):
        import datetime as dt
        from unittest import mock

        from django.utils import timezone

        payment, _ = self.start()
        fields = payu_confirmation(payment.reference, "119000.00")
        with mock.patch(
            "clientarea.billing.services.mark_order_paid", side_effect=RuntimeError("db hiccup")
        ):
            accepted = post_payu(self.client, fields)
        self.assertEqual(accepted.status_code, 200)  # stored: PayU need not retry, we do
        payment.refresh_from_db()
        self.assertEqual(payment.status, PaymentStatus.CREATED)  # rolled back
        message = PaymentMessage.objects.get()
        self.assertEqual((message.processed, message.attempts), (False, 1))
        self.assertIn("RuntimeError", message.outcome)
        # PayU's own redelivery meanwhile changes nothing: the stored one is ours to apply.
        self.assertEqual(post_payu(self.client, fields).status_code, 200)
        self.refresh()
        self.assertEqual(self.order.state, "pending")
        self.assertEqual(
            services.apply_pending_messages(now=timezone.now() + dt.timedelta(minutes=1)),
            {"tried": 1, "applied": 1, "failed": 0, "given_up": 0},
        )
        self.refresh()
        message.refresh_from_db()
        self.assertEqual(self.order.state, "paid")
        self.assertEqual(
            (message.processed, message.outcome, message.attempts), (True, "applied", 2)
        )
        self.assertEqual(renewals(self.service), 1)
        self.assertEqual(
            services.apply_pending_messages(now=timezone.now() + dt.timedelta(minutes=2))["tried"],
            0,
        )

    def test_the_sweep_gives_up_after_the_last_attempt_and_tells_staff_once(self):
        import datetime as dt
        from unittest import mock

        from django.utils import timezone

        payment, _ = self.start()
        with mock.patch(
            "clientarea.billing.services.mark_order_paid", side_effect=RuntimeError("bug")
        ):
            post_payu(self.client, payu_confirmation(payment.reference, "119000.00"))
            later = timezone.now() + dt.timedelta(minutes=1)
            for _ in range(services.MESSAGE_MAX_ATTEMPTS + 2):
                services.apply_pending_messages(now=later)
        message = PaymentMessage.objects.get()
        self.assertEqual(
            (message.processed, message.attempts), (False, services.MESSAGE_MAX_ATTEMPTS)
        )
        alerts = OutgoingEmail.objects.filter(template="payment_message_stuck")
        self.assertEqual(alerts.count(), 1)
        self.assertIn(payment.reference, alerts.get().subject)
        # Once the cause is fixed, staff apply it by hand.
        self.assertEqual(services.retry_message(message), "applied")
        self.refresh()
        self.assertEqual(self.order.state, "paid")
        with self.assertRaises(services.PaymentStateError):
            services.retry_message(PaymentMessage.objects.get())

    def test_it_answers_503_when_the_inbox_cannot_be_written_so_the_gateway_retries(self):
        from unittest import mock

        from django.db import OperationalError

        payment, _ = self.start()
        fields = payu_confirmation(payment.reference, "119000.00")
        with mock.patch(
            "clientarea.payments.services.inbox._accept",
            side_effect=OperationalError("database is locked"),
        ):
            failed = post_payu(self.client, fields)
        self.assertEqual(failed.status_code, 503)
        self.assertFalse(PaymentMessage.objects.exists())
        self.assertEqual(post_payu(self.client, fields).status_code, 200)
        self.refresh()
        self.assertEqual(self.order.state, "paid")

    def test_an_adapter_bug_keeps_the_raw_message_and_answers_503(self):
        from unittest import mock

        payment, _ = self.start()
        with mock.patch(
            "clientarea.payments.gateways.payu.PayUGateway.parse_notification",
            side_effect=KeyError("x"),
        ):
            response = post_payu(self.client, payu_confirmation(payment.reference, "119000.00"))
        self.assertEqual(response.status_code, 503)
        message = PaymentMessage.objects.get()
        self.assertIn(payment.reference, message.body)
        self.assertTrue(message.outcome.startswith("error"))

    def test_a_message_is_applied_once_even_if_the_worker_and_the_sweep_both_try(self):
        from unittest import mock

        payment, _ = self.start()

        with mock.patch("clientarea.payments.jobs.enqueue_apply_message"):  # queued, not run yet
            post_payu(self.client, payu_confirmation(payment.reference, "119000.00"))
        message = PaymentMessage.objects.get()
        self.assertFalse(message.processed)
        self.assertEqual(services.apply_message(message_id=message.pk), "applied")
        self.assertEqual(services.apply_message(message_id=message.pk), "nothing to do")
        self.refresh()
        self.assertEqual(self.order.state, "paid")
        self.assertEqual(renewals(self.service), 1)

    def test_the_log_never_holds_secrets(self):
        payment, _ = self.start()
        with self.assertLogs("clientarea.payments", level="INFO") as logs:
            post_payu(self.client, payu_confirmation(payment.reference, "119000.00"))
        text = "\n".join(logs.output)
        self.assertIn(payment.reference, text)
        self.assertNotIn("alice@example.com", text)
        self.assertNotIn("sign=", text)
        self.assertNotIn(
            payment.checkout_payload.get("fields", {}).get("signature", "no-signature-stored"), text
        )
        self.assertNotIn("signature", payment.checkout_payload["fields"])


class PayvalidaNotificationTests(PaymentsTestCase):
    def test_it_pays_once_and_answers_ok(self):
        payment, action = self.start("payvalida", method="cash")
        self.assertEqual(action.method, "GET")
        body = payvalida_notification(payment.reference, amount="119000")
        first = post_payvalida(self.client, body)
        second = post_payvalida(self.client, body)
        self.assertEqual((first.status_code, second.status_code), (200, 200))
        self.assertTrue(first.content.decode().startswith("OK"))
        self.assertTrue(second.content.decode().startswith("OK"))
        self.refresh()
        payment.refresh_from_db()
        self.assertEqual(self.order.state, "paid")
        self.assertEqual(self.order.paid_via, "payvalida")
        self.assertEqual(payment.method, "cash")
        self.assertEqual(renewals(self.service), 1)

    def test_a_forged_checksum_gets_403_error(self):
        payment, _ = self.start("payvalida")
        response = post_payvalida(
            self.client,
            payvalida_notification(payment.reference, amount="119000", checksum="ab" * 32),
        )
        self.assertEqual(response.status_code, 403)
        self.assertTrue(response.content.decode().startswith("ERROR"))
        self.refresh()
        self.assertEqual(self.order.state, "pending")
        self.assertEqual(PaymentMessage.objects.get().outcome, "invalid signature")

    def test_an_unsigned_amount_change_is_caught_by_the_amount_check(self):
        # Payvalida's checksum covers po_id and status only: the amount is checked against our records.
        payment, _ = self.start("payvalida")
        post_payvalida(self.client, payvalida_notification(payment.reference, amount="1000"))
        payment.refresh_from_db()
        self.refresh()
        self.assertEqual(self.order.state, "pending")
        self.assertTrue(payment.needs_review)

    def test_cancelled_after_approved_is_ignored_but_reviewed(self):
        payment, _ = self.start("payvalida")
        post_payvalida(self.client, payvalida_notification(payment.reference, amount="119000"))
        with self.captureOnCommitCallbacks(execute=True):
            response = post_payvalida(
                self.client,
                payvalida_notification(payment.reference, status="cancelled", amount="119000"),
            )
        self.assertEqual(response.status_code, 200)
        self.scheduled_checks.assert_called_once_with(payment.pk, verify=True)
        payment.refresh_from_db()
        self.assertFalse(payment.needs_review)  # a claim until Payvalida's consult says so
        self.network.payvalida_orders[payment.gateway_reference]["STATE"] = "ANULADA"
        services.check_payment(payment, close_expired=False)
        payment.refresh_from_db()
        self.refresh()
        self.assertEqual(payment.status, PaymentStatus.APPROVED)
        self.assertEqual(self.order.state, "paid")
        self.assertTrue(payment.needs_review)  # an ANULADA (refund claim) after approval

    def test_an_unknown_order_is_acknowledged_and_logged(self):
        response = post_payvalida(
            self.client, payvalida_notification("ODS-000777-1", amount="119000")
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.content.decode(), "ERROR. Order not recognized"
        )  # the docs' own answer
        self.assertEqual(PaymentMessage.objects.get().outcome, "unknown reference")

    def test_a_payu_message_cannot_touch_a_payvalida_payment(self):
        payment, _ = self.start("payvalida")
        response = post_payu(self.client, payu_confirmation(payment.reference, "119000.00"))
        self.assertEqual(response.status_code, 200)
        self.refresh()
        self.assertEqual(self.order.state, "pending")
        self.assertEqual(PaymentMessage.objects.get().outcome, "unknown reference")
