"""DIAN numbering resolutions and issued electronic invoices, credit notes and debit notes.

A credit or debit note is an ``Invoice`` row of another ``kind``: it has the same lifecycle
(number and key fixed when issued, signed, sent to DIAN, accepted or rejected, emailed), the same
transmission attempts and the same outbox, so every step of the invoice pipeline serves notes
too. A note references the invoice it corrects (``reference``) and has no order of its own.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clientarea.einvoice import attempt_texts


class Environment(models.TextChoices):
    PRODUCTION = "1", _("Production")
    TEST = "2", _("Test (habilitación)")


class NumberingResolution(models.Model):
    """A DIAN numbering authorization: prefix, range and validity, as data (never in code)."""

    number = models.CharField(_("resolution number"), max_length=30)
    prefix = models.CharField(_("prefix"), max_length=4, blank=True)
    range_from = models.PositiveBigIntegerField(_("from"))
    range_to = models.PositiveBigIntegerField(_("to"))
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid until"))
    technical_key = models.CharField(_("technical key (ClTec)"), max_length=200)
    environment = models.CharField(
        _("environment"), max_length=1, choices=Environment.choices, default=Environment.TEST
    )
    next_number = models.PositiveBigIntegerField(
        _("next number"), help_text=_("Allocated gap-free under a row lock.")
    )
    active = models.BooleanField(_("active"), default=True)
    warn_remaining_numbers = models.PositiveIntegerField(
        _("warn when fewer numbers remain"), default=100
    )
    warn_remaining_days = models.PositiveIntegerField(_("warn when fewer days remain"), default=30)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("numbering resolution")
        verbose_name_plural = _("numbering resolutions")
        ordering = ["-active", "valid_from", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(range_from__lte=models.F("range_to")),
                name="resolution_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.prefix}{self.range_from}–{self.prefix}{self.range_to}"

    def clean(self) -> None:
        if self.prefix and (len(self.prefix) > 4 or not self.prefix.isalnum()):
            raise ValidationError({"prefix": _("Up to four letters or digits.")})
        if self.range_from and self.range_to and self.range_from > self.range_to:
            raise ValidationError({"range_to": _("The range ends before it starts.")})
        if self.valid_from and self.valid_to and self.valid_from > self.valid_to:
            raise ValidationError({"valid_to": _("The validity ends before it starts.")})
        if self.next_number is None:
            self.next_number = self.range_from
        elif self.range_from and not self.range_from <= self.next_number <= self.range_to + 1:
            raise ValidationError({"next_number": _("The next number must be inside the range.")})

    @property
    def remaining_numbers(self) -> int:
        return max(0, self.range_to - self.next_number + 1)


class DocumentKind(models.TextChoices):
    INVOICE = "invoice", _("Invoice")
    CREDIT_NOTE = "credit_note", _("Credit note")
    DEBIT_NOTE = "debit_note", _("Debit note")


#: DIAN's document type code of each kind (91/92: ``dian-webservice.md`` §4.2).
DOCUMENT_TYPE_CODES = {
    DocumentKind.INVOICE: "01",
    DocumentKind.CREDIT_NOTE: "91",
    DocumentKind.DEBIT_NOTE: "92",
}


class CreditNoteConcept(models.TextChoices):
    """DIAN's credit-note concepts (Anexo 1.9 table 13.2.4, ``dian-webservice.md`` §4.1)."""

    PARTIAL_RETURN = "1", _("Partial return of goods or partial non-acceptance of the service")
    CANCELLATION = "2", _("Cancellation of the electronic invoice")
    DISCOUNT = "3", _("Partial or total rebate or discount")
    PRICE_ADJUSTMENT = "4", _("Price adjustment")
    EARLY_PAYMENT = "5", _("Early-payment commercial discount")
    VOLUME = "6", _("Sales-volume commercial discount")


class DebitNoteConcept(models.TextChoices):
    """DIAN's debit-note concepts (table 13.2.5, ``dian-webservice.md`` §4.1)."""

    INTEREST = "1", _("Interest")
    EXPENSES = "2", _("Expenses to be charged")
    VALUE_CHANGE = "3", _("Change of value")
    OTHER = "4", _("Other")


