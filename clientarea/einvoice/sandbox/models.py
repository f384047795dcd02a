"""What the DIAN simulator knows: software, numbering ranges, test sets, received documents, faults.

Everything here is simulator data (the "DIAN side"), never the product's own invoices.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

# DIAN's habilitación test technical key (dian-einvoice.md §1.2; DIAN's validator uses a fixed
# key for every test-environment invoice, dian-webservice.md §3.2).
DIAN_TEST_TECHNICAL_KEY = "fc8eac422eba16e22ffd8c6f94b3f40a6e38162c"


def _digits(value: str) -> None:
    if value and not value.isdigit():
        raise ValidationError(_("Only digits, without the check digit."))


class SimulatorSettings(models.Model):
    """One row (pk=1): how strict the simulator is."""

    require_certificate_nit = models.BooleanField(
        _("require a NIT in the certificate"),
        default=False,
        help_text=_(
            "Like DIAN: a certificate without a NIT in its subject is refused. Off by default "
            "because the demo's self-signed certificate carries none."
        ),
    )
    clock_skew_seconds = models.PositiveIntegerField(
        _("accepted clock skew (seconds)"), default=300
    )
    max_document_age_days = models.PositiveIntegerField(
        _("oldest accepted issue date (days)"), default=10
    )
    test_technical_key = models.CharField(
        _("habilitación technical key"), max_length=100, default=DIAN_TEST_TECHNICAL_KEY
    )
    batch_seconds = models.PositiveIntegerField(_("seconds a batch stays “in process”"), default=0)
    trusted_fingerprints = models.TextField(
        _("trusted certificate fingerprints"),
        blank=True,
        help_text=_(
            "SHA-256 fingerprints (hex) of the certificates allowed to call the service, one per "
            "line; empty: any certificate whose signature verifies (sandbox mode)."
        ),
    )

    class Meta:
        verbose_name = _("simulator settings")
        verbose_name_plural = _("simulator settings")

    def __str__(self) -> str:
        return str(_("DIAN simulator settings"))


class Software(models.Model):
    """A billing software registered at DIAN (SoftwareID + PIN) and who may use it."""

    software_id = models.CharField(_("software ID"), max_length=64, unique=True)
    pin = models.CharField(_("software PIN"), max_length=20)
    name = models.CharField(_("name"), max_length=200, blank=True)
    provider_nit = models.CharField(_("software provider NIT"), max_length=15, validators=[_digits])
    issuer_nits = models.TextField(
        _("issuer NITs"),
        blank=True,
        help_text=_("Comma-separated NITs allowed to issue with this software; empty: any issuer."),
    )

    class Meta:
        verbose_name = _("software")
        verbose_name_plural = _("software")

    def __str__(self) -> str:
        return self.name or self.software_id


class NumberingRange(models.Model):
    """A numbering resolution DIAN authorized and associated with a software."""

    software = models.ForeignKey(
        Software, on_delete=models.CASCADE, related_name="ranges", verbose_name=_("software")
    )
    issuer_nit = models.CharField(
        _("issuer NIT"), max_length=15, blank=True, validators=[_digits],
        help_text=_("Empty: any issuer of the software."),
    )  # fmt: skip
    resolution_number = models.CharField(_("resolution number"), max_length=40)
    resolution_date = models.DateField(_("resolution date"))
    prefix = models.CharField(_("prefix"), max_length=10, blank=True)
    from_number = models.BigIntegerField(_("from"))
    to_number = models.BigIntegerField(_("to"))
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"))
    technical_key = models.CharField(_("technical key"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("numbering range")
        verbose_name_plural = _("numbering ranges")
        ordering = ["prefix", "from_number"]

    def __str__(self) -> str:
        return f"{self.resolution_number} {self.prefix} {self.from_number}–{self.to_number}"

    def clean(self) -> None:
        if self.from_number > self.to_number:
            raise ValidationError(_("The range ends before it starts."))
        if self.valid_from > self.valid_to:
            raise ValidationError(_("The validity ends before it starts."))


class TestSetStatus(models.TextChoices):
    __test__ = False  # not a pytest class

    IN_PROCESS = "in_process", _("In process")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")


class TestSet(models.Model):
    """A habilitación test set (DIAN's TestSetId) and the counts it requires."""

    __test__ = False  # not a pytest class

    test_set_id = models.UUIDField(_("test set ID"), unique=True, default=uuid.uuid4)
    software = models.ForeignKey(
        Software, on_delete=models.CASCADE, related_name="test_sets", verbose_name=_("software")
    )
    total_documents_required = models.PositiveIntegerField(_("documents in the set"), default=8)
    accepted_required = models.PositiveIntegerField(_("accepted documents required"), default=4)
    invoices_required = models.PositiveIntegerField(_("accepted invoices required"), default=2)
    credit_notes_required = models.PositiveIntegerField(
        _("accepted credit notes required"), default=1
    )
    debit_notes_required = models.PositiveIntegerField(
        _("accepted debit notes required"), default=1
    )
    status = models.CharField(
        _("status"), max_length=12, choices=TestSetStatus.choices, default=TestSetStatus.IN_PROCESS
    )

    class Meta:
        verbose_name = _("test set")
        verbose_name_plural = _("test sets")

    def __str__(self) -> str:
        return str(self.test_set_id)


class Batch(models.Model):
    """A ZIP received by an asynchronous operation; its ZipKey is the track id of GetStatusZip."""

    zip_key = models.UUIDField(_("ZipKey"), unique=True, default=uuid.uuid4)
    test_set = models.ForeignKey(
        TestSet, null=True, blank=True, on_delete=models.CASCADE, related_name="batches",
        verbose_name=_("test set"),
    )  # fmt: skip
    file_name = models.CharField(_("file name"), max_length=200, blank=True)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    ready_at = models.DateTimeField(_("results from"))
    refusal = models.TextField(_("refusal"), blank=True)

    class Meta:
        verbose_name = _("batch")
        verbose_name_plural = _("batches")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return str(self.zip_key)


class DocumentKind(models.TextChoices):
    INVOICE = "01", _("Invoice")
    CREDIT_NOTE = "91", _("Credit note")
    DEBIT_NOTE = "92", _("Debit note")


class ReceivedDocument(models.Model):
    """One XML the simulator validated, with the answer it gave (for GetStatus and duplicates)."""

    document_key = models.CharField(_("CUFE/CUDE"), max_length=96, db_index=True)
    kind = models.CharField(_("type"), max_length=2, choices=DocumentKind.choices)
    # InvoiceTypeCode / CreditNoteTypeCode as sent ("92" for debit notes): test sets count
    # invoices 1/01/02/03, credit notes 7/91, debit notes 8/92 (dian-webservice.md §3).
    type_code = models.CharField(_("type code"), max_length=4, blank=True, default="")
    issuer_nit = models.CharField(_("issuer NIT"), max_length=15)
    number = models.CharField(_("number"), max_length=40)
    # SHA-256(issuer NIT + type + number), set only while the document is accepted (rule 90).
    duplicate_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    batch = models.ForeignKey(
        Batch, null=True, blank=True, on_delete=models.CASCADE, related_name="documents",
        verbose_name=_("batch"),
    )  # fmt: skip
    xml_file_name = models.CharField(_("XML file name"), max_length=200, blank=True)
    is_valid = models.BooleanField(_("valid"))
    status_code = models.CharField(_("status code"), max_length=4)
    status_description = models.CharField(_("status description"), max_length=200)
    status_message = models.TextField(_("status message"), blank=True)
    errors = models.JSONField(_("messages"), default=list, blank=True)
    application_response = models.BinaryField(_("ApplicationResponse"), blank=True, default=b"")
    xml = models.BinaryField(_("document XML"), blank=True, default=b"")
    # PayableAmount (LegalMonetaryTotal, or RequestedMonetaryTotal for debit notes), and for a
    # note the CUFE of the one invoice it references: what remains of an invoice after its notes.
    payable_amount = models.DecimalField(
        _("payable amount"), max_digits=19, decimal_places=2, null=True, blank=True
    )
    referenced_key = models.CharField(
        _("referenced CUFE"), max_length=96, blank=True, default="", db_index=True
    )
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    class Meta:
        verbose_name = _("received document")
        verbose_name_plural = _("received documents")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.number} ({self.status_code})"


