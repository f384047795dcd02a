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
    order = payment.order
    assert order is not None
    assert payment.status == PaymentStatus.APPROVED
    assert order.state == OrderState.PAID
    assert order.customer.user.email == "compras@tiendaandina.example"
    # The agent transferred the net; its withholdings were posted beside it.
    assert payment.amount == Decimal("133421.00")
    assert LedgerEntry.objects.filter(order=order, kind=LedgerKind.WITHHOLDING).exists()
    assert services.refundable(payment) == payment.amount
    assert f"{order.number} paid by transfer" in out.getvalue()
    call_command("demo_data", stdout=io.StringIO())
    assert Payment.objects.filter(gateway=MANUAL_GATEWAY).count() == 1


def test_the_demo_renewals_say_why_they_were_issued_in_the_readers_language():
    """The demo stored the word "renewal" as typed text: English on a Spanish page."""
    from django.utils import translation

    from clientarea.billing import selectors as billing_selectors
    from clientarea.billing.models import OrderEvent

    call_command("demo_data", stdout=io.StringIO())
    renewals = [
        e
        for e in OrderEvent.objects.filter(kind="created")
        if e.order.items.filter(kind="renewal").exists()
    ]
    assert renewals
    with translation.override("es"):
        texts = {billing_selectors.event_text(e) for e in renewals}
    assert texts == {"renovación (ejecución de facturación)"}, texts
