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

:func:`register_manual_credit` does the same for money received for no pending order: all of
it the customer's credit (``billing.services.post_manual_credit``, the path of a gateway's
"add funds" payment), kept as a payment with no order and an empty basket (``SAL-…-1``); its
refund takes the credit back first (``refunds._credit_part``).

Payments registered before this module existed have no row: their money is returned as
before, with a credit note "No money is owed back" (see README).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from clientarea.billing import ledger
from clientarea.billing import services as billing_services
from clientarea.billing.models import Order
from clientarea.billing.services import ManualCreditDetails, ManualPaymentDetails
from clientarea.lib.money import ZERO
from clientarea.payments.models import (
    MANUAL_GATEWAY,
    Payment,
    PaymentMethodChoice,
    PaymentOrder,
    PaymentStatus,
)
from clientarea.payments.status_notes import StatusNote, status_fields

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ManualPayment:
    """The order as it is after a manual payment, and the payment row kept for it."""

    order: Order
    payment: Payment


def _method_family(method: str) -> str:
    """The payment's method family for staff's method (a transfer is "other": not PSE)."""
    return method if method in (PaymentMethodChoice.CASH, PaymentMethodChoice.CARD) else "other"


def register_manual_payment(*, details: ManualPaymentDetails, actor) -> ManualPayment:
    """Staff register money received outside the gateways for ``details.order`` (see
    ``billing.services.post_manual_payment`` for the amounts, the excess and the withholdings,
    and its refusals, which write nothing), and keep an approved payment row for it at the
    "manual" gateway, in the same transaction."""
    order = details.order
    with transaction.atomic():
        # The customer's lock first, as the billing service takes it (it takes it again): the
        # payment's reference is chosen before the money is posted, so the audit entry names it.
        ledger.lock_customer(customer_id=order.customer_id)
        attempt = _next_attempt(order)
        posted = billing_services.post_manual_payment(
            details=details, actor=actor, payment_reference=f"{order.number}-{attempt}"
        )
        locked = posted.order
        payment = _create(
            reference=f"{locked.number}-{attempt}",
            attempt=attempt,
            order=locked,
            customer_id=locked.customer_id,
            currency=locked.currency,
            received=posted.received,
            bank_reference=posted.reference,
            method=posted.method,
            paid_at=posted.paid_at,
        )
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


def _next_attempt(order: Order) -> int:
    """The order's next attempt number whose reference no payment holds ("ODS-1-12" and
    "ODS-11-2" never meet with the numbers' zeros, but be safe)."""
    attempt = (Payment.objects.filter(order=order).aggregate(n=Max("attempt"))["n"] or 0) + 1
    while Payment.objects.filter(reference=f"{order.number}-{attempt}").exists():
        attempt += 1
    return attempt


def _create(
    *,
    reference: str,
    attempt: int,
    order: Order | None,
    customer_id: int,
    currency: str,
    received: Decimal,
    bank_reference: str,
    method: str,
    paid_at: dt.datetime,
) -> Payment:
    """The approved payment row at the "manual" gateway. Its reference was chosen (and named in
    the audit entry) before the money was posted: a customer's checkout that took it meanwhile
    (it does not wait for the customer's lock) undoes the whole registration, with a message."""
    try:
        with transaction.atomic():
            return Payment.objects.create(
                reference=reference,
                gateway_reference=reference,
                attempt=attempt,
                order=order,
                customer_id=customer_id,
                gateway=MANUAL_GATEWAY,
                method=_method_family(method),
                raw_method=method,
                amount=received,
                currency=currency,
                tax=ZERO,
                tax_base=ZERO,
                status=PaymentStatus.APPROVED,
                **status_fields(
                    StatusNote(
                        "registered_by_staff", {"method": method, "reference": bank_reference}
                    )
                ),
                instructions={"bank_reference": bank_reference, "method": method},
                created_at=paid_at,
                approved_at=paid_at,
            )
    except IntegrityError as exc:  # pragma: no cover - a checkout took the number this instant
        raise billing_services.OrderStateError(
            _("The payment could not be registered. Please try again.")
        ) from exc


def register_manual_credit(*, details: ManualCreditDetails, actor) -> Payment:
    """Staff register money received for no pending order (a transfer in advance, a duplicate
    transfer for an order already paid, one for an order cancelled meanwhile) as the customer's
    credit (*Register a transfer as credit*): ``billing.services.post_manual_credit`` posts it as
    a gateway's "add funds" payment (ledger "credit added", the email, the credit applied to
    pending orders when ``BILLING_AUTO_APPLY_CREDIT`` is on; audited ``billing.manual_credit``
    with the payment's reference), and, in the same transaction under the customer's lock, an
    approved payment at the "manual" gateway is kept for it, with no order and an empty basket
    (``SAL-…-1``, as added funds are named), so **Refund** returns it (manually; the credit
    leaves first). Refusals (``ManualCreditRefused``) write nothing."""
    with transaction.atomic():
        locked = ledger.lock_customer(customer_id=details.customer.pk)
        payment_reference = billing_services.next_number(name="FUNDS", prefix="SAL-") + "-1"
        posted = billing_services.post_manual_credit(
            details=replace(details, customer=locked),
            payment_reference=payment_reference,
            actor=actor,
        )
        payment = _create(
            reference=payment_reference,
            attempt=1,
            order=None,
            customer_id=locked.pk,
            currency="COP",
            received=posted.received,
            bank_reference=posted.reference,
            method=posted.method,
            paid_at=posted.paid_at,
        )
    logger.info(
        "manual credit %s for customer %s: %s (applied at once %s)",
        payment.reference,
        locked.pk,
        posted.received,
        posted.credit_applied,
    )
    return payment


def bank_reference(payment: Payment) -> str:
    """The bank's (or the receipt's) reference staff gave for a manual payment."""
    return str((payment.instructions or {}).get("bank_reference", ""))
