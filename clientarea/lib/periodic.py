"""Periodic worker jobs that run once per slot, whatever the number of workers and machines.

Huey's scheduler runs inside every consumer started with periodic tasks on (the default): each
one queues every periodic job when its schedule matches the current minute, and once more when
it starts. With two workers (or two machines) every job would run twice a slot. Jobs declared
with :func:`periodic_task` (instead of ``huey.contrib.djhuey.db_periodic_task``) first claim
their slot: one INSERT of a :class:`~clientarea.lib.models.PeriodicRun` row, unique per job and
slot, committed before the job's work. The first copy wins and runs; every other copy of that
slot finds the row and returns at once. The claim lives in the database, not in Redis, so a
Redis restart cannot lose it, and a job's runs are kept for a week (back office → Periodic job
runs).

The slot is the latest minute at or before now that the schedule matches, so a copy that waited
in the queue past its minute still counts for the slot it was queued for. A job whose process
dies mid-run keeps its slot; the next slot runs it again (every periodic job here is a sweep or
a check that is safe to repeat, and the work it does is claimed row by row with leases).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import IntegrityError, transaction
from django.utils import timezone
from huey.contrib.djhuey import HUEY, db_periodic_task

from clientarea.lib.models import PeriodicRun

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

logger = logging.getLogger(__name__)

Schedule = Callable[[dt.datetime], bool]
F = TypeVar("F", bound=Callable[..., Any])

#: How far back a slot is looked for (the longest schedule here is daily).
LOOK_BACK = dt.timedelta(days=1, minutes=1)
#: Runs older than this are deleted when the same job claims a new slot.
KEEP_RUNS = dt.timedelta(days=7)
#: Every periodic job's name for people (back office → Periodic job runs), by its dotted path.
LABELS: dict[str, StrOrPromise] = {}


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def scheduler_now() -> dt.datetime:
    """Now, as Huey's scheduler reads it when it matches schedules (naive; UTC unless Huey's
    ``utc`` is off)."""
    now = timezone.now()
    if not HUEY.utc:
        now = timezone.localtime(now)
    return now.replace(tzinfo=None, second=0, microsecond=0)


def current_slot(schedule: Schedule, *, now: dt.datetime | None = None) -> dt.datetime:
    """The latest minute at or before ``now`` that ``schedule`` matches (aware), or ``now``'s
    minute if none matched in the last day (a job queued by hand)."""
    start = now if now is not None else scheduler_now()
    moment = start
    while start - moment <= LOOK_BACK:
        if schedule(moment):
            break
        moment -= dt.timedelta(minutes=1)
    else:
        moment = start
    if HUEY.utc:
        return moment.replace(tzinfo=dt.UTC)
    return timezone.make_aware(moment)


def claim_slot(*, task: str, slot: dt.datetime, claimed_by: str) -> PeriodicRun | None:
    """Claim ``task``'s ``slot`` for this worker: the run, or None if another worker has it."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                run = PeriodicRun.objects.create(
                    task=task, slot=slot, claimed_by=claimed_by, started_at=timezone.now()
                )
        except IntegrityError:
            return None
        PeriodicRun.objects.filter(task=task, slot__lt=slot - KEEP_RUNS).delete()
    return run


def finish_run(*, run_id: int, succeeded: bool) -> None:
    with transaction.atomic():
        PeriodicRun.objects.filter(pk=run_id).update(
            finished_at=timezone.now(), succeeded=succeeded
        )


def periodic_task(schedule: Schedule, *, label: StrOrPromise, **options: Any) -> Callable[[F], Any]:
    """``db_periodic_task(schedule)`` whose job runs at most once per slot across all workers.

    ``label`` names the job for staff (lazily translated), in place of its dotted path."""

    def decorator(fn: F) -> Any:
        task = f"{fn.__module__}.{fn.__name__}"
        LABELS[task] = label

        @functools.wraps(fn)
        def once_per_slot(*args: Any, **kwargs: Any) -> Any:
            slot = current_slot(schedule)
            run = claim_slot(task=task, slot=slot, claimed_by=worker_name())
            if run is None:
                logger.info("periodic %s slot %s: already claimed, skipped", task, slot.isoformat())
                return None
            logger.info("periodic %s slot %s: running", task, slot.isoformat())
            try:
                result = fn(*args, **kwargs)
            except BaseException:
                finish_run(run_id=run.pk, succeeded=False)
                raise
            finish_run(run_id=run.pk, succeeded=True)
            return result

        return db_periodic_task(schedule, **options)(once_per_slot)

    return decorator
