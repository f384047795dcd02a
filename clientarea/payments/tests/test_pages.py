"""The customer's pages: Pay now, the hand-off to the gateway, the browser return and the result page."""

from __future__ import annotations

import hashlib
import json
import re
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import override_settings

from clientarea.billing import services as billing_services
from clientarea.billing.models import LedgerEntry, Order, OrderItem
from clientarea.payments import selectors, services
from clientarea.payments.models import MessageKind, Payment, PaymentMessage, PaymentStatus
from clientarea.payments.tests.base import PaymentsTestCase, payu_transaction
from clientarea.payments.tests.helpers import make_renewal_order, payu_confirmation, post_payu


def signed_payu_return(
    reference: str, *, state: str = "4", value: str = "119000.00"
) -> dict[str, str]:
    """Response-page parameters, signed per the doc: new_value = TX_VALUE rounded half-even to one decimal."""
    new_value = f"{Decimal(value).quantize(Decimal('0.1'), rounding=ROUND_HALF_EVEN)}"
    payload = "~".join(
        [settings.PAYU_API_KEY, settings.PAYU_MERCHANT_ID, reference, new_value, "COP", state]
    )
    return {
        "merchantId": settings.PAYU_MERCHANT_ID,
        "referenceCode": reference,
        "TX_VALUE": value,
        "currency": "COP",
        "transactionState": state,
        "lapTransactionState": "APPROVED" if state == "4" else "DECLINED",
        "message": "APPROVED" if state == "4" else "Declinada",
        "transactionId": "tx-ret",
        "signature": hashlib.sha256(payload.encode()).hexdigest(),
    }


