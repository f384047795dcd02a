"""How the Queries API shows PayU refunds (refunds-api.html, "Identificación del estado final del
reembolso en la API de Consultas"); used by :mod:`payu_sim`'s Queries API."""

from __future__ import annotations

from typing import Any

from clientarea.payments.sandbox.models import (
    PayUTransactionState,
    SandboxPayUOrder,
    SandboxPayURefund,
)


def refund_json(refund: SandboxPayURefund) -> dict[str, Any]:
    """A refund as one of the order's ``transactions`` in the Queries API (refunds-api.html,
    "Identificación del estado final del reembolso en la API de Consultas").

    Refunds resolved by PayU's review carry ``source: CANCELLATIONS_MODULE`` and
    ``extraParameters.MANUAL_REFUND: "TRUE"`` (final state: "update your records").
    """
    resolved = refund.state != PayUTransactionState.PENDING
    return {
        "id": str(refund.refund_id),
        "order": None,
        "creditCard": None,
        "type": refund.kind,
        "parentTransactionId": str(refund.parent.transaction_id),
        "paymentMethod": refund.parent.payment_method,
        "source": "CANCELLATIONS_MODULE" if resolved else "EMPTY",
        "paymentCountry": "CO",
        "transactionResponse": {
            "state": refund.state,
            "paymentNetworkResponseCode": None,
            "paymentNetworkResponseErrorMessage": None,
            "trazabilityCode": None,
            "authorizationCode": None,
            "pendingReason": None if resolved else "PENDING_REVIEW",
            "responseCode": refund.response_code or None,
            "errorCode": None,
            "responseMessage": refund.reason or None,
            "transactionDate": None,
            "transactionTime": None,
            "operationDate": int(refund.updated.timestamp() * 1000),
            "extraParameters": None,
        },
        "additionalValues": {"TX_VALUE": {"value": refund.value, "currency": refund.currency}},
        "extraParameters": {"MANUAL_REFUND": "TRUE"} if resolved else None,
    }


def transactions_with_refunds(order: SandboxPayUOrder, payments: list[dict]) -> list[dict]:
    """The order's transactions as the Queries API lists them: resolved refunds first (newest
    first: "the first transaction type is REFUND" once PayU decided), then the payment
    attempts, then a refund still under review (the order's first transaction stays the
    approved payment while "the request is not resolved")."""
    refunds = list(order.refunds.all())
    resolved = [refund_json(r) for r in refunds if r.state != PayUTransactionState.PENDING]
    pending = [refund_json(r) for r in refunds if r.state == PayUTransactionState.PENDING]
    return [*resolved, *payments, *pending]


def transaction_response_of(merchant_id: str, transaction_id: str) -> dict[str, Any] | None:
    """``TRANSACTION_RESPONSE_DETAIL`` for a refund id, or ``None`` when it is not a refund."""
    refund = (
        SandboxPayURefund.objects.filter(order__merchant_id=merchant_id, refund_id=transaction_id)
        .select_related("parent")
        .first()
    )
    return refund_json(refund)["transactionResponse"] if refund else None