class NoteNumbering(models.Model):
    """The issuer's own consecutive numbering of credit or debit notes (DIAN assigns no range:
    ``dian-webservice.md`` §4.4). Allocated gap-free under a row lock, like invoice numbers."""

    kind = models.CharField(
        _("document"),
        max_length=12,
        choices=[
            (DocumentKind.CREDIT_NOTE, DocumentKind.CREDIT_NOTE.label),
            (DocumentKind.DEBIT_NOTE, DocumentKind.DEBIT_NOTE.label),
        ],
        unique=True,
    )
    prefix = models.CharField(
        _("prefix"),
        max_length=4,
        help_text=_("Up to four letters or digits, different from the invoice prefixes."),
    )
    next_number = models.PositiveBigIntegerField(
        _("next number"), default=1, help_text=_("Allocated gap-free under a row lock.")
    )

    class Meta:
        verbose_name = _("note numbering")
        verbose_name_plural = _("note numbering")
        ordering = ["kind"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.prefix}{self.next_number}"

    def clean(self) -> None:
        if not self.prefix or not self.prefix.isalnum():
            raise ValidationError({"prefix": _("Up to four letters or digits.")})
        if NumberingResolution.objects.filter(prefix__iexact=self.prefix).exists() or (
            NoteNumbering.objects.filter(prefix__iexact=self.prefix).exclude(pk=self.pk).exists()
        ):
            raise ValidationError({"prefix": _("This prefix is already used by other documents.")})
        if self.next_number is not None and self.next_number < 1:
            raise ValidationError({"next_number": _("The next number must be positive.")})


class InvoiceStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting (no valid numbering or missing data)")
    ISSUED = "issued", _("Issued")
    SENT = "sent", _("Sent to DIAN")
    ACCEPTED = "accepted", _("Accepted by DIAN")
    REJECTED = "rejected", _("Rejected by DIAN")
    CONTINGENCY = "contingency", _("DIAN unavailable (contingency)")


#: States in which the invoice may reach the customer: accepted by DIAN, or kept by the
#: store-only transmitter (no DIAN configured; counts as accepted locally, not a legal invoice).
DELIVERABLE_STATUSES = (InvoiceStatus.ISSUED, InvoiceStatus.ACCEPTED)


