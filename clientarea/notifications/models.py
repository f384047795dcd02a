"""The email log: every outgoing email, written in the same transaction as its cause (outbox)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EmailStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class OutgoingEmail(models.Model):
    customer = models.ForeignKey(
        "accounts.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="emails",
        verbose_name=_("customer"),
    )
    to_email = models.EmailField(_("recipient"))
    subject = models.CharField(_("subject"), max_length=300)
    template = models.CharField(_("template"), max_length=100, db_index=True)
    language = models.CharField(_("language"), max_length=5)
    body_text = models.TextField(_("text body"))
    body_html = models.TextField(_("HTML body"), blank=True)
    # True when the stored subject and bodies show "••••" in place of a one-time secret
    # (access code, login link); the copy to deliver is then sealed in secret_payload until
    # it is sent, and wiped after (see notifications.rendering).
    redacted = models.BooleanField(_("secret redacted"), default=False)
    secret_payload = models.TextField(blank=True, default="", editable=False)
    # Set on an email recorded without its text (``queue_email(refs=…)``): the ids of the objects
    # it describes, from which the worker renders it when it delivers it (the subject and bodies
    # are empty until then); null once rendered (see notifications.deferred).
    render_refs = models.JSONField(_("rendered from"), null=True, blank=True, default=None)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=EmailStatus.choices,
        default=EmailStatus.QUEUED,
        db_index=True,
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("email")
        verbose_name_plural = _("email log")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to_email}"


class EmailAttachment(models.Model):
    email = models.ForeignKey(OutgoingEmail, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    content = models.BinaryField(_("content"))
    size = models.PositiveIntegerField(_("size"), default=0)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename


class EmailTemplateVersion(models.Model):
    """One saved version of a staff override of an email template, per template and language.

    Every save adds a version; the newest one is in force. A version with ``use_default`` puts
    the template back to the file in the repository (``templates/emails/``), which stays the
    default. Reverting adds a new version copying an old one (``reverted_from``).
    """

    template = models.CharField(_("template"), max_length=100)
    language = models.CharField(_("language"), max_length=5)
    version = models.PositiveIntegerField(_("version"))
    use_default = models.BooleanField(_("back to the default file"), default=False)
    subject = models.CharField(_("subject"), max_length=1000, blank=True)
    body_text = models.TextField(_("text body"), blank=True)
    body_html = models.TextField(_("HTML body"), blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    reverted_from = models.PositiveIntegerField(_("copy of version"), null=True, blank=True)
    created_at = models.DateTimeField(_("saved at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("saved by"),
    )

    class Meta:
        verbose_name = _("email template version")
        verbose_name_plural = _("email template versions")
        ordering = ["template", "language", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "language", "version"], name="unique_email_template_version"
            )
        ]
        permissions = [("edit_email_templates", _("Can edit the email templates"))]

    def __str__(self) -> str:
        return f"{self.template} ({self.language}) v{self.version}"
