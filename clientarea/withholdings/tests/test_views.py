"""The customer's Withholdings page, the order page's net, and the back office (review, report)."""

from __future__ import annotations

import re
import tempfile
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from clientarea.billing import ledger
from clientarea.billing import selectors as billing_selectors
from clientarea.billing import services as billing
from clientarea.billing.models import ItemKind, LedgerEntry, LedgerKind
from clientarea.lib.dates import local_today
from clientarea.payments.services import ManualPaymentDetails, register_manual_payment
from clientarea.test import BaseTestCase
from clientarea.withholdings.models import (
    AgentStatus,
    CertificateStatus,
    WithholdingAgent,
    WithholdingCertificate,
)
from clientarea.withholdings.tests.helpers import PDF, make_agent, make_rules

MEDIA = tempfile.mkdtemp(prefix="withholdings-views-")


def _order(customer, price: str = "1000000"):
    return billing.create_order(
        customer=customer,
        notify=False,
        lines=[billing.LineSpec(kind=ItemKind.OTHER, description="Hosting Empresarial", unit_price=Decimal(price))],
    )  # fmt: skip


@override_settings(MEDIA_ROOT=MEDIA)
class CustomerPagesTests(BaseTestCase):
    def setUp(self) -> None:
        make_rules(local_today().year)

    def _upload(self, content: bytes, name: str = "cert.pdf", **extra):
        data = {
            "kind": "06",
            "year": local_today().year,
            "period_type": "year",
            "period_number": 1,
        }
        data.update(extra)
        data["file"] = SimpleUploadedFile(name, content)
        return self.client.post("/clientarea/withholdings/certificates/", data)

    def test_the_order_page_and_billing_show_the_withholdings_and_the_net(self):
        make_agent(self.bob)
        order = _order(self.bob)
        self.login(self.bob)
        page = self.client.get(f"/clientarea/billing/{order.number}/").content.decode()
        self.assertIn('id="order-withholdings"', page)
        self.assertIn("$ 1.111.840", page)  # net to pay
        self.assertIn("−$ 40.000", page)
        pay = self.client.get(f"/payments/pay/{order.number}/").content.decode()
        self.assertIn('id="pay-total">$ 1.111.840<', pay)
        printed = self.client.get(f"/clientarea/billing/{order.number}/print/").content.decode()
        self.assertIn("−$ 28.500", printed)
        self.assertIn('id="print-net"', printed)
        listing = self.client.get("/clientarea/billing/").content.decode()
        self.assertIn('id="net-due"', listing)
        # One sentence with the link in it (it ended "…en Retenciones. Retenciones").
        for shown in (page, pay):
            self.assertIn(
                'del periodo en <a href="/clientarea/withholdings/">Retenciones</a>.</p>', shown
            )
            self.assertNotIn("en Retenciones.", shown)

    def test_pay_selected_lists_each_order_net_so_the_rows_add_up_to_the_charge(self):
        """The rows showed the gross due ($ 1.190.000) under a total net of withholdings."""
        make_agent(self.bob)
        big, small = _order(self.bob), _order(self.bob, price="10000")
        self.login(self.bob)
        page = self.client.get(
            "/payments/pay-orders/", {"orders": [big.number, small.number]}
        ).content.decode()
        table = page[
            page.index('id="pay-orders"') : page.index("</table>", page.index('id="pay-orders"'))
        ]
        rows = re.findall(r'<td class="num pay-net"[^>]*>\$ ([\d.]+)</td>', table)
        total = re.search(r'id="pay-total">\$ ([\d.]+)<', page)
        assert total is not None and "1.111.840" in rows
        assert sum(int(r.replace(".", "")) for r in rows) == int(total.group(1).replace(".", ""))
        # Each row says what the order owes and what is withheld from it, and the page says why
        # (only the net was shown, below each order's total, unexplained).
        assert (
            '>$ 1.190.000</td><td class="num" data-label="Sus retenciones">−$ 78.160</td>' in table
        )
        # One sentence with the link in it (it ended "…en Retenciones. Retenciones").
        note = page[
            page.index('id="pay-orders-withheld"') : page.index(
                "</p>", page.index('id="pay-orders-withheld"')
            )
        ]
        assert note.endswith(
            'Cargue el certificado de retención del periodo en <a href="/clientarea/withholdings/">'
            "Retenciones</a>."
        ), note
        assert note.count("Retenciones") == 1

    def test_billing_says_what_is_left_of_an_agents_partly_paid_order_net(self):
        """Billing said "$ 1.170.000 left to pay" where the order's page and Pay now said (and
        charged) the net, $ 1.091.840."""
        make_agent(self.bob)
        order = _order(self.bob)
        ledger.record_payment(
            customer_id=self.bob.pk,
            amount=Decimal("20000"),
            allocations=[ledger.Allocation(order_id=order.pk, amount=Decimal("20000"))],
            reference="BANK-1",
            via="manual",
            method="transfer",
            notify=False,
        )
        self.login(self.bob)
        listing = self.client.get("/clientarea/billing/").content.decode()
        assert "$ 1.091.840</span> por pagar" in listing, listing[listing.find("balance-due") :][
            :200
        ]
        assert "$ 1.170.000</span> por pagar" not in listing
        pay = self.client.get(f"/payments/pay/{order.number}/").content.decode()
        assert 'id="pay-total">$ 1.091.840<' in pay

    def test_staff_registering_what_an_agents_order_owes_record_the_net(self):
        """Left empty, the amount was the gross due: the order was paid, the withholding posted,
        and the withheld part given to the agent a second time as account credit."""
        make_agent(self.bob)
        order = _order(self.bob)
        register_manual_payment(
            details=ManualPaymentDetails(order=order, reference="Transferencia 1"), actor=None
        )
        order.refresh_from_db()
        assert order.state == "paid"
        account = billing_selectors.account_summary(self.bob)
        assert (account.balance, account.credit) == (Decimal(0), Decimal(0))
        payment = LedgerEntry.objects.get(order=order, kind=LedgerKind.PAYMENT)
        assert payment.amount == Decimal("-1111840.00")

    def test_a_customer_that_withholds_nothing_sees_no_withholdings(self):
        order = _order(self.alice)
        self.login(self.alice)
        page = self.client.get(f"/clientarea/billing/{order.number}/").content.decode()
        self.assertNotIn('id="order-withholdings"', page)
        self.assertNotIn('id="net-due"', self.client.get("/clientarea/billing/").content.decode())

    def test_the_customer_requests_agent_status(self):
        self.login(self.bob)
        response = self.client.post(
            "/clientarea/withholdings/request/", {"reteiva": "on", "note": "Gran contribuyente"}
        )
        self.assertRedirects(response, "/clientarea/withholdings/")
        agent = WithholdingAgent.objects.get(customer=self.bob)
        self.assertEqual(
            (agent.status, agent.reteiva, agent.reteica), (AgentStatus.REQUESTED, True, False)
        )
        page = self.client.get("/clientarea/withholdings/").content.decode()
        self.assertIn('id="agent-requested"', page)
        self.assertNotIn('id="request-agent"', page)
        # A second request is refused with a message, not an error page
        response = self.client.post("/clientarea/withholdings/request/", {}, follow=True)
        self.assertContains(response, "ya fue enviada")

    def test_uploads_that_are_not_a_pdf_or_too_large_are_refused_with_a_message(self):
        self.login(self.bob)
        cases = (
            (b"PK\x03\x04 a zip named .pdf", "cert.pdf", "El archivo no es un PDF"),
            (b"%PDF-" + b"0" * (5 * 1024 * 1024 + 1), "big.pdf", "El archivo es demasiado grande"),
            (b"", "empty.pdf", "vacío"),
        )
        for content, name, message in cases:
            with self.subTest(name):
                response = self._upload(content, name)
                self.assertEqual(response.status_code, 400)
                self.assertContains(response, message, status_code=400)
        response = self._upload(PDF, period_type="month", period_number="14")
        self.assertEqual(response.status_code, 400)
        response = self._upload(PDF, year="abc")
        self.assertEqual(response.status_code, 400)
        self.assertFalse(WithholdingCertificate.objects.exists())

    def test_a_pdf_is_stored_and_only_its_owner_downloads_it(self):
        self.login(self.bob)
        response = self._upload(PDF)
        self.assertRedirects(response, "/clientarea/withholdings/")
        certificate = WithholdingCertificate.objects.get()
        self.assertEqual(
            (certificate.status, certificate.uploaded_by),
            (CertificateStatus.PENDING, self.bob.user),
        )
        download = self.client.get(f"/clientarea/withholdings/certificates/{certificate.pk}/pdf/")
        self.assertEqual(download.getvalue(), PDF)
        self.login(self.alice)
        self.assertEqual(
            self.client.get(
                f"/clientarea/withholdings/certificates/{certificate.pk}/pdf/"
            ).status_code,
            404,
        )

    def test_anonymous_visitors_are_sent_to_log_in(self):
        response = self.client.get("/clientarea/withholdings/")
        self.assertEqual(response.status_code, 302)
        self.assertIn("login", response["Location"])


