"""The customer's Refunds page (Billing → Refunds): their refunds with date, payment, amount,
method, state and credit note (with its files once DIAN accepts it); another customer's refund
is a 404; Spanish and English."""

from __future__ import annotations

from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clientarea.einvoice.models import Invoice
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.payments import services
from clientarea.payments.models import RefundLine
from clientarea.payments.tests.base import PaymentsTestCase
from clientarea.payments.tests.helpers import make_renewal_order, payu_confirmation, post_payu


class RefundsPageTests(PaymentsTestCase):
    def setUp(self) -> None:
        super().setUp()
        make_resolution()
        payment, _ = self.start()
        with self.captureOnCommitCallbacks(execute=True):
            post_payu(self.client, payu_confirmation(payment.reference, "119000.00"))
        payment.refresh_from_db()
        self.payment = payment
        with self.captureOnCommitCallbacks(execute=True):
            self.refund = services.refund_payment(
                payment=payment,
                amount=Decimal("19000"),
                method="manual",
                bank_reference="Davivienda 5566",
                reason="Discount agreed",
                actor=self.carol,
            )
        note = RefundLine.objects.get(refund=self.refund).credit_note
        assert note is not None
        note.refresh_from_db()
        self.note: Invoice = note

    def english(self):
        self.client.cookies["django_language"] = "en"

    def test_the_customer_sees_their_refund_with_its_credit_note(self):
        self.login(self.alice)
        self.english()
        response = self.client.get(reverse("billing:refunds"))
        self.assertEqual(response.status_code, 200)
        html = response.content.decode()
        self.assertIn(f'data-refund="{self.refund.pk}"', html)
        self.assertIn(self.payment.reference, html)
        self.assertIn(self.order.number, html)
        self.assertIn("$ 19.000", html)
        self.assertIn("Bank transfer", html)
        self.assertIn("Davivienda 5566", html)
        self.assertIn("Refunded", html)  # its state
        self.assertIn(self.note.full_number, html)
        self.assertTrue(self.note.is_validated)
        self.assertIn(reverse("einvoice:download", args=[self.note.full_number, "pdf"]), html)
        detail = self.client.get(reverse("billing:refund", args=[self.refund.pk]))
        self.assertEqual(detail.status_code, 200)
        self.assertIn("Discount agreed", detail.content.decode())
        # Reached from Billing.
        self.assertIn(
            reverse("billing:refunds"), self.client.get("/clientarea/billing/").content.decode()
        )

    def test_spanish_by_default(self):
        self.login(self.alice)
        html = self.client.get(reverse("billing:refunds")).content.decode()
        self.assertIn("Reembolsos", html)
        self.assertIn("Transferencia bancaria", html)

    def test_the_refunds_pages_read_in_spanish(self):
        """Customer and staff pages in es-CO: the state column and its value, and no English
        word left (the back office's search magnifier said "Search" in every language)."""
        self.login(self.alice)
        self.client.cookies["django_language"] = "es-co"
        for url in (reverse("billing:refunds"), reverse("billing:refund", args=[self.refund.pk])):
            html = self.client.get(url).content.decode()
            self.assertIn(">Estado<", html)
            self.assertIn("Reembolsado", html)
            self.assertNotIn(">State<", html)
        self.client.force_login(self.carol)
        self.client.cookies["django_language"] = "es-co"
        html = self.client.get(reverse("admin:payments_refund_changelist")).content.decode()
        self.assertIn("Estado", html)
        self.assertIn('alt="Buscar"', html)
        self.assertNotIn('alt="Search"', html)
        html = self.client.get(
            reverse("admin:payments_refund_change", args=[self.refund.pk])
        ).content.decode()
        self.assertIn("Estado:", html)
        self.assertNotIn("State", html)

    def test_the_staff_refund_page_reads_amounts_in_pesos(self):
        """It showed "20000.00" (the title, the amount, its orders) and "0.00" from the credit."""
        self.client.force_login(self.carol)
        self.english()
        html = self.client.get(
            reverse("admin:payments_refund_change", args=[self.refund.pk])
        ).content.decode()
        self.assertNotIn("19000.00", html)
        self.assertNotIn(">0.00<", html)
        self.assertIn(f"{self.payment.reference} −$ 19.000", html)  # the title
        self.assertIn("$ 19.000<", html)  # the amount and the refunded order's line
        self.assertNotIn(",00", html)  # no cents: the title and the inline read "$ 19.000"
        self.assertIn("$ 0<", html)  # from the credit
        self.assertIn("Given back to the credit if the gateway declines the refund.", html)

    def test_another_customers_refund_is_a_404_and_not_listed(self):
        make_renewal_order(self.bob)
        self.login(self.bob)
        self.assertEqual(
            self.client.get(reverse("billing:refund", args=[self.refund.pk])).status_code, 404
        )
        html = self.client.get(reverse("billing:refunds")).content.decode()
        self.assertNotIn(self.payment.reference, html)
        self.assertIn('id="no-refunds"', html)
        self.assertEqual(self.client.get("/clientarea/billing/refunds/999999/").status_code, 404)

    def test_the_list_runs_a_fixed_number_of_queries(self):
        self.login(self.alice)
        self.client.get(reverse("billing:refunds"))  # session, language, provider warmed up
        one = self._queries()
        services.refund_payment(
            payment=self.payment,
            amount=Decimal("1000"),
            method="manual",
            bank_reference="T-2",
            reason="Another discount",
        )
        self.assertEqual(self._queries(), one)  # two refunds, the same queries

    def _queries(self) -> int:
        with CaptureQueriesContext(connection) as ctx:
            html = self.client.get(reverse("billing:refunds")).content.decode()
        self.assertIn("refund-row", html)
        return len(ctx.captured_queries)

    def test_the_page_links_the_help_article_on_refunds(self):
        from clientarea.helpcenter.services import import_help_content

        import_help_content()
        self.login(self.alice)
        html = self.client.get(reverse("billing:refunds")).content.decode()
        self.assertIn(
            '<a href="/help/reembolsos/" id="help-refunds">Cómo funcionan los reembolsos</a>', html
        )
        self.english()
        html = self.client.get(reverse("billing:refunds")).content.decode()
        self.assertIn('<a href="/help/refunds/" id="help-refunds">How refunds work</a>', html)
