"""start_payment: who may pay what, the attempt it records, and the checkout it builds."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.test import override_settings
from django.utils import timezone

from clientarea.billing import services as billing_services
from clientarea.billing.models import ItemKind
from clientarea.payments import services
from clientarea.payments.models import Payment, PaymentStatus
from clientarea.payments.tests.base import PaymentsTestCase
from clientarea.payments.tests.helpers import payu_confirmation, post_payu


class StartPaymentTests(PaymentsTestCase):
    def test_it_records_an_attempt_and_builds_the_payu_form(self):
        payment, action = self.start()
        self.assertEqual(payment.reference, f"{self.order.number}-1")
        self.assertEqual(payment.gateway_reference, payment.reference)
        self.assertEqual(payment.status, PaymentStatus.CREATED)
        self.assertEqual(
            (payment.amount, payment.tax, payment.tax_base),
            (Decimal("119000.00"), Decimal("19000.00"), Decimal("100000.00")),
        )
        self.assertEqual(action.method, "POST")
        fields = action.fields
        self.assertEqual(fields["referenceCode"], payment.reference)
        self.assertEqual(
            (fields["amount"], fields["tax"], fields["taxReturnBase"]),
            ("119000", "19000", "100000"),
        )
        self.assertEqual(fields["responseUrl"], "http://testserver/payments/payu/response/")
        self.assertEqual(fields["confirmationUrl"], "http://testserver/payments/payu/confirmation/")
        self.assertEqual(fields["buyerEmail"], "alice@example.com")
        self.assertNotIn("signature", payment.checkout_payload["fields"])
        self.assertEqual(payment.checkout_payload["fields"]["referenceCode"], payment.reference)
        # About seven days: the deadline PayU is given (just under its 7-day limit) is the
        # payment's own, to the second, so the voucher and the portal say the same time.
        self.assertAlmostEqual(
            payment.expires_at - timezone.now(), dt.timedelta(days=7), delta=dt.timedelta(minutes=6)
        )
        self.assertEqual(
            timezone.localtime(payment.expires_at).strftime("%Y-%m-%d %H:%M:%S"),
            fields["expirationDate"],
        )

    def test_exempt_items_are_not_part_of_the_tax_base(self):
        order = billing_services.create_order(
            customer=self.alice,
            notify=False,
            lines=[
                billing_services.LineSpec(
                    kind=ItemKind.OTHER, description="Hosting", unit_price=Decimal("100000")
                ),
                billing_services.LineSpec(
                    kind=ItemKind.OTHER,
                    description="Dominio .co",
                    unit_price=Decimal("85000"),
                    tax_treatment="exempt",
                    tax_rate=Decimal("0"),
                ),
            ],
        )
        payment, action = self.start(order=order)
        self.assertEqual(payment.amount, Decimal("204000.00"))
        self.assertEqual(payment.tax_base, Decimal("100000.00"))
        self.assertEqual(
            (action.fields["tax"], action.fields["taxReturnBase"]), ("19000", "100000")
        )

    def test_each_attempt_gets_the_next_number_and_closes_the_previous_one(self):
        first, _ = self.start()
        second, _ = self.start("payvalida")
        first.refresh_from_db()
        self.assertEqual(second.reference, f"{self.order.number}-2")
        self.assertEqual(second.gateway_reference, second.reference.replace("-", ""))
        self.assertEqual(first.status, PaymentStatus.EXPIRED)
        self.assertIsNotNone(first.next_check_at)  # one last query by the reconciliation

    def test_payvalida_registers_the_order_and_keeps_the_voucher(self):
        payment, action = self.start("payvalida", method="cash")
        self.assertEqual(action.method, "GET")
        self.assertIn("token=eyJtoken", action.url)
        self.assertEqual(payment.gateway_order_id, "95601")
        self.assertEqual(payment.requested_method, "cash")
        self.assertEqual(payment.instructions["voucher_reference"], "989898101")
        self.assertEqual(payment.instructions["checkout_url"], action.url)
        self.assertNotIn("checksum", str(payment.checkout_payload).lower())

    def test_it_refuses_another_customers_order(self):
        with self.assertRaises(services.PaymentRefused) as refused:
            self.start(customer=self.bob)
        self.assertEqual(refused.exception.code, "not_found")
        self.assertFalse(Payment.objects.exists())

    def test_it_refuses_a_paid_order(self):
        payment, _ = self.start()
        post_payu(self.client, payu_confirmation(payment.reference, "119000.00"))
        with self.assertRaises(services.PaymentRefused) as refused:
            self.start()
        self.assertEqual(refused.exception.code, "not_payable")

    def test_it_refuses_a_cancelled_order(self):
        billing_services.cancel_order(order=self.order, reason="test", notify=False)
        with self.assertRaises(services.PaymentRefused) as refused:
            self.start()
        self.assertEqual(refused.exception.code, "not_payable")

    def test_it_refuses_a_customer_without_invoice_data(self):
        self.alice.address = ""
        self.alice.save()
        with self.assertRaises(services.PaymentRefused) as refused:
            self.start()
        self.assertEqual(refused.exception.code, "profile_incomplete")
        self.assertFalse(Payment.objects.exists())

    @override_settings(PAYU_ENABLED=False)
    def test_it_refuses_a_disabled_or_unknown_gateway_and_foreign_methods(self):
        for code in ("payu", "stripe"):
            with self.subTest(code), self.assertRaises(services.PaymentRefused) as refused:
                self.start(code)
            self.assertEqual(refused.exception.code, "gateway")
        with self.assertRaises(services.PaymentRefused):
            self.start("payvalida", method="bitcoin")

    def test_a_gateway_failure_is_recorded_and_refused_politely(self):
        self.network.unavailable = True
        with self.assertRaises(services.PaymentRefused) as refused:
            self.start("payvalida")
        self.assertEqual(refused.exception.code, "gateway_error")
        self.assertEqual(Payment.objects.get().status, PaymentStatus.ERROR)
