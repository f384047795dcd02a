"""What a gateway statement leaves on an attempt: the method and customer-facing details, and
the flags (review, refund, duplicate) that bring a person in, with their email to staff."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.urls import reverse

from clientarea.accounts.contacts import queue_staff_email
from clientarea.notifications.services import ContextGone
from clientarea.payments import selectors
from clientarea.payments.gateways.base import PaymentMethod, PaymentUpdate
from clientarea.payments.models import Payment, RefundStatus
from clientarea.payments.reasons import Reason, describe_lazy


class PaymentStateError(Exception):
    """A back-office action the payment's state does not allow (message is for staff)."""


#: Cash networks as customers know them (gateway method codes upper-cased, without spaces or underscores).
CASH_NETWORKS = {
    "EFECTY": "Efecty",
    "BALOTO": "Baloto",
    "SURED": "SuRed",
    "GANA": "Gana",
    "PUNTORED": "PuntoRed",
    "SUPERGIROS": "SuperGIROS",
    "REDSERVI": "Redservi",
    "APOSTAR": "Apostar",
    "SUCHANCE": "SuChance",
}


#: The fields :func:`note_details` may change (for ``save(update_fields=...)``).
DETAIL_FIELDS = ("method", "raw_method", "instructions", "gateway_order_id")


def note_details(payment: Payment, update: PaymentUpdate) -> None:
    """Copy the method and the customer-facing details (bank, CUS, voucher) onto the attempt."""
    if update.method is not None:
        payment.method = update.method.value
    if update.raw_method:
        payment.raw_method = update.raw_method[:60]
    extra = update.extra or {}
    instructions = dict(payment.instructions or {})
    for source, target in (
        ("cus", "cus"),
        ("pse_bank", "bank"),
        ("payment_reference", "voucher_reference"),
        ("pending_reason", "pending_reason"),
        ("reference_pol", "gateway_order"),
    ):
        if extra.get(source):
            instructions[target] = str(extra[source])[:100]
    for source in ("voucher_url", "receipt_url"):
        if str(extra.get(source, "")).startswith("https://") or (
            settings.PAYMENTS_SANDBOX and str(extra.get(source, "")).startswith("http")
        ):
            instructions["checkout_url"] = str(extra[source])[:500]
    network = (
        CASH_NETWORKS.get(update.raw_method.replace(" ", "").replace("_", "").upper())
        if update.raw_method
        else None
    )
    if update.method == PaymentMethod.CASH and network:
        instructions["network"] = network
    payment.instructions = instructions
    if not payment.gateway_order_id and extra.get("reference_pol"):
        payment.gateway_order_id = str(extra["reference_pol"])[:64]


def flag(
    payment: Payment,
    *,
    review: Reason | None = None,
    refund: bool = False,
    duplicate: bool = False,
) -> bool:
    """Set review/refund flags; True when something new needs staff attention (a reason differs
    from the one on record by its code or values). The reason is stored as its code and values
    (shown in the reader's language) and as its English sentence (logs, searches)."""
    new = False
    if review is not None and not (payment.needs_review and _same_reason(payment, review)):
        payment.needs_review = True
        _note_reason(payment, review)
        new = True
    if refund and payment.refund_status == RefundStatus.NONE:
        payment.refund_status = RefundStatus.FLAGGED
        if review is None and not payment.review_reason:
            _note_reason(payment, Reason("refund_needed"))
        new = True
    if duplicate:
        payment.duplicate = True
    return new


def settle(payment: Payment, *, reason: Reason) -> None:
    """Clear the review flag; ``reason`` (what was decided) becomes the reason shown on the
    payment. The caller saves the payment."""
    payment.needs_review = False
    _note_reason(payment, reason)


def _same_reason(payment: Payment, reason: Reason) -> bool:
    if not payment.review_code:  # flagged before reasons had codes: its sentence
        return payment.review_reason == reason.english()[:300]
    return payment.review_code == reason.code and payment.review_values == dict(reason.values)


def _note_reason(payment: Payment, reason: Reason) -> None:
    payment.review_code = reason.code
    payment.review_values = dict(reason.values)
    payment.review_reason = reason.english()[:300]


def alert_staff(payment: Payment, reason: Reason) -> None:
    """Email the provider's billing address about a payment that needs a person. Recorded with the
    payment's id, the reason (its code and values, put into words in the email's language when
    it is rendered, and its English sentence) and what staff change while handling it (the
    refund flag and the gateway's transaction) as they are now, and rendered by the worker when
    it delivers it (:func:`payment_review_email_context`): the caller's transaction may be the
    paid one."""
    queue_staff_email(
        template="payment_review",
        refs={
            "payment": payment.pk,
            "reason": reason.english(),
            "reason_code": reason.code,
            "reason_values": dict(reason.values),
            "refund_status": payment.refund_status,
            "gateway_transaction_id": payment.gateway_transaction_id,
        },
    )


def payment_review_email_context(refs: Mapping[str, Any]) -> dict[str, Any]:
    """The staff email "payment P needs a person", rendered after commit: the payment and its
    orders are read again by id (its reference, gateway, amount and orders are fixed when the
    attempt starts), its refund flag and transaction are the ones of the moment it was flagged,
    which staff may have changed since (refunded it, corrected the transaction). A payment that
    is gone raises ``ContextGone``."""
    payment = Payment.objects.select_related("order").filter(pk=refs["payment"]).first()
    if payment is None:
        raise ContextGone(f"payment {refs['payment']} no longer exists")
    payment.refund_status = refs["refund_status"]
    payment.gateway_transaction_id = refs["gateway_transaction_id"]
    orders = selectors.payment_orders(payment)  # all of them when it pays several
    return {
        "payment": payment,
        "order": payment.order,
        "orders": orders,
        "numbers": ", ".join(order.number for order in orders),
        # In the email's language when it is rendered (the English sentence for an alert
        # recorded before reasons had codes).
        "reason": describe_lazy(
            refs.get("reason_code", ""), refs.get("reason_values"), fallback=refs["reason"]
        ),
        "admin_url": settings.SITE_URL
        + reverse("admin:payments_payment_change", args=[payment.pk]),
    }
