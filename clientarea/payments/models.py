"""Payments: one row per attempt at one gateway, and the append-only inbox of gateway messages.

State changes happen only in ``payments.services`` (``start_payment``,
``apply_update``, ``reconcile_payments``, ``mark_refunded``); an order changes
only through ``billing.services.mark_order_paid``.

Payment status (what the gateway said about *this attempt*):

    created ──► pending ──► approved
       │           │    └─► declined / expired / error
       └───────────┴──────► approved / declined / expired / error

``approved`` is final for the money side: later declined/expired/pending reports
for it are logged and ignored. A late approval of a declined or expired attempt
is still money received, so it is applied (the order is paid if still pending,
otherwise it becomes the customer's credit, which staff may refund instead).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clientarea.lib.money import format_cop
from clientarea.payments.gateways import gateway_codes, get_gateway
from clientarea.payments.gateways.base import GatewayError
from clientarea.payments.reasons import describe
from clientarea.payments.status_notes import TABLE as STATUS_NOTES

#: The "gateway" of a payment staff registered (a bank transfer, cash at the office): no gateway
#: is ever asked about it, and its refunds are manual (``payments.services.manual``).
MANUAL_GATEWAY = "manual"


def gateway_choices() -> list[tuple[str, str]]:
    """The configured gateways as (code, name): the back office shows names, not codes."""
    return [(code, gateway_name(code)) for code in gateway_codes()]


def payment_gateway_choices() -> list[tuple[str, str]]:
    """A payment's "gateway": the configured gateways, and the payments staff registered."""
    return [*gateway_choices(), (MANUAL_GATEWAY, gateway_name(MANUAL_GATEWAY))]


def gateway_name(code: str) -> str:
    """A gateway's name as people know it ("Payvalida"); the code if it is no longer configured."""
    if code == MANUAL_GATEWAY:
        return str(_("Registered by staff (transfer, cash)"))
    try:
        return get_gateway(code).name
    except GatewayError:
        return code


class PaymentStatus(models.TextChoices):
    CREATED = "created", _("Created (customer sent to the gateway)")
    PENDING = "pending", _("Pending (waiting for the bank or the cash payment)")
    APPROVED = "approved", _("Approved")
    DECLINED = "declined", _("Declined")
    EXPIRED = "expired", _("Expired")
    ERROR = "error", _("Error")


#: Statuses in which the gateway may still tell us something new (reconciliation looks at these).
OPEN_STATUSES = (PaymentStatus.CREATED, PaymentStatus.PENDING)


class PaymentMethodChoice(models.TextChoices):
    """Family of payment method (same values as ``gateways.base.PaymentMethod``)."""

    CARD = "card", _("Card")
    PSE = "pse", _("PSE (bank transfer)")
    CASH = "cash", _("Cash")
    OTHER = "other", _("Other")


class RefundStatus(models.TextChoices):
    NONE = "none", _("No refund")
    FLAGGED = "flagged", _("Needs refund")
    REFUNDED = "refunded", _("Refunded")


