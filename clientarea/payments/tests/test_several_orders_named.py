"""A payment for several orders names all of them: the gateways' description (any number of
orders, within their 250 characters), the staff email about it, the back office's list, search
and payment page."""

from __future__ import annotations

from django.urls import reverse

from clientarea.notifications import delivery
from clientarea.notifications.models import OutgoingEmail
from clientarea.payments import services
from clientarea.payments.services import ManualPaymentDetails, register_manual_payment
from clientarea.payments.services.checkout import DESCRIPTION_LIMIT, orders_description
from clientarea.payments.tests.base import PaymentsTestCase
from clientarea.payments.tests.helpers import make_renewal_order, payu_confirmation, post_payu


def test_the_description_names_every_order_when_they_fit():
    text = orders_description(["ODS-000102", "ODS-000101"], provider="Conexcol")
    assert text == "Conexcol órdenes de servicio ODS-000101, ODS-000102"
    assert orders_description(["ODS-000101"], provider="Conexcol") == (
        "Orden de servicio ODS-000101 de Conexcol"
    )


def test_many_orders_share_their_prefix_once_so_all_still_fit():
    numbers = [f"ODS-{n:06d}" for n in range(100, 125)]  # 25 orders: 300 characters in full
    text = orders_description(numbers, provider="Conexcol")
    assert len(text) <= DESCRIPTION_LIMIT
    assert text.startswith("Conexcol órdenes de servicio ODS-000100, 000101, ")
    for number in numbers:
        assert number[4:] in text


def test_too_many_orders_to_list_are_counted_with_the_first_and_the_last():
    numbers = [f"ODS-{n:06d}" for n in range(100, 160)]
    text = orders_description(numbers, provider="Conexcol")
    assert text == "Conexcol: 60 órdenes de servicio, de la ODS-000100 a la ODS-000159"


class SeveralOrdersNamedTests(PaymentsTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.second, _ = make_renewal_order(self.alice)
        self.orders = [self.order, self.second]

    def test_payvalida_gets_every_order_in_its_description(self):
        _payment, _action = services.start_orders_payment(
            orders=self.orders, customer=self.alice, gateway_code="payvalida", language="es"
        )
        sent = [call for call in self.network.calls if call[0] == "POST"][-1]
        for order in self.orders:
            # The order number as the customer knows it, hyphen included: "ODS-000123".
            self.assertIn(order.number.encode(), sent[2] or b"")

    def test_staff_email_about_the_payment_names_every_order(self):
        payment, _ = services.start_orders_payment(
            orders=self.orders, customer=self.alice, gateway_code="payu", language="es"
        )
        for order in self.orders:  # paid another way meanwhile: the approval becomes credit
            register_manual_payment(
                details=ManualPaymentDetails(order=order, reference=f"transfer-{order.pk}"),
                actor=self.carol,
            )
        post_payu(self.client, payu_confirmation(payment.reference, "238000.00"))
        email = OutgoingEmail.objects.get(template="payment_review")
        self.assertTrue(delivery.deliver_email(email_id=email.pk))  # rendered by the worker
        email.refresh_from_db()
        numbers = ", ".join(sorted(o.number for o in self.orders))
        self.assertIn(f"de las órdenes {numbers} necesita revisión", email.body_text)

    def test_the_back_office_lists_and_finds_a_payment_by_any_of_its_orders(self):
        payment, _ = services.start_orders_payment(
            orders=self.orders, customer=self.alice, gateway_code="payu", language="es"
        )
        self.client.force_login(self.carol)
        with self.settings(LANGUAGE_CODE="en"):
            page = self.client.get(
                reverse("admin:payments_payment_changelist"), {"q": self.second.number}
            )
            self.assertEqual(page.status_code, 200)
            html = page.content.decode()
            self.assertIn(payment.reference, html)
            for order in self.orders:
                self.assertIn(order.number, html)
            detail = self.client.get(
                reverse("admin:payments_payment_change", args=[payment.pk])
            ).content.decode()
            for order in self.orders:
                self.assertIn(order.number, detail)
