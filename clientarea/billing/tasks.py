"""Worker tasks of the billing run.

Schedule. ``scheduled_billing_run_task`` runs every hour at minute 7 and starts
today's run once the Colombian hour reaches ``settings.BILLING_RUN_HOUR``,
unless today already has a finished run (see ``automation.run_scheduled``).
A fixed ``crontab(hour=settings.BILLING_RUN_HOUR)`` would need the setting at
import time and would never retry a failed or missed run. This way the hour is
read when the task runs, a worker that was down at 06:00 catches up at the
next hour, and a failed run is retried hourly.

Across workers. A real run is planned by one task (``automation.start_run``: the run record
and its customer-range chunks), then ``fan_out`` queues up to ``PARALLEL_JOBS`` copies of
``billing_run_chunks_task``. Each copy claims chunks one at a time until none is left, so
every worker thread that picks one up works on the run in parallel. A copy that finds the
last chunks held by other workers looks again when their lease expires (a worker that died
holding a chunk), and ``resume_billing_runs_task`` (every minute) queues copies for runs whose
jobs were lost, and finishes runs whose finishing worker died.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from huey import crontab
from huey.contrib.djhuey import db_task

from clientarea.accounts import audit
from clientarea.billing import automation, change_notes
from clientarea.billing.jobs import deliver_run_emails_task
from clientarea.billing.models import BillingRun
from clientarea.lib.dates import local_today
from clientarea.lib.periodic import periodic_task

__all__ = [
    "billing_run_chunks_task",
    "billing_run_task",
    "deliver_run_emails_task",
    "plan_change_notes_task",
    "request_billing_run",
    "resume_billing_runs_task",
    "scheduled_billing_run_task",
]

#: Copies of the chunk job queued per run: at most this many worker threads work on one run.
PARALLEL_JOBS = 8


def fan_out(run: BillingRun, *, batch_size: int = automation.BATCH_SIZE) -> None:
    """Queue the jobs that process a planned run's chunks (any worker may take each)."""
    chunks = run.chunks.count()
    for _job in range(max(1, min(chunks, PARALLEL_JOBS))):
        billing_run_chunks_task(run.pk, batch_size)


@periodic_task(crontab(minute="7"), label=_("Start today's billing run"))
def scheduled_billing_run_task() -> int | None:
    run = automation.run_scheduled(fan_out=fan_out)
    return run.pk if run else None


@db_task()
def billing_run_task(
    run_date: str | None = None, dry_run: bool = False, triggered_by: str = "worker"
) -> int:
    """A billing run on request (the back office's "Run billing now"): planned here, its chunks
    processed by every worker. A dry run (nothing is kept) runs here, in one job."""
    day = dt.date.fromisoformat(run_date) if run_date else None
    if dry_run:
        return automation.run_billing(run_date=day, dry_run=True, triggered_by=triggered_by).pk
    run = automation.start_run(run_date=day, triggered_by=triggered_by)
    fan_out(run)
    return run.pk


def request_billing_run(*, dry_run: bool, actor) -> str:
    """Staff start a billing run from the back office ("Run billing now", "Dry run"): who asked,
    and when, is in the audit log (``billing.run_requested``) before the run is queued for the
    workers, which record it with ``triggered_by`` (returned) once they plan it."""
    triggered_by = f"staff:{getattr(actor, 'email', '')}"[:40]
    audit.record(
        action="billing.run_requested",
        actor=actor,
        target=local_today().isoformat(),  # the run's date (a run on request is today's)
        changes={"dry_run": dry_run, "triggered_by": triggered_by},
    )
    billing_run_task(dry_run=dry_run, triggered_by=triggered_by)
    return triggered_by


@db_task()
def billing_run_chunks_task(run_id: int, batch_size: int = automation.BATCH_SIZE) -> int:
    """Process chunks of the run until none is left to claim; look again at the lease's end
    if another worker still holds one. Returns the number of chunks this job processed."""
    result = automation.work_on_run(run_id=run_id, batch_size=batch_size)
    if result.run is None and result.check_again_at is not None:
        eta = max(result.check_again_at, timezone.now()) + dt.timedelta(seconds=1)
        billing_run_chunks_task.schedule(args=(run_id, batch_size), eta=eta)
    return result.chunks_done


@periodic_task(crontab(minute="*"), label=_("Resume interrupted billing runs"))
def resume_billing_runs_task() -> int:
    """Runs left behind (lost jobs, a dead worker's expired lease, a finisher that died)."""
    return len(automation.resume_runs(fan_out=fan_out))


@periodic_task(
    crontab(minute="*/5"),
    label=_("Issue the credit notes of downgrades once DIAN accepts the invoice"),
)
def plan_change_notes_task() -> int:
    """Every 5 minutes: the credit notes of downgrades that waited for DIAN to accept the
    invoice they correct."""
    return change_notes.retry_change_notes()
