"""Service orders (ODS, orden de servicio): pre-invoices that become paid or cancelled.

An ODS number is not a fiscal number; the DIAN invoice gets its own number at payment.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clientarea.catalog.models import TaxTreatment
from clientarea.lib.dates import short_date


class OrderState(models.TextChoices):
    PENDING = "pending", _("Pending")
    PAID = "paid", _("Paid")
    CANCELLED = "cancelled", _("Cancelled")
    #: An order collecting a DIAN debit note that DIAN has not validated (being sent, or
    #: rejected and waiting for staff to fix and resend it): not payable, owes nothing yet.
    VALIDATING = "validating", _("Being validated by DIAN")


class PaidVia(models.TextChoices):
    MANUAL = "manual", _("Manual (staff)")
    PAYU = "payu", _("PayU Latam")
    PAYVALIDA = "payvalida", _("Payvalida")
    CREDIT = "credit", _("Account credit")


class PaymentMethod(models.TextChoices):
    """How an order was paid (the payments app's method families, plus staff's bank transfer)."""

    CARD = "card", _("Card")
    PSE = "pse", _("PSE (bank transfer)")
    CASH = "cash", _("Cash")
    TRANSFER = "transfer", _("Bank transfer")
    OTHER = "other", _("Other")


class Order(models.Model):
    number = models.CharField(_("number"), max_length=20, unique=True)
    customer = models.ForeignKey(
        "accounts.Customer",
        on_delete=models.PROTECT,
        related_name="orders",
        verbose_name=_("customer"),
    )
    state = models.CharField(
        _("state"),
        max_length=10,
        choices=OrderState.choices,
        default=OrderState.PENDING,
        db_index=True,
    )
    currency = models.CharField(_("currency"), max_length=3, default="COP")
    issue_date = models.DateField(_("issue date"))
    due_date = models.DateField(_("due date"))
    subtotal = models.DecimalField(_("subtotal"), max_digits=14, decimal_places=2)
    tax_total = models.DecimalField(_("IVA"), max_digits=14, decimal_places=2)
    rounding = models.DecimalField(
        _("rounding"),
        max_digits=4,
        decimal_places=2,
        default=0,
        help_text=_(
            "Added to subtotal + IVA so that the amount to pay is whole pesos (between -0.49 and +0.50)."
        ),
    )
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    paid_via = models.CharField(_("paid via"), max_length=10, choices=PaidVia.choices, blank=True)
    payment_method = models.CharField(
        _("payment method"), max_length=10, choices=PaymentMethod.choices, blank=True
    )
    payment_reference = models.CharField(_("payment reference"), max_length=120, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancel_reason = models.CharField(_("cancellation reason"), max_length=300, blank=True)
    seller_snapshot = models.JSONField(_("seller data at issue"), default=dict)
    buyer_snapshot = models.JSONField(_("buyer data at issue"), default=dict)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reminders_sent = models.JSONField(
        _("reminders sent"),
        default=list,
        blank=True,
        help_text=_("Keys of the reminder emails already sent."),
    )
    #: Set on the order that collects a DIAN debit note (``billing.debit_notes``): its number is
    #: the note's, paying it issues no invoice (the note is the DIAN document).
    debit_note = models.OneToOneField(
        "einvoice.Invoice",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="debit_order",
        verbose_name=_("debit note"),
    )

    class Meta:
        verbose_name = _("service order")
        verbose_name_plural = _("service orders")
        ordering = ["-issue_date", "-id"]
        indexes = [
            models.Index(fields=["customer", "-issue_date"]),
            models.Index(fields=["state", "due_date"]),
            models.Index(fields=["payment_reference"], name="billing_order_payref_idx"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_pending(self) -> bool:
        return self.state == OrderState.PENDING

    @property
    def is_debit_note(self) -> bool:
        """This order collects a debit note (no invoice of its own, no services)."""
        return self.debit_note_id is not None


class ItemKind(models.TextChoices):
    NEW_SERVICE = "new_service", _("New service")
    RENEWAL = "renewal", _("Renewal")
    SETUP_FEE = "setup_fee", _("Setup fee")
    DOMAIN = "domain", _("Domain")
    PLAN_CHANGE = "plan_change", _("Plan change")

    OPTION = "option", _("Service option")
    DEBIT_NOTE = "debit_note", _("Debit note")
    OTHER = "other", _("Other")


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField(default=1)
    service = models.ForeignKey(
        "subscriptions.Service",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="order_items",
    )
    kind = models.CharField(_("kind"), max_length=12, choices=ItemKind.choices)
    description = models.CharField(_("description"), max_length=300)
    period_start = models.DateField(_("period start"), null=True, blank=True)
    period_end = models.DateField(_("period end"), null=True, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=10, decimal_places=2, default=1)
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2)
    tax_treatment = models.CharField(
        _("tax treatment"), max_length=10, choices=TaxTreatment.choices, default=TaxTreatment.TAXED
    )
    tax_rate = models.DecimalField(_("IVA %"), max_digits=5, decimal_places=2)
    discount = models.DecimalField(
        _("discount"),
        max_digits=14,
        decimal_places=2,
        default=0,
        help_text=_("Taken off quantity × unit price before IVA (a coupon)."),
    )
    discount_reason = models.CharField(_("discount reason"), max_length=120, blank=True)
    subtotal = models.DecimalField(_("subtotal"), max_digits=14, decimal_places=2)
    tax_amount = models.DecimalField(_("IVA"), max_digits=14, decimal_places=2)
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2)
    # "<service id>:<period start>" while the order is open or paid; cleared on
    # cancellation. Unique, so no two live orders ever bill one service period,
    # even with concurrent billing runs.
    period_key = models.CharField(max_length=40, null=True, blank=True, unique=True, editable=False)

    class Meta:
        verbose_name = _("item")
        verbose_name_plural = _("items")
        ordering = ["order", "position", "id"]

    def __str__(self) -> str:
        return self.description

    @property
    def gross(self):
        """Quantity × unit price before the discount (subtotal is after it)."""
        return self.subtotal + self.discount


class CouponRedemption(models.Model):
    """One order that used a coupon. The coupon's limits count redemptions of orders that were
    not cancelled; checkout counts them under the coupon's row lock, so concurrent checkouts
    cannot both take the last use."""

    coupon = models.ForeignKey(
        "catalog.Coupon",
        on_delete=models.PROTECT,
        related_name="redemptions",
        verbose_name=_("coupon"),
    )
    order = models.OneToOneField(
        Order, on_delete=models.CASCADE, related_name="coupon_redemption", verbose_name=_("order")
    )
    customer = models.ForeignKey(
        "accounts.Customer",
        on_delete=models.PROTECT,
        related_name="coupon_redemptions",
        verbose_name=_("customer"),
    )
    discount = models.DecimalField(_("discount"), max_digits=14, decimal_places=2)
    created_at = models.DateTimeField(_("used"), default=timezone.now)

    class Meta:
        verbose_name = _("coupon use")
        verbose_name_plural = _("coupon uses")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["coupon", "customer"])]

    def __str__(self) -> str:
        return f"{self.coupon_id} {self.order_id}"


class OrderEventKind(models.TextChoices):
    """What happened to an order (its history)."""

    CREATED = "created", _("Order issued")
    PAID = "paid", _("Payment received")
    CANCELLED = "cancelled", _("Order cancelled")
    EMAIL_RESENT = "email_resent", _("Order email sent again")
    REMINDER = "reminder", _("Payment reminder sent")
    DIAN_HELD = "dian_held", _("Held: the debit note is not validated by DIAN")
    DIAN_VALIDATED = "dian_validated", _("Debit note validated by DIAN: payable")


class OrderEvent(models.Model):
    """Append-only history of an order: creation, emails, payment, cancellation."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=30, choices=OrderEventKind.choices)
    message = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("order event")
        verbose_name_plural = _("order history")

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind}"