class PayNowPageTests(PaymentsTestCase):
    def url(self, order=None) -> str:
        return f"/payments/pay/{(order or self.order).number}/"

    def test_it_needs_a_login(self):
        response = self.client.get(self.url())
        self.assertEqual(response.status_code, 302)
        self.assertIn("/clientarea/login/", response["Location"])

    def test_it_shows_the_order_and_each_gateway_with_its_methods(self):
        self.login(self.alice)
        response = self.client.get(self.url())
        self.assertEqual(response.status_code, 200)
        html = response.content.decode()
        self.assertIn('id="gateway-payu"', html)
        self.assertIn('id="gateway-payvalida"', html)
        self.assertIn("$ 119.000", html)
        self.assertIn('id="method-payu-pse"', html)
        self.assertIn('id="method-payvalida-cash"', html)
        self.assertNotIn('id="payment-in-process"', html)

    @override_settings(PAYVALIDA_ENABLED=False)
    def test_a_disabled_gateway_is_not_offered(self):
        self.login(self.alice)
        html = self.client.get(self.url()).content.decode()
        self.assertIn('id="gateway-payu"', html)
        self.assertNotIn('id="gateway-payvalida"', html)

    def test_another_customers_order_is_404(self):
        self.login(self.bob)
        self.assertEqual(self.client.get(self.url()).status_code, 404)
        self.assertEqual(self.client.post(self.url(), {"gateway": "payu"}).status_code, 404)
        self.assertFalse(Payment.objects.exists())

    def test_a_paid_or_cancelled_order_goes_back_to_the_order_with_a_message(self):
        self.login(self.alice)
        payment, _ = self.start()
        post_payu(self.client, payu_confirmation(payment.reference, "119000.00"))
        response = self.client.post(self.url(), {"gateway": "payu"}, follow=False)
        self.assertRedirects(
            response, f"/clientarea/billing/{self.order.number}/", fetch_redirect_response=False
        )
        other, _service = make_renewal_order(self.alice)
        billing_services.cancel_order(order=other, reason="test", notify=False)
        response = self.client.get(self.url(other))
        self.assertRedirects(
            response, f"/clientarea/billing/{other.number}/", fetch_redirect_response=False
        )
        self.assertEqual(Payment.objects.count(), 1)

    def test_a_customer_without_invoice_data_is_sent_to_the_profile(self):
        self.alice.municipality_code = ""
        self.alice.save()
        self.login(self.alice)
        response = self.client.post(self.url(), {"gateway": "payu"})
        self.assertRedirects(response, "/clientarea/profile/", fetch_redirect_response=False)
        self.assertFalse(Payment.objects.exists())

    def test_choosing_payu_renders_a_self_submitting_form(self):
        self.login(self.alice)
        response = self.client.post(self.url(), {"gateway": "payu", "method": "card"})
        self.assertEqual(response.status_code, 200)
        html = response.content.decode()
        payment = Payment.objects.get()
        form = re.search(
            r'<form method="post" action="([^"]+)" id="gateway-redirect-form">(.*?)</form>',
            html,
            re.S,
        )
        self.assertIsNotNone(form)
        assert form is not None
        self.assertEqual(form.group(1), "http://testserver/sandbox/payu/ppp-web-gateway-payu/")
        self.assertIn(f'name="referenceCode" value="{payment.reference}"', form.group(2))
        self.assertIn('id="gateway-continue"', form.group(2))
        self.assertNotIn(
            "csrfmiddlewaretoken", form.group(2)
        )  # our CSRF token never goes to a third party
        # The auto-submit is a static script (the Content-Security-Policy blocks inline ones).
        self.assertIn('<script src="/static/payments/redirect.js">', html)
        found = finders.find("payments/redirect.js")
        assert isinstance(found, str)
        script = Path(found).read_text()
        self.assertIn('document.getElementById("gateway-redirect-form").submit()', script)
        self.assertEqual(response["Cache-Control"].count("no-store"), 1)

    def test_choosing_payvalida_redirects_to_its_checkout(self):
        self.login(self.alice)
        response = self.client.post(self.url(), {"gateway": "payvalida", "method": "cash"})
        self.assertEqual(response.status_code, 302)
        self.assertIn("token=eyJtoken", response["Location"])

    def test_an_invalid_choice_shows_the_page_again(self):
        self.login(self.alice)
        for data in ({"gateway": "stripe"}, {"gateway": "payu", "method": "bitcoin"}):
            with self.subTest(data):
                response = self.client.post(self.url(), data)
                self.assertEqual(response.status_code, 200)
                self.assertIn('id="gateway-payu"', response.content.decode())
        self.assertFalse(Payment.objects.exists())

    def test_an_order_with_cents_is_paid_in_whole_pesos_at_either_gateway(self):
        """45.990 + 19 % IVA = 54.728,10, rounded to pay 54.728 (Payvalida takes whole pesos only)."""
        order, _ = make_renewal_order(self.alice, price=Decimal("45990.00"))
        self.assertEqual((order.total, order.rounding), (Decimal("54728.00"), Decimal("-0.10")))
        self.login(self.alice)
        html = self.client.get(f"/payments/pay/{order.number}/").content.decode()
        self.assertIn('id="gateway-payvalida"', html)
        response = self.client.post(f"/payments/pay/{order.number}/", {"gateway": "payvalida"})
        self.assertEqual(response.status_code, 302)
        register = json.loads(
            next(
                body
                for method, url, body in self.network.calls
                if method == "POST" and body is not None
            )
        )
        self.assertEqual(register["amount"], "54728")
        order_page = self.client.get(f"/clientarea/billing/{order.number}/").content.decode()
        self.assertIn('id="order-rounding"', order_page)
        self.assertIn("-$ 0,10", order_page)

    def test_an_order_with_cents_from_before_whole_peso_totals_cannot_go_to_payvalida_and_says_why(
        self,
    ):
        """Orders created before the rounding rule keep their totals; Payvalida's API takes whole pesos only."""
        order, _ = make_renewal_order(self.alice, price=Decimal("45990.00"))
        Order.objects.filter(pk=order.pk).update(total=Decimal("54728.10"), rounding=Decimal("0"))
        # The account, as the ledger migration posted such an order: its total, cents included.
        LedgerEntry.objects.filter(order=order).update(amount=Decimal("54728.10"))
        order.refresh_from_db()
        self.login(self.alice)
        url = f"/payments/pay/{order.number}/"
        html = self.client.get(url).content.decode()
        self.assertIn('id="gateway-payvalida-unavailable"', html)
        self.assertIn("solo recibe valores en pesos enteros", html)
        self.assertNotIn('id="gateway-payvalida"', html)
        self.assertIn('id="gateway-payu"', html)
        response = self.client.post(url, {"gateway": "payvalida"})
        self.assertEqual(response.status_code, 200)
        self.assertFalse(Payment.objects.filter(order=order).exists())
        with self.assertRaises(services.PaymentRefused):
            services.start_payment(order=order, customer=self.alice, gateway_code="payvalida")
        response = self.client.post(url, {"gateway": "payu"})
        self.assertEqual(Payment.objects.get(order=order).amount, Decimal("54728.10"))

    def test_a_payment_in_process_is_shown_before_a_second_attempt(self):
        payment, _ = self.start("payvalida", method="cash")
        Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.PENDING, method="cash")
        self.login(self.alice)
        html = self.client.get(self.url()).content.decode()
        self.assertIn('id="payment-in-process"', html)
        self.assertIn("989898101", html)  # the voucher reference
        self.assertIn('id="reopen-voucher"', html)
        in_process = selectors.payment_in_process(self.order)
        assert in_process is not None
        self.assertEqual(in_process.pk, payment.pk)


