"""A card declined at Payvalida's checkout: declined everywhere, and Pay now offered normally.

Payvalida leaves the order PENDIENTE after a declined card (the customer may try another
card) and sends no notification; its consult reports the card's response code. The
browser return asks for that consult, so the portal learns of the decline at once.
"""

from __future__ import annotations

from django.utils import translation

from clientarea.payments import services
from clientarea.payments.models import PaymentStatus
from clientarea.payments.tests.base import PaymentsTestCase
from clientarea.payments.tests.helpers import payvalida_notification, post_payvalida


class PayvalidaDeclinedCardTests(PaymentsTestCase):
    def decline_at_payvalida(self, payment) -> None:
        self.network.payvalida_orders[payment.gateway_reference].update(
            PAYMNENT_METHOD="TC",
            TRANSACTION={"DATE": "2026-12-02 09:10:11", "RESPONSE_CODE": "ENTITY_DECLINED"},
        )

    def test_the_return_asks_and_the_decline_shows_everywhere(self):
        payment, _ = self.start("payvalida", method="card")
        self.decline_at_payvalida(payment)
        self.login(self.alice)
        with self.captureOnCommitCallbacks(execute=True):
            self.client.get("/payments/payvalida/return/", {"order": payment.gateway_reference})
        self.scheduled_checks.assert_called_once_with(payment.pk)
        services.check_payment(payment, close_expired=False)  # what the queued check does
        payment.refresh_from_db()
        self.assertEqual(payment.status, PaymentStatus.DECLINED)
        # Payvalida's code as it sent it; what it means is ours, in the reader's language.
        self.assertEqual(payment.status_message, "ENTITY_DECLINED")
        self.assertEqual(payment.status_note_code, "card_declined")
        with translation.override("es"):
            self.assertEqual(
                payment.status_note_text,
                "la tarjeta fue rechazada (el código de respuesta de la pasarela está al lado); "
                "la orden se puede pagar de nuevo",
            )
        result = self.client.get(f"/payments/result/{payment.reference}/?back=1")
        self.assertContains(result, 'data-status="declined"')
        order_page = self.client.get(f"/clientarea/billing/{self.order.number}/")
        self.assertNotContains(order_page, 'id="order-payment-in-process"')
        self.assertContains(order_page, 'id="pay-now"')
        pay_now = self.client.get(f"/payments/pay/{self.order.number}/")
        self.assertNotContains(pay_now, 'id="payment-in-process"')

    def test_a_later_card_approved_in_the_same_checkout_still_pays(self):
        payment, _ = self.start("payvalida", method="card")
        self.decline_at_payvalida(payment)
        services.check_payment(payment, close_expired=False)
        post_payvalida(self.client, payvalida_notification(payment.reference, amount="119000"))
        payment.refresh_from_db()
        self.refresh()
        self.assertEqual(payment.status, PaymentStatus.APPROVED)
        self.assertEqual(self.order.state, "paid")

    def test_the_order_page_names_the_gateway_of_a_payment_in_process(self):
        self.start("payvalida", method="card")
        self.login(self.alice)
        page = self.client.get(f"/clientarea/billing/{self.order.number}/")
        self.assertContains(page, 'id="order-payment-in-process"')
        # Not "(Payvalida (tarjeta))": parentheses inside parentheses.
        self.assertContains(page, "Hay un pago en proceso: Payvalida (tarjeta).")
        self.assertNotContains(page, "payvalida (")

    def test_the_back_office_names_gateways_in_its_lists_and_filters(self):
        self.start("payvalida")
        self.client.force_login(self.carol)
        page = self.client.get("/admin/payments/payment/")
        self.assertContains(page, 'gateway__exact=payvalida">Payvalida</a>', html=False)
        self.assertContains(page, '<td class="field-gateway">Payvalida</td>', html=False)