@override_settings(MEDIA_ROOT=MEDIA)
class BackOfficeTests(BaseTestCase):
    def setUp(self) -> None:
        from clientarea.einvoice.tests.test_issue_on_payment import make_resolution

        make_resolution()
        make_rules(local_today().year)
        make_agent(self.bob)
        self.order = _order(self.bob)
        register_manual_payment(
            details=ManualPaymentDetails(order=self.order, reference="TRF-9"), actor=self.carol
        )
        self.certificate = WithholdingCertificate.objects.create(
            customer=self.bob,
            kind="06",
            year=local_today().year,
            file=SimpleUploadedFile("c.pdf", PDF),
        )
        self.client.force_login(self.carol)

    def test_staff_accept_a_certificate_from_its_page(self):
        url = f"/admin/withholdings/withholdingcertificate/{self.certificate.pk}/"
        page = self.client.get(url + "change/")
        self.assertContains(page, 'id="certificate-accept"')
        self.assertContains(self.client.get(url + "accept/"), "$ 40.000")
        self.client.post(url + "accept/")
        self.certificate.refresh_from_db()
        self.assertEqual(self.certificate.status, CertificateStatus.ACCEPTED)
        self.assertEqual(self.certificate.withholdings.count(), 1)
        # Reviewed already: a second decision is refused with a message
        response = self.client.post(url + "reject/", {"reason": "x"}, follow=True)
        self.assertContains(response, "ya fue revisado")

    def test_staff_reject_with_a_reason(self):
        url = f"/admin/withholdings/withholdingcertificate/{self.certificate.pk}/reject/"
        self.assertEqual(self.client.post(url, {"reason": ""}).status_code, 200)  # the form again
        self.client.post(url, {"reason": "El certificado no está firmado"})
        self.certificate.refresh_from_db()
        self.assertEqual(self.certificate.reject_reason, "El certificado no está firmado")

    def test_the_report_and_its_csv(self):
        year = local_today().year
        page = self.client.get(f"/admin/withholdings/orderwithholding/report/?year={year}")
        self.assertContains(page, "$ 40.000")
        self.assertContains(page, "Abierto; certificado: ReteFuente")
        csv = self.client.get(
            f"/admin/withholdings/orderwithholding/report/?year={year}&format=csv"
        )
        lines = csv.content.decode().splitlines()
        self.assertEqual(
            lines[0],
            "Cliente,Documento,Periodo,ReteFuente,ReteIVA,ReteICA,Total,"
            "Revertido por notas crédito,Abierto,Estado del certificado",
        )
        self.assertIn("40000.00,28500.00,9660.00,78160.00,0.00,78160.00", lines[1])
        self.assertEqual(
            self.client.get("/admin/withholdings/orderwithholding/report/?year=zz").status_code, 200
        )

    def test_staff_approve_a_request_from_the_list(self):
        WithholdingAgent.objects.filter(customer=self.bob).update(status=AgentStatus.REQUESTED)
        agent = WithholdingAgent.objects.get(customer=self.bob)
        self.client.post(
            "/admin/withholdings/withholdingagent/",
            {"action": "approve", "_selected_action": [agent.pk]},
        )
        agent.refresh_from_db()
        self.assertEqual((agent.status, agent.decided_by), (AgentStatus.APPROVED, self.carol))
