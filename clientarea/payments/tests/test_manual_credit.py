"""Money staff register for no pending order (*Register a transfer as credit* on the customer's
back-office page): the customer's credit, kept as a manual payment that **Refund** returns."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Permission
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone, translation

from clientarea.accounts.models import AuditEvent, User
from clientarea.backoffice import forms
from clientarea.billing import selectors as billing_selectors
from clientarea.billing import services as billing_services
from clientarea.billing.models import LedgerEntry, LedgerKind
from clientarea.lib.dates import BOGOTA, local_today
from clientarea.payments import services
from clientarea.payments.models import (
    MANUAL_GATEWAY,
    Payment,
    PaymentStatus,
    RefundLine,
    RefundState,
)
from clientarea.payments.tests.base import PaymentsTestCase
from clientarea.payments.tests.test_account import balance_is_sum_of_movements
from clientarea.reports import movements


def bank_rows() -> list[movements.MovementRow]:
    today = local_today()
    return [
        row
        for row in movements.movements(date_from=today, date_to=today)
        if row.section == movements.BANK
    ]


def written() -> tuple[int, int, int]:
    """What a refusal must leave as it was: payments, ledger entries, audit entries."""
    return Payment.objects.count(), LedgerEntry.objects.count(), AuditEvent.objects.count()


@override_settings(BILLING_AUTO_APPLY_CREDIT=False)
class RegisterCreditTests(PaymentsTestCase):
    def setUp(self) -> None:
        super().setUp()
        translation.activate("en")
        self.addCleanup(translation.deactivate)
        self.url = reverse("backoffice:credit_register", args=[self.alice.pk])

    def register(self, amount: str = "150000", **kwargs) -> Payment:
        with self.captureOnCommitCallbacks(execute=True):
            return services.register_manual_credit(
                details=services.ManualCreditDetails(
                    customer=self.alice,
                    amount=Decimal(amount),
                    reference=kwargs.pop("reference", "TRF-900"),
                    **kwargs,
                ),
                actor=self.carol,
            )

    def test_a_transfer_becomes_credit_a_manual_payment_an_audit_and_one_money_movement(self):
        payment = self.register(note="duplicate of ODS-000123")
        self.assertEqual(payment.gateway, MANUAL_GATEWAY)
        self.assertEqual(payment.status, PaymentStatus.APPROVED)
        self.assertIsNone(payment.order_id)
        self.assertFalse(payment.basket.exists())
        self.assertRegex(payment.reference, r"^SAL-\d{6}-1$")
        self.assertEqual(payment.amount, Decimal("150000.00"))
        self.assertEqual(payment.instructions["bank_reference"], "TRF-900")
        self.assertEqual(billing_selectors.credit_available(self.alice), Decimal("150000.00"))
        entry = LedgerEntry.objects.get(customer=self.alice, kind=LedgerKind.CREDIT)
        self.assertEqual(
            (entry.amount, entry.via, entry.reference, entry.memo, entry.order_id),
            (Decimal("-150000.00"), "manual", "TRF-900", payment.reference, None),
        )
        self.order.refresh_from_db()
        self.assertEqual(self.order.state, "pending")  # auto-apply is off here
        audit = AuditEvent.objects.get(action="billing.manual_credit")
        self.assertEqual(audit.target, payment.reference)
        self.assertEqual(audit.changes["payment"], payment.reference)
        self.assertEqual(audit.changes["reference"], "TRF-900")
        self.assertEqual(audit.changes["note"], "duplicate of ODS-000123")
        self.assertEqual(audit.actor_id, self.carol.pk)
        # Counted once as money in (the ledger's row; the payment row beside it adds nothing).
        rows = bank_rows()
        self.assertEqual(
            [(r.direction, r.amount, r.via, r.gateway_reference, r.our_reference) for r in rows],
            [(movements.IN, Decimal("150000.00"), "manual", "TRF-900", payment.reference)],
        )
        self.assertTrue(balance_is_sum_of_movements(self.alice))

    def test_the_customer_page_registers_a_transfer_as_credit(self):
        self.client.force_login(self.carol)
        page = self.client.get(reverse("backoffice:customer", args=[self.alice.pk]))
        self.assertContains(page, self.url)
        form = self.client.get(self.url)
        self.assertContains(form, 'name="paid_at"')
        response = self.client.post(
            self.url,
            {
                "amount": "150.000",
                "bank_reference": "TRF-901",
                "method": "cash",
                "paid_at": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
                "note": "paid in advance",
            },
            follow=True,
        )
        self.assertRedirects(
            response, reverse("backoffice:customer", args=[self.alice.pk]) + "#balance"
        )
        payment = Payment.objects.get(gateway=MANUAL_GATEWAY)
        self.assertContains(response, payment.reference)
        self.assertEqual(
            (payment.amount, payment.raw_method, payment.method),
            (Decimal("150000.00"), "cash", "cash"),
        )
        self.assertEqual(billing_selectors.credit_available(self.alice), Decimal("150000.00"))
        self.assertEqual(AuditEvent.objects.filter(action="billing.manual_credit").count(), 1)

    def test_the_date_received_is_typed_day_first_in_either_language(self):
        """A text box in the page's format: "04/02/2026 10:00" is 4 February on an English page
        too (the browser's own date box of an English browser took it as 2 April)."""
        self.client.force_login(self.carol)
        for language, words, reference in (
            ("en", "day/month/year and 24-hour time, e.g. 04/12/2026 09:30", "TRF-910"),
            ("es-co", "en día/mes/año y hora de 24 horas, p. ej. 04/12/2026 09:30", "TRF-911"),
        ):
            self.client.cookies["django_language"] = language
            form = self.client.get(self.url).content.decode()
            self.assertIn('<input type="text" name="paid_at"', form)
            self.assertIn(words, form)
            self.client.post(
                self.url,
                {"amount": "1000", "bank_reference": reference, "method": "transfer",
                 "paid_at": "04/02/2026 10:00", "note": ""},
            )  # fmt: skip
            payment = Payment.objects.get(
                gateway=MANUAL_GATEWAY, instructions__bank_reference=reference
            )
            self.assertEqual(payment.approved_at, dt.datetime(2026, 2, 4, 10, tzinfo=BOGOTA))

    def test_refused_input_writes_nothing_and_says_why(self):
        self.client.force_login(self.carol)
        now = timezone.localtime()
        good = {
            "amount": "50000",
            "bank_reference": "TRF-902",
            "method": "transfer",
            "paid_at": now.strftime("%Y-%m-%d %H:%M"),
            "note": "",
        }
        before = written()
        for change, field in (
            ({"amount": "0"}, "amount"),
            ({"amount": "-5000"}, "amount"),
            ({"amount": "50.00.0"}, "amount"),
            ({"amount": "abc"}, "amount"),
            ({"amount": "5000,001"}, "amount"),
            ({"bank_reference": "  "}, "bank_reference"),
            ({"paid_at": (now + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M")}, "paid_at"),
            ({"method": "card"}, "method"),
        ):
            response = self.client.post(self.url, {**good, **change})
            self.assertEqual(response.status_code, 200, change)
            # The message beside the field, in the staff member's language.
            self.assertIn(field, response.context["form"].errors, change)
            self.assertIn(f'id="id_{field}_error"', response.content.decode(), change)
        with translation.override("en"):
            errors = {
                amount: forms.ManualCreditForm({**good, "amount": amount}).errors["amount"][0]
                for amount in ("0", "-1", "abc")
            }
            future = (now + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
            late = forms.ManualCreditForm({**good, "paid_at": future}).errors["paid_at"][0]
        self.assertEqual(
            errors,
            {
                "0": "Enter an amount greater than zero.",
                "-1": "Enter an amount greater than zero.",
                "abc": "Enter an amount in pesos, for example 150.000 or 150.000,50.",
            },
        )
        self.assertEqual(late, "The payment date cannot be in the future.")
        self.assertEqual(written(), before)
        # The service refuses the same on its own, writing nothing.
        refusals: tuple[dict[str, Any], ...] = (
            {"amount": Decimal("0")},
            {"amount": Decimal("-1")},
            {"amount": Decimal("1.001")},
            {"amount": Decimal("NaN")},
            {"reference": " "},
            {"method": "card"},
            {"paid_at": timezone.now() + dt.timedelta(hours=1)},
        )
        for kwargs in refusals:
            with self.assertRaises(billing_services.ManualCreditRefused, msg=str(kwargs)):
                services.register_manual_credit(
                    details=services.ManualCreditDetails(
                        **{
                            "customer": self.alice,
                            "amount": Decimal("1000"),
                            "reference": "TRF-903",
                            **kwargs,
                        }
                    ),
                    actor=self.carol,
                )
        self.assertEqual(written(), before)
        self.assertEqual(billing_selectors.credit_available(self.alice), 0)

    def test_its_refund_is_manual_and_takes_the_credit_back(self):
        payment = self.register("80000")
        with self.assertRaisesMessage(services.RefundRefused, "registered by staff"):
            services.refund_payment(
                payment=payment, amount=Decimal("80000"), method="gateway", reason="duplicate"
            )
        self.assertEqual(services.refundable_now(payment), Decimal("80000.00"))
        # Its page (no order) has Refund; the refund form offers no gateway.
        self.client.force_login(self.carol)
        change = self.client.get(reverse("admin:payments_payment_change", args=[payment.pk]))
        self.assertContains(change, 'id="payment-refund"')
        self.assertNotContains(change, 'id="payment-query"')
        # Not "Refund instead of credit" (flag, then "mark as refunded" outside the ledger):
        # Refund does it in one step.
        self.assertNotContains(change, 'id="payment-refund-instead"')
        with (
            translation.override("en"),
            self.assertRaisesMessage(services.PaymentStateError, "registered by staff"),
        ):
            services.refund_instead_of_credit(payment, "asked", self.carol)
        self.assertEqual(billing_selectors.credit_available(self.alice), Decimal("80000.00"))
        form = self.client.get(reverse("admin:payments_payment_refund", args=[payment.pk]))
        self.assertContains(form, 'value="manual"')
        self.assertNotContains(form, 'value="gateway"')
        customer = self.client.get(reverse("backoffice:customer", args=[self.alice.pk]))
        self.assertContains(customer, reverse("admin:payments_payment_change", args=[payment.pk]))
        with self.captureOnCommitCallbacks(execute=True):
            refund = services.refund_payment(
                payment=payment,
                amount=Decimal("80000"),
                method="manual",
                bank_reference="TRF-OUT-90",
                reason="duplicate of ODS-000123",
                actor=self.carol,
            )
        refund.refresh_from_db()
        self.assertEqual(refund.state, RefundState.COMPLETED)
        self.assertEqual((refund.from_credit, refund.credit_taken), (Decimal("80000"),) * 2)
        self.assertFalse(RefundLine.objects.filter(refund=refund).exists())  # no credit note
        self.assertEqual(billing_selectors.credit_available(self.alice), 0)
        self.assertEqual(services.refundable(payment), 0)
        rows = bank_rows()
        self.assertEqual(
            sorted((r.direction, r.amount, r.via) for r in rows),
            [
                (movements.IN, Decimal("80000.00"), "manual"),
                (movements.OUT, Decimal("80000.00"), "manual"),
            ],
        )
        out = next(r for r in rows if r.direction == movements.OUT)
        self.assertEqual(out.gateway_reference, "TRF-OUT-90")
        self.assertTrue(balance_is_sum_of_movements(self.alice))

    def test_the_audit_of_an_orders_manual_payment_names_its_payment(self):
        done = services.register_manual_payment(
            details=services.ManualPaymentDetails(
                order=self.order, reference="TRF-904", method="transfer"
            ),
            actor=self.carol,
        )
        audit = AuditEvent.objects.get(action="billing.manual_payment")
        self.assertEqual(audit.changes["payment"], done.payment.reference)
        self.assertEqual(done.payment.reference, f"{self.order.number}-1")

    def test_registering_credit_needs_the_permission_to_register_payments(self):
        clerk = User.objects.create_user(
            email="support@conexcol.example", password="x-long-password", is_staff=True
        )
        clerk.user_permissions.add(Permission.objects.get(codename="view_customer"))
        self.client.force_login(clerk)
        page = self.client.get(reverse("backoffice:customer", args=[self.alice.pk]))
        self.assertEqual(page.status_code, 200)
        self.assertNotContains(page, self.url)
        self.assertEqual(self.client.get(self.url).status_code, 403)
        data = {
            "amount": "1000",
            "bank_reference": "T",
            "method": "transfer",
            "paid_at": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
        }
        before = written()
        self.assertEqual(self.client.post(self.url, data).status_code, 403)
        self.assertEqual(written(), before)
        # With "change order" (the order admin's "Register payment"), it is allowed.
        clerk.user_permissions.add(Permission.objects.get(codename="change_order"))
        clerk = User.objects.get(pk=clerk.pk)  # the permission cache
        self.client.force_login(clerk)
        self.assertContains(
            self.client.get(reverse("backoffice:customer", args=[self.alice.pk])), self.url
        )
        self.assertEqual(self.client.post(self.url, data).status_code, 302)
        self.assertEqual(billing_selectors.credit_available(self.alice), Decimal("1000.00"))


@override_settings(BILLING_AUTO_APPLY_CREDIT=True)
class AutoApplyTests(PaymentsTestCase):
    def test_the_credit_pays_a_pending_order_at_once(self):
        with self.captureOnCommitCallbacks(execute=True):
            payment = services.register_manual_credit(
                details=services.ManualCreditDetails(
                    customer=self.alice, amount=Decimal("150000"), reference="TRF-905"
                ),
                actor=self.carol,
            )
        self.refresh()
        self.assertEqual(self.order.state, "paid")
        self.assertEqual(billing_selectors.credit_available(self.alice), Decimal("31000.00"))
        audit = AuditEvent.objects.get(action="billing.manual_credit")
        self.assertEqual(audit.changes["credit_applied"], "119000.00")
        self.assertEqual(audit.changes["orders_paid"], [self.order.number])
        # The credit spent on the order cannot be refunded from this payment any more.
        self.assertEqual(services.refundable_now(payment), Decimal("31000.00"))
        with self.assertRaises(services.RefundRefused):
            services.refund_payment(
                payment=payment,
                amount=Decimal("40000"),
                method="manual",
                bank_reference="TRF-OUT-91",
                reason="asked",
                actor=self.carol,
            )
        self.assertTrue(balance_is_sum_of_movements(self.alice))
