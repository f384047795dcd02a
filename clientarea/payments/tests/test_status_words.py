"""A payment's state in two voices: the gateway's own words (``status_message``, as they came)
and ours (``status_note_code``/``values``), read in the reader's language; a Python error's text
is never shown to staff."""

from __future__ import annotations

import importlib
import json
import urllib.error
from unittest import mock

from django.apps import apps
from django.utils import translation

from clientarea.lib import http
from clientarea.payments import services
from clientarea.payments.models import Payment, PaymentMessage, PaymentStatus
from clientarea.payments.tests.base import PaymentsTestCase, json_response
from clientarea.payments.tests.helpers import (
    payu_confirmation,
    payvalida_notification,
    post_payu,
    post_payvalida,
)

REAL_SEND = http.send  # before the tests' fake network replaces it
MIGRATION = importlib.import_module("clientarea.payments.migrations.0012_payment_status_note")


def texts(payment: Payment) -> dict[str, str]:
    payment.refresh_from_db()
    with translation.override("en"):
        english = payment.status_note_text
    with translation.override("es"):
        spanish = payment.status_note_text
    return {"en": english, "es": spanish, "gateway": payment.status_message}


class StartFailureTests(PaymentsTestCase):
    """What went wrong when the payment was sent to Payvalida (the only gateway called then)."""

    def start_failing(self) -> Payment:
        with self.assertRaises(services.PaymentRefused):
            self.start("payvalida", method="cash")
        payment = Payment.objects.get()
        self.assertEqual(payment.status, PaymentStatus.ERROR)
        return payment

    def network_fails_with(self, error: BaseException):
        """The real HTTP client, its connection failing as urllib fails."""
        return (
            mock.patch("clientarea.lib.http.send", REAL_SEND),
            mock.patch.object(http._opener, "open", side_effect=error),
        )

    def test_a_timeout_is_our_words_not_pythons(self):
        send, opener = self.network_fails_with(TimeoutError("timed out"))
        with send, opener:
            payment = self.start_failing()
        said = texts(payment)
        self.assertEqual(payment.status_note_code, "start_timeout")
        self.assertEqual(said["gateway"], "")
        self.assertEqual(
            said["en"], "the gateway did not answer in time: the payment was not started"
        )
        self.assertEqual(said["es"], "la pasarela no respondió a tiempo: el pago no se inició")

    def test_a_refused_connection_and_a_network_failure(self):
        for error, code in (
            (
                urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")),
                "start_refused_connection",
            ),
            (urllib.error.URLError(OSError("Name or service not known")), "start_unreachable"),
            (urllib.error.URLError(TimeoutError("timed out")), "start_timeout"),
        ):
            Payment.objects.all().delete()
            send, opener = self.network_fails_with(error)
            with self.subTest(code), send, opener:
                payment = self.start_failing()
                self.assertEqual(payment.status_note_code, code)
                self.assertEqual(payment.status_message, "")
                for said in texts(payment).values():
                    self.assertNotIn("Error", said)
                    self.assertNotIn("Payvalida unreachable", said)

    def test_a_refusal_keeps_the_gateways_words_labelled_as_its(self):
        def refusing(method, url, body, headers, timeout=None):
            return json_response({"CODE": "0002", "DESC": "Monto no permitido", "DATA": None})

        with mock.patch("clientarea.lib.http.send", refusing):
            payment = self.start_failing()
        said = texts(payment)
        self.assertEqual(payment.status_note_code, "start_refused")
        self.assertEqual(said["gateway"], "Monto no permitido (0002)")
        self.assertEqual(said["en"], "the gateway refused the payment (its words are beside this)")
        self.assertEqual(said["es"], "la pasarela rechazó el pago (sus palabras están al lado)")

    def test_an_answer_that_cannot_be_read(self):
        def garbled(method, url, body, headers, timeout=None):
            return http.HttpResponse(status=200, body=b"<html>maintenance</html>")

        with mock.patch("clientarea.lib.http.send", garbled):
            payment = self.start_failing()
        self.assertEqual(payment.status_note_code, "start_bad_answer")
        self.assertEqual(payment.status_message, "")

    def test_a_temporary_error_keeps_the_gateways_code(self):
        def busy(method, url, body, headers, timeout=None):
            return json_response({"CODE": "0009", "DESC": "Servicio no disponible"})

        with mock.patch("clientarea.lib.http.send", busy):
            payment = self.start_failing()
        self.assertEqual(payment.status_note_code, "start_unavailable")
        self.assertEqual(payment.status_message, "Servicio no disponible (0009)")