class Invoice(models.Model):
    """The electronic sales invoice of one paid order, or a credit or debit note on an invoice.
    Immutable once issued."""

    kind = models.CharField(
        _("document"),
        max_length=12,
        choices=DocumentKind.choices,
        default=DocumentKind.INVOICE,
        db_index=True,
    )
    #: The order an invoice bills; empty for a note (its invoice's order is the one).
    order = models.ForeignKey(
        "billing.Order",
        on_delete=models.PROTECT,
        related_name="invoices",
        verbose_name=_("order"),
        null=True,
        blank=True,
    )
    customer = models.ForeignKey(
        "accounts.Customer",
        on_delete=models.PROTECT,
        related_name="invoices",
        verbose_name=_("customer"),
    )
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=InvoiceStatus.choices,
        default=InvoiceStatus.WAITING,
        db_index=True,
    )
    waiting_reason = models.CharField(_("why it waits"), max_length=300, blank=True)
    resolution = models.ForeignKey(
        NumberingResolution,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoices",
        verbose_name=_("numbering resolution"),
    )
    number = models.PositiveBigIntegerField(_("consecutive"), null=True, blank=True)
    full_number = models.CharField(_("number"), max_length=30, null=True, blank=True, unique=True)
    cufe = models.CharField("CUFE", max_length=96, blank=True, db_index=True)
    issued_at = models.DateTimeField(_("issued at"), null=True, blank=True)
    paid_at = models.DateTimeField(_("paid at"))
    payment_means_code = models.CharField(_("payment means"), max_length=3, default="10")
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2)
    document = models.JSONField(
        _("document snapshot"),
        default=dict,
        blank=True,
        help_text=_("Seller, buyer, lines and totals as issued."),
    )
    prepayments = models.JSONField(
        _("prepayments"),
        default=list,
        blank=True,
        help_text=_("Account credit applied to the order before it was paid, kept until issued."),
    )
    xml_unsigned = models.TextField(blank=True)
    xml_signed = models.BinaryField(blank=True, default=b"")
    attached_document = models.BinaryField(blank=True, default=b"")
    pdf = models.BinaryField(blank=True, default=b"")
    rendered_at = models.DateTimeField(_("rendered at"), null=True, blank=True)
    render_error = models.TextField(_("render error"), blank=True)
    emailed_at = models.DateTimeField(_("emailed at"), null=True, blank=True)
    transmitted_at = models.DateTimeField(_("transmitted at"), null=True, blank=True)
    #: DIAN's ApplicationResponse of the accepted invoice (it is embedded in the AttachedDocument).
    application_response = models.BinaryField(blank=True, default=b"")
    accepted_at = models.DateTimeField(_("accepted by DIAN at"), null=True, blank=True)
    contingency_since = models.DateTimeField(_("DIAN unavailable since"), null=True, blank=True)
    # Set while a worker renders, emails and transmits the invoice; an expired lease (the worker
    # died) lets the sweep take the work over. An issued invoice with work left is in the outbox.
    lease_until = models.DateTimeField(_("worker lease until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # -- notes ------------------------------------------------------------------------------
    #: The invoice a credit or debit note corrects.
    reference = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notes",
        verbose_name=_("invoice corrected"),
    )
    concept = models.CharField(_("DIAN concept"), max_length=2, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    issued_by = models.CharField(_("issued by"), max_length=150, blank=True)
    #: Set on an invoice replaced by a new one after a full credit note (wrong buyer data).
    superseded_at = models.DateTimeField(_("replaced at"), null=True, blank=True)
    replaces = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replacement",
        verbose_name=_("replaces invoice"),
    )

    class Meta:
        verbose_name = _("electronic invoice")
        verbose_name_plural = _("electronic invoices")
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["resolution", "number"], name="unique_invoice_number_per_resolution"
            ),
            models.UniqueConstraint(
                fields=["kind", "number"],
                condition=~models.Q(kind="invoice"),
                name="unique_note_number_per_kind",
            ),
            # One current invoice per order; a replaced one (wrong buyer data) stays as history.
            models.UniqueConstraint(
                fields=["order"],
                condition=models.Q(kind="invoice", superseded_at__isnull=True),
                name="one_current_invoice_per_order",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="invoice", reference__isnull=True)
                | (~models.Q(kind="invoice") & models.Q(reference__isnull=False)),
                name="notes_and_only_notes_reference_an_invoice",
            ),
        ]
        indexes = [
            models.Index(
                fields=["lease_until"],
                name="invoice_outbox",
                condition=models.Q(rendered_at__isnull=True)
                | models.Q(emailed_at__isnull=True)
                | models.Q(transmitted_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.full_number or f"({self.get_status_display()}) {self.order_id}"

    @property
    def is_note(self) -> bool:
        return self.kind != DocumentKind.INVOICE

    @property
    def document_type_code(self) -> str:
        return DOCUMENT_TYPE_CODES[DocumentKind(self.kind)]

    @property
    def concept_label(self) -> str:
        choices = CreditNoteConcept if self.kind == DocumentKind.CREDIT_NOTE else DebitNoteConcept
        return str(dict(choices.choices).get(self.concept, self.concept))

    @property
    def is_issued(self) -> bool:
        return self.status != InvoiceStatus.WAITING

    @property
    def is_rendered(self) -> bool:
        return bool(self.rendered_at)

    @property
    def is_validated(self) -> bool:
        """May reach the customer: accepted by DIAN (or stored only, when no DIAN is configured)."""
        return self.transmitted_at is not None and self.status in DELIVERABLE_STATUSES

    @property
    def awaiting_dian(self) -> bool:
        """Issued, not validated yet (being signed, sent, retried, or rejected and being fixed)."""
        return self.is_issued and not self.is_validated

    @property
    def dian_state(self) -> str:
        """Where the invoice is in its lifecycle, in words for staff."""
        if self.status == InvoiceStatus.ISSUED and not self.rendered_at:
            return str(_("Issued, not signed yet"))
        if self.status == InvoiceStatus.ISSUED and not self.transmitted_at:
            return str(_("Signed, not sent yet"))
        if self.status == InvoiceStatus.ISSUED:
            return str(_("Stored only (no DIAN configured: not a legal invoice)"))
        if self.status == InvoiceStatus.SENT and not self.transmitted_at:
            # Sent, and DIAN gave no usable answer: its next try is scheduled (not "sent").
            return str(_("Not answered by DIAN yet: to be sent again"))
        return str(self.get_status_display())


class TransmissionAttempt(models.Model):
    """Each attempt to deliver an invoice to DIAN (or to store it, with the store-only transmitter)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="transmissions")
    created_at = models.DateTimeField(_("when"), default=timezone.now)
    transmitter = models.CharField(_("transmitter"), max_length=100)
    status = models.CharField(_("outcome"), max_length=12, choices=InvoiceStatus.choices)
    message = models.TextField(_("message"), blank=True)
    #: Our own words as a code and its values (``einvoice.attempt_texts``), shown in the reader's
    #: language; empty when ``message`` is DIAN's answer as DIAN wrote it.
    message_code = models.CharField(_("message code"), max_length=40, blank=True)
    message_values = models.JSONField(_("message values"), default=dict, blank=True)
    #: When DIAN gave no usable answer: the DIAN client's or the transport's own text (English,
    #: "SendBillSync: HTTP 503, not a SOAP answer (…)"), shown to staff as the technical detail.
    detail = models.TextField(_("technical detail"), blank=True)
    retryable = models.BooleanField(_("to be retried"), default=False)
    #: The CUFE as DIAN returned it (its trackId).
    document_key = models.CharField(_("DIAN document key"), max_length=96, blank=True)
    #: DIAN's rule messages as written: [{"rule": "FAD06", "kind": "rejection", "text": "…"}].
    rule_messages = models.JSONField(_("DIAN rule messages"), default=list, blank=True)
    application_response = models.BinaryField(blank=True, default=b"")

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("transmission attempt")
        verbose_name_plural = _("transmission attempts")

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.status}"

    @property
    def legacy(self) -> attempt_texts.Legacy | None:
        """An attempt recorded before the codes whose ``message`` is a sentence the code wrote
        then (English, or Spanish through gettext), read back as its code."""
        return None if self.message_code else attempt_texts.legacy(self.message)

    @property
    def message_text(self) -> str:
        """What the attempt says, in the active language (DIAN's answer as DIAN wrote it; an
        attempt recorded before the codes in the words of the code its sentence is)."""
        known = self.legacy
        if known is not None:
            return attempt_texts.describe(known.code, known.values)
        return attempt_texts.describe(self.message_code, self.message_values, fallback=self.message)

    @property
    def as_written(self) -> bool:
        """The message is not ours: DIAN's answer, or the DIAN client's text of an attempt
        recorded before the codes, shown as written (labelled so)."""
        return bool(self.message) and not self.message_code and self.legacy is None

    @property
    def detail_text(self) -> str:
        """The technical detail (also the client's text held inside an old attempt's sentence)."""
        known = self.legacy
        return self.detail or (known.detail if known is not None else "")


class TransmissionExchange(models.Model):
    """One request sent to DIAN and its raw answer (the certificate is in it, never the key)."""

    attempt = models.ForeignKey(
        TransmissionAttempt, on_delete=models.CASCADE, related_name="exchanges"
    )
    operation = models.CharField(_("operation"), max_length=40)
    url = models.CharField(_("URL"), max_length=300)
    request = models.BinaryField(default=b"")
    response = models.BinaryField(default=b"")
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"))

    class Meta:
        ordering = ["sent_at", "id"]
        verbose_name = _("DIAN exchange")
        verbose_name_plural = _("DIAN exchanges")

    def __str__(self) -> str:
        return f"{self.operation} {self.http_status or '-'}"


class Note(Invoice):
    """Credit and debit notes in the back office (the same rows as invoices, another list)."""

    class Meta:
        proxy = True
        verbose_name = _("credit or debit note")
        verbose_name_plural = _("credit and debit notes")
        ordering = ["-issued_at", "-id"]


# The habilitación test-set runs live in their own module; Django finds models here.
from clientarea.einvoice.habilitacion_models import (  # noqa: E402
    TestSetDocument,
    TestSetRun,
)

__all__ = [
    "DELIVERABLE_STATUSES",
    "DocumentKind",
    "Environment",
    "Invoice",
    "InvoiceStatus",
    "Note",
    "NoteNumbering",
    "NumberingResolution",
    "TestSetDocument",
    "TestSetRun",
    "TransmissionAttempt",
    "TransmissionExchange",
]
