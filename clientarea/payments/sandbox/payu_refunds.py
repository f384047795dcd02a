"""The PayU simulator's refunds: the Payments API ``SUBMIT_TRANSACTION`` with a ``REFUND`` or
``PARTIAL_REFUND`` transaction, PayU's review (approve or decline), and what follows.

PayU's "Voids and Refunds API" page (developers.payulatam.com, ``refunds-api.html``):

- the request names the order (``transaction.order.id``) and the approved transaction
  (``transaction.parentTransactionId``); a partial refund adds ``additionalValues.TX_VALUE``;
- it is authenticated like every API call, with ``merchant.apiLogin`` and ``merchant.apiKey``;
- PayU answers ``SUCCESS`` with the refund ``PENDING`` / ``PENDING_REVIEW`` and decides later;
- Colombia: minimum 100 COP; only **one** partial refund per order (further refunds happen
  outside PayU); ``VOID`` only exists in the two-step flow (authorization, then capture),
  which the simulated WebCheckout does not use;
- the Queries API then shows the order ``REFUNDED`` (whole refund approved) or still
  ``CAPTURED`` (partial refund, or refund declined), with the refund as its first transaction;
- the confirmation (webhook) is sent only once the refund reaches a final state.
"""

from __future__ import annotations

import hmac
import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from clientarea.payments.sandbox import delivery, payu_sim
from clientarea.payments.sandbox import payu_protocol as proto
from clientarea.payments.sandbox.models import (
    Gateway,
    PayUOrderState,
    PayURefundKind,
    PayUTransactionState,
    SandboxPayUOrder,
    SandboxPayURefund,
    SandboxPayUTransaction,
)

logger = logging.getLogger(__name__)

#: refunds-api.html, Colombia: "El monto mínimo de reembolso es 100 COP".
MINIMUM_REFUND_COP = Decimal(100)
#: What a declined refund reports (``responseCode``/``response_message_pol``).
DECLINED_CODE = "ENTITY_DECLINED"


class RefundRefused(Exception):
    """The request is refused at once: PayU answers ``{"code": "ERROR", "error": message}``."""


def _error(message: str) -> dict[str, Any]:
    return {"code": "ERROR", "error": message, "transactionResponse": None}


def _authenticated(request: dict[str, Any]) -> bool:
    creds = payu_sim.credentials()
    given = request.get("merchant")
    merchant: dict[str, Any] = given if isinstance(given, dict) else {}
    login_ok = hmac.compare_digest(
        str(merchant.get("apiLogin") or "").encode(), creds.api_login.encode()
    )
    key_ok = hmac.compare_digest(str(merchant.get("apiKey") or "").encode(), creds.api_key.encode())
    return login_ok and key_ok


def payments_api(request: Any) -> dict[str, Any]:
    """Answer one Payments API request (``payments-api/4.0/service.cgi``): PING and refunds."""
    if not isinstance(request, dict):
        return _error("Invalid request format")
    if not _authenticated(request):
        return _error("Invalid credentials")
    command = request.get("command")
    if command == "PING":
        return {"code": "SUCCESS", "error": None, "transactionResponse": None}
    if command != "SUBMIT_TRANSACTION":
        return _error(f"Invalid command {command!r}")
    given = request.get("transaction")
    tx_data: dict[str, Any] = given if isinstance(given, dict) else {}
    kind = tx_data.get("type")
    if kind == "VOID":
        return _error(
            "VOID is only available for authorizations of the two-step flow "
            "(AUTHORIZATION then CAPTURE); refund a captured transaction instead."
        )
    if kind not in PayURefundKind.values:
        return _error(f"Transaction type {kind!r} is not supported by the simulator")
    try:
        refund = request_refund(
            order_id=(tx_data.get("order") or {}).get("id")
            if isinstance(tx_data.get("order"), dict)
            else None,
            parent_transaction_id=str(tx_data.get("parentTransactionId") or ""),
            kind=str(kind),
            reason=str(tx_data.get("reason") or ""),
            additional_values=tx_data.get("additionalValues"),
        )
    except RefundRefused as exc:
        return _error(str(exc))
    return {
        "code": "SUCCESS",
        "error": None,
        "transactionResponse": {
            "orderId": refund.order.payu_order_id,
            "transactionId": str(refund.refund_id),
            "state": PayUTransactionState.PENDING,
            "paymentNetworkResponseCode": None,
            "paymentNetworkResponseErrorMessage": None,
            "trazabilityCode": None,
            "authorizationCode": None,
            "pendingReason": "PENDING_REVIEW",
            "responseCode": None,
            "errorCode": None,
            "responseMessage": str(refund.order.payu_order_id),
            "transactionDate": None,
            "transactionTime": None,
            "operationDate": None,
            "referenceQuestionnaire": None,
            "extraParameters": None,
            "additionalInfo": None,
        },
    }


def _refund_value(
    kind: str, order: SandboxPayUOrder, additional_values: Any
) -> tuple[Decimal, str]:
    total = Decimal(order.amount)
    if kind == PayURefundKind.REFUND:
        return total, order.currency
    tx_value = additional_values.get("TX_VALUE") if isinstance(additional_values, dict) else None
    if not isinstance(tx_value, dict) or tx_value.get("value") in (None, ""):
        raise RefundRefused(
            "additionalValues.TX_VALUE (value, currency) is required for PARTIAL_REFUND"
        )
    try:
        value = Decimal(str(tx_value["value"]))
    except InvalidOperation:
        raise RefundRefused("additionalValues.TX_VALUE.value must be a number") from None
    if not value.is_finite() or value <= 0 or value != value.quantize(proto.CENT):
        raise RefundRefused(
            "additionalValues.TX_VALUE.value must be positive, with at most 2 decimals"
        )
    currency = str(tx_value.get("currency") or "")
    if currency != order.currency:
        raise RefundRefused(f"The refund currency must be the order's ({order.currency})")
    if value >= total:
        raise RefundRefused("A partial refund must be less than the order's value; use REFUND")
    return value, currency


