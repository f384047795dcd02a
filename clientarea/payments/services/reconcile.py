"""Reconciliation: ask the gateways about open attempts, apply what they say, close what is over.

Every answer goes through :func:`~clientarea.payments.services.apply.apply_update`, once
each: a status query claims its own ``query:`` dedupe key in the transaction that
applies it, and the raw answer is stored whatever it said.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from clientarea.billing import services as billing_services
from clientarea.billing.models import Order, OrderState
from clientarea.payments.gateways import get_gateway
from clientarea.payments.gateways.base import (
    Gateway,
    GatewayError,
    GatewayStatus,
    GatewayUnavailable,
    PaymentMethod,
    PaymentUpdate,
    TransactionKind,
)
from clientarea.payments.models import (
    MANUAL_GATEWAY,
    OPEN_STATUSES,
    MessageKind,
    Outcome,
    Payment,
    PaymentMessage,
    PaymentStatus,
)
from clientarea.payments.services.apply import ApplyResult, apply_update
from clientarea.payments.services.raw import cap_body, finish_message, text_field
from clientarea.payments.status_notes import closed as closed_note
from clientarea.payments.status_notes import status_fields

logger = logging.getLogger(__name__)

#: A created attempt the gateway still does not know after this long was abandoned (PayU card page closed).
ABANDONED_AFTER = dt.timedelta(hours=24)

# Query results are applied in this order, so an approval always wins and a newer
# pending transaction is not hidden by an older declined one.
_APPLY_ORDER = {
    GatewayStatus.ERROR: 0,
    GatewayStatus.DECLINED: 0,
    GatewayStatus.EXPIRED: 0,
    GatewayStatus.PENDING: 1,
    GatewayStatus.APPROVED: 2,
}


@dataclass
class ReconcileSummary:
    checked: int = 0
    paid: int = 0
    changed: int = 0
    unchanged: int = 0
    expired: int = 0
    cancelled_at_gateway: int = 0
    unavailable: int = 0
    errors: int = 0
    outcomes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {key: value for key, value in self.__dict__.items() if key != "outcomes"}


def _describe_update(update: PaymentUpdate) -> str:
    """A non-personal JSON rendering of a query result, for the inbox."""
    return json.dumps(
        {
            "reference": update.reference,
            "status": update.status.value,
            "transaction_id": update.transaction_id,
            "amount": str(update.amount) if update.amount is not None else None,
            "currency": update.currency,
            "method": update.method.value if update.method else None,
            "raw_method": update.raw_method,
            "message": update.message,
            "extra": {k: str(v) for k, v in update.extra.items()},
        },
        ensure_ascii=False,
    )


def _process_update(
    gateway: Gateway, update: PaymentUpdate, *, dedupe_key: str, confirmed: frozenset[str]
) -> ApplyResult:
    """Apply a status-query answer once: its inbox row claims ``dedupe_key``, in the transaction that applies it.

    The row is written only when the statement is new (a pending payment is queried
    many times); a crash rolls the claim back, so the next query applies it.
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                message = PaymentMessage.objects.create(
                    gateway=gateway.code,
                    kind=MessageKind.QUERY,
                    body=cap_body(_describe_update(update)),
                    dedupe_key=text_field(dedupe_key, 200),
                    signature_valid=True,
                    reference=text_field(update.reference, 60),
                    transaction_id=text_field(update.transaction_id, 64),
                    gateway_status=update.status.value,
                )
        except IntegrityError:
            return ApplyResult(
                code=Outcome.UNCHANGED,
                outcome="unchanged: already recorded",
                payment=_find_payment(gateway, update),
            )
        result = apply_update(
            gateway=gateway, update=update, source=message.kind, confirmed=confirmed
        )
        finish_message(message, outcome=result.outcome, result=result.code, payment=result.payment)
    return result


def _find_payment(gateway: Gateway, update: PaymentUpdate) -> Payment | None:
    return Payment.objects.filter(
        gateway=gateway.code, gateway_reference=gateway.gateway_reference(update.reference)
    ).first()


def _next_check(payment: Payment, now: dt.datetime) -> dt.datetime:
    """Backoff: every 10 minutes during the first hour, then hourly (PayU: cash at most once an hour)."""
    young = now - payment.created_at < dt.timedelta(hours=1)
    minutes = 10 if young and payment.method != PaymentMethod.CASH else 60
    return now + dt.timedelta(minutes=minutes)


