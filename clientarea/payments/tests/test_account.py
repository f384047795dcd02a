"""The customer's account through the payments: several orders in one payment, partial
payments, credit (overpayments, duplicates, added funds), and the pages that show them."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.test import override_settings
from django.urls import reverse

from clientarea.billing import ledger
from clientarea.billing import selectors as billing_selectors
from clientarea.billing import services as billing_services
from clientarea.billing.models import LedgerEntry, Order
from clientarea.einvoice.models import Invoice
from clientarea.lib.dates import local_today
from clientarea.notifications import delivery
from clientarea.notifications.models import OutgoingEmail
from clientarea.payments import services
from clientarea.payments.models import Outcome, Payment, PaymentMessage, PaymentOrder
from clientarea.payments.services import ManualPaymentDetails, register_manual_payment
from clientarea.payments.tests.base import PaymentsTestCase
from clientarea.payments.tests.helpers import (
    make_renewal_order,
    payu_confirmation,
    post_payu,
    renewals,
)


def balance_is_sum_of_movements(customer) -> bool:
    account = billing_selectors.account_summary(customer)
    total = sum((e.amount for e in LedgerEntry.objects.filter(customer=customer)), Decimal(0))
    return account.balance == total == account.due - account.credit


class SeveralOrdersTests(PaymentsTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.second, self.second_service = make_renewal_order(self.alice)
        self.third, self.third_service = make_renewal_order(self.alice)
        self.orders = [self.order, self.second, self.third]

    def start_all(self, gateway="payu"):
        return services.start_orders_payment(
            orders=self.orders, customer=self.alice, gateway_code=gateway, language="es"
        )

    def test_one_approval_pays_every_order_each_with_its_invoice(self):
        payment, action = self.start_all()
        self.assertEqual(payment.amount, Decimal("357000.00"))
        self.assertEqual(payment.tax, Decimal("57000.00"))
        self.assertEqual(
            set(PaymentOrder.objects.filter(payment=payment).values_list("order_id", flat=True)),
            {o.pk for o in self.orders},
        )
        # The gateway's description names every order.
        for order in self.orders:
            self.assertIn(order.number, action.fields["description"])
        response = post_payu(self.client, payu_confirmation(payment.reference, "357000.00"))
        self.assertEqual(response.status_code, 200)
        for order in self.orders:
            order.refresh_from_db()
            self.assertEqual(order.state, "paid")
            self.assertEqual(billing_selectors.order_balance_due(order), 0)
        self.assertEqual(Invoice.objects.filter(order__in=self.orders).count(), 3)
        for service in (self.service, self.second_service, self.third_service):
            self.assertEqual(renewals(service), 1)
        self.assertEqual(PaymentMessage.objects.get().result, Outcome.APPLIED)
        # One email naming the three orders instead of three "payment received" emails
        # (rendered by the worker when it delivers it).
        email = OutgoingEmail.objects.get(template="orders_paid")
        self.assertTrue(delivery.deliver_email(email_id=email.pk))
        email.refresh_from_db()
        for order in self.orders:
            self.assertIn(order.number, email.body_text)
        self.assertFalse(OutgoingEmail.objects.filter(template="order_paid").exists())
        self.assertEqual(billing_selectors.credit_available(self.alice), 0)
        self.assertTrue(balance_is_sum_of_movements(self.alice))

    def test_the_paid_transaction_renders_no_email(self):
        """An approval that pays several orders and leaves credit records its emails (several
        orders paid, credit added, the staff alerts of invoices that wait) with the ids they
        describe; the worker renders them when it delivers them, after commit."""
        from unittest import mock

        from clientarea.notifications import rendering

        payment, _ = self.start_all()
        # Staff record part of the third order meanwhile: the approval leaves that much as credit.
        register_manual_payment(
            details=ManualPaymentDetails(
                order=self.third, reference="TRX-2", amount=Decimal("19000")
            ),
            actor=self.carol,
        )
        before = set(OutgoingEmail.objects.values_list("pk", flat=True))
        real = rendering.render_templates
        with (
            mock.patch.object(rendering, "render_templates", side_effect=real) as renders,
            mock.patch("clientarea.notifications.services._schedule"),  # delivered below
        ):
            post_payu(self.client, payu_confirmation(payment.reference, "357000.00"))
        self.assertEqual(PaymentMessage.objects.get().result, Outcome.APPLIED)
        self.assertEqual([c.kwargs["template"] for c in renders.call_args_list], [])
        recorded = OutgoingEmail.objects.exclude(pk__in=before).order_by("id")
        self.assertEqual(
            sorted(e.template for e in recorded),
            ["credit_added", "orders_paid", *["staff_invoice_waiting"] * 3],
        )
        for email in recorded:
            self.assertEqual((email.body_text, email.subject), ("", ""))
            self.assertTrue(delivery.deliver_email(email_id=email.pk), email.template)
        several = OutgoingEmail.objects.get(template="orders_paid")
        for order in self.orders:
            self.assertIn(order.number, several.body_text)
        credit = OutgoingEmail.objects.get(template="credit_added")
        self.assertEqual(credit.subject, "Saldo a favor agregado a su cuenta: $ 19.000")

    def test_a_failure_while_paying_one_order_pays_none(self):
        payment, _ = self.start_all()
        real = billing_services.mark_order_paid
        calls = []

        def third_fails(**kwargs):
            calls.append(kwargs["order_id"])
            if len(calls) == 3:
                raise RuntimeError("the database went away")
            return real(**kwargs)

        with self.settings(DEBUG=False):
            from unittest import mock

            with mock.patch.object(billing_services, "mark_order_paid", third_fails):
                post_payu(self.client, payu_confirmation(payment.reference, "357000.00"))
        self.assertEqual(len(calls), 3)
        for order in self.orders:
            order.refresh_from_db()
            self.assertEqual(order.state, "pending")
        self.assertFalse(LedgerEntry.objects.filter(kind="payment").exists())
        payment.refresh_from_db()
        self.assertEqual(payment.status, "created")
        # The message waits in the inbox and applies once the cause is gone.
        message = PaymentMessage.objects.get()
        self.assertFalse(message.processed)
        services.apply_message(message_id=message.pk)
        for order in self.orders:
            order.refresh_from_db()
            self.assertEqual(order.state, "paid")

    def test_an_order_paid_meanwhile_leaves_its_share_as_credit(self):
        payment, _ = self.start_all()
        register_manual_payment(
            details=ManualPaymentDetails(order=self.second, reference="TRX-1"), actor=self.carol
        )
        post_payu(self.client, payu_confirmation(payment.reference, "357000.00"))
        self.order.refresh_from_db()
        self.third.refresh_from_db()
        self.assertEqual((self.order.state, self.third.state), ("paid", "paid"))
        self.assertEqual(billing_selectors.credit_available(self.alice), Decimal("119000.00"))
        self.assertEqual(renewals(self.second_service), 1)  # once, by the transfer
        self.assertTrue(balance_is_sum_of_movements(self.alice))
        # The customer paid the second order twice: staff are told, as for a single order.
        payment.refresh_from_db()
        self.assertTrue(payment.needs_review and payment.duplicate)
        self.assertIn(self.second.number, payment.review_reason)
        alert = OutgoingEmail.objects.get(template="payment_review")
        self.assertTrue(delivery.deliver_email(email_id=alert.pk))  # rendered by the worker
        alert.refresh_from_db()
        self.assertIn(self.second.number, alert.body_text)
        self.assertIn("kept as credit", PaymentMessage.objects.get().outcome)

    def test_an_order_cancelled_meanwhile_is_flagged_and_its_share_kept_as_credit(self):
        payment, _ = self.start_all()
        billing_services.cancel_order(
            order=self.third, reason="Ya no lo necesita", actor=self.carol
        )
        post_payu(self.client, payu_confirmation(payment.reference, "357000.00"))
        self.order.refresh_from_db()
        self.assertEqual(self.order.state, "paid")
        payment.refresh_from_db()
        self.assertTrue(payment.needs_review)
        self.assertFalse(payment.duplicate)
        self.assertIn(f"{self.third.number} was cancelled", payment.review_reason)
        self.assertTrue(balance_is_sum_of_movements(self.alice))

    def test_every_order_of_a_basket_lists_the_payment_on_its_back_office_page(self):
        payment, _action = self.start_all()
        self.client.force_login(self.carol)
        for order in self.orders:
            page = self.client.get(reverse("admin:billing_order_change", args=[order.pk]))
            # The second and third orders too, not only the first (which names the payment).
            self.assertContains(
                page, reverse("admin:payments_payment_change", args=[payment.pk]), count=1
            )
            self.assertContains(page, payment.reference)

    def test_another_customers_order_cannot_be_paid_or_credited(self):
        bobs, _ = make_renewal_order(self.bob)
        with self.assertRaises(services.PaymentRefused) as refused:
            services.start_orders_payment(
                orders=[self.order, bobs], customer=self.alice, gateway_code="payu"
            )
        self.assertEqual(refused.exception.code, "not_found")
        # record_payment holds no savepoint of its own: a caller that goes on after a refusal
        # holds one.
        with self.assertRaises(ledger.LedgerError), transaction.atomic():
            ledger.record_payment(
                customer_id=self.alice.pk,
                amount=Decimal("119000"),
                allocations=[ledger.Allocation(order_id=bobs.pk)],
                reference="x",
                via="manual",
            )
        with self.assertRaises(ledger.LedgerError):
            ledger.apply_credit(customer_id=self.alice.pk, order_ids=[bobs.pk])
        self.assertFalse(LedgerEntry.objects.filter(reference="x").exists())

    def test_the_billing_page_pays_the_selected_orders_and_all_due(self):
        self.login(self.alice)
        html = self.client.get("/clientarea/billing/").content.decode()
        self.assertIn('id="pay-all-due"', html)
        self.assertIn(f'id="select-{self.second.number}"', html)
        page = self.client.get(
            "/payments/pay-orders/", {"orders": [self.order.number, self.third.number]}
        )
        self.assertContains(page, "$ 238.000")
        self.assertContains(page, f'name="orders" value="{self.third.number}"')
        response = self.client.post(
            "/payments/pay-orders/",
            {"orders": [self.order.number, self.third.number], "gateway": "payu"},
        )
        self.assertEqual(response.status_code, 200)
        payment = Payment.objects.get()
        self.assertEqual(payment.amount, Decimal("238000.00"))
        self.assertEqual(PaymentOrder.objects.filter(payment=payment).count(), 2)
        all_due = self.client.get("/payments/pay-orders/", {"all": "1"})
        self.assertContains(all_due, "$ 357.000")
        # Another customer's order number is left out, never paid.
        bobs, _ = make_renewal_order(self.bob)
        only_bob = self.client.get("/payments/pay-orders/", {"orders": [bobs.number]})
        self.assertRedirects(only_bob, "/clientarea/billing/", fetch_redirect_response=False)


class PartialAndCreditTests(PaymentsTestCase):
    def test_a_partial_payment_by_staff_leaves_the_rest_for_the_gateway(self):
        order = register_manual_payment(
            details=ManualPaymentDetails(
                order=self.order,
                reference="Efectivo oficina 12",
                method="cash",
                amount=Decimal("19000"),
            ),
            actor=self.carol,
        ).order
        self.assertEqual(order.state, "pending")
        self.assertEqual(renewals(self.service), 0)
        self.assertEqual(billing_selectors.order_balance_due(order), Decimal("100000.00"))
        self.assertTrue(OutgoingEmail.objects.filter(template="payment_partial").exists())
        payment, _ = self.start()
        self.assertEqual(payment.amount, Decimal("100000.00"))  # what is left
        post_payu(self.client, payu_confirmation(payment.reference, "100000.00"))
        self.refresh()
        self.assertEqual(self.order.state, "paid")
        self.assertEqual(renewals(self.service), 1)
        self.assertTrue(balance_is_sum_of_movements(self.alice))

    def test_staff_cannot_record_more_than_is_due_unconfirmed_or_nothing(self):
        for amount in (Decimal("119000.01"), Decimal("0"), Decimal("-5")):
            with self.subTest(amount), self.assertRaises(billing_services.OrderStateError):
                register_manual_payment(
                    details=ManualPaymentDetails(order=self.order, reference="T", amount=amount),
                    actor=self.carol,
                )
        self.assertFalse(LedgerEntry.objects.exclude(kind="order").exists())

    def test_a_duplicate_payment_becomes_credit_and_pays_the_next_order(self):
        first, _ = self.start()
        second, _ = self.start()
        post_payu(self.client, payu_confirmation(second.reference, "119000.00"))
        post_payu(self.client, payu_confirmation(first.reference, "119000.00"))  # the old tab
        first.refresh_from_db()
        self.assertTrue(first.duplicate)
        self.assertEqual(billing_selectors.credit_available(self.alice), Decimal("119000.00"))
        self.assertTrue(OutgoingEmail.objects.filter(template="credit_added").exists())
        following, service = make_renewal_order(self.alice)  # auto-applied at creation
        following.refresh_from_db()
        self.assertEqual(following.state, "paid")
        self.assertEqual(following.paid_via, "credit")
        self.assertEqual(renewals(service), 1)
        self.assertEqual(billing_selectors.credit_available(self.alice), 0)
        self.assertTrue(balance_is_sum_of_movements(self.alice))

    @override_settings(BILLING_AUTO_APPLY_CREDIT=False)
    def test_without_auto_apply_the_customer_applies_credit_and_pays_the_rest(self):
        ledger.record_payment(
            customer_id=self.alice.pk, amount=Decimal("50000"), reference="FUNDS-1", via="manual"
        )
        self.order.refresh_from_db()
        self.assertEqual(self.order.state, "pending")
        self.login(self.alice)
        page = self.client.get(f"/clientarea/billing/{self.order.number}/")
        self.assertContains(page, 'id="apply-credit"')
        response = self.client.post(f"/clientarea/billing/{self.order.number}/apply-credit/")
        self.assertEqual(response.status_code, 302)
        self.refresh()
        self.assertEqual(self.order.state, "pending")
        self.assertEqual(billing_selectors.order_balance_due(self.order), Decimal("69000.00"))
        payment, _ = self.start()
        self.assertEqual(payment.amount, Decimal("69000.00"))
        page = self.client.get(f"/clientarea/billing/{self.order.number}/")
        self.assertContains(page, 'id="order-payments"')
        self.assertContains(page, "$ 69.000")
        # Another customer's order: 404, nothing applied.
        bobs, _ = make_renewal_order(self.bob)
        self.assertEqual(
            self.client.post(f"/clientarea/billing/{bobs.number}/apply-credit/").status_code, 404
        )

    def test_funds_added_through_a_gateway_become_credit(self):
        self.login(self.alice)
        form = self.client.get("/payments/add-funds/", {"amount": "5"})
        self.assertContains(form, 'id="add-funds-form"')  # below the minimum: the form again
        response = self.client.post("/payments/add-funds/", {"amount": "200000", "gateway": "payu"})
        self.assertEqual(response.status_code, 200)
        payment = Payment.objects.get(order__isnull=True)
        self.assertTrue(payment.reference.startswith("SAL-"))
        post_payu(self.client, payu_confirmation(payment.reference, "200000.00"))
        self.assertEqual(PaymentMessage.objects.get().result, Outcome.CREDITED)
        # Auto-applied to the pending order; the rest stays as credit.
        self.refresh()
        self.assertEqual(self.order.state, "paid")
        self.assertEqual(billing_selectors.credit_available(self.alice), Decimal("81000.00"))
        result = self.client.get(f"/payments/result/{payment.reference}/")
        self.assertContains(result, 'data-status="credited"')

    def test_staff_refund_credit_instead_but_never_more_than_is_left(self):
        first, _ = self.start()
        second, _ = self.start()
        post_payu(self.client, payu_confirmation(second.reference, "119000.00"))
        post_payu(self.client, payu_confirmation(first.reference, "119000.00"))
        first.refresh_from_db()
        refunded = services.refund_instead_of_credit(first, "asked by phone", self.carol)
        self.assertEqual(refunded.refund_status, "flagged")
        self.assertEqual(billing_selectors.credit_available(self.alice), 0)
        with self.assertRaises(services.PaymentStateError):
            services.refund_instead_of_credit(refunded, "again", self.carol)
        self.assertTrue(balance_is_sum_of_movements(self.alice))

    def test_cancelling_an_order_paid_in_part_keeps_the_payment_as_credit(self):
        register_manual_payment(
            details=ManualPaymentDetails(
                order=self.order, reference="T-9", amount=Decimal("40000")
            ),
            actor=self.carol,
        )
        with self.settings(BILLING_AUTO_APPLY_CREDIT=False):
            billing_services.cancel_order(order=self.order, reason="customer left", notify=False)
        self.assertEqual(billing_selectors.credit_available(self.alice), Decimal("40000.00"))
        self.assertEqual(billing_selectors.account_summary(self.alice).due, 0)
        self.assertTrue(balance_is_sum_of_movements(self.alice))


class StatementTests(PaymentsTestCase):
    def test_the_statement_shows_every_movement_and_downloads(self):
        register_manual_payment(
            details=ManualPaymentDetails(
                order=self.order, reference="TRX-77", amount=Decimal("19000")
            ),
            actor=self.carol,
        )
        self.login(self.alice)
        page = self.client.get("/clientarea/billing/statement/")
        self.assertContains(page, self.order.number)
        self.assertContains(page, "TRX-77")
        self.assertContains(page, 'id="statement-closing"')
        self.assertContains(page, "$ 100.000")
        csv = self.client.get("/clientarea/billing/statement/", {"format": "csv"})
        self.assertEqual(csv["Content-Type"], "text/csv; charset=utf-8")
        text = csv.content.decode("utf-8-sig")
        self.assertIn("TRX-77", text)
        self.assertIn("100000.00", text.splitlines()[-1])
        pdf = self.client.get("/clientarea/billing/statement/", {"format": "pdf"})
        self.assertEqual(pdf["Content-Type"], "application/pdf")
        self.assertTrue(pdf.content.startswith(b"%PDF"))
        bad = self.client.get(
            "/clientarea/billing/statement/", {"start": "2026-12-31", "end": "2026-01-01"}
        )
        self.assertEqual(bad.status_code, 200)
        self.assertContains(bad, 'role="alert"')
        garbage = self.client.get(
            "/clientarea/billing/statement/", {"start": "x\x00", "format": "csv"}
        )
        self.assertIn(garbage.status_code, (200, 400))

    def test_the_downloads_are_named_in_the_language_they_are_written_in(self):
        # A Spanish customer's files were named "statement-…".
        self.login(self.alice)
        url, today = "/clientarea/billing/statement/", local_today()
        name = f"{self.alice.document_number}-{today.year}-01-01-{today.isoformat()}"
        for language, prefix in (("es-co", "estado-de-cuenta"), ("en", "statement")):
            self.client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
            for output in ("csv", "pdf"):
                response = self.client.get(url, {"format": output})
                self.assertEqual(
                    response["Content-Disposition"],
                    f'attachment; filename="{prefix}-{name}.{output}"',
                )

    def test_staff_see_the_same_statement_in_the_back_office(self):
        self.login(self.carol)
        url = f"/admin/billing/ledgerentry/statement/{self.alice.pk}/"
        page = self.client.get(url)
        self.assertContains(page, self.order.number)
        self.assertContains(page, 'id="account-balance"')
        self.assertEqual(self.client.get(url, {"format": "csv"}).status_code, 200)
        self.assertEqual(self.client.get("/admin/billing/ledgerentry/").status_code, 200)
        self.assertEqual(
            self.client.get("/admin/billing/ledgerentry/statement/999999/").status_code, 404
        )
        self.assertFalse(Order.objects.filter(state="paid").exists())


class BackOfficePartialPaymentTests(PaymentsTestCase):
    def test_staff_record_a_partial_payment_and_confirm_an_overpayment_first(self):
        from clientarea.lib.dates import local_now

        self.login(self.carol)
        url = f"/admin/billing/order/{self.order.pk}/pay/"
        self.assertContains(self.client.get(url), "$ 119.000")
        when = (local_now().replace(second=0, microsecond=0)).strftime("%Y-%m-%dT%H:%M")
        response = self.client.post(
            url, {"reference": "Caja 3", "paid_at": when, "method": "cash", "amount": "19000"}
        )
        self.assertEqual(response.status_code, 302)
        self.refresh()
        self.assertEqual(self.order.state, "pending")
        self.assertEqual(billing_selectors.order_balance_due(self.order), Decimal("100000.00"))
        over = self.client.post(
            url,
            {"reference": "Caja 4", "paid_at": when, "method": "cash", "amount": "200000"},
            follow=True,
        )
        # Not saved yet: the warning step says what would become credit.
        self.assertContains(over, "$ 100.000 quedarán como saldo a favor del cliente")
        self.assertFalse(LedgerEntry.objects.filter(reference="Caja 4").exists())
        change = self.client.get(f"/admin/billing/order/{self.order.pk}/change/")
        self.assertContains(change, 'id="order-customer-statement"')
        rest = self.client.post(url, {"reference": "Caja 5", "paid_at": when, "method": "cash"})
        self.assertEqual(rest.status_code, 302)
        self.refresh()
        self.assertEqual(self.order.state, "paid")
        self.assertEqual(renewals(self.service), 1)
