"""The back-office page of a gateway payment reads its instructions and checkout in words
(labelled, pesos, dd/mm/yyyy HH:MM Bogotá, links), in Spanish and English, with the stored JSON
folded away for audit and never a credential."""

from __future__ import annotations

import re

from clientarea.payments.gateway_details import checkout_sections, details, raw_json
from clientarea.payments.models import Payment
from clientarea.payments.tests.base import PaymentsTestCase


def section(html: str, label: str) -> str:
    """The admin row labelled ``label`` (its readonly value)."""
    start = html.index(f"<label>{label}:</label>")
    return html[start : html.index('<div class="form-row', start)]


class PaymentDetailsPageTests(PaymentsTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.login(self.carol)

    def page(self, payment: Payment, language: str) -> str:
        response = self.client.get(
            f"/admin/payments/payment/{payment.pk}/change/", HTTP_ACCEPT_LANGUAGE=language
        )
        self.assertEqual(response.status_code, 200)
        return response.content.decode()

    def test_a_payu_card_checkout_reads_in_words(self):
        payment, _ = self.start("payu", method="card")
        deadline = payment.checkout_payload["fields"]["expirationDate"]  # "2026-12-13 10:00:00"
        day, hour = deadline.split(" ")
        year, month, dom = day.split("-")
        shown = f"{dom}/{month}/{year} {hour[:5]}"
        html = self.page(payment, "es")
        checkout = section(html, "Datos de pago enviados")
        self.assertIn("<dt>Valor</dt><dd>$ 119.000</dd>", checkout)
        self.assertIn("<dt>Referencia</dt><dd>" + payment.reference, checkout)
        self.assertIn(f"<dt>Pague antes de</dt><dd>{shown} (hora de Colombia)</dd>", checkout)
        self.assertIn("<dt>Modo de prueba</dt>", checkout)
        self.assertIn("<dt>Idioma de la página de la pasarela</dt><dd>Español</dd>", checkout)
        self.assertIn("Visa, Mastercard, American Express", checkout)
        self.assertRegex(checkout, r'<dt>Página a la que vuelve el cliente</dt><dd><a href="http')
        self.assertNotIn("merchantId", checkout)  # the key, not the label
        raw = section(html, "Datos sin procesar (auditoría)")
        self.assertIn('<details class="payment-raw">', raw)
        self.assertIn("&quot;merchantId&quot;", raw)
        english = section(self.page(payment, "en"), "Checkout sent")
        self.assertIn("<dt>Amount</dt><dd>$ 119.000</dd>", english)
        self.assertIn(f"<dt>Pay before</dt><dd>{shown} (Colombia time)</dd>", english)
        self.assertIn("<dt>Language of the gateway&#x27;s page</dt><dd>Spanish</dd>", english)

    def test_a_payvalida_cash_voucher_reads_in_words(self):
        payment, _ = self.start("payvalida", method="cash")
        local = payment.expires_at.astimezone(__import__("zoneinfo").ZoneInfo("America/Bogota"))
        html = self.page(payment, "es")
        instructions = section(html, "Instrucciones para pagar")
        self.assertIn("<dt>Referencia de pago (comprobante)</dt><dd>989898101</dd>", instructions)
        self.assertIn(
            f"<dt>Pague antes de</dt><dd>{local:%d/%m/%Y %H:%M} (hora de Colombia)</dd>",
            instructions,
        )
        self.assertRegex(
            instructions,
            r'<dt>Página para pagar o ver el comprobante</dt><dd><a href="https?://[^"]+token=eyJtoken"',
        )
        checkout = section(html, "Datos de pago enviados")
        self.assertIn("<h4>La respuesta de la pasarela</h4>", checkout)
        self.assertIn("<dt>Valor</dt><dd>$ 119.000</dd>", checkout)
        self.assertIn("<dt>Id de la orden en Payvalida</dt><dd>95601</dd>", checkout)
        self.assertIn("<dt>Operación</dt><dd>orden creada en Payvalida</dd>", checkout)
        english = section(self.page(payment, "en"), "Instructions to pay")
        self.assertIn("<dt>Payment reference (voucher)</dt><dd>989898101</dd>", english)

    def test_pending_details_from_the_gateway_read_in_words(self):
        payment, _ = self.start("payu", method="pse")
        Payment.objects.filter(pk=payment.pk).update(
            instructions={
                **payment.instructions,
                "bank": "BANCOLOMBIA",
                "cus": "1234567",
                "pending_reason": "AWAITING_NOTIFICATION",
                "gateway_order": "1400000123",
                "surprise": "kept as it came",
            }
        )
        html = section(self.page(payment, "es"), "Instrucciones para pagar")
        self.assertIn("<dt>Banco (PSE)</dt><dd>BANCOLOMBIA</dd>", html)
        self.assertIn("<dt>CUS (código único de seguimiento)</dt><dd>1234567</dd>", html)
        self.assertIn("<dd>esperando que la red de pago informe el pago</dd>", html)
        self.assertIn("<dt>Surprise</dt><dd>kept as it came</dd>", html)  # never dropped

    def test_payus_tracking_code_is_the_banks_cus_for_pse_only(self):
        payment, _ = self.start("payu", method="cash")
        Payment.objects.filter(pk=payment.pk).update(
            instructions={"cus": "029f3370-52dd", "voucher_reference": "1400000001"}
        )
        html = section(self.page(payment, "es"), "Instrucciones para pagar")
        self.assertIn("<dt>Código de seguimiento en la pasarela</dt><dd>029f3370-52dd</dd>", html)
        self.assertNotIn("CUS", html)

    def test_credentials_are_never_shown_signatures_may_be(self):
        payment, _ = self.start("payu", method="card")
        payload = payment.checkout_payload
        payload["fields"].update(apiKey="4Vj8eK4rloUd272L48hsrarnUA", signature="ab12cd")
        payload["gateway_answer"] = {"merchant_secret": "s3cr3t-value", "token": "tok-123"}
        Payment.objects.filter(pk=payment.pk).update(checkout_payload=payload)
        html = self.page(payment, "en")
        for secret in ("4Vj8eK4rloUd272L48hsrarnUA", "s3cr3t-value", "tok-123"):
            self.assertNotIn(secret, html)
        self.assertIn("ab12cd", html)
        self.assertEqual(re.findall(r"apiKey&quot;: &quot;(.*?)&quot;", html), ["••••••"])


class GatewayDetailsTests(PaymentsTestCase):
    def test_nothing_stored_reads_as_nothing(self):
        self.assertEqual(details({}), [])
        self.assertEqual(checkout_sections({}), [])
        self.assertEqual(raw_json({}), "{}")

    def test_unreadable_values_are_shown_as_they_came(self):
        lines = {
            line.key: line.value
            for line in details(
                {"expires_at": "tomorrow", "amount": "n/a", "test": "maybe", "url": "ftp://x"}
            )
        }
        self.assertEqual(lines["expires_at"], "tomorrow")
        self.assertEqual(lines["amount"], "n/a")
        self.assertEqual(lines["test"], "maybe")
        self.assertEqual([line.url for line in details({"url": "ftp://x"})], [""])