class FaultKind(models.TextChoices):
    SLOW = "slow", _("Slow answer (N seconds, then the normal answer)")
    TIMEOUT = "timeout", _("Timeout (hold the connection N seconds, then drop the answer)")
    HTTP_500 = "http_500", _("HTTP 500 without a SOAP body")
    HTTP_503 = "http_503", _("HTTP 503 Service Unavailable")
    GARBAGE = "garbage", _("Garbage body (HTTP 200)")
    REJECT_NEXT = "reject_next", _("Reject the next document with a rule code")
    NOTIFY_NEXT = "notify_next", _("Accept the next document with a notification")
    IN_PROCESS = "in_process", _("Answer “En Proceso” (98) to the next status query")


class Fault(models.Model):
    """A fault the simulator injects into its next answers (tests and demos)."""

    kind = models.CharField(_("fault"), max_length=12, choices=FaultKind.choices)
    seconds = models.PositiveIntegerField(_("seconds"), default=0)
    rule_code = models.CharField(_("rule code"), max_length=20, blank=True)
    rule_text = models.CharField(_("rule text"), max_length=300, blank=True)
    remaining = models.PositiveIntegerField(
        _("remaining uses"), default=1, help_text=_("0: until removed.")
    )
    used = models.PositiveIntegerField(_("times used"), default=0)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("fault switch")
        verbose_name_plural = _("fault switches")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.get_kind_display()


class SigningIdentity(models.Model):
    """The simulator's own "DIAN" key and certificate, generated once (signs ApplicationResponses)."""

    name = models.CharField(max_length=20, unique=True)
    key_pem = models.BinaryField()
    cert_pem = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("simulator certificate")
        verbose_name_plural = _("simulator certificates")

    def __str__(self) -> str:
        return self.name


class ConfigStamp(models.Model):
    """One row (pk=1): a random token the database itself replaces (triggers, migration 0004)
    whenever a statement writes the settings, software, numbering ranges, the simulator's
    certificate or the fault switches, however it writes them (services, admin, shell, tests).

    The simulator keeps what it read of those tables per process under this token
    (``selectors.known``): one read of this row per request says whether it is still current.
    """

    stamp = models.CharField(max_length=32)

    def __str__(self) -> str:
        return self.stamp