class ReturnAndResultTests(PaymentsTestCase):
    def test_the_payu_return_never_changes_the_payment_even_when_signed(self):
        payment, _ = self.start()
        self.login(self.alice)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.get(
                "/payments/payu/response/", signed_payu_return(payment.reference)
            )
        self.assertRedirects(
            response, f"/payments/result/{payment.reference}/?back=1", fetch_redirect_response=False
        )
        payment.refresh_from_db()
        self.refresh()
        self.assertEqual(payment.status, PaymentStatus.CREATED)
        self.assertEqual(self.order.state, "pending")
        message = PaymentMessage.objects.get(kind=MessageKind.RETURN)
        self.assertTrue(message.signature_valid)
        self.assertEqual(message.payment_id, payment.pk)
        self.scheduled_checks.assert_called_once_with(payment.pk)  # asks the gateway instead

    def test_a_declined_return_shows_the_gateways_words_as_a_warning(self):
        """ "Gateway response: Declined" was shown in the green box of good news."""
        payment, _ = self.start()
        self.login(self.alice)
        response = self.client.get(
            "/payments/payu/response/",
            signed_payu_return(payment.reference, state="6"),
            follow=True,
        )
        html = response.content.decode()
        self.assertIn('<p class="alert alert-warning">', html)
        warning = html.split('<p class="alert alert-warning">', 1)[1].split("</p>", 1)[0]
        self.assertIn("Declinada", warning)

    def test_the_payvalida_return_leads_to_the_result_page(self):
        payment, _ = self.start("payvalida")
        self.login(self.alice)
        response = self.client.get(
            "/payments/payvalida/return/", {"order": payment.gateway_reference}
        )
        self.assertRedirects(
            response, f"/payments/result/{payment.reference}/?back=1", fetch_redirect_response=False
        )

    def test_an_unknown_return_goes_to_the_orders(self):
        self.login(self.alice)
        response = self.client.get("/payments/payvalida/return/", {"order": "NOPE1"})
        self.assertRedirects(response, "/clientarea/billing/", fetch_redirect_response=False)
        response = self.client.get("/payments/payu/response/")
        self.assertRedirects(response, "/clientarea/billing/", fetch_redirect_response=False)

    def result(self, payment, **params):
        return self.client.get(f"/payments/result/{payment.reference}/", params)

    def status_of(self, response) -> str:
        match = re.search(r'id="payment-status" data-status="([^"]+)"', response.content.decode())
        return match.group(1) if match else ""

    def test_only_the_owner_sees_a_result(self):
        payment, _ = self.start()
        self.login(self.bob)
        self.assertEqual(self.result(payment).status_code, 404)
        self.login(self.carol)  # staff without a customer profile
        self.assertEqual(self.result(payment).status_code, 404)

    def test_it_refreshes_while_no_news_arrived_then_gives_up_politely(self):
        payment, _ = self.start()
        self.login(self.alice)
        first = self.result(payment)
        self.assertEqual(self.status_of(first), "processing")
        self.assertIn('http-equiv="refresh" content="3;url=', first.content.decode())
        last = self.result(payment, poll="40")
        self.assertEqual(self.status_of(last), "processing")
        self.assertNotIn('http-equiv="refresh"', last.content.decode())
        self.assertIn('id="retry-payment"', last.content.decode())

    def test_it_shows_approved_once_the_confirmation_arrived(self):
        payment, _ = self.start()
        post_payu(self.client, payu_confirmation(payment.reference, "119000.00"))
        self.login(self.alice)
        response = self.result(payment)
        self.assertEqual(self.status_of(response), "approved")
        self.assertNotIn('http-equiv="refresh"', response.content.decode())

    def test_approved_promises_active_services_only_when_the_order_bills_one(self):
        # A custom order (a migration, no service) read "Your services are active or renewed".
        payment, _ = self.start()
        post_payu(self.client, payu_confirmation(payment.reference, "119000.00"))
        self.login(self.alice)
        services = "Sus servicios quedaron activos o renovados"
        self.assertIn(services, self.result(payment).content.decode())
        OrderItem.objects.filter(order=self.order).update(service=None)
        page = self.result(payment).content.decode()
        self.assertEqual(self.status_of(self.result(payment)), "approved")
        self.assertNotIn("Sus servicios", page)
        self.assertIn("Su factura electrónica le llegará por correo.", page)

    def test_it_offers_a_retry_after_a_decline(self):
        payment, _ = self.start()
        post_payu(self.client, payu_confirmation(payment.reference, "119000.00", state_pol="6"))
        self.login(self.alice)
        response = self.result(payment)
        self.assertEqual(self.status_of(response), "declined")
        self.assertIn(f'href="/payments/pay/{self.order.number}/"', response.content.decode())

    def test_a_pending_pse_payment_says_the_bank_is_confirming(self):
        payment, _ = self.start(method="pse")
        Payment.objects.filter(pk=payment.pk).update(
            status=PaymentStatus.PENDING,
            method="pse",
            instructions={"bank": "Banco Demo", "cus": "123456"},
        )
        self.login(self.alice)
        response = self.result(payment)
        self.assertEqual(self.status_of(response), "pending")
        html = response.content.decode()
        self.assertIn("Banco Demo", html)
        self.assertIn("123456", html)

    def test_back_from_the_bank_with_pse_still_pending_the_page_waits_for_the_final_answer(self):
        """The bank answered; its notification may be a second behind the customer's browser."""
        payment, _ = self.start(method="pse")
        Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.PENDING, method="pse")
        self.login(self.alice)
        first = self.result(payment, back="1")
        self.assertEqual(self.status_of(first), "pending")
        self.assertIn('id="awaiting-final"', first.content.decode())
        self.assertIn(
            'http-equiv="refresh" content="3;url=/payments/result/'
            f'{payment.reference}/?back=1&amp;poll=1"',
            first.content.decode(),
        )
        last = self.result(payment, back="1", poll="20")
        self.assertNotIn('http-equiv="refresh"', last.content.decode())
        self.assertNotIn('id="awaiting-final"', last.content.decode())
        # Opened later (from the order, an email): a pending payment is simply pending
        self.assertNotIn('http-equiv="refresh"', self.result(payment).content.decode())
        post_payu(self.client, payu_confirmation(payment.reference, "119000.00"))
        self.assertEqual(self.status_of(self.result(payment, back="1", poll="3")), "approved")

    def test_back_from_paying_in_a_second_tab_nothing_promises_it_was_not_charged(self):
        """Two tabs: the other tab's payment paid the order first; this one was approved at the
        gateway too, but its confirmation is a moment behind the customer's browser. The page
        said "This attempt will not be charged" and stopped; the card was charged (credit)."""
        first, _ = self.start()
        closed, _ = self.start()
        Payment.objects.filter(pk=closed.pk).update(status=PaymentStatus.EXPIRED)
        second, _ = self.start()
        post_payu(self.client, payu_confirmation(second.reference, "119000.00"))
        self.order.refresh_from_db()
        self.assertEqual(self.order.state, "paid")
        self.login(self.alice)
        self.client.cookies["django_language"] = "en"
        back = self.result(first, back="1")
        html = back.content.decode()
        self.assertEqual(self.status_of(back), "order-paid-open")
        self.assertNotIn("will not be charged", html)
        self.assertIn("account credit", html)
        self.assertIn('http-equiv="refresh"', html)  # it keeps asking for this attempt's answer
        post_payu(
            self.client,
            payu_confirmation(first.reference, "119000.00", transaction_id="tx-first"),
        )
        self.assertEqual(self.status_of(self.result(first, back="1", poll="1")), "duplicate")
        # An attempt that was closed without a decision (it expired) was not charged.
        page = self.result(closed).content.decode()
        self.assertIn("will not be charged", page)
        self.assertNotIn('http-equiv="refresh"', page)

    def test_a_cash_voucher_page_stays_still(self):
        payment, _ = self.start(method="cash")
        Payment.objects.filter(pk=payment.pk).update(
            status=PaymentStatus.PENDING, method="cash", instructions={"reference": "123"}
        )
        self.login(self.alice)
        response = self.result(payment, back="1")
        self.assertEqual(self.status_of(response), "pending")
        self.assertNotIn('http-equiv="refresh"', response.content.decode())

    def test_a_duplicate_payment_tells_the_customer_about_the_refund(self):
        payment, _ = self.start()
        post_payu(
            self.client, payu_confirmation(payment.reference, "119000.00", transaction_id="a")
        )
        post_payu(
            self.client, payu_confirmation(payment.reference, "119000.00", transaction_id="b")
        )
        self.network.payu_transactions[payment.reference] = [
            payu_transaction("a"),
            payu_transaction("b"),
        ]
        services.check_payment(payment, close_expired=False)
        self.login(self.alice)
        self.assertEqual(self.status_of(self.result(payment)), "duplicate")