class Counter(models.Model):
    """Named gap-free counters (ODS numbers), incremented under a row lock."""

    name = models.CharField(max_length=40, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class BillingRunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    DONE_WITH_ERRORS = "errors", _("Done with errors")
    FAILED = "failed", _("Failed")


class BillingRun(models.Model):
    """One execution of the daily billing run: when, for which date, what it did, what failed."""

    run_date = models.DateField(_("billing date"), db_index=True)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    dry_run = models.BooleanField(_("dry run"), default=False)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=BillingRunStatus.choices,
        default=BillingRunStatus.RUNNING,
    )
    triggered_by = models.CharField(
        _("triggered by"), max_length=40, default="cli", help_text=_("cli, worker or staff")
    )
    counts = models.JSONField(_("counts per action"), default=dict, blank=True)
    errors = models.JSONField(_("errors"), default=list, blank=True)

    class Meta:
        verbose_name = _("billing run")
        verbose_name_plural = _("billing runs")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{short_date(self.run_date)} {self.get_status_display()}"


class ChunkStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("In progress")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class BillingRunChunk(models.Model):
    """One customer-id range of a billing run: the unit a worker claims, with a lease.

    Customers with ``after_id < id <= last_id`` (``last_id`` empty: no upper bound). A worker
    claims a chunk with one conditional UPDATE (``billing.run_chunks.claim_chunk``) that sets
    the lease and bumps ``attempts`` (the claim's token); a chunk whose worker died is claimed
    again once ``lease_until`` has passed. ``cursor`` is the last customer id whose renewals
    are committed, so a chunk taken over resumes after it; ``counts`` are the chunk's counts so
    far (same keys as ``BillingRun.counts``).
    """

    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="chunks")
    position = models.PositiveIntegerField()
    after_id = models.BigIntegerField()
    last_id = models.BigIntegerField(null=True, blank=True)
    customers = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=10, choices=ChunkStatus.choices, default=ChunkStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    claimed_by = models.CharField(max_length=80, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    dunning_done = models.BooleanField(default=False)
    cursor = models.BigIntegerField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("billing run chunk")
        verbose_name_plural = _("billing run chunks")
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="billing_chunk_run_position")
        ]
        indexes = [models.Index(fields=["run", "status"], name="billing_chunk_run_status")]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.position} {self.status}"


