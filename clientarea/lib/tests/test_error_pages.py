"""Bad URLs get a clear 4xx page, never a 500 (PostgreSQL cannot even compare a NUL byte)."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.test import override_settings

from clientarea.payments.models import PaymentMessage
from clientarea.test import BaseTestCase


class NulByteTests(BaseTestCase):
    def test_a_nul_byte_anywhere_in_the_url_is_a_400_that_touches_nothing(self):
        self.login(self.alice)
        for url in (
            "/payments/payu/response/?referenceCode=A%00B",
            "/payments/payvalida/return/?order=A%00B",
            "/payments/result/X%00Y/",
            "/clientarea/billing/ODS%00/",
            "/help/?q=%00",
            "/clientarea/invoices/A%00/pdf/",
        ):
            with self.subTest(url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 400)
                self.assertContains(response, 'id="error-page"', status_code=400)
        self.assertEqual(PaymentMessage.objects.count(), 0)

    def test_an_ordinary_return_still_works(self):
        self.login(self.alice)
        response = self.client.get("/payments/payvalida/return/?order=NOPE1")
        self.assertEqual(response.status_code, 302)


@override_settings(DEBUG=False)
class ErrorPageTests(BaseTestCase):
    def test_an_unknown_page_is_our_404_in_the_visitors_language(self):
        response = self.client.get("/no-such-page/", headers={"accept-language": "en"})
        self.assertContains(response, "We could not find that page", status_code=404)
        response = self.client.get("/no-such-page/", headers={"accept-language": "es-CO"})
        self.assertContains(response, "No encontramos esa página", status_code=404)

    def test_the_500_page_needs_no_context(self):
        html = render_to_string("500.html")
        self.assertIn("Algo salió mal", html)
        self.assertIn("Something went wrong", html)
