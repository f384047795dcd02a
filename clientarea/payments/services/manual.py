"""Money staff registered (a bank transfer, cash at the office): a payment row beside its ledger
movements, so the back office's **Refund** reaches it like a gateway's payment.

:func:`register_manual_payment` posts the money through ``billing.services.post_manual_payment``
(the order's payment, the excess kept as credit, withholdings, the audit entry) and, in the same
transaction, keeps an approved :class:`~clientarea.payments.models.Payment` at the "manual"
gateway (``MANUAL_GATEWAY``) with one basket row: the order and what of the money paid it. No
gateway is ever asked about it (it is never open: status queries, reconciliation and expiry look
at open attempts only; "Query the gateway" refuses it), and its refunds are manual, with the
bank reference (``refunds.refund_payment``). Which orders it paid comes from its basket
(``refunds._allocations``), since its ledger movements carry the bank's reference, which two
payments may share.

Payments registered before this module existed have no row: their money is returned as
before, with a credit note "No money is owed back" (see README).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from clientarea.billing import selectors as billing_selectors
from clientarea.billing import services as billing_services
from clientarea.billing.models import Order
from clientarea.lib.money import ZERO
from clientarea.payments.models import (
    MANUAL_GATEWAY,
    Payment,
    PaymentMethodChoice,
    PaymentOrder,
    PaymentStatus,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ManualPayment:
    """The order as it is after a manual payment, and the payment row kept for it."""

    order: Order
    payment: Payment


def _method_family(method: str) -> str:
    """The payment's method family for staff's method (a transfer is "other": not PSE)."""
    return method if method in (PaymentMethodChoice.CASH, PaymentMethodChoice.CARD) else "other"


def register_manual_payment(
    *,
    order: Order,
    reference: str,
    actor,
    paid_at: dt.datetime | None = None,
    method: str = "transfer",
    amount: Decimal | None = None,
    not_withheld: bool = False,
    confirmed_excess: Decimal | None = None,
) -> ManualPayment:
    """Staff register money received outside the gateways for ``order`` (see
    ``billing.services.post_manual_payment`` for the amounts, the excess and the withholdings,
    and its refusals, which write nothing), and keep an approved payment row for it at the
    "manual" gateway, in the same transaction."""
    with transaction.atomic():
        posted = billing_services.post_manual_payment(
            order=order,
            reference=reference,
            actor=actor,
            paid_at=paid_at,
            method=method,
            amount=amount,
            not_withheld=not_withheld,
            confirmed_excess=confirmed_excess,
        )
        locked = posted.order
        # The order is locked (with its customer): no attempt number can be taken meanwhile.
        attempt = (Payment.objects.filter(order=locked).aggregate(n=Max("attempt"))["n"] or 0) + 1
        payment = _create(locked=locked, attempt=attempt, posted=posted)
        if posted.allocated > 0:
            PaymentOrder.objects.create(payment=payment, order=locked, amount=posted.allocated)
    logger.info(
        "manual payment %s for %s: %s (order %s, credit %s)",
        payment.reference,
        locked.number,
        posted.received,
        posted.allocated,
        posted.credited,
    )
    return ManualPayment(order=locked, payment=payment)


def _create(
    *, locked: Order, attempt: int, posted: billing_services.ManualPaymentPosted
) -> Payment:
    for _try in range(5):
        reference = f"{locked.number}-{attempt}"
        try:
            with transaction.atomic():
                return Payment.objects.create(
                    reference=reference,
                    gateway_reference=reference,
                    attempt=attempt,
                    order=locked,
                    customer_id=locked.customer_id,
                    gateway=MANUAL_GATEWAY,
                    method=_method_family(posted.method),
                    raw_method=posted.method,
                    amount=posted.received,
                    currency=locked.currency,
                    tax=ZERO,
                    tax_base=ZERO,
                    status=PaymentStatus.APPROVED,
                    status_message=(
                        _("Registered by staff: %(method)s, reference %(reference)s")
                        % {
                            "method": billing_selectors.payment_method_label(posted.method),
                            "reference": posted.reference,
                        }
                    )[:200],
                    instructions={"bank_reference": posted.reference, "method": posted.method},
                    created_at=posted.paid_at,
                    approved_at=posted.paid_at,
                )
        except IntegrityError:
            # A reference taken by an attempt of another order ("ODS-1-12" / "ODS-11-2"
            # never meet with dashes, but be safe): the next attempt number.
            attempt += 1
    raise billing_services.OrderStateError(  # pragma: no cover - five collisions in a row
        _("The payment could not be registered. Please try again.")
    )


def bank_reference(payment: Payment) -> str:
    """The bank's (or the receipt's) reference staff gave for a manual payment."""
    return str((payment.instructions or {}).get("bank_reference", ""))
