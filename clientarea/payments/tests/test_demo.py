"""The demo's transfer is registered as staff register one: kept as a payment that can be refunded."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from clientarea.billing.models import LedgerEntry, LedgerKind, OrderState
from clientarea.payments import services
from clientarea.payments.models import MANUAL_GATEWAY, Payment, PaymentStatus

pytestmark = pytest.mark.django_db


def test_the_demo_transfer_is_a_manual_payment_staff_can_refund_and_loads_once():
    out = io.StringIO()
    call_command("demo_data", stdout=out)
    (payment,) = Payment.objects.filter(gateway=MANUAL_GATEWAY)
    assert payment.status == PaymentStatus.APPROVED
    assert payment.order.state == OrderState.PAID
    assert payment.order.customer.user.email == "compras@tiendaandina.example"
    # The agent transferred the net; its withholdings were posted beside it.
    assert payment.amount == Decimal("133421.00")
    assert LedgerEntry.objects.filter(order=payment.order, kind=LedgerKind.WITHHOLDING).exists()
    assert services.refundable(payment) == payment.amount
    assert f"{payment.order.number} paid by transfer" in out.getvalue()
    call_command("demo_data", stdout=io.StringIO())
    assert Payment.objects.filter(gateway=MANUAL_GATEWAY).count() == 1
