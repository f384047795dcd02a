"""Real concurrency on PostgreSQL: simultaneous deliveries of one confirmation pay the order once.

Run with ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/ca_pay .venv/bin/python -m pytest clientarea/payments -m postgres``.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection
from django.test import Client

from clientarea.billing.models import OrderEvent
from clientarea.billing.selectors import credit_available
from clientarea.payments import services
from clientarea.payments.models import Payment, PaymentMessage, PaymentStatus, RefundStatus
from clientarea.payments.tests.helpers import (
    make_renewal_order,
    payu_confirmation,
    post_payu,
    renewals,
)
from clientarea.test import make_customer, make_provider

THREADS = 8


def _post_all(bodies: list[dict[str, str]]) -> list[int]:
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = [0] * len(bodies)

    def worker(index: int) -> None:
        try:
            client = Client()
            barrier.wait(timeout=10)
            statuses[index] = post_payu(client, bodies[index]).status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


@pytest.fixture
def order_to_pay(settings):
    settings.PAYMENTS_IP_ALLOWLIST = False
    settings.PAYU_SIGNATURE_ALGORITHM = "SHA256"
    settings.PAYU_SECRET_KEY = ""
    make_provider()
    customer = make_customer("concurrent@example.com")
    order, service = make_renewal_order(customer)
    return customer, order, service


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_simultaneous_copies_of_one_confirmation_pay_once(order_to_pay):
    customer, order, service = order_to_pay
    payment, _ = services.start_payment(
        order=order, customer=customer, gateway_code="payu", language="es"
    )
    fields = payu_confirmation(payment.reference, "119000.00", transaction_id="tx-race")
    with mock.patch("clientarea.payments.jobs.enqueue_check"):
        statuses = _post_all([fields] * THREADS)
    assert statuses == [200] * THREADS
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.state == "paid"
    assert payment.status == PaymentStatus.APPROVED
    assert renewals(service) == 1
    assert OrderEvent.objects.filter(order=order, kind="paid").count() == 1
    outcomes = sorted(PaymentMessage.objects.values_list("outcome", flat=True))
    assert outcomes == ["applied"] + ["duplicate"] * (THREADS - 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_different_approved_attempts_at_once_pay_once_and_credit_the_rest(order_to_pay):
    customer, order, service = order_to_pay
    payments = [
        Payment.objects.create(
            reference=f"{order.number}-{n}",
            gateway_reference=f"{order.number}-{n}",
            attempt=n,
            order=order,
            customer=customer,
            gateway="payu",
            amount=Decimal("119000.00"),
            currency="COP",
            tax=Decimal("19000.00"),
            tax_base=Decimal("100000.00"),
        )
        for n in range(1, THREADS + 1)
    ]
    bodies = [
        payu_confirmation(p.reference, "119000.00", transaction_id=f"tx-{p.attempt}")
        for p in payments
    ]
    statuses = _post_all(bodies)
    assert statuses == [200] * THREADS
    order.refresh_from_db()
    assert order.state == "paid"
    assert renewals(service) == 1
    assert Payment.objects.filter(status=PaymentStatus.APPROVED).count() == THREADS
    # The other seven are money received: the customer's credit, never a second payment.
    assert Payment.objects.filter(duplicate=True, refund_status=RefundStatus.NONE).count() == (
        THREADS - 1
    )
    assert credit_available(customer) == Decimal("119000.00") * (THREADS - 1)
    winner = Payment.objects.get(duplicate=False)
    assert order.payment_reference == f"payu:{winner.gateway_transaction_id}"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_workers_racing_on_one_stored_message_apply_it_once(order_to_pay):
    """The queued job, the sweep and a staff "apply again" may all pick up the same inbox row at once."""
    customer, order, service = order_to_pay
    payment, _ = services.start_payment(
        order=order, customer=customer, gateway_code="payu", language="es"
    )
    with mock.patch(
        "clientarea.payments.jobs.enqueue_apply_message"
    ):  # stored and acknowledged, not applied yet
        assert (
            post_payu(
                Client(),
                payu_confirmation(payment.reference, "119000.00", transaction_id="tx-stored"),
            ).status_code
            == 200
        )
    message = PaymentMessage.objects.get()
    assert not message.processed
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = [""] * THREADS

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = services.apply_message(message_id=message.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["applied"] + ["nothing to do"] * (THREADS - 1)
    order.refresh_from_db()
    assert order.state == "paid"
    assert renewals(service) == 1
    assert OrderEvent.objects.filter(order=order, kind="paid").count() == 1
