"""Back office: read-only payments with their messages, "query again" and "mark as refunded"."""

from __future__ import annotations

from clientarea.accounts.models import AuditEvent
from clientarea.payments import services
from clientarea.payments.models import Payment, PaymentMessage, PaymentStatus, RefundStatus
from clientarea.payments.tests.base import PaymentsTestCase, payu_transaction
from clientarea.payments.tests.helpers import payu_confirmation, post_payu


class PaymentAdminTests(PaymentsTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.payment, _ = self.start()
        post_payu(
            self.client, payu_confirmation(self.payment.reference, "119000.00", transaction_id="a")
        )
        post_payu(
            self.client, payu_confirmation(self.payment.reference, "119000.00", transaction_id="b")
        )
        # PayU's own list confirms the second charge: flagged for refund
        self.network.payu_transactions[self.payment.reference] = [
            payu_transaction("a"),
            payu_transaction("b"),
        ]
        services.check_payment(self.payment, close_expired=False)
        # Kept as credit, then staff decide to refund it instead.
        self.payment = services.refund_instead_of_credit(
            Payment.objects.get(pk=self.payment.pk), "the customer asked", self.carol
        )
        self.login(self.carol)

    def test_the_list_filters_and_search_work(self):
        for query in (
            "",
            "?attention=refund",
            "?refund_status__exact=flagged",
            "?status__exact=approved&gateway__exact=payu",
            f"?q={self.order.number}",
            "?q=alice@example.com",
            "?needs_review__exact=0",
            "?duplicate__exact=1",
        ):
            with self.subTest(query):
                response = self.client.get(f"/admin/payments/payment/{query}")
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, self.payment.reference)

    def test_the_detail_shows_the_message_log_and_nothing_is_editable(self):
        response = self.client.get(f"/admin/payments/payment/{self.payment.pk}/change/")
        self.assertContains(response, "duplicate: second approved transaction, kept as credit")
        self.assertContains(response, 'id="payment-refunded"')
        self.assertNotContains(response, 'name="_save"')
        self.assertNotContains(response, 'name="status"')
        message = PaymentMessage.objects.first()
        assert message is not None
        self.assertEqual(
            self.client.get(f"/admin/payments/paymentmessage/{message.pk}/change/").status_code, 200
        )
        self.assertEqual(self.client.get("/admin/payments/paymentmessage/").status_code, 200)
        self.assertEqual(self.client.get("/admin/payments/payment/add/").status_code, 403)

    def test_the_review_reason_is_in_the_readers_language(self):
        said = "segunda transacción aprobada b para este intento (la primera: a)"
        self.assertIn("second approved transaction b", self.payment.review_reason)  # for logs
        page = self.client.get(f"/admin/payments/payment/{self.payment.pk}/change/")
        self.assertContains(page, said)
        self.assertNotContains(page, "for this attempt (first: a), kept as credit")
        confirm = self.client.post(
            "/admin/payments/payment/",
            {"action": "mark_refunded_action", "_selected_action": [self.payment.pk]},
        )
        self.assertContains(confirm, said)
        page = self.client.get(
            f"/admin/payments/payment/{self.payment.pk}/change/", HTTP_ACCEPT_LANGUAGE="en"
        )
        self.assertContains(page, "second approved transaction b for this attempt (first: a)")
        # A payment flagged before reasons had codes shows the sentence it has.
        Payment.objects.filter(pk=self.payment.pk).update(
            review_code="", review_values={}, review_reason="old reason, as written"
        )
        page = self.client.get(f"/admin/payments/payment/{self.payment.pk}/change/")
        self.assertContains(page, "old reason, as written")

    def test_mark_refunded_asks_for_a_note_and_records_who(self):
        url = f"/admin/payments/payment/{self.payment.pk}/refunded/"
        self.assertEqual(self.client.get(url).status_code, 200)
        response = self.client.post(url, {"note": "  "})
        self.assertEqual(response.status_code, 200)  # form shown again
        self.payment.refresh_from_db()
        self.assertEqual(self.payment.refund_status, RefundStatus.FLAGGED)
        response = self.client.post(url, {"note": "Refunded in PayU, id 777"})
        self.assertEqual(response.status_code, 302)
        self.payment.refresh_from_db()
        self.assertEqual(self.payment.refund_status, RefundStatus.REFUNDED)
        self.assertEqual(self.payment.refunded_by, self.carol)
        self.assertTrue(
            AuditEvent.objects.filter(
                action="payment.refunded", target=self.payment.reference
            ).exists()
        )

    def test_the_list_action_marks_only_flagged_payments(self):
        other, _ = self.start(order=self._other_order())
        response = self.client.post(
            "/admin/payments/payment/",
            {
                "action": "mark_refunded_action",
                "_selected_action": [self.payment.pk, other.pk],
                "apply": "1",
                "note": "bank transfer 55",
            },
        )
        self.assertEqual(response.status_code, 302)
        self.payment.refresh_from_db()
        other.refresh_from_db()
        self.assertEqual(self.payment.refund_status, RefundStatus.REFUNDED)
        self.assertEqual(other.refund_status, RefundStatus.NONE)

    def test_query_again_applies_the_gateways_answer(self):
        other_order = self._other_order()
        other, _ = self.start(order=other_order)
        self.network.payu_transactions[other.reference] = [payu_transaction("tx-q")]
        response = self.client.post(
            "/admin/payments/payment/", {"action": "query_again", "_selected_action": [other.pk]}
        )
        self.assertEqual(response.status_code, 302)
        other.refresh_from_db()
        other_order.refresh_from_db()
        self.assertEqual(other.status, PaymentStatus.APPROVED)
        self.assertEqual(other_order.state, "paid")
        response = self.client.post(f"/admin/payments/payment/{other.pk}/query/")
        self.assertEqual(response.status_code, 302)
        self.assertEqual(Payment.objects.filter(status=PaymentStatus.APPROVED).count(), 2)

    def test_query_again_says_what_happened_in_the_readers_language(self):
        other_order = self._other_order()
        other, _ = self.start(order=other_order)
        self.network.payu_transactions[other.reference] = [payu_transaction("tx-q")]
        response = self.client.post(f"/admin/payments/payment/{other.pk}/query/", follow=True)
        said = [str(m) for m in response.context["messages"]]
        self.assertEqual(
            said,
            [
                f"{other.reference}: la pasarela respondió. Pago: Aprobado. "
                f"Orden {other_order.number}: Pagada."
            ],
        )  # not the log's English outcome ("applied")
        self.network.payu_transactions[other.reference] = []
        Payment.objects.filter(pk=other.pk).update(status=PaymentStatus.CREATED)
        response = self.client.post(f"/admin/payments/payment/{other.pk}/query/", follow=True)
        said = [str(m) for m in response.context["messages"]]
        self.assertIn("la pasarela no tiene registro de él.", said[0])

    def test_amounts_read_in_pesos(self):
        page = self.client.get(f"/admin/payments/payment/{self.payment.pk}/change/")
        self.assertContains(page, "$ 119.000")
        self.assertContains(page, "$ 19.000")  # the IVA
        self.assertNotContains(page, "119000,00")
        self.assertNotContains(page, "100000,00")
        # The gateway messages' two columns are told apart (both read "Resultado" before).
        self.assertContains(page, "Detalle (registro técnico)")

    def _other_order(self):
        from clientarea.payments.tests.helpers import make_renewal_order

        return make_renewal_order(self.alice)[0]


