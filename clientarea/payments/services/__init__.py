"""Payments services: start an attempt, take in gateway messages, apply them exactly once, reconcile, refund.

One module per concern, each read top-down:

* :mod:`.checkout`: ``start_orders_payment`` (``start_payment`` for one order) and
  ``start_funds_payment``, the only ways an attempt is created;
* :mod:`.inbox`: every inbound message stored raw before it is trusted
  (``handle_notification``, ``record_message``, ``record_return``), applied by the
  worker (``apply_message``) and swept when that failed (``apply_pending_messages``);
* :mod:`.raw`: how a message is written down (bytes-safe body, dedupe claim key);
* :mod:`.apply`: ``apply_update``, the exactly-once rules for one verified statement
  (a table of allowed (payment status, reported status) pairs and their handlers);
* :mod:`.notes`: what a statement leaves on the attempt, review/refund flags, staff alerts;
* :mod:`.reconcile`: status queries (``check_payment``, ``reconcile_payments``) and
  closing attempts that are over;
* :mod:`.backoffice`: staff actions (gateway switch, apply again, query again, refund flags);
* :mod:`.manual`: ``register_manual_payment``, money staff registered kept as a payment (so
  it can be refunded, manually), and ``register_manual_credit``, money staff registered for no
  pending order, kept as the customer's credit and as a payment;
* :mod:`.refunds`: ``refund_payment`` (staff refund a payment wholly or in part, through the
  gateway or by hand), sending it, the gateway's word on refunds, credit notes, the sweep.

The names below are the public API callers outside payments use.
"""

from clientarea.payments.services.apply import ApplyResult, apply_update
from clientarea.payments.services.backoffice import (
    PaymentStateError,
    keep_as_credit,
    mark_refunded,
    query_payment_again,
    refund_instead_of_credit,
    retry_message,
    set_gateway_offered,
)
from clientarea.payments.services.checkout import (
    PaymentRefused,
    start_funds_payment,
    start_orders_payment,
    start_payment,
)
from clientarea.payments.services.inbox import (
    MESSAGE_MAX_ATTEMPTS,
    NOTIFICATION_KINDS,
    apply_message,
    apply_pending_messages,
    handle_notification,
    record_message,
    record_return,
)
from clientarea.payments.services.manual import (
    ManualCreditDetails,
    ManualPayment,
    ManualPaymentDetails,
    bank_reference,
    register_manual_credit,
    register_manual_payment,
)
from clientarea.payments.services.notes import alert_staff
from clientarea.payments.services.reconcile import (
    ReconcileSummary,
    check_payment,
    reconcile_payments,
)
from clientarea.payments.services.refunds import (
    RefundRefused,
    refund_payment,
    refundable,
    refundable_now,
    review_progress,
    send_refund,
    sweep_refunds,
)

__all__ = [
    "MESSAGE_MAX_ATTEMPTS",
    "NOTIFICATION_KINDS",
    "ApplyResult",
    "ManualCreditDetails",
    "ManualPayment",
    "ManualPaymentDetails",
    "PaymentRefused",
    "PaymentStateError",
    "ReconcileSummary",
    "RefundRefused",
    "alert_staff",
    "apply_message",
    "apply_pending_messages",
    "apply_update",
    "bank_reference",
    "check_payment",
    "handle_notification",
    "keep_as_credit",
    "mark_refunded",
    "query_payment_again",
    "reconcile_payments",
    "record_message",
    "record_return",
    "refund_instead_of_credit",
    "refund_payment",
    "refundable",
    "refundable_now",
    "register_manual_credit",
    "register_manual_payment",
    "retry_message",
    "review_progress",
    "send_refund",
    "set_gateway_offered",
    "start_funds_payment",
    "start_orders_payment",
    "start_payment",
    "sweep_refunds",
]