def check_payment(
    payment: Payment, *, now: dt.datetime | None = None, close_expired: bool = True
) -> list[str]:
    """Ask the gateway about ``payment`` and apply every answer through :func:`apply_update`.

    Then close the attempt if it is still open and past ``expires_at`` (deleting the
    pending order at the gateway when it supports that), or if the gateway never
    heard of it for a day. Raises ``GatewayUnavailable`` / ``GatewayError`` (retried after the backoff).
    """
    now = now or timezone.now()
    if payment.is_manual:
        # Money staff registered: no gateway knows it, nothing to ask or to close.
        return []
    gateway = get_gateway(payment.gateway)
    try:
        updates = gateway.fetch_status(payment.reference)
    except GatewayError as exc:
        # Unreachable (GatewayUnavailable) or an answer we cannot use: try again after the backoff.
        _log_answer(gateway, payment, outcome=f"error: {exc}")
        Payment.objects.filter(pk=payment.pk).update(
            last_checked_at=now, next_check_at=_next_check(payment, now)
        )
        raise
    outcomes = []
    ours = [
        u for u in updates if gateway.gateway_reference(u.reference) == payment.gateway_reference
    ]
    # What the gateway lists as approved: a second charge is flagged only when both are here.
    confirmed = frozenset(
        u.transaction_id
        for u in ours
        if u.status == GatewayStatus.APPROVED and u.kind == TransactionKind.PAYMENT
    )
    for update in sorted(ours, key=lambda u: _APPLY_ORDER.get(u.status, 1)):
        result = _process_update(
            gateway, update, dedupe_key=f"query:{update.dedupe_key}", confirmed=confirmed
        )
        outcomes.append(result.outcome)
    _log_answer(gateway, payment, outcome="; ".join(outcomes) or "no transaction at the gateway")
    payment.refresh_from_db()
    changes: dict = {"last_checked_at": now}
    order_states = set(
        Order.objects.filter(Q(pk=payment.order_id) | Q(payment_baskets__payment=payment))
        .values_list("state", flat=True)
        .distinct()
    )
    if payment.status == PaymentStatus.EXPIRED:
        changes["next_check_at"] = None  # a replaced attempt gets one last look
        if payment.next_check_at is not None:
            # ...and is then withdrawn at the gateway, so that it cannot be paid on top of its successor.
            try:
                outcomes.append(_withdraw(gateway, payment))
            except GatewayUnavailable:
                changes["next_check_at"] = now + dt.timedelta(minutes=10)
                outcomes.append("withdraw: gateway unavailable, will retry")
    elif payment.is_open:
        expired = payment.expires_at is not None and payment.expires_at <= now
        # Abandoned: nothing at the gateway a day later (PayU's card page closed). Not when the
        # gateway issued a payment reference at registration (Payvalida): the customer may hold
        # a voucher printed on its page, so that order lives until it expires.
        abandoned = (
            payment.status == PaymentStatus.CREATED
            and not updates
            and now - payment.created_at >= ABANDONED_AFTER
            and not (payment.instructions or {}).get("voucher_reference")
        )
        # Its orders were paid by another attempt or by staff, or cancelled (not for added funds).
        superseded = bool(order_states) and OrderState.PENDING not in order_states
        if close_expired and (expired or abandoned or superseded):
            settled = "/".join(sorted(order_states))
            reason = "expired" if expired else f"order {settled}" if superseded else "abandoned"
            outcomes.append(_close(gateway, payment, now=now, reason=reason))
            return outcomes
        changes["next_check_at"] = _next_check(payment, now)
    else:
        changes["next_check_at"] = None
    Payment.objects.filter(pk=payment.pk).update(**changes)
    return outcomes


def _withdraw(gateway: Gateway, payment: Payment) -> str:
    """Delete a closed attempt's order at the gateway (Payvalida); best effort, logged."""
    try:
        cancelled = gateway.cancel(payment.reference)
    except GatewayUnavailable:
        raise
    except GatewayError as exc:
        logger.warning(
            "payment %s: withdrawing it at %s failed: %s", payment.reference, gateway.code, exc
        )
        return "withdraw failed"
    return "cancelled at gateway" if cancelled else "nothing to cancel at gateway"


def _log_answer(gateway: Gateway, payment: Payment, *, outcome: str) -> None:
    """Store the gateway's raw answer to a status query, whatever it said (the statements it
    contained are applied, once each, by :func:`_process_update`)."""
    with transaction.atomic():
        PaymentMessage.objects.create(
            gateway=gateway.code,
            kind=MessageKind.QUERY,
            body=cap_body(gateway.last_answer or ""),
            payment=payment,
            reference=payment.gateway_reference[
                :60
            ],  # as the gateway writes it, like its statements
            outcome=f"answer: {outcome}"[:200],
            result=Outcome.ANSWER,
            processed=True,
            processed_at=timezone.now(),
        )