class LedgerKind(models.TextChoices):
    """What one ledger entry records. Signs: what the customer owes is positive, money they gave
    (or we owe them) negative. An entry with an order belongs to that order's balance; one without
    an order is the customer's credit (negative = credit available)."""

    ORDER = "order", _("Service order")
    ORDER_CANCELLED = "order_cancelled", _("Order cancelled")
    PAYMENT = "payment", _("Payment")
    CREDIT = "credit", _("Credit added")
    CREDIT_APPLIED = "credit_applied", _("Credit applied")
    CREDIT_RELEASED = "credit_released", _("Payment of a cancelled order kept as credit")
    REFUND = "refund", _("Credit refunded")
    WITHHOLDING = "withholding", _("Withheld by the customer (withholding agent)")
    #: A refund of money that paid an order: its credit note (−) and the money returned (+).
    CREDIT_NOTE = "credit_note", _("Credit note for a refund")
    PAYMENT_REFUNDED = "payment_refunded", _("Payment refunded")
    #: A downgrade credited on the order that paid the period: its credit note (−), then the
    #: same amount moved from the order to the customer's credit (+ on the order, − without).
    CHANGE_NOTE = "change_note", _("Credit note for a plan change")
    NOTE_TO_CREDIT = "note_to_credit", _("Credit note kept as credit")
    #: A DIAN debit note owed (+), on the order that collects it.
    DEBIT_NOTE = "debit_note", _("Debit note")
    #: A credit note staff issued on a paid order's invoice, its total kept as the customer's
    #: credit: the note (−, on the order), then NOTE_TO_CREDIT (+ on the order, − without).
    INVOICE_NOTE = "invoice_note", _("Credit note on an invoice")
    #: What a withholding agent withheld from the part of an order a credit note credits (+, on
    #: the order): the agent recovers it from DIAN, not from us, so it is not owed back.
    WITHHOLDING_REVERSED = (
        "withholding_reversed",
        _("Withholdings on the credited part: the customer recovers them from DIAN"),
    )


class CreditNoteDestination(models.TextChoices):
    """What happens to the money of a credit note staff issue on a paid order's invoice
    (``billing.credit_notes``)."""

    CREDIT = "credit", _("Add it to the customer's credit")
    NONE = "none", _("No money is owed back")


class LedgerEntry(models.Model):
    """The customer's account, append-only: one row per movement, never updated or deleted.

    The balance is ``SUM(amount)``; what an order still owes is the sum of its entries; the
    credit available is minus the sum of the entries without an order. Nothing else stores
    them (``billing.selectors`` computes them; ``billing.ledger`` is the only writer).
    """

    customer = models.ForeignKey(
        "accounts.Customer",
        on_delete=models.PROTECT,
        related_name="ledger_entries",
        verbose_name=_("customer"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=LedgerKind.choices)
    amount = models.DecimalField(
        _("amount"),
        max_digits=14,
        decimal_places=2,
        help_text=_("Positive: owed by the customer. Negative: paid by the customer or credit."),
    )
    order = models.ForeignKey(
        Order,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
        verbose_name=_("order"),
    )
    reference = models.CharField(
        _("reference"),
        max_length=120,
        blank=True,
        help_text=_("The payment's reference (gateway attempt, bank transfer number)."),
    )
    via = models.CharField(_("via"), max_length=10, choices=PaidVia.choices, blank=True)
    method = models.CharField(
        _("payment method"), max_length=10, choices=PaymentMethod.choices, blank=True
    )
    memo = models.CharField(_("memo"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("date"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )

    class Meta:
        verbose_name = _("account movement")
        verbose_name_plural = _("account movements")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["customer", "created_at"]),
            models.Index(fields=["order", "kind"]),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.kind} {self.amount}"


class PlanChangeCreditNote(models.Model):
    """The DIAN credit note a downgrade's credit owes on the invoice that paid the service's
    period (``billing.planchanges``). Written in the downgrade's transaction with its ledger
    entries; ``credit_note`` is empty while DIAN's rules do not allow the note yet (the invoice
    is not accepted), and the billing sweep issues it later (``note_error`` says why it waits).
    """

    plan_change = models.ForeignKey(
        "subscriptions.PlanChange",
        on_delete=models.PROTECT,
        related_name="credit_notes",
        verbose_name=_("plan change"),
    )
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="+", verbose_name=_("order credited")
    )
    amount = models.DecimalField(_("credited (with IVA)"), max_digits=14, decimal_places=2)
    credit_note = models.ForeignKey(
        "einvoice.Invoice",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("credit note"),
    )
    note_error = models.CharField(_("why the note waits"), max_length=300, blank=True)
    #: The ledger's credit-note movement (its reference is empty when the note came later: the
    #: statement of account reads the number here).
    entry = models.ForeignKey(
        LedgerEntry,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("account movement"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("plan change credit note")
        verbose_name_plural = _("plan change credit notes")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.plan_change_id} {self.order_id} {self.amount}"
