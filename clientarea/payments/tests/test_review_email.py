"""The staff alert of a payment that needs a person ("payment_review"): recorded where the payment
is flagged (often the paid transaction) with the payment's id, the reason, and the refund flag and
gateway transaction as they were then, and rendered by the worker when it delivers it, with the
text the transaction used to render.

``review_emails.json`` holds the subject and bodies the alert had when it was rendered in the
transaction, for each scenario of ``review_scenarios``, in both languages (the site's language
when it was recorded). Also: an upgrade paid and a duplicate payment render no email in their
transactions.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from unittest import mock

from django.db import transaction
from django.test import override_settings
from django.utils import translation

from clientarea.billing import planchanges
from clientarea.billing.models import Order
from clientarea.billing.tests import make_active_service, make_product
from clientarea.lib.dates import local_today
from clientarea.notifications import delivery, rendering
from clientarea.notifications import services as notifications
from clientarea.notifications.models import EmailStatus, OutgoingEmail
from clientarea.notifications.tests.deferred import deliver
from clientarea.payments import services
from clientarea.payments.models import Payment, RefundStatus
from clientarea.payments.reasons import Reason
from clientarea.payments.services import ManualPaymentDetails, register_manual_payment
from clientarea.payments.services.notes import flag, payment_review_email_context
from clientarea.payments.tests import review_scenarios as scenarios
from clientarea.payments.tests.base import PaymentsTestCase, payu_transaction
from clientarea.payments.tests.helpers import payu_confirmation, post_payu
from clientarea.subscriptions.models import PlanChangeStatus

EAGER = json.loads((Path(__file__).parent / "review_emails.json").read_text(encoding="utf-8"))
LANGUAGES = ("es-co", "en")


def rendered(email: OutgoingEmail, payment: Payment) -> dict[str, str]:
    return {
        "subject": scenarios.comparable(email.subject, payment),
        "body_text": scenarios.comparable(email.body_text, payment),
        "body_html": scenarios.comparable(email.body_html, payment),
    }


class ReviewEmailTests(PaymentsTestCase):
    def setUp(self) -> None:
        super().setUp()
        # The after-commit job is lost: the alert waits for the worker (``deliver``).
        lost = mock.patch.object(notifications, "_schedule")
        lost.start()
        self.addCleanup(lost.stop)

    def each_language(self, scenario: str, then=None) -> None:
        """Run ``scenario`` in each language (the site's, when the alert is recorded), then
        ``then(payment)`` before the worker renders it: the alert says what the transaction said."""
        for language in LANGUAGES:
            with self.subTest(language=language), transaction.atomic():
                with override_settings(LANGUAGE_CODE=language):
                    payment = scenarios.run(self, scenario)
                alert = scenarios.the_alert()
                self.assertEqual((alert.subject, alert.body_text, alert.body_html), ("", "", ""))
                self.assertEqual(alert.language, language)
                refs = alert.render_refs or {}
                self.assertEqual(
                    {k: v for k, v in refs.items() if not k.startswith("reason")},
                    {
                        "payment": payment.pk,
                        "refund_status": payment.refund_status,
                        "gateway_transaction_id": payment.gateway_transaction_id,
                    },
                )
                # The reason is recorded as its code and values, and said in the email's language.
                self.assertEqual(
                    (refs["reason_code"], refs["reason_values"]),
                    (payment.review_code, payment.review_values),
                )
                self.assertEqual(refs["reason"], payment.review_reason)
                with translation.override(language):
                    said = payment.review_text
                self.assertIn(said, EAGER[language][scenario]["body_text"])
                if then is not None:
                    then(payment)
                self.assertEqual(rendered(deliver(alert), payment), EAGER[language][scenario])
                self.assertEqual(alert.status, EmailStatus.SENT)
                transaction.set_rollback(True)

    def test_a_duplicate(self):
        self.each_language("duplicate")

    def test_a_payment_for_settled_orders(self):
        self.each_language("settled")

    def test_a_payment_for_partly_settled_orders(self):
        self.each_language("partly_settled")

    def test_added_funds_flagged_for_refund(self):
        self.each_language("funds_flagged")

    def test_what_staff_do_meanwhile_does_not_change_what_it_says(self):
        def handled(payment: Payment) -> None:
            # Staff return the money (flagged, then marked refunded) and the transaction is
            # corrected before the worker renders the alert.
            if payment.refund_status == RefundStatus.NONE:
                payment = services.refund_instead_of_credit(payment, "returned", self.carol)
            services.mark_refunded(payment, "refunded at the gateway", self.carol)
            Payment.objects.filter(pk=payment.pk).update(gateway_transaction_id="tx-corrected")
            payment.refresh_from_db()
            self.assertEqual(payment.refund_status, RefundStatus.REFUNDED)

        self.each_language("duplicate", then=handled)
        self.each_language("funds_flagged", then=handled)

    def test_the_same_reason_again_is_not_new_another_one_is(self):
        payment = scenarios.run(self, "duplicate")
        same = Reason(payment.review_code, payment.review_values)
        self.assertFalse(flag(payment, review=same))
        self.assertTrue(
            flag(
                payment,
                review=Reason(payment.review_code, {"transaction": "tx-9", "first": "tx-1"}),
            )
        )
        self.assertIn("tx-9", payment.review_reason)
        # Flagged before reasons had codes: the same sentence is not new either.
        payment.review_code, payment.review_values = "", {}
        self.assertFalse(
            flag(payment, review=Reason(same.code, {"transaction": "tx-9", "first": "tx-1"}))
        )
        self.assertEqual(payment.review_code, "")
        self.assertTrue(flag(payment, review=same))
        self.assertEqual((payment.review_code, payment.review_values), (same.code, same.values))

    def test_a_payment_gone_fails_the_alert_with_the_reason(self):
        scenarios.run(self, "duplicate")
        alert = scenarios.the_alert()
        refs = {**(alert.render_refs or {}), "payment": 10**9}
        with self.assertRaisesMessage(notifications.ContextGone, "payment 1000000000 no longer"):
            payment_review_email_context(refs)
        OutgoingEmail.objects.filter(pk=alert.pk).update(render_refs=refs)
        self.assertFalse(delivery.deliver_email(email_id=alert.pk))
        alert.refresh_from_db()
        self.assertEqual(alert.status, EmailStatus.FAILED)
        self.assertEqual(alert.last_error, "Not sent: payment 1000000000 no longer exists")
        self.assertEqual(alert.body_text, "")


class PaidTransactionRendersNoEmailTests(PaymentsTestCase):
    """The transactions that pay an upgrade, or find a payment made twice, record their emails
    (the plan changed, the staff alert, the payment received) and render none of them."""

    def renders(self, action) -> list[str]:
        real = rendering.render_templates
        with (
            mock.patch.object(rendering, "render_templates", side_effect=real) as renders,
            mock.patch.object(notifications, "_schedule"),  # delivered below
        ):
            action()
        return [call.kwargs["template"] for call in renders.call_args_list]

    def deliver_all(self, before: set[int]) -> list[str]:
        recorded = OutgoingEmail.objects.exclude(pk__in=before).order_by("id")
        for email in recorded:
            self.assertEqual((email.subject, email.body_text), ("", ""), email.template)
            self.assertTrue(delivery.deliver_email(email_id=email.pk), email.template)
        return sorted(email.template for email in recorded)

    def test_an_upgrade_paid(self):
        pyme = make_product("hosting-pyme", prices={"monthly": "29000"})
        pro = make_product("hosting-pro", prices={"monthly": "59000"})
        service = make_active_service(self.bob, pyme, start=local_today() - dt.timedelta(days=20))
        change = planchanges.request_plan_change(service=service, product=pro, cycle="monthly")
        order = Order.objects.get(number=change.order_number)
        payment, _ = self.start(order=order, customer=self.bob)
        before = set(OutgoingEmail.objects.values_list("pk", flat=True))
        fields = payu_confirmation(payment.reference, f"{payment.amount}", transaction_id="tx-u")
        self.assertEqual(self.renders(lambda: post_payu(self.client, fields)), [])
        change.refresh_from_db()
        self.assertEqual(change.status, PlanChangeStatus.APPLIED)
        self.assertEqual(
            self.deliver_all(before), ["order_paid", "plan_changed", "staff_invoice_waiting"]
        )
        email = OutgoingEmail.objects.get(template="plan_changed")
        self.assertEqual(email.subject, "Su servicio ya tiene el plan Hosting Pro")

    def test_a_duplicate_payment(self):
        payment, _ = self.start()
        post_payu(
            self.client, payu_confirmation(payment.reference, "119000.00", transaction_id="tx-1")
        )
        self.network.payu_transactions[payment.reference] = [
            payu_transaction("tx-1"),
            payu_transaction("tx-2"),
        ]
        before = set(OutgoingEmail.objects.values_list("pk", flat=True))
        check = lambda: services.check_payment(payment, close_expired=False)  # noqa: E731
        self.assertEqual(self.renders(check), [])
        payment.refresh_from_db()
        self.assertTrue(payment.duplicate)
        self.assertEqual(self.deliver_all(before), ["credit_added", "payment_review"])
        alert = OutgoingEmail.objects.get(template="payment_review")
        # In the site's language (es-co), with the gateway's transaction ids as they are.
        self.assertIn(
            "segunda transacción aprobada tx-2 para este intento (la primera: tx-1)",
            alert.body_text,
        )
        # One recorded before reasons had codes says the sentence it was given.
        refs = {
            "payment": payment.pk,
            "reason": "an old reason, as written",
            "refund_status": payment.refund_status,
            "gateway_transaction_id": payment.gateway_transaction_id,
        }
        old = rendering.render_templates(
            template="payment_review",
            context=payment_review_email_context(refs),
            language="es-co",
        )
        self.assertIn("an old reason, as written", old.text)

    def test_an_approval_for_an_order_paid_meanwhile(self):
        payment, _ = self.start()
        register_manual_payment(
            details=ManualPaymentDetails(order=self.order, reference="T-1"), actor=None
        )
        before = set(OutgoingEmail.objects.values_list("pk", flat=True))
        fields = payu_confirmation(payment.reference, "119000.00", transaction_id="tx-3")
        self.assertEqual(self.renders(lambda: post_payu(self.client, fields)), [])
        self.assertEqual(self.deliver_all(before), ["credit_added", "payment_review"])
