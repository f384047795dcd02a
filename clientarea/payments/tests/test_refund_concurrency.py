"""Real concurrency on PostgreSQL: staff refunding the same payment at the same moment refund it
once (the customer row and the payment row are locked while the request is checked).

Run with ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/ca_pay .venv/bin/python -m pytest clientarea/payments -m postgres``.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection

from clientarea.billing.models import LedgerEntry
from clientarea.payments import services
from clientarea.payments.models import Refund, RefundState
from clientarea.payments.tests.helpers import make_renewal_order, payu_confirmation, post_payu
from clientarea.test import make_customer, make_provider

THREADS = 6


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_refunds_of_one_payment_never_exceed_what_was_paid(client, settings):
    settings.PAYMENTS_IP_ALLOWLIST = False
    settings.PAYU_SIGNATURE_ALGORITHM = "SHA256"
    settings.PAYU_SECRET_KEY = ""
    make_provider()
    customer = make_customer("refund-race@example.com")
    order, _service = make_renewal_order(customer)
    payment, _ = services.start_payment(
        order=order, customer=customer, gateway_code="payu", language="es"
    )
    with mock.patch("clientarea.payments.jobs.enqueue_check"):
        assert (
            post_payu(client, payu_confirmation(payment.reference, "119000.00")).status_code == 200
        )
    payment.refresh_from_db()
    assert payment.status == "approved"

    barrier = threading.Barrier(THREADS)
    results: list[str] = [""] * THREADS

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            # Each asks for 50.000 of 119.000: at most two can succeed.
            services.refund_payment(
                payment=payment,
                amount=Decimal("50000"),
                method="manual",
                bank_reference=f"T-{index}",
                reason="race",
            )
            results[index] = "ok"
        except services.RefundRefused:
            results[index] = "refused"
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == ["ok", "ok"] + ["refused"] * (THREADS - 2)
    assert Refund.objects.filter(state=RefundState.COMPLETED).count() == 2
    assert services.refundable(payment) == Decimal("19000.00")
    assert LedgerEntry.objects.filter(kind="payment_refunded").count() == 2
    total = sum((e.amount for e in LedgerEntry.objects.filter(customer=customer)), Decimal(0))
    assert total == 0  # the order was paid: refunds leave the balance as it was
