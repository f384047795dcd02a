"""Agents, the amounts fixed in the paid transaction, the net charged, certificates."""

from __future__ import annotations

import tempfile
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone

from clientarea.accounts.models import AuditEvent
from clientarea.billing import services as billing
from clientarea.billing.models import ItemKind
from clientarea.einvoice import builder, ubl
from clientarea.einvoice.models import Invoice
from clientarea.lib.dates import BOGOTA, local_today
from clientarea.notifications.models import OutgoingEmail
from clientarea.payments.services import ManualPaymentDetails, register_manual_payment
from clientarea.payments.tests.base import PaymentsTestCase
from clientarea.test import BaseTestCase
from clientarea.withholdings import selectors, services
from clientarea.withholdings.models import (
    AgentStatus,
    CertificateStatus,
    OrderWithholding,
    WithholdingAgent,
)
from clientarea.withholdings.tests.helpers import PDF, make_agent, make_rules

MEDIA = tempfile.mkdtemp(prefix="withholdings-test-")


def _order(customer, price: str = "1000000"):
    return billing.create_order(
        customer=customer,
        notify=False,
        lines=[billing.LineSpec(kind=ItemKind.OTHER, description="Hosting Empresarial", unit_price=Decimal(price))],
    )  # fmt: skip


class OrderWithholdingTests(BaseTestCase):
    def setUp(self) -> None:
        from clientarea.einvoice.tests.test_issue_on_payment import make_resolution

        make_resolution()
        make_rules(local_today().year)

    def test_a_customer_that_is_not_an_approved_agent_pays_the_total(self):
        order = _order(self.bob)
        self.assertEqual(selectors.net_to_pay(order), Decimal("1190000.00"))
        make_agent(self.bob, status=AgentStatus.REQUESTED)
        self.assertEqual(selectors.net_to_pay(order), Decimal("1190000.00"))

    def test_an_approved_agent_pays_the_net_and_the_paid_transaction_fixes_the_rows(self):
        make_agent(self.bob)
        order = _order(self.bob)
        self.assertEqual(selectors.net_to_pay(order), Decimal("1111840.00"))
        register_manual_payment(
            details=ManualPaymentDetails(order=order, reference="TRF-1"), actor=self.carol
        )
        rows = {r.kind: r for r in OrderWithholding.objects.filter(order=order)}
        self.assertEqual(
            {k: r.amount for k, r in rows.items()},
            {"06": Decimal("40000.00"), "05": Decimal("28500.00"), "07": Decimal("9660.00")},
        )
        self.assertTrue(all(r.is_open for r in rows.values()))
        order.refresh_from_db()
        self.assertEqual(rows["06"].withheld_on, timezone.localtime(order.paid_at, BOGOTA).date())
        # The invoice carries them (schema and CUFE are checked by conftest after the test)
        invoice = Invoice.objects.get(order=order)
        schemes = {w["scheme"]: w["amount"] for w in invoice.document["withholdings"]}
        self.assertEqual(schemes, {"06": "40000.00", "05": "28500.00", "07": "9660.00"})
        xml = ubl.to_bytes(ubl.build_invoice_xml(builder.document_from_json(invoice.document)))
        self.assertIn(b"WithholdingTaxTotal", xml)
        # Later rule changes do not touch a paid order
        WithholdingAgent.objects.filter(customer=self.bob).update(status=AgentStatus.REVOKED)
        order.refresh_from_db()
        self.assertEqual(selectors.withholdings_for_order(order).net, Decimal("1111840.00"))
        self.assertTrue(
            AuditEvent.objects.filter(action="withholdings.fixed", target=order.number).exists()
        )

    def test_the_paid_transaction_reads_the_agent_with_the_customer_lock(self):
        # The agent status comes with the customer row the ledger locks first; the ledger
        # computes the withholdings for the amount it posts and hands them to the paid
        # transaction, which fixes the same rows without looking the agent up on its own.
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        make_agent(self.bob)
        order = _order(self.bob)
        with CaptureQueriesContext(connection) as queries:
            register_manual_payment(
                details=ManualPaymentDetails(order=order, reference="TRF-2"), actor=self.carol
            )
        agent_reads = [
            q["sql"][:100]
            for q in queries.captured_queries
            if 'FROM "withholdings_withholdingagent"' in q["sql"]
        ]
        self.assertEqual(agent_reads, [])
        first_lock = next(
            q["sql"] for q in queries.captured_queries if 'FROM "accounts_customer"' in q["sql"]
        )
        self.assertIn('JOIN "withholdings_withholdingagent"', first_lock)
        self.assertEqual(
            sorted(OrderWithholding.objects.filter(order=order).values_list("kind", "amount")),
            [("05", Decimal("28500.00")), ("06", Decimal("40000.00")), ("07", Decimal("9660.00"))],
        )

    def test_the_customer_lock_brings_the_agent_status(self):
        from clientarea.billing import ledger

        for status, approved in (
            (None, False),
            (AgentStatus.REQUESTED, False),
            (AgentStatus.APPROVED, True),
        ):
            WithholdingAgent.objects.filter(customer=self.bob).delete()
            if status is not None:
                make_agent(self.bob, status=status)
            with self.subTest(status=status):
                customer = ledger.lock_customer(customer_id=self.bob.pk)
                with self.assertNumQueries(0):
                    agent = selectors.approved_agent(self.bob.pk, customer=customer)
                self.assertEqual(agent is not None, approved)
                if agent is not None:
                    self.assertIs(agent.customer, customer)
                # Without the customer: the approved agent alone, read with its customer.
                with self.assertNumQueries(1):
                    by_id = selectors.approved_agent(self.bob.pk)
                self.assertEqual(by_id is not None, approved)

    def test_below_the_minimum_base_nothing_is_withheld(self):
        make_agent(self.bob)
        order = _order(self.bob, "50000")
        register_manual_payment(
            details=ManualPaymentDetails(order=order, reference="TRF-2"), actor=self.carol
        )
        self.assertFalse(OrderWithholding.objects.filter(order=order).exists())
        self.assertEqual(selectors.withholdings_for_order(order).net, order.total)

    def test_the_ica_rule_is_the_one_of_the_agents_municipality(self):
        make_agent(self.bob, ica_municipality_code="05001")  # no rule for Medellín here
        order = _order(self.bob)
        kinds = [w.kind for w in selectors.withholdings_for_order(order).lines]
        self.assertEqual(kinds, ["06", "05"])

    def test_a_customer_rate_overrides_the_retefuente_rule(self):
        make_agent(self.bob, retefuente_rate=Decimal("3.5"), reteiva=False, reteica=False)
        self.assertEqual(
            selectors.withholdings_for_order(_order(self.bob)).withheld, Decimal("35000.00")
        )