def _close(gateway: Gateway, payment: Payment, *, now: dt.datetime, reason: str) -> str:
    """Close an open attempt (expired, abandoned, or its order settled another way); delete its
    pending order at the gateway if possible."""
    try:
        withdrawn = _withdraw(gateway, payment)
    except GatewayUnavailable:
        Payment.objects.filter(pk=payment.pk).update(
            last_checked_at=now, next_check_at=now + dt.timedelta(minutes=10)
        )
        raise
    cancelled = withdrawn == "cancelled at gateway"
    with transaction.atomic():
        if payment.order_id is not None:
            billing_services.lock_order(order_id=payment.order_id)
        closed = Payment.objects.filter(pk=payment.pk, status__in=OPEN_STATUSES).update(
            status=PaymentStatus.EXPIRED,
            **status_fields(closed_note(reason)),
            last_checked_at=now,
            next_check_at=None,
            updated_at=now,
        )
    logger.info(
        "payment %s closed (%s), cancelled at gateway: %s", payment.reference, reason, cancelled
    )
    if not closed:
        return "unchanged: no longer open"
    return f"closed: {reason}" + (", cancelled at gateway" if cancelled else "")


def reconcile_payments(
    *, older_than_minutes: int | None = None, limit: int = 500, now: dt.datetime | None = None
) -> ReconcileSummary:
    """Query the gateways about open attempts older than the guideline and apply what they say.

    Candidates: ``created``/``pending`` attempts created more than ``older_than_minutes``
    ago (default ``PAYMENTS_RECONCILE_AFTER_MINUTES``; PayU's guideline is 7) whose
    backoff has passed, attempts replaced by a newer one (one last query each), and
    approved ones with a second approval to verify.
    Every answer goes through :func:`apply_update`, deduplicated with a "query:" key.
    """
    now = now or timezone.now()
    minutes = (
        settings.PAYMENTS_RECONCILE_AFTER_MINUTES
        if older_than_minutes is None
        else older_than_minutes
    )
    cutoff = now - dt.timedelta(minutes=minutes)
    # Approved attempts come back only when a notification claimed a second charge and
    # the immediate check could not reach the gateway.
    due = Q(status__in=OPEN_STATUSES, next_check_at__isnull=True) | Q(
        status__in=[*OPEN_STATUSES, PaymentStatus.EXPIRED, PaymentStatus.APPROVED],
        next_check_at__lte=now,
    )
    candidates = list(
        Payment.objects.filter(due, created_at__lte=cutoff)
        .exclude(gateway=MANUAL_GATEWAY)
        .order_by("next_check_at", "created_at", "id")[:limit]
    )
    summary = ReconcileSummary()
    for payment in candidates:
        summary.checked += 1
        before = payment.status
        try:
            outcomes = check_payment(payment, now=now)
        except GatewayUnavailable as exc:
            summary.unavailable += 1
            logger.warning(
                "reconcile %s: %s unavailable: %s", payment.reference, payment.gateway, exc
            )
            continue
        except Exception:
            summary.errors += 1
            logger.exception("reconcile %s failed", payment.reference)
            continue
        summary.outcomes.extend(f"{payment.reference}: {o}" for o in outcomes)
        if "applied" in outcomes:
            summary.paid += 1
        if any(o.startswith("closed") for o in outcomes):
            summary.expired += 1
            if any("cancelled at gateway" in o for o in outcomes):
                summary.cancelled_at_gateway += 1
        current = Payment.objects.filter(pk=payment.pk).values_list("status", flat=True).first()
        if current != before:
            summary.changed += 1
        else:
            summary.unchanged += 1
    logger.info("payments reconciled: %s", summary.as_dict())
    return summary


def check_payment_now(*, payment_id: int, verify: bool = False) -> list[str]:
    """The worker's status query for one payment: an open one the customer just came back
    from, or (``verify``) an approved one that a notification claims was charged twice.

    An unreachable gateway is logged; the reconciliation asks again later.
    """
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None or not (payment.is_open or verify):
        return []
    try:
        return check_payment(payment, close_expired=False)
    except GatewayUnavailable as exc:
        logger.info(
            "payment %s: gateway unavailable after return (%s); reconciliation will retry",
            payment.reference,
            exc,
        )
        return []
