"""What the gateway simulators remember: orders, payment attempts and outgoing notifications.

The simulators play the *gateway* side: these rows are what PayU or Payvalida would
hold in their own databases. Card numbers are never stored, only the last four digits.
"""

from __future__ import annotations

import secrets
import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class PayUOrderState(models.TextChoices):
    """Simulator-side state of a PayU order (mapped to PayU's order ``status`` in the Queries API)."""

    NEW = "NEW", _("New (no payment attempt yet)")
    PENDING = "PENDING", _("Pending (PSE at the bank / cash voucher issued)")
    APPROVED = "APPROVED", _("Approved")
    DECLINED = "DECLINED", _("Declined (buyer may try again)")
    EXPIRED = "EXPIRED", _("Expired")
    REFUNDED = "REFUNDED", _("Refunded (whole amount)")


class PayUTransactionState(models.TextChoices):
    """PayU transaction states (``lapTransactionState``)."""

    APPROVED = "APPROVED", _("Approved")
    DECLINED = "DECLINED", _("Declined")
    ERROR = "ERROR", _("Error")
    PENDING = "PENDING", _("Pending")
    EXPIRED = "EXPIRED", _("Expired")


class Instrument(models.TextChoices):
    """How the buyer paid in the simulated checkout."""

    CARD = "CARD", "Card"
    PSE = "PSE", "PSE bank transfer"
    CASH = "CASH", "Cash voucher"


def new_checkout_token() -> str:
    """An unguessable id for the URLs of pages that show the buyer's data (192 random bits)."""
    return secrets.token_urlsafe(24)