@override_settings(MEDIA_ROOT=MEDIA)
class CertificateTests(BaseTestCase):
    def setUp(self) -> None:
        from clientarea.einvoice.tests.test_issue_on_payment import make_resolution

        make_resolution()
        make_rules(local_today().year)
        make_agent(self.bob)
        self.order = _order(self.bob)
        register_manual_payment(
            details=ManualPaymentDetails(order=self.order, reference="TRF-3"), actor=self.carol
        )
        self.today = timezone.localtime(timezone.now(), BOGOTA).date()

    def upload(self, content: bytes = PDF, kind: str = "06", **period):
        values = {"year": self.today.year, "period_type": "year", "period_number": 1, **period}
        return services.upload_certificate(
            customer=self.bob,
            user=self.bob.user,
            kind=kind,
            upload=SimpleUploadedFile("cert.pdf", content, content_type="application/pdf"),
            **values,
        )

    def test_accepting_settles_the_open_amounts_of_its_kind_and_period(self):
        certificate = self.upload()
        self.assertEqual(selectors.open_total(self.bob), Decimal("78160.00"))
        _cert, settled = services.accept_certificate(
            certificate_id=certificate.pk, actor=self.carol
        )
        self.assertEqual(settled, 1)
        self.assertEqual(
            selectors.open_total(self.bob), Decimal("38160.00")
        )  # ReteIVA, ReteICA open
        certificate.refresh_from_db()
        self.assertEqual(
            (certificate.status, certificate.reviewed_by), (CertificateStatus.ACCEPTED, self.carol)
        )
        self.assertTrue(
            OutgoingEmail.objects.filter(
                template="withholding_certificate_reviewed", customer=self.bob
            ).exists()
        )
        with self.assertRaises(services.WithholdingError):
            services.accept_certificate(certificate_id=certificate.pk, actor=self.carol)

    def test_a_certificate_of_another_period_settles_nothing(self):
        month = 1 if self.today.month != 1 else 2
        certificate = self.upload(kind="05", period_type="month", period_number=month)
        _cert, settled = services.accept_certificate(
            certificate_id=certificate.pk, actor=self.carol
        )
        self.assertEqual(settled, 0)
        bimester = self.upload(
            kind="05", period_type="bimester", period_number=(self.today.month + 1) // 2
        )
        _cert, settled = services.accept_certificate(certificate_id=bimester.pk, actor=self.carol)
        self.assertEqual(settled, 1)

    def test_rejecting_needs_a_reason_and_emails_it(self):
        certificate = self.upload()
        with self.assertRaises(services.WithholdingError):
            services.reject_certificate(certificate_id=certificate.pk, actor=self.carol, reason=" ")
        services.reject_certificate(
            certificate_id=certificate.pk, actor=self.carol, reason="Falta la firma"
        )
        certificate.refresh_from_db()
        self.assertEqual(certificate.status, CertificateStatus.REJECTED)
        self.assertEqual(selectors.open_total(self.bob), Decimal("78160.00"))
        email = OutgoingEmail.objects.get(
            template="withholding_certificate_reviewed", customer=self.bob
        )
        self.assertIn("Falta la firma", email.body_text)

    def test_only_a_pdf_of_at_most_5_mb_is_stored(self):
        for content, message in (
            (b"GIF89a not a pdf", "no es un PDF"),
            (b"", "vacío"),
            (b"%PDF-" + b"0" * (5 * 1024 * 1024), "demasiado grande"),
        ):
            with (
                self.subTest(message),
                self.assertRaisesMessage(services.WithholdingError, message),
            ):
                self.upload(content)
        with self.assertRaises(services.WithholdingError):
            self.upload(period_type="month", period_number=13)
        with self.assertRaises(services.WithholdingError):
            self.upload(year=self.today.year + 1)
        self.assertEqual(selectors.customer_certificates(self.bob).count(), 0)

    def test_the_report_lists_withholdings_by_customer_and_month_with_the_certificate_status(self):
        rows = selectors.report(year=self.today.year)
        self.assertEqual(len(rows), 1)
        self.assertEqual(
            rows[0].amount_list, [Decimal("40000.00"), Decimal("28500.00"), Decimal("9660.00")]
        )
        self.assertEqual(rows[0].status, "Abierto; sin certificado cargado")
        certificate = self.upload()
        self.assertIn("ReteFuente", selectors.report(year=self.today.year)[0].status)
        services.accept_certificate(certificate_id=certificate.pk, actor=self.carol)
        row = selectors.report(year=self.today.year)[0]
        self.assertEqual(row.open_amount, Decimal("38160.00"))


