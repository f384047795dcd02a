"""Real concurrency on PostgreSQL: simultaneous refund requests for one order record one refund."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from clientarea.payments.sandbox import payu_refunds
from clientarea.payments.sandbox.models import (
    SandboxPayUOrder,
    SandboxPayURefund,
    SandboxPayUTransaction,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_simultaneous_refund_requests_record_one_refund():
    order = SandboxPayUOrder.objects.create(
        payu_order_id=1_400_999_001, merchant_id="508029", account_id="512321",
        reference_code="CA-RACE-1", description="Hosting", amount="119000", currency="COP",
        buyer_email="alice@example.com", state="APPROVED",
    )  # fmt: skip
    parent = SandboxPayUTransaction.objects.create(
        order=order, instrument="CARD", payment_method="VISA", state="APPROVED",
        response_code="APPROVED",
    )  # fmt: skip
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def ask() -> None:
        try:
            barrier.wait()
            payu_refunds.request_refund(
                order_id=order.payu_order_id,
                parent_transaction_id=str(parent.transaction_id),
                kind="REFUND",
            )
            outcomes.append("recorded")
        except payu_refunds.RefundRefused:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["recorded", "refused", "refused", "refused"]
    assert SandboxPayURefund.objects.filter(order=order).count() == 1