class SandboxPayUOrder(models.Model):
    """One WebCheckout form accepted by the PayU simulator (PayU's "order")."""

    #: PayU's order id (``reference_pol``/``orderId``): an integer sequence, offset so it looks like PayU's.
    ORDER_ID_OFFSET = 1_400_000_000

    payu_order_id = models.BigIntegerField(_("PayU order id"), unique=True, null=True, blank=True)
    #: In the checkout's URLs instead of the sequential order id, which anyone could guess.
    checkout_token = models.CharField(
        max_length=43, unique=True, default=new_checkout_token, editable=False
    )
    merchant_id = models.CharField(max_length=12)
    account_id = models.CharField(max_length=12)
    reference_code = models.CharField(_("reference code"), max_length=255)
    description = models.CharField(max_length=255)
    amount = models.CharField(
        _("amount"), max_length=20, help_text="As posted (the signed string)."
    )
    currency = models.CharField(_("currency"), max_length=3)
    tax = models.CharField(max_length=20, default="0")
    tax_return_base = models.CharField(max_length=20, default="0")
    buyer_email = models.CharField(max_length=255)
    buyer_full_name = models.CharField(max_length=150, blank=True)
    buyer_document_type = models.CharField(max_length=10, blank=True)
    buyer_document = models.CharField(max_length=30, blank=True)
    telephone = models.CharField(max_length=30, blank=True)
    response_url = models.CharField(max_length=500, blank=True)
    confirmation_url = models.CharField(max_length=500, blank=True)
    extra1 = models.CharField(max_length=255, blank=True)
    extra2 = models.CharField(max_length=255, blank=True)
    extra3 = models.CharField(max_length=255, blank=True)
    lng = models.CharField(max_length=5, default="es")
    test = models.BooleanField(default=False)
    algorithm = models.CharField(
        max_length=16, default="MD5", help_text="algorithmSignature, reused for sign/signature."
    )
    payment_methods = models.CharField(max_length=255, blank=True)
    selected_payment_method = models.CharField(
        max_length=255, blank=True, help_text="selectedPaymentMethod: the method preselected."
    )
    expiration_date = models.DateTimeField(
        null=True, blank=True, help_text="expirationDate (cash vouchers)."
    )
    state = models.CharField(
        _("state"), max_length=10, choices=PayUOrderState.choices, default=PayUOrderState.NEW
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("simulated PayU order")
        verbose_name_plural = _("simulated PayU orders")
        ordering = ["-created", "-id"]
        constraints = [
            # payment-form.html: "Use a unique payment reference for each transaction".
            models.UniqueConstraint(
                fields=["merchant_id", "reference_code"], name="sandbox_payu_unique_reference"
            ),
        ]

    def __str__(self) -> str:
        return f"PayU order {self.payu_order_id} ({self.reference_code})"

    @property
    def is_open(self) -> bool:
        """True while the buyer may still start a payment attempt."""
        return self.state in (PayUOrderState.NEW, PayUOrderState.DECLINED)


class SandboxPayUTransaction(models.Model):
    """One payment attempt on a PayU order (several per reference are possible)."""

    order = models.ForeignKey(
        SandboxPayUOrder,
        on_delete=models.CASCADE,
        related_name="transactions",
        verbose_name=_("order"),
    )
    transaction_id = models.UUIDField(
        _("transaction id"), unique=True, default=uuid.uuid4, editable=False
    )
    instrument = models.CharField(max_length=4, choices=Instrument.choices)
    payment_method = models.CharField(
        _("payment method"), max_length=20, help_text="lapPaymentMethod: VISA, PSE, BALOTO, ..."
    )
    state = models.CharField(_("state"), max_length=8, choices=PayUTransactionState.choices)
    response_code = models.CharField(
        _("response code"), max_length=64, help_text="lapResponseCode / response_message_pol."
    )
    authorization_code = models.CharField(max_length=12, blank=True)
    trazability_code = models.CharField(max_length=64, blank=True, help_text="CUS for PSE.")
    installments = models.PositiveSmallIntegerField(default=1)
    card_holder = models.CharField(max_length=150, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    pse_person_type = models.CharField(max_length=1, blank=True)
    pse_document_type = models.CharField(max_length=4, blank=True)
    pse_document_number = models.CharField(max_length=30, blank=True)
    pse_bank_code = models.CharField(max_length=10, blank=True)
    pse_bank_name = models.CharField(max_length=100, blank=True)
    cash_expires_at = models.DateTimeField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("simulated PayU transaction")
        verbose_name_plural = _("simulated PayU transactions")
        ordering = ["created", "id"]
        indexes = [
            models.Index(
                fields=["instrument", "state", "cash_expires_at"], name="sandbox_payu_tx_due"
            )
        ]

    def __str__(self) -> str:
        return f"{self.transaction_id} {self.payment_method} {self.state}"

    @property
    def masked_card(self) -> str:
        """``************1111`` (confirmation-page sample format)."""
        return f"************{self.card_last4}" if self.card_last4 else ""


class PayURefundKind(models.TextChoices):
    """``transaction.type`` of a refund request (refunds-api.html)."""

    REFUND = "REFUND", "Refund (whole amount)"
    PARTIAL_REFUND = "PARTIAL_REFUND", "Partial refund"


class SandboxPayURefund(models.Model):
    """A refund the merchant requested through the Payments API (``SUBMIT_TRANSACTION``).

    PayU answers ``PENDING``/``PENDING_REVIEW`` and resolves it later (an agent approves or
    declines it: the dashboard buttons); only then is the merchant notified.
    """

    order = models.ForeignKey(
        SandboxPayUOrder, on_delete=models.CASCADE, related_name="refunds", verbose_name=_("order")
    )
    parent = models.ForeignKey(
        SandboxPayUTransaction,
        on_delete=models.CASCADE,
        related_name="refunds",
        verbose_name=_("refunded transaction"),
    )
    refund_id = models.UUIDField(
        _("transaction id"), unique=True, default=uuid.uuid4, editable=False
    )
    kind = models.CharField(_("type"), max_length=14, choices=PayURefundKind.choices)
    value = models.DecimalField(_("amount"), max_digits=19, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    state = models.CharField(
        _("state"),
        max_length=8,
        choices=PayUTransactionState.choices,
        default=PayUTransactionState.PENDING,
    )
    response_code = models.CharField(_("response code"), max_length=64, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("simulated PayU refund")
        verbose_name_plural = _("simulated PayU refunds")
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.value} {self.currency} of order {self.order_id} ({self.state})"


class PayvalidaState(models.TextChoices):
    """Payvalida order states (notification doc)."""

    PENDIENTE = "PENDIENTE", pgettext_lazy("payvalida order", "Pending")
    APROBADA = "APROBADA", pgettext_lazy("payvalida order", "Approved")
    VENCIDA = "VENCIDA", pgettext_lazy("payvalida order", "Expired")
    CANCELADA = "CANCELADA", pgettext_lazy("payvalida order", "Cancelled by the merchant")
    ANULADA = "ANULADA", pgettext_lazy("payvalida order", "Voided (refunded)")


class SandboxPayvalidaOrder(models.Model):
    """A purchase order registered through the simulated ``POST /api/v3/porders``."""

    #: Payvalida's own order id (``PVordenID`` / ``CODE`` / ``pv_po_id``).
    PV_ID_OFFSET = 2_200_000

    merchant = models.CharField(max_length=50)
    order = models.CharField(
        _("order"), max_length=200, help_text="The merchant's po_id (unique forever)."
    )
    pv_order_id = models.BigIntegerField(unique=True, null=True, blank=True)
    reference = models.CharField(_("reference"), max_length=25, unique=True)
    email = models.CharField(max_length=100)
    country = models.PositiveIntegerField(default=343)
    money = models.CharField(max_length=3, default="COP")
    amount = models.CharField(_("amount"), max_length=20, help_text="Integer amount as registered.")
    description = models.CharField(max_length=250)
    method = models.CharField(max_length=25, blank=True)
    language = models.CharField(max_length=2, default="es")
    recurrent = models.BooleanField(default=False)
    expiration = models.DateField(_("expiration"))
    iva = models.CharField(max_length=10, blank=True)
    user_di = models.CharField(max_length=15, blank=True)
    user_type_di = models.CharField(max_length=3, blank=True)
    user_name = models.CharField(max_length=25, blank=True)
    token = models.CharField(max_length=64, unique=True)
    state = models.CharField(
        _("state"), max_length=10, choices=PayvalidaState.choices, default=PayvalidaState.PENDIENTE
    )
    payment_method = models.CharField(
        _("payment method"), max_length=20, blank=True, help_text="PAYMNENT_METHOD once paid."
    )
    cus = models.CharField(max_length=64, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    installments = models.PositiveSmallIntegerField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    recurrent_payments = models.PositiveIntegerField(default=0)
    notification_response = models.TextField(blank=True)
    annulled_by = models.CharField(
        _("annulled by"),
        max_length=10,
        blank=True,
        help_text="ANULADA orders: who asked for the refund (merchant or customer).",
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("simulated Payvalida order")
        verbose_name_plural = _("simulated Payvalida orders")
        ordering = ["-created", "-id"]
        constraints = [
            # register: order "unique for the merchant regardless of state" (even after deletion:
            # deleted orders are kept as CANCELADA rows, so this constraint covers them).
            models.UniqueConstraint(
                fields=["merchant", "order"], name="sandbox_payvalida_unique_order"
            ),
        ]

    def __str__(self) -> str:
        return f"Payvalida order {self.order} ({self.state})"


class SandboxPayvalidaAttempt(models.Model):
    """One payment attempt in the simulated Payvalida checkout."""

    class State(models.TextChoices):
        APPROVED = "approved", _("Approved")
        DECLINED = "declined", _("Declined")
        PENDING = "pending", _("Pending")
        EXPIRED = "expired", _("Expired")

    order = models.ForeignKey(
        SandboxPayvalidaOrder,
        on_delete=models.CASCADE,
        related_name="attempts",
        verbose_name=_("order"),
    )
    attempt_id = models.UUIDField(_("attempt id"), unique=True, default=uuid.uuid4, editable=False)
    instrument = models.CharField(max_length=4, choices=Instrument.choices)
    payment_name = models.CharField(
        _("payment name"), max_length=20, help_text="PAYMNENT_METHOD / pv_payment value."
    )
    state = models.CharField(_("state"), max_length=8, choices=State.choices)
    response_code = models.CharField(_("response code"), max_length=64, blank=True)
    card_holder = models.CharField(max_length=150, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    installments = models.PositiveSmallIntegerField(default=1)
    pse_person_type = models.CharField(max_length=1, blank=True)
    pse_document_type = models.CharField(max_length=4, blank=True)
    pse_document_number = models.CharField(max_length=30, blank=True)
    pse_bank_code = models.CharField(max_length=10, blank=True)
    pse_bank_name = models.CharField(max_length=100, blank=True)
    cus = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("simulated Payvalida attempt")
        verbose_name_plural = _("simulated Payvalida attempts")
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.attempt_id} {self.payment_name} {self.state}"


class Gateway(models.TextChoices):
    PAYU = "payu", "PayU"
    PAYVALIDA = "payvalida", "Payvalida"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending / retrying"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (all attempts used)"


class SandboxNotification(models.Model):
    """A server-to-server message the simulated gateway must deliver to the merchant.

    PayU: the confirmation (form-urlencoded, one per final transaction attempt).
    Payvalida: the notification (JSON). ``payload`` excludes PayU's ``attempts``,
    which is filled in at each delivery attempt.
    """

    gateway = models.CharField(_("gateway"), max_length=10, choices=Gateway.choices)
    payu_transaction = models.ForeignKey(
        SandboxPayUTransaction,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    payvalida_order = models.ForeignKey(
        SandboxPayvalidaOrder,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    payu_refund = models.ForeignKey(
        SandboxPayURefund,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    url = models.CharField(_("URL"), max_length=500)
    payload = models.JSONField()
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=NotificationStatus.choices,
        default=NotificationStatus.PENDING,
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("simulated notification")
        verbose_name_plural = _("simulated notifications")
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.get_gateway_display()} notification #{self.pk} ({self.status})"


class SandboxDelivery(models.Model):
    """One HTTP attempt to deliver a :class:`SandboxNotification`."""

    notification = models.ForeignKey(
        SandboxNotification, on_delete=models.CASCADE, related_name="deliveries"
    )
    attempt = models.PositiveIntegerField()
    status_code = models.IntegerField(
        null=True, blank=True, help_text="Empty when no HTTP answer arrived."
    )
    accepted = models.BooleanField(default=False)
    body_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=255, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("simulated delivery")
        verbose_name_plural = _("simulated deliveries")
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"delivery {self.attempt} of notification {self.notification_id}: {self.status_code}"