class StuckMessageAdminTests(PaymentsTestCase):
    def test_staff_find_a_waiting_notification_and_apply_it_again(self):
        from unittest import mock

        payment, _ = self.start()
        with mock.patch(
            "clientarea.billing.services.mark_order_paid", side_effect=RuntimeError("bug")
        ):
            post_payu(
                self.client,
                payu_confirmation(payment.reference, "119000.00", transaction_id="late"),
            )
        message = PaymentMessage.objects.get()
        self.login(self.carol)
        waiting = self.client.get("/admin/payments/paymentmessage/?waiting=yes")
        self.assertContains(waiting, "RuntimeError")
        self.assertNotContains(
            self.client.get("/admin/payments/paymentmessage/?waiting=stuck"), "RuntimeError"
        )
        response = self.client.post(
            "/admin/payments/paymentmessage/?waiting=yes",
            {"action": "apply_again", "_selected_action": [message.pk]},
            follow=True,
        )
        self.assertContains(response, "applied")
        message.refresh_from_db()
        self.refresh()
        self.assertEqual((message.processed, message.outcome), (True, "applied"))
        self.assertEqual(self.order.state, "paid")
        self.assertTrue(AuditEvent.objects.filter(action="payment.message_retried").exists())
        # Again: nothing left to apply, said plainly.
        again = self.client.post(
            "/admin/payments/paymentmessage/",
            {"action": "apply_again", "_selected_action": [message.pk]},
            follow=True,
        )
        self.assertContains(again, f'<li class="warning">#{message.pk}: ')
        self.assertNotContains(
            self.client.get("/admin/payments/paymentmessage/?waiting=yes"), "RuntimeError"
        )