class StatusWordsTests(PaymentsTestCase):
    def test_a_replaced_attempt_says_so_in_the_readers_language(self):
        first, _ = self.start()
        self.start("payvalida")
        said = texts(first)
        self.assertEqual(said["gateway"], "")
        self.assertEqual(said["en"], "replaced by a new attempt")
        self.assertEqual(said["es"], "reemplazado por un nuevo intento")

    def test_an_approval_keeps_the_gateways_words_and_a_mismatch_adds_ours(self):
        payment, _ = self.start()
        post_payu(self.client, payu_confirmation(payment.reference, "119000.00"))
        said = texts(payment)
        self.assertEqual(said["gateway"], "APPROVED")
        self.assertEqual(said["en"], "")  # the gateway's word says it all

        other, _ = self.start(order=self.other_order())
        post_payu(self.client, payu_confirmation(other.reference, "1000.00"))
        said = texts(other)
        self.assertEqual(other.status, PaymentStatus.ERROR)
        self.assertEqual(said["gateway"], "APPROVED")
        self.assertEqual(
            said["en"],
            "approved at the gateway, not applied: amount mismatch: got 1000.00, expected "
            "119000.00",
        )
        # The problem too is read in the reader's language (it was kept as English words).
        self.assertEqual(
            said["es"],
            "aprobado en la pasarela, no aplicado: el valor no coincide: llegó 1000.00, se "
            "esperaba 119000.00",
        )
        self.assertEqual(
            other.status_note_values["problem"],
            {
                "table": "payments.mismatch",
                "code": "amount",
                "values": {"got": "1000.00", "expected": "119000.00"},
            },
        )
        with translation.override("es"):
            self.assertEqual(
                other.review_text,
                "el valor no coincide: llegó 1000.00, se esperaba 119000.00 (transacción "
                f"{other.review_values['transaction']})",
            )
        self.assertEqual(
            other.review_reason,
            f"amount mismatch: got 1000.00, expected 119000.00 (transaction "
            f"{other.review_values['transaction']})",
        )

    def test_a_gateway_that_says_nothing_gets_our_words_not_a_made_up_gateway_word(self):
        """PayU's confirmation without its message: the status name was stored as PayU's words
        ("declined", English, ours); now the gateway's words are empty and ours say it."""
        payment, _ = self.start()
        post_payu(
            self.client,
            payu_confirmation(
                payment.reference, "119000.00", state_pol="6", response_message_pol=""
            ),
        )
        said = texts(payment)
        self.assertEqual(payment.status, PaymentStatus.DECLINED)
        self.assertEqual(said["gateway"], "")
        self.assertEqual(said["en"], "declined by the gateway")
        self.assertEqual(said["es"], "rechazado por la pasarela")

        other, _ = self.start(order=self.other_order())
        post_payu(
            self.client,
            payu_confirmation(other.reference, "119000.00", state_pol="6"),
        )
        said = texts(other)
        self.assertEqual(said["gateway"], "ENTITY_DECLINED")  # PayU's word, as it sent it
        self.assertEqual(said["en"], "")

    def test_an_order_payvalida_closed_unpaid_gets_our_explanation(self):
        """Payvalida notifies "cancelled" (its consult says VENCIDA or CANCELADA) for an order
        that ended unpaid: its word stays labelled as its own, and ours says what it means."""
        payment, _ = self.start("payvalida")
        post_payvalida(self.client, payvalida_notification(payment.reference, status="cancelled"))
        said = texts(payment)
        self.assertEqual(payment.status, PaymentStatus.EXPIRED)
        self.assertEqual(said["gateway"], "cancelled")
        self.assertEqual(payment.status_note_code, "payvalida_closed")
        self.assertEqual(
            said["en"],
            "Payvalida closed the order without a payment: its deadline passed or it was "
            "cancelled at Payvalida",
        )
        self.assertEqual(
            said["es"],
            "Payvalida cerró la orden sin pago: venció su plazo o se canceló en Payvalida",
        )

        other, _ = self.start("payvalida", order=self.other_order())
        self.network.payvalida_orders[other.gateway_reference]["STATE"] = "VENCIDA"
        services.check_payment(other, close_expired=False)
        said = texts(other)
        self.assertEqual(other.status, PaymentStatus.EXPIRED)
        self.assertEqual(said["gateway"], "VENCIDA")
        self.assertEqual(other.status_note_code, "payvalida_closed")

    def other_order(self):
        from clientarea.payments.tests.helpers import make_renewal_order

        order, _service = make_renewal_order(self.alice)
        return order

    def test_the_admin_page_labels_the_gateways_words_and_ours(self):
        payment, _ = self.start()
        self.start("payvalida")
        Payment.objects.filter(pk=payment.pk).update(status_message="Transacción expirada")
        self.login(self.carol)
        url = f"/admin/payments/payment/{payment.pk}/change/"
        page = self.client.get(url, HTTP_ACCEPT_LANGUAGE="es")
        self.assertContains(page, "Mensaje de la pasarela")
        self.assertContains(page, "Transacción expirada")
        self.assertContains(page, "Nuestra explicación")
        self.assertContains(page, "reemplazado por un nuevo intento")
        page = self.client.get(url, HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(page, "Gateway&#x27;s message")
        self.assertContains(page, "Our explanation")
        self.assertContains(page, "replaced by a new attempt")


class EmptyValueTests(PaymentsTestCase):
    def test_an_empty_value_reads_as_the_rest_of_the_page_does(self):
        """A gateway message not yet applied has no log detail: its cell read "-" beside the
        "—" of every other empty value on the payment's page."""
        payment, _ = self.start("payvalida")
        PaymentMessage.objects.create(
            gateway="payvalida", kind="notification", reference=payment.gateway_reference,
            payment=payment, outcome="",
        )  # fmt: skip
        self.login(self.carol)
        page = self.client.get(f"/admin/payments/payment/{payment.pk}/change/").content.decode()
        cell = page.split('<td class="field-outcome_detail">')[1].split("</td>")[0]
        self.assertEqual(cell.strip(), "<p>—</p>")

    def test_the_lists_empty_cells_read_the_same_dash(self):
        """Django's own empty value was "-" in the lists (a payment's method not known yet)."""
        self.start("payvalida")
        self.login(self.carol)
        page = self.client.get("/admin/payments/payment/").content.decode()
        self.assertIn('<td class="field-method">—</td>', page)
        self.assertNotIn('<td class="field-method">-</td>', page)


class QueryFailureTests(PaymentsTestCase):
    def test_a_failed_query_says_what_went_wrong_in_words(self):
        payment, _ = self.start()
        self.network.unavailable = True  # the connection fails
        self.login(self.carol)
        url = f"/admin/payments/payment/{payment.pk}/query/"
        said = [str(m) for m in self.client.post(url, follow=True).context["messages"]]
        self.assertEqual(
            said,
            [
                f"{payment.reference}: no se pudo consultar la pasarela (no se pudo contactar "
                "la pasarela). Intente de nuevo más tarde."
            ],
        )
        said = [
            str(m)
            for m in self.client.post(url, follow=True, HTTP_ACCEPT_LANGUAGE="en").context[
                "messages"
            ]
        ]
        self.assertNotIn("connection refused", said[0])  # the exception's own text
        self.assertNotIn("unreachable", said[0])


class DataMigrationTests(PaymentsTestCase):
    """Rows written before: our sentences get their codes, the gateway's words stay."""

    def test_existing_sentences_become_codes(self):
        payment, _ = self.start()
        cases = [
            ("replaced by a new attempt", "payu", ("replaced", {}, "")),
            (
                "order cancelled/paid: closed by reconciliation",
                "payu",
                ("closed_orders_settled", {}, ""),
            ),
            ("expired: closed by reconciliation", "payu", ("closed_expired", {}, "")),
            (
                "approved at the gateway, not applied: amount missing",
                "payu",
                ("approved_not_applied", {"problem": "amount missing"}, ""),
            ),
            (
                "Payvalida refused the order: Monto no permitido (0002)",
                "payvalida",
                ("start_refused", {}, "Monto no permitido (0002)"),
            ),
            (
                "Payvalida unreachable: POST https://api/porders failed: TimeoutError",
                "payvalida",
                ("start_timeout", {}, ""),
            ),
            ("APPROVED", "payu", None),
            ("card declined (ENTITY_DECLINED)", "payvalida", None),
        ]
        for message, gateway, expected in cases:
            with self.subTest(message):
                Payment.objects.filter(pk=payment.pk).update(
                    status_message=message,
                    gateway=gateway,
                    status_note_code="",
                    status_note_values={},
                )
                MIGRATION.notes_forward(apps, None)
                payment.refresh_from_db()
                found = (
                    payment.status_note_code,
                    payment.status_note_values,
                    payment.status_message,
                )
                self.assertEqual(found, expected or ("", {}, message))

    def test_a_staff_registration_in_either_language(self):
        for message in (
            "Registered by staff: bank transfer, reference TRF-9",
            "Registrado por el equipo: transferencia bancaria, referencia TRF-9",
        ):
            found = MIGRATION.note_for(
                message,
                gateway="manual",
                raw_method="transfer",
                instructions={"bank_reference": "TRF-9", "method": "transfer"},
            )
            self.assertEqual(
                found,
                ("registered_by_staff", {"method": "transfer", "reference": "TRF-9"}, ""),
            )
        self.assertIsNone(
            MIGRATION.note_for(
                json.dumps("not ours"), gateway="manual", raw_method="", instructions={}
            )
        )