class Payment(models.Model):
    """One attempt at one gateway to pay one or several orders of a customer (``PaymentOrder``
    lists them; ``order`` is the first, whose number names the attempt), or to add funds to the
    customer's credit (no order)."""

    reference = models.CharField(
        _("reference"),
        max_length=40,
        unique=True,
        help_text=_(
            "Order number and attempt, e.g. ODS-000123-2 (the first order when it pays several; "
            "SAL-… when it adds funds)."
        ),
    )
    gateway_reference = models.CharField(
        _("gateway reference"),
        max_length=40,
        help_text=_("The reference as the gateway knows it (Payvalida: without dashes)."),
    )
    attempt = models.PositiveSmallIntegerField(_("attempt"))
    order = models.ForeignKey(
        "billing.Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
        verbose_name=_("order"),
        help_text=_("The first order it pays; empty when it adds funds to the credit."),
    )
    customer = models.ForeignKey(
        "accounts.Customer",
        on_delete=models.PROTECT,
        related_name="payments",
        verbose_name=_("customer"),
    )
    gateway = models.CharField(
        _("gateway"), max_length=20, choices=payment_gateway_choices, db_index=True
    )
    method = models.CharField(
        _("method"), max_length=10, choices=PaymentMethodChoice.choices, blank=True
    )
    requested_method = models.CharField(
        _("method chosen in the portal"),
        max_length=10,
        choices=PaymentMethodChoice.choices,
        blank=True,
    )
    raw_method = models.CharField(_("gateway's method name"), max_length=60, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    tax = models.DecimalField(_("IVA"), max_digits=14, decimal_places=2)
    tax_base = models.DecimalField(_("IVA base"), max_digits=14, decimal_places=2)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=PaymentStatus.choices,
        default=PaymentStatus.CREATED,
        db_index=True,
    )
    status_message = models.CharField(
        _("gateway message"),
        max_length=200,
        blank=True,
        help_text=_("The gateway's own words about the transaction, as it sent them."),
    )
    status_note_code = models.CharField(
        _("our explanation code"),
        max_length=40,
        blank=True,
        help_text=_(
            "What we say about the payment's state, put into words in the reader's language."
        ),
    )
    status_note_values = models.JSONField(_("our explanation values"), default=dict, blank=True)
    needs_review = models.BooleanField(_("needs review"), default=False, db_index=True)
    review_reason = models.CharField(_("review reason"), max_length=300, blank=True)
    review_code = models.CharField(
        _("review reason code"),
        max_length=40,
        blank=True,
        help_text=_("What the review reason says, put into words in the reader's language."),
    )
    review_values = models.JSONField(_("review reason values"), default=dict, blank=True)
    duplicate = models.BooleanField(
        _("duplicate"), default=False, help_text=_("Approved after the order was already paid.")
    )
    refund_status = models.CharField(
        _("refund"),
        max_length=10,
        choices=RefundStatus.choices,
        default=RefundStatus.NONE,
        db_index=True,
    )
    refund_note = models.TextField(_("refund note"), blank=True)
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    refunded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("refunded by"),
    )
    gateway_order_id = models.CharField(_("gateway order id"), max_length=64, blank=True)
    gateway_transaction_id = models.CharField(
        _("gateway transaction id"), max_length=64, blank=True
    )
    checkout_payload = models.JSONField(
        _("checkout sent"),
        default=dict,
        blank=True,
        help_text=_("What the browser was sent to the gateway with, secrets excluded."),
    )
    instructions = models.JSONField(
        _("instructions"),
        default=dict,
        blank=True,
        help_text=_("Voucher reference, expiration, bank: for pending cash and PSE payments."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    last_checked_at = models.DateTimeField(_("last queried at the gateway"), null=True, blank=True)
    next_check_at = models.DateTimeField(_("next query at the gateway"), null=True, blank=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "attempt"], name="payments_unique_order_attempt"
            ),
            models.UniqueConstraint(
                fields=["gateway", "gateway_reference"], name="payments_unique_gateway_reference"
            ),
            # One gateway transaction pays at most one attempt.
            models.UniqueConstraint(
                fields=["gateway", "gateway_transaction_id"],
                condition=Q(status="approved") & ~Q(gateway_transaction_id=""),
                name="payments_unique_approved_transaction",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_check_at"], name="payments_open_idx"),
            # Back-office search by the gateway's transaction id.
            models.Index(fields=["gateway_transaction_id"], name="payments_gateway_txn_idx"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def gateway_name(self) -> str:
        return gateway_name(self.gateway)

    @property
    def is_manual(self) -> bool:
        """Money staff registered (a bank transfer, cash): no gateway knows it."""
        return self.gateway == MANUAL_GATEWAY

    @property
    def adds_funds(self) -> bool:
        return self.order_id is None

    @property
    def status_note_text(self) -> str:
        """Our explanation of its state, in the active language ("" when we have none: the
        gateway's words in ``status_message`` say it all)."""
        return STATUS_NOTES.describe(self.status_note_code, self.status_note_values)

    @property
    def review_text(self) -> str:
        """Why it needs a person, in the active language (the stored English sentence for a
        payment flagged before reasons had codes)."""
        return describe(self.review_code, self.review_values, fallback=self.review_reason)


class PaymentOrder(models.Model):
    """One order a payment is meant for, with what it owed when the payment started. On
    approval the payment is allocated to all of them at once (``billing.ledger.record_payment``)."""

    payment = models.ForeignKey(
        Payment, on_delete=models.CASCADE, related_name="basket", verbose_name=_("payment")
    )
    order = models.ForeignKey(
        "billing.Order",
        on_delete=models.PROTECT,
        related_name="payment_baskets",
        verbose_name=_("order"),
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("order paid by the payment")
        verbose_name_plural = _("orders paid by the payment")
        ordering = ["payment", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["payment", "order"], name="payments_unique_basket_order"
            )
        ]

    def __str__(self) -> str:
        return f"{self.payment_id} {self.order_id} {self.amount}"


class MessageKind(models.TextChoices):
    CONFIRMATION = "confirmation", _("Confirmation (PayU)")
    NOTIFICATION = "notification", _("Notification (Payvalida)")
    RETURN = "return", _("Browser return")
    QUERY = "query", _("Status query")


class Outcome(models.TextChoices):
    """What one inbound message did, stored on its inbox row (``PaymentMessage.result``).

    The free-text ``PaymentMessage.outcome`` keeps the details (amounts, transaction ids).
    """

    APPLIED = "applied", _("Applied: order paid")
    CREDITED = "credited", _("Kept as the customer's credit")
    RECORDED = "recorded", _("Recorded: payment status changed")
    UNCHANGED = "unchanged", _("Unchanged")
    ALREADY_APPLIED = "already_applied", _("Already applied")
    DUPLICATE = "duplicate", _("Duplicate delivery")
    IGNORED = "ignored", _("Ignored: late or out-of-order report")
    HELD = "held", _("Held: asking the gateway")
    CORRECTED = "corrected", _("Transaction id corrected by the gateway")
    REFUND = "refund", _("Flagged for refund")
    REFUNDED = "refunded", _("Refund completed")
    REVIEW = "review", _("Flagged for review")
    UNKNOWN_REFERENCE = "unknown_reference", _("Unknown reference")
    INVALID_SIGNATURE = "invalid_signature", _("Invalid signature")
    MALFORMED = "malformed", _("Malformed")
    REJECTED = "rejected", _("Rejected: size or source address")
    SHOWN = "shown", _("Browser return shown")
    ANSWER = "answer", _("Answer to a status query")
    ERROR = "error", _("Error: will be retried")


class PaymentMessage(models.Model):
    """Append-only inbox: every message a gateway sent us (or we fetched), stored before it is trusted."""

    gateway = models.CharField(_("gateway"), max_length=20, choices=gateway_choices)
    kind = models.CharField(_("kind"), max_length=12, choices=MessageKind.choices)
    received_at = models.DateTimeField(_("received"), default=timezone.now, db_index=True)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    body = models.TextField(_("body"), blank=True)
    raw_base64 = models.TextField(
        _("raw body (base64)"),
        blank=True,
        help_text=_(
            "The exact bytes received, when the body is not plain text (NUL bytes, invalid UTF-8)."
        ),
    )
    source_ip = models.GenericIPAddressField(_("source IP"), null=True, blank=True)
    signature_valid = models.BooleanField(_("signature valid"), null=True)
    dedupe_key = models.CharField(_("dedupe key"), max_length=200, null=True, blank=True)  # noqa: DJ001 - NULL (no key) never collides in the unique constraint
    reference = models.CharField(_("reference"), max_length=60, blank=True, db_index=True)
    transaction_id = models.CharField(_("transaction id"), max_length=64, blank=True)
    gateway_status = models.CharField(
        _("reported status"),
        max_length=10,
        # What a gateway can report: every payment status but "created" (ours alone).
        choices=[c for c in PaymentStatus.choices if c[0] != PaymentStatus.CREATED],
        blank=True,
    )
    payment = models.ForeignKey(
        Payment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
        verbose_name=_("payment"),
    )
    outcome = models.CharField(_("outcome"), max_length=200, blank=True)
    result = models.CharField(
        _("result"), max_length=20, choices=Outcome.choices, blank=True, db_index=True
    )
    processed = models.BooleanField(_("processed"), default=False)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts to apply"), default=0)

    class Meta:
        verbose_name = _("gateway message")
        verbose_name_plural = _("gateway messages")
        ordering = ["-received_at", "-id"]
        constraints = [
            # The same statement (transaction + state) is applied once, however often it is delivered.
            models.UniqueConstraint(
                fields=["gateway", "dedupe_key"], name="payments_unique_message_dedupe"
            ),
        ]
        indexes = [
            # The sweep's question: verified notifications still waiting to be applied.
            models.Index(
                fields=["received_at"],
                condition=Q(processed=False),
                name="payments_message_waiting_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.kind} {self.reference or '?'}: {self.outcome or '-'}"

    @property
    def gateway_name(self) -> str:
        return gateway_name(self.gateway)


class GatewaySwitch(models.Model):
    """Staff's switch for offering a gateway at Pay now, on top of its ``<CODE>_ENABLED`` setting.

    Off means customers cannot start new payments there (e.g. during an outage at the
    gateway); notifications, returns and reconciliation keep working, so money already
    in flight is still applied.
    """

    gateway = models.CharField(_("gateway"), max_length=20, choices=gateway_choices, unique=True)
    offered = models.BooleanField(_("offered at Pay now"), default=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("gateway switch")
        verbose_name_plural = _("gateway switches")

    def __str__(self) -> str:
        return f"{self.gateway}: {'on' if self.offered else 'off'}"


class RefundMethod(models.TextChoices):
    GATEWAY = "gateway", _("Through the gateway's refund API")
    MANUAL = "manual", _("Manual (bank transfer or the gateway's back office)")


class RefundState(models.TextChoices):
    """requested → (sent →) pending → completed | declined. ``requested``: recorded, the gateway
    not yet asked; ``sent``: asked, answer unknown (timeout: the sweep queries, then asks again);
    ``pending``: the gateway accepted it and decides later."""

    REQUESTED = "requested", _("Requested")
    SENT = "sent", _("Sent to the gateway (answer unknown)")
    PENDING = "pending", _("Pending at the gateway")
    COMPLETED = "completed", _("Refunded")
    DECLINED = "declined", _("Declined")


#: Refunds that count against what is left to refund of their payment.
ACTIVE_REFUND_STATES = (
    RefundState.REQUESTED,
    RefundState.SENT,
    RefundState.PENDING,
    RefundState.COMPLETED,
)
#: Refunds on their way: the money has not left yet, nor was the refund declined.
IN_FLIGHT_REFUND_STATES = (RefundState.REQUESTED, RefundState.SENT, RefundState.PENDING)


class ServicesAction(models.TextChoices):
    KEEP = "keep", _("Leave the services as they are")
    SHORTEN = "shorten", _("Shorten the paid period in proportion to the refund")
    TERMINATE = "terminate", _("Terminate the services")


class Refund(models.Model):
    """Money of one approved payment returned to the customer, wholly or in part.

    Written by ``payments.services.refunds`` only. ``from_credit`` is the part that was the
    customer's credit (not invoiced: a duplicate payment, added funds), taken out of the credit
    when the refund is requested (given back if the gateway declines); the rest was invoiced, and
    each order it paid gets a credit note when the refund completes (``RefundLine``).
    """

    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment")
    )
    customer = models.ForeignKey(
        "accounts.Customer",
        on_delete=models.PROTECT,
        related_name="refunds",
        verbose_name=_("customer"),
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    from_credit = models.DecimalField(
        _("from the credit"),
        max_digits=14,
        decimal_places=2,
        default=0,
        help_text=_("The part that was the customer's credit (not invoiced: no credit note)."),
    )
    credit_taken = models.DecimalField(
        _("taken out of the credit at request"),
        max_digits=14,
        decimal_places=2,
        default=0,
        help_text=_("Given back to the credit if the gateway declines the refund."),
    )
    method = models.CharField(_("method"), max_length=10, choices=RefundMethod.choices)
    state = models.CharField(
        _("state"),
        max_length=10,
        choices=RefundState.choices,
        default=RefundState.REQUESTED,
        db_index=True,
    )
    services_action = models.CharField(
        _("services"), max_length=10, choices=ServicesAction.choices, default=ServicesAction.KEEP
    )
    reason = models.CharField(_("reason"), max_length=300)
    bank_reference = models.CharField(
        _("bank reference"),
        max_length=100,
        blank=True,
        help_text=_("Transfer number or the gateway's refund id, for a manual refund."),
    )
    gateway_refund_id = models.CharField(_("gateway refund id"), max_length=64, blank=True)
    gateway_message = models.CharField(
        _("gateway message"),
        max_length=200,
        blank=True,
        help_text=_("The gateway's own words about the refund, as it sent them."),
    )
    note_code = models.CharField(
        _("our explanation code"),
        max_length=40,
        blank=True,
        help_text=_("What went wrong asking the gateway, put into words in the reader's language."),
    )
    note_values = models.JSONField(_("our explanation values"), default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("requested by"),
    )
    requested_at = models.DateTimeField(_("requested"), default=timezone.now, db_index=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("calls to the gateway"), default=0)
    leased_until = models.DateTimeField(_("worker lease"), null=True, blank=True)
    next_check_at = models.DateTimeField(_("next look at the gateway"), null=True, blank=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_refund_positive"),
            models.UniqueConstraint(
                fields=["payment", "gateway_refund_id"],
                condition=~Q(gateway_refund_id=""),
                name="payments_unique_gateway_refund",
            ),
        ]
        indexes = [models.Index(fields=["state", "next_check_at"], name="payments_refund_open_idx")]

    def __str__(self) -> str:
        return f"{self.payment} −{format_cop(self.amount)}"

    @property
    def invoiced(self):
        return self.amount - self.from_credit

    @property
    def note_text(self) -> str:
        """Our explanation (the gateway could not be reached, refused), in the active language
        ("" when we have none: the gateway's words say it all)."""
        return STATUS_NOTES.describe(self.note_code, self.note_values)


class RefundLine(models.Model):
    """The invoiced part of a refund on one order the payment paid, and its credit note
    (``note_error`` says why none could be issued yet: the sweep tries again)."""

    refund = models.ForeignKey(
        Refund, on_delete=models.CASCADE, related_name="lines", verbose_name=_("refund")
    )
    order = models.ForeignKey(
        "billing.Order",
        on_delete=models.PROTECT,
        related_name="refund_lines",
        verbose_name=_("order"),
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    credit_note = models.ForeignKey(
        "einvoice.Invoice",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("credit note"),
    )
    note_error = models.CharField(_("credit note not issued yet"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("refunded order")
        verbose_name_plural = _("refunded orders")
        ordering = ["refund", "id"]

    def __str__(self) -> str:
        return f"{self.refund_id} {self.order_id} {self.amount}"
