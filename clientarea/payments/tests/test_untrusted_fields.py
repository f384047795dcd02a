"""What a signed notification does not vouch for, and messages that cannot be read.

PayU's ``sign`` leaves out the transaction id, and Payvalida's ``pv_checksum`` the
transaction id and the amount: whoever holds a genuinely signed message (the browser's
response page carries the same signature for whole-peso amounts) can replay it with those
fields changed. Such a copy must never become *the* approval's identity, never make the
genuine message look like a second charge, and never hide it. Messages that cannot be read
(numbers out of range, NUL characters) are stored exactly as received and refused with a 4xx.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from decimal import Decimal

from clientarea.billing.selectors import credit_available
from clientarea.notifications.models import OutgoingEmail
from clientarea.payments import services
from clientarea.payments.gateways.base import GatewayStatus
from clientarea.payments.models import (
    Outcome,
    PaymentMessage,
    PaymentStatus,
    RefundStatus,
)
from clientarea.payments.services.apply import TRANSITIONS
from clientarea.payments.services.raw import stored_body
from clientarea.payments.tests.base import PaymentsTestCase, payu_transaction
from clientarea.payments.tests.helpers import (
    payu_confirmation,
    payvalida_notification,
    post_payu,
    post_payvalida,
    renewals,
)


class TransitionTableTests(PaymentsTestCase):
    def test_every_payment_state_and_reported_status_has_a_handler(self):
        for state in PaymentStatus:
            for status in GatewayStatus:
                with self.subTest(state=state, status=status):
                    self.assertIn((state, status), TRANSITIONS)

    def test_each_message_stores_its_result(self):
        payment, _ = self.start()
        fields = payu_confirmation(payment.reference, "119000.00", transaction_id="tx-1")
        post_payu(self.client, fields)
        post_payu(self.client, fields)
        post_payu(self.client, {**fields, "sign": "00" * 32})
        results = list(PaymentMessage.objects.order_by("id").values_list("result", flat=True))
        self.assertEqual(results, [Outcome.APPLIED, Outcome.DUPLICATE, Outcome.INVALID_SIGNATURE])

    def test_the_back_office_filters_messages_by_result(self):
        payment, _ = self.start()
        post_payu(self.client, payu_confirmation(payment.reference, "119000.00"))
        post_payu(self.client, payu_confirmation(payment.reference, "119000.00", state_pol="6"))
        self.client.force_login(self.carol)
        response = self.client.get(
            "/admin/payments/paymentmessage/", {"result__exact": Outcome.IGNORED}
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            list(response.context["cl"].result_list.values_list("result", flat=True)),
            [Outcome.IGNORED],
        )
        self.assertContains(response, str(Outcome.IGNORED.label))
        # ...and on the payment's own page, next to each message.
        page = self.client.get(f"/admin/payments/payment/{payment.pk}/change/")
        self.assertContains(page, str(Outcome.APPLIED.label))


class SpoofedTransactionIdTests(PaymentsTestCase):
    def test_a_made_up_transaction_id_first_does_not_get_the_genuine_charge_refunded(self):
        payment, _ = self.start()
        # The customer replays the response page's signed values with an id of their own.
        post_payu(
            self.client,
            payu_confirmation(payment.reference, "119000.00", transaction_id="made-up"),
        )
        self.refresh()
        self.assertEqual(self.order.state, "paid")  # the approval itself is signed, and real
        with self.captureOnCommitCallbacks(execute=True):
            post_payu(
                self.client,
                payu_confirmation(payment.reference, "119000.00", transaction_id="tx-genuine"),
            )
        self.scheduled_checks.assert_called_once_with(payment.pk, verify=True)
        # PayU's Queries API knows one transaction for this reference: the genuine one.
        self.network.payu_transactions[payment.reference] = [payu_transaction("tx-genuine")]
        services.check_payment(payment, close_expired=False)
        payment.refresh_from_db()
        self.assertEqual(payment.status, PaymentStatus.APPROVED)
        self.assertFalse(payment.duplicate)
        self.assertEqual(payment.refund_status, RefundStatus.NONE)
        self.assertEqual(payment.gateway_transaction_id, "tx-genuine")
        self.assertEqual(OutgoingEmail.objects.filter(template="payment_review").count(), 0)
        self.assertEqual(PaymentMessage.objects.filter(result=Outcome.CORRECTED).count(), 1)
        self.assertEqual(renewals(self.service), 1)

    def test_a_second_charge_is_kept_as_credit_once_when_the_gateway_lists_both(self):
        payment, _ = self.start()
        post_payu(
            self.client, payu_confirmation(payment.reference, "119000.00", transaction_id="tx-1")
        )
        post_payu(
            self.client, payu_confirmation(payment.reference, "119000.00", transaction_id="tx-2")
        )
        self.network.payu_transactions[payment.reference] = [
            payu_transaction("tx-1"),
            payu_transaction("tx-2"),
        ]
        services.check_payment(payment, close_expired=False)
        payment.refresh_from_db()
        self.assertTrue(payment.duplicate)
        self.assertTrue(payment.needs_review)
        self.assertEqual(credit_available(self.alice), Decimal("119000.00"))
        self.assertEqual(payment.gateway_transaction_id, "tx-1")
        # Asked again, the gateway's same answer credits nothing more.
        services.check_payment(payment, close_expired=False)
        self.assertEqual(credit_available(self.alice), Decimal("119000.00"))

    def test_a_payvalida_copy_with_a_wrong_amount_does_not_hide_the_genuine_approval(self):
        payment, _ = self.start("payvalida")
        with self.captureOnCommitCallbacks(execute=True):
            first = post_payvalida(
                self.client,
                payvalida_notification(payment.reference, amount="1000", method="tc"),
            )
        self.assertEqual(first.status_code, 200)
        payment.refresh_from_db()
        self.assertIn(payment.status, (PaymentStatus.CREATED, PaymentStatus.PENDING))
        self.assertEqual(payment.method, "")  # nothing unsigned from the copy is kept
        self.assertTrue(payment.needs_review)
        self.scheduled_checks.assert_called_once_with(payment.pk, verify=True)
        genuine = post_payvalida(
            self.client, payvalida_notification(payment.reference, amount="119000")
        )
        self.assertEqual(genuine.status_code, 200)
        payment.refresh_from_db()
        self.refresh()
        self.assertEqual(payment.status, PaymentStatus.APPROVED)
        self.assertEqual(self.order.state, "paid")
        self.assertIn("amount mismatch", payment.review_reason)  # the copy stays on record
        self.assertEqual(
            list(PaymentMessage.objects.order_by("id").values_list("result", flat=True)),
            [Outcome.REVIEW, Outcome.APPLIED],
        )


class UnreadableMessageTests(PaymentsTestCase):
    def test_a_response_page_amount_out_of_range_is_shown_as_unknown_not_a_500(self):
        payment, _ = self.start()
        params = {
            "merchantId": "508029",
            "referenceCode": payment.reference,
            "TX_VALUE": "9" * 29,
            "currency": "COP",
            "transactionState": "4",
            "signature": "ab" * 32,
        }
        response = self.client.get("/payments/payu/response/", params)
        self.assertEqual(response.status_code, 302)
        message = PaymentMessage.objects.get()
        self.assertTrue(message.processed)
        self.assertEqual(message.result, Outcome.SHOWN)
        self.assertFalse(message.signature_valid)

    def test_a_nul_in_a_payu_transaction_id_is_refused_and_kept_exactly(self):
        payment, _ = self.start()
        fields = payu_confirmation(payment.reference, "119000.00", transaction_id="tx-1\x00x")
        body = urllib.parse.urlencode(fields).encode()
        response = self.client.post(
            "/payments/payu/confirmation/",
            data=body,
            content_type="application/x-www-form-urlencoded",
        )
        self.assertEqual(response.status_code, 400)
        message = PaymentMessage.objects.get()
        self.assertEqual(message.result, Outcome.MALFORMED)
        self.assertIsNone(message.dedupe_key)
        self.assertEqual(stored_body(message), body)
        # The genuine confirmation is not blocked by the broken copy.
        genuine = post_payu(
            self.client, payu_confirmation(payment.reference, "119000.00", transaction_id="tx-1")
        )
        self.assertEqual(genuine.status_code, 200)
        self.refresh()
        self.assertEqual(self.order.state, "paid")

    def test_a_nul_in_payvalida_ids_is_refused_and_the_genuine_copy_applies(self):
        payment, _ = self.start("payvalida")
        for name in ("pv_po_id", "po_id"):
            body = payvalida_notification(payment.reference, amount="119000")
            body[name] += "\x00"
            raw = json.dumps(body).encode()
            response = self.client.post(
                "/payments/payvalida/notification/", data=raw, content_type="application/json"
            )
            with self.subTest(field=name):
                self.assertLess(response.status_code, 500)
                self.assertTrue(response.content.decode().startswith("ERROR"))
        self.assertEqual(
            set(PaymentMessage.objects.values_list("result", flat=True)),
            {Outcome.MALFORMED},
        )
        response = post_payvalida(
            self.client, payvalida_notification(payment.reference, amount="119000")
        )
        self.assertEqual(response.content.decode(), "OK. received")
        self.refresh()
        self.assertEqual(self.order.state, "paid")

    def test_a_stored_body_that_is_not_text_is_parsed_again_from_its_bytes(self):
        message = services.record_message(
            gateway_code="payu", kind="confirmation", body=b"a=\xff\x00b"
        )
        self.assertEqual(base64.b64decode(message.raw_base64), b"a=\xff\x00b")
        self.assertNotIn("\x00", message.body)
        self.assertEqual(stored_body(message), b"a=\xff\x00b")
