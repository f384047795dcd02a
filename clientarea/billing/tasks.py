"""Worker tasks of the billing run.

Schedule. ``scheduled_billing_run_task`` runs every hour at minute 7 and starts
today's run once the Colombian hour reaches ``settings.BILLING_RUN_HOUR``,
unless today already has a finished run (see ``automation.run_scheduled``).
A fixed ``crontab(hour=settings.BILLING_RUN_HOUR)`` would need the setting at
import time and would never retry a failed or missed run. This way the hour is
read when the task runs, a worker that was down at 06:00 catches up at the
next hour, and a failed run is retried hourly.
"""

from __future__ import annotations

import datetime as dt

from huey import crontab
from huey.contrib.djhuey import db_task

from clientarea.billing import automation
from clientarea.billing.jobs import deliver_run_emails_task
from clientarea.lib.periodic import periodic_task

__all__ = ["billing_run_task", "deliver_run_emails_task", "scheduled_billing_run_task"]


@periodic_task(crontab(minute="7"))
def scheduled_billing_run_task() -> int | None:
    run = automation.run_scheduled()
    return run.pk if run else None


@db_task()
def billing_run_task(
    run_date: str | None = None, dry_run: bool = False, triggered_by: str = "worker"
) -> int:
    """A billing run on request (the back office's "Run billing now")."""
    day = dt.date.fromisoformat(run_date) if run_date else None
    return automation.run_billing(run_date=day, dry_run=dry_run, triggered_by=triggered_by).pk