class AgentRequestTests(BaseTestCase):
    def test_the_customer_requests_and_staff_approve(self):
        make_rules()
        agent = services.request_agent_status(
            customer=self.bob, reteiva=True, reteica=False, note="O-23"
        )
        self.assertEqual(agent.status, AgentStatus.REQUESTED)
        with self.assertRaises(services.WithholdingError):
            services.request_agent_status(customer=self.bob, reteiva=True, reteica=False)
        self.assertTrue(
            AuditEvent.objects.filter(
                action="withholdings.agent_requested", customer=self.bob
            ).exists()
        )
        agent.status = AgentStatus.APPROVED
        services.save_agent(agent=agent, actor=self.carol, changed=["status"])
        agent.refresh_from_db()
        self.assertEqual((agent.decided_by, agent.is_approved), (self.carol, True))
        self.assertTrue(
            OutgoingEmail.objects.filter(
                template="withholding_agent_decided", customer=self.bob
            ).exists()
        )
        self.assertTrue(
            AuditEvent.objects.filter(action="withholdings.agent_saved", customer=self.bob).exists()
        )


class CheckoutChargesTheNetTests(PaymentsTestCase):
    def test_the_gateway_is_asked_for_the_net(self):
        make_rules(self.order.issue_date.year)
        order = _order(self.bob)
        make_agent(self.bob)
        payment, action = self.start(order=order, customer=self.bob)
        self.assertEqual(payment.amount, Decimal("1111840.00"))
        self.assertEqual(action.fields["amount"], "1111840")
        # The cash part of the IVA and of the base: IVA − ReteIVA, base − ReteFuente − ReteICA
        self.assertEqual(
            (payment.tax, payment.tax_base), (Decimal("161500.00"), Decimal("950340.00"))
        )


class DeployCheckTests(BaseTestCase):
    def test_a_missing_uvt_of_this_year_is_reported(self):
        from clientarea.withholdings.checks import uvt_of_this_year
        from clientarea.withholdings.models import UvtValue

        make_rules(local_today().year)
        self.assertEqual(uvt_of_this_year(None), [])  # no approved agent yet
        make_agent(self.bob)
        self.assertEqual(uvt_of_this_year(None), [])
        UvtValue.objects.filter(year=local_today().year).delete()
        self.assertEqual([m.id for m in uvt_of_this_year(None)], ["withholdings.W001"])