@transaction.atomic
def request_refund(
    *,
    order_id: Any,
    parent_transaction_id: str,
    kind: str,
    reason: str = "",
    additional_values: Any = None,
) -> SandboxPayURefund:
    """Record a refund request (state ``PENDING``) or raise :class:`RefundRefused`."""
    creds = payu_sim.credentials()
    try:
        payu_order_id = int(str(order_id))
    except ValueError:
        raise RefundRefused("transaction.order.id is required") from None
    order = (
        SandboxPayUOrder.objects.select_for_update()
        .filter(merchant_id=creds.merchant_id, payu_order_id=payu_order_id)
        .first()
    )
    if order is None:
        raise RefundRefused(f"The order {payu_order_id} does not exist")
    parent_id = payu_sim._uuid_or_none(parent_transaction_id) if parent_transaction_id else None
    parent = (
        SandboxPayUTransaction.objects.filter(order=order, transaction_id=parent_id).first()
        if parent_id
        else None
    )
    if parent is None:
        raise RefundRefused("parentTransactionId is not a transaction of this order")
    if parent.state != PayUTransactionState.APPROVED or order.state != PayUOrderState.APPROVED:
        raise RefundRefused("Only an approved (captured) transaction can be refunded")
    earlier = order.refunds.exclude(state=PayUTransactionState.DECLINED)
    if earlier.filter(state=PayUTransactionState.PENDING).exists():
        raise RefundRefused("The order already has a refund request under review")
    if earlier.filter(state=PayUTransactionState.APPROVED).exists():
        raise RefundRefused(
            "The order already had a partial refund; only one refund is allowed per order"
        )
    value, currency = _refund_value(kind, order, additional_values)
    if currency == "COP" and value < MINIMUM_REFUND_COP:
        raise RefundRefused(f"The minimum refund is {MINIMUM_REFUND_COP} COP")
    refund = SandboxPayURefund.objects.create(
        order=order, parent=parent, kind=kind, value=value, currency=currency, reason=reason[:255]
    )
    logger.info(
        "PayU simulator: %s of %s %s requested for order %s",
        kind,
        value,
        currency,
        order.payu_order_id,
    )
    return refund


class RefundAlreadyResolved(Exception):
    """The refund was approved or declined before."""


@transaction.atomic
def resolve_refund(refund: SandboxPayURefund, *, approve: bool) -> SandboxPayURefund:
    """PayU's review of a refund (dashboard): approve or decline it, then notify the merchant."""
    refund = (
        SandboxPayURefund.objects.select_for_update()
        .select_related("order", "parent")
        .get(pk=refund.pk)
    )
    if refund.state != PayUTransactionState.PENDING:
        raise RefundAlreadyResolved(refund.state)
    refund.state = PayUTransactionState.APPROVED if approve else PayUTransactionState.DECLINED
    refund.response_code = "APPROVED" if approve else DECLINED_CODE
    refund.save(update_fields=["state", "response_code", "updated"])
    order = refund.order
    if approve and refund.kind == PayURefundKind.REFUND:
        order.state = PayUOrderState.REFUNDED
        order.save(update_fields=["state", "updated"])
    if order.confirmation_url:
        delivery.queue_notification(
            gateway=Gateway.PAYU,
            url=order.confirmation_url,
            payload=confirmation_fields(refund),
            payu_refund=refund,
        )
    logger.info("PayU simulator: %s of order %s %s", refund.kind, order.payu_order_id, refund.state)
    return refund


def confirmation_fields(refund: SandboxPayURefund) -> dict[str, str]:
    """The confirmation of a refund in a final state.

    The refunds page lists what identifies a refund in the webhook: ``transaction_type``,
    ``value`` (the refunded amount), ``response_message_pol`` and ``transaction_date``.
    [INF] The other fields, ``state_pol`` (4 approved, 6 declined) and ``sign`` (computed
    with the refunded value) follow the payment confirmation's rules.
    """
    fields = payu_sim.confirmation_fields(refund.parent)
    order = refund.order
    rc = proto.response_code(refund.response_code)
    creds = payu_sim.credentials()
    value = proto.format_value(refund.value)
    when = payu_sim._local(refund.updated)
    fields.update(
        {
            "transaction_type": refund.kind,
            "transaction_id": str(refund.refund_id),
            "state_pol": str(rc.pol_state),
            "response_code_pol": str(rc.pol_response_code),
            "response_message_pol": refund.response_code,
            "value": value,
            "tax": "0.00",
            "transaction_date": f"{when:%Y-%m-%d %H:%M:%S}",
            "date": f"{when:%Y.%m.%d %I:%M:%S}",
            "payment_request_state": "A" if refund.state == PayUTransactionState.APPROVED else "R",
            "sign": proto.confirmation_sign(
                api_key=creds.api_key,
                merchant_id=order.merchant_id,
                reference_sale=order.reference_code,
                value=value,
                currency=refund.currency,
                state_pol=rc.pol_state,
                algorithm=order.algorithm,
                secret_key=creds.secret_key,
            ),
        }
    )
    return fields
