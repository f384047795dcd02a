"""Staff notes on a customer, shown on the customer page; pinned ones first."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class StaffNote(models.Model):
    """A note staff leave on a customer ("called on 2 Dec, pays by transfer"): never shown to the customer."""

    customer = models.ForeignKey(
        "accounts.Customer",
        on_delete=models.CASCADE,
        related_name="staff_notes",
        verbose_name=_("customer"),
    )
    text = models.TextField(_("note"), max_length=2000)
    pinned = models.BooleanField(_("pinned"), default=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("author"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("staff note")
        verbose_name_plural = _("staff notes")
        ordering = ["-pinned", "-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "-pinned", "-created_at"])]

    def __str__(self) -> str:
        return self.text[:60]
