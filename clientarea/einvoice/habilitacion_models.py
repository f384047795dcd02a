"""Runs of DIAN's habilitación test set: the documents sent with ``SendTestSetAsync`` and DIAN's answers.

Imported by ``einvoice.models`` (Django finds models there). The services are in
``einvoice.habilitacion``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TestSetRunStatus(models.TextChoices):
    __test__ = False  # not a pytest class

    RUNNING = "running", _("In progress")
    ACCEPTED = "accepted", _("All documents accepted")
    REJECTED = "rejected", _("Rejected by DIAN")
    FAILED = "failed", _("Could not be sent")


class TestDocumentKind(models.TextChoices):
    __test__ = False

    INVOICE = "invoice", _("Invoice")
    CREDIT_NOTE = "credit_note", _("Credit note")
    DEBIT_NOTE = "debit_note", _("Debit note")


class TestDocumentStatus(models.TextChoices):
    __test__ = False

    TO_SEND = "to_send", _("To be sent")
    SENT = "sent", _("Sent, DIAN validating")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    FAILED = "failed", _("Could not be sent")


#: A document in these states needs no more work.
FINAL_DOCUMENT_STATUSES = (
    TestDocumentStatus.ACCEPTED,
    TestDocumentStatus.REJECTED,
    TestDocumentStatus.FAILED,
)


class TestSetRun(models.Model):
    """One attempt at DIAN's habilitación test set (DIAN's TestSetId)."""

    __test__ = False

    test_set_id = models.CharField(_("test set ID"), max_length=36, db_index=True)
    status = models.CharField(
        _("outcome"),
        max_length=10,
        choices=TestSetRunStatus.choices,
        default=TestSetRunStatus.RUNNING,
        db_index=True,
    )
    url = models.CharField(_("DIAN endpoint"), max_length=300)
    resolution = models.ForeignKey(
        "einvoice.NumberingResolution",
        on_delete=models.PROTECT,
        related_name="test_set_runs",
        verbose_name=_("test numbering"),
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("started by"),
    )
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    message = models.TextField(_("outcome in words"), blank=True)

    class Meta:
        verbose_name = _("habilitación test set run")
        verbose_name_plural = _("habilitación test set runs")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.test_set_id} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status != TestSetRunStatus.RUNNING


class TestSetDocument(models.Model):
    """One document of a run: built on the test numbering, uploaded, then polled by its ZipKey."""

    __test__ = False

    run = models.ForeignKey(TestSetRun, on_delete=models.CASCADE, related_name="documents")
    position = models.PositiveSmallIntegerField(_("#"))
    kind = models.CharField(_("kind"), max_length=12, choices=TestDocumentKind.choices)
    full_number = models.CharField(_("number"), max_length=30)
    #: What the document says (seller, test buyer, lines, totals), to build and sign it.
    document = models.JSONField(_("document snapshot"), default=dict)
    document_key = models.CharField(_("CUFE / CUDE"), max_length=96, blank=True)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=TestDocumentStatus.choices,
        default=TestDocumentStatus.TO_SEND,
    )
    zip_key = models.CharField(_("ZipKey"), max_length=64, blank=True)
    status_code = models.CharField(_("DIAN status code"), max_length=10, blank=True)
    status_description = models.TextField(_("DIAN's answer"), blank=True)
    #: DIAN's rule messages as written: [{"rule": "FAD06", "kind": "rejection", "text": "…"}].
    rule_messages = models.JSONField(_("DIAN rule messages"), default=list, blank=True)
    tries = models.PositiveSmallIntegerField(_("uploads tried"), default=0)
    polls = models.PositiveSmallIntegerField(_("status queries"), default=0)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    #: When the worker should next upload (to_send) or ask GetStatusZip (sent).
    next_try_at = models.DateTimeField(_("next try"), default=timezone.now)
    #: A worker's claim (set by one conditional UPDATE); expired, the sweep takes it over.
    lease_until = models.DateTimeField(_("worker lease until"), null=True, blank=True)
    request = models.BinaryField(_("upload request"), default=b"", blank=True)
    response = models.BinaryField(_("DIAN's last answer"), default=b"", blank=True)

    class Meta:
        verbose_name = _("test set document")
        verbose_name_plural = _("test set documents")
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="test_set_document_position"),
        ]

    def __str__(self) -> str:
        return f"{self.full_number} {self.get_status_display()}"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_DOCUMENT_STATUSES