class GatewaySwitchTests(PaymentsTestCase):
    """Staff stop offering a gateway at Pay now (an outage) and resume it; money in flight is still applied."""

    def test_switching_a_gateway_off_and_on_again(self):
        from clientarea.payments import services
        from clientarea.payments.tests.helpers import payu_confirmation, post_payu

        started, _ = self.start()  # before the outage
        self.login(self.carol)
        response = self.client.post(
            "/admin/payments/payment/gateway/payu/switch/",
            {"offered": "0", "reason": "PayU outage"},
        )
        self.assertRedirects(response, "/admin/payments/payment/", fetch_redirect_response=False)
        self.assertContains(self.client.get("/admin/payments/payment/"), 'id="gateway-resume-payu"')
        self.assertTrue(
            AuditEvent.objects.filter(action="payment.gateway_switched", target="payu").exists()
        )
        # Customers: PayU is shown as unavailable and cannot be started
        self.login(self.alice)
        html = self.client.get(f"/payments/pay/{self.order.number}/").content.decode()
        self.assertIn('id="gateway-payu-unavailable"', html)
        self.assertNotIn('id="gateway-payu"', html)
        self.assertIn('id="gateway-payvalida"', html)
        with self.assertRaises(services.PaymentRefused):
            self.start()
        # ...but the payment started before is still confirmed and applied
        self.assertEqual(
            post_payu(self.client, payu_confirmation(started.reference, "119000.00")).status_code,
            200,
        )
        self.refresh()
        self.assertEqual(self.order.state, "paid")
        # On again
        self.login(self.carol)
        self.client.post("/admin/payments/payment/gateway/payu/switch/", {"offered": "1"})
        self.assertContains(self.client.get("/admin/payments/payment/"), 'id="gateway-stop-payu"')

    def test_switching_off_needs_a_reason_and_a_known_gateway(self):
        from clientarea.payments.models import GatewaySwitch

        self.login(self.carol)
        response = self.client.post(
            "/admin/payments/payment/gateway/payu/switch/",
            {"offered": "0", "reason": "  "},
            follow=True,
        )
        self.assertContains(response, '<li class="error">')  # "say why it is switched off"
        self.assertFalse(GatewaySwitch.objects.filter(offered=False).exists())
        self.assertEqual(
            self.client.post(
                "/admin/payments/payment/gateway/stripe/switch/", {"offered": "0", "reason": "x"}
            ).status_code,
            404,
        )
        self.assertEqual(
            self.client.get("/admin/payments/payment/gateway/payu/switch/").status_code, 405
        )

    def test_staff_without_the_permission_cannot_switch(self):
        from clientarea.accounts.models import User

        clerk = User.objects.create_user(
            email="clerk@conexcol.example", password="x" * 12, is_staff=True
        )
        self.client.force_login(clerk)
        response = self.client.post(
            "/admin/payments/payment/gateway/payu/switch/", {"offered": "0", "reason": "x"}
        )
        self.assertEqual(response.status_code, 403)
