"""The one model of the library: the claim that makes a periodic job run once per slot."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from clientarea.lib.dates import short_datetime


class PeriodicRun(models.Model):
    """One run of a periodic worker job for one slot of its schedule.

    Every worker process with the scheduler on queues every periodic job when its schedule
    matches; the first copy to insert this row for ``(task, slot)`` runs the job, the others see
    the unique constraint and skip it (``clientarea.lib.periodic``).
    """

    task = models.CharField(_("task"), max_length=200)
    slot = models.DateTimeField(_("slot"), help_text=_("The scheduled time this run stands for."))
    claimed_by = models.CharField(_("worker"), max_length=200)
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    succeeded = models.BooleanField(_("succeeded"), null=True)

    class Meta:
        verbose_name = _("periodic job run")
        verbose_name_plural = _("periodic job runs")
        ordering = ["-slot", "task"]
        constraints = [
            models.UniqueConstraint(fields=["task", "slot"], name="periodic_run_once_per_slot")
        ]

    def __str__(self) -> str:
        return f"{self.task} @ {short_datetime(self.slot)}"
