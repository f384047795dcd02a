"""Demo payments: Tienda Andina's SSL order paid by bank transfer, as staff register it.

Loaded after the demo orders (``billing.demo``). The agent transfers the net of its withholdings
(posted with it), and the money is kept as a payment at the "manual" gateway, so the back office
shows it on the order's page with **Refund**. Idempotent: nothing is done once the order is paid.
"""

from __future__ import annotations

from django.utils import timezone

from clientarea.accounts.models import User
from clientarea.billing.models import Order, OrderState
from clientarea.payments import services

TRANSFER_REFERENCE = "Transferencia Davivienda 88120045"


def load(stdout) -> None:
    staff = User.objects.filter(email="soporte@conexcol.example").first()
    order = (
        Order.objects.filter(
            customer__user__email="compras@tiendaandina.example",
            state=OrderState.PENDING,
            items__service__label="tiendaandina.com.co",
            items__service__product__code="ssl-dv",
        )
        .order_by("id")
        .first()
    )
    if order is None:
        return  # already paid, or not in this demo
    paid = services.register_manual_payment(
        details=services.ManualPaymentDetails(
            order=order, reference=TRANSFER_REFERENCE, paid_at=timezone.now(), method="transfer"
        ),
        actor=staff,
    )
    stdout.write(
        f"  {paid.order.number} paid by transfer ({paid.payment.reference}, refundable from its "
        "payment's page)"
    )
