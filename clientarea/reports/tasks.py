"""Worker tasks of the reports: one export after commit, and the sweep of lost ones."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from huey import crontab
from huey.contrib.djhuey import db_task

from clientarea.lib.periodic import periodic_task
from clientarea.reports import jobs, services


@db_task()
def run_export_task(job_id: int) -> bool:
    return services.run_export(job_id=job_id)


@periodic_task(crontab(minute="*"), label=_("Finish interrupted report exports"))
def sweep_exports_task() -> int:
    """Every minute: exports whose job was lost, or whose worker died (expired lease)."""
    return services.sweep_exports()


jobs.register(run_export=run_export_task)
