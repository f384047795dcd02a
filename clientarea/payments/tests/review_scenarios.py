"""Payments that need a person, whose staff alert ("payment_review") is compared with the text it
had when it was rendered inside the transaction that flagged the payment
(``review_emails.json``). Each scenario runs in a :class:`PaymentsTestCase` (alice's renewal order
``self.order`` of 119.000) and returns the payment."""

from __future__ import annotations

from decimal import Decimal

from django.test import override_settings

from clientarea.notifications.models import OutgoingEmail
from clientarea.payments import services
from clientarea.payments.models import Payment
from clientarea.payments.services import ManualPaymentDetails, register_manual_payment
from clientarea.payments.tests.base import PaymentsTestCase, payu_transaction
from clientarea.payments.tests.helpers import (
    make_renewal_order,
    payu_confirmation,
    payvalida_notification,
    post_payu,
    post_payvalida,
)

SCENARIOS = ("duplicate", "settled", "partly_settled", "funds_flagged")


def _duplicate(case: PaymentsTestCase) -> Payment:
    """The gateway lists a second approved transaction for one order: kept as credit."""
    payment, _ = case.start()
    post_payu(case.client, payu_confirmation(payment.reference, "119000.00", transaction_id="tx-1"))
    case.network.payu_transactions[payment.reference] = [
        payu_transaction("tx-1"),
        payu_transaction("tx-2"),
    ]
    services.check_payment(payment, close_expired=False)
    return payment


def _settled(case: PaymentsTestCase, *, all_of_them: bool) -> Payment:
    """One payment for three orders; the first (or every one) paid by transfer meanwhile."""
    second, _ = make_renewal_order(case.alice)
    third, _ = make_renewal_order(case.alice)
    orders = [case.order, second, third]
    payment, _ = services.start_orders_payment(
        orders=orders, customer=case.alice, gateway_code="payu", language="es"
    )
    for order in orders if all_of_them else orders[:1]:
        register_manual_payment(
            details=ManualPaymentDetails(order=order, reference=f"transfer-{order.number}"),
            actor=case.carol,
        )
    post_payu(case.client, payu_confirmation(payment.reference, "357000.00", transaction_id="tx-9"))
    return payment


def _funds_flagged(case: PaymentsTestCase) -> Payment:
    """Funds added through Payvalida; staff decide to return them (flagged for refund), then the
    gateway reports a cancellation nobody asked for here. (The credit is not applied to alice's
    pending order, so that it can be taken back.)"""
    payment, _ = services.start_funds_payment(
        amount=Decimal("50000"), customer=case.alice, gateway_code="payvalida"
    )
    with override_settings(BILLING_AUTO_APPLY_CREDIT=False):
        post_payvalida(case.client, payvalida_notification(payment.reference, amount="50000"))
    payment.refresh_from_db()
    services.refund_instead_of_credit(payment, "the customer asked", case.carol)
    case.network.payvalida_orders[payment.gateway_reference]["STATE"] = "ANULADA"
    services.check_payment(payment, close_expired=False)
    return payment


def run(case: PaymentsTestCase, scenario: str) -> Payment:
    """The scenario's payment, flagged and its staff alert recorded (not delivered)."""
    if scenario == "duplicate":
        payment = _duplicate(case)
    elif scenario == "settled":
        payment = _settled(case, all_of_them=True)
    elif scenario == "partly_settled":
        payment = _settled(case, all_of_them=False)
    else:
        payment = _funds_flagged(case)
    payment.refresh_from_db()
    assert payment.needs_review, scenario
    return payment


def the_alert() -> OutgoingEmail:
    (email,) = OutgoingEmail.objects.filter(template="payment_review")
    return email


def comparable(text: str, payment: Payment) -> str:
    """The text with the payment's database id (in its back-office link) as ``<id>``: the one
    value that depends on what the database handed out before."""
    return text.replace(f"/payments/payment/{payment.pk}/", "/payments/payment/<id>/")
