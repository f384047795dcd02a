"""The billing run's chunks: customer-id ranges that any number of workers process in parallel.

A run (``BillingRun``) is planned once: the customers are cut, by primary key, into ranges of
``chunk_size`` customers (``BillingRunChunk`` rows, written in the planning transaction). Then
any process (the CLI, or Huey workers, each with several threads) takes chunks one at a time:

* **Claim.** One conditional UPDATE takes a chunk that is waiting, or running under an expired
  lease (its worker died), sets ``lease_until`` (now + ``WORKER_LEASE_SECONDS``) and bumps
  ``attempts``, the claim's token: the holder's later writes are conditional on it, so a worker
  that lost its lease (it stalled past it and someone took over) notices and stops.
* **Progress and resume.** After each committed batch of renewals the holder writes the chunk's
  ``cursor`` (last customer id done) and counts, renewing the lease. A chunk taken over resumes
  after the cursor. The renewals are exactly once anyway: the unique ``OrderItem.period_key``
  and the "already billed" filter make a re-processed customer a no-op.
* **Finish.** The worker that finishes the last chunk adds up the chunks' counts and errors
  into the run (a conditional UPDATE on ``status=running``, so it happens once) and marks it
  done. ``resume_runs`` (a minute sweep) queues the chunks of runs whose jobs were lost and
  finishes runs whose finisher died.

Nothing here decides what a chunk *does* (that is ``billing.automation``); this module only keeps
the chunks' state.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from clientarea.accounts.models import Customer
from clientarea.billing.models import BillingRun, BillingRunChunk, BillingRunStatus, ChunkStatus

CHUNK_SIZE = 2000
MAX_ERRORS_KEPT = 1000


def lease() -> dt.timedelta:
    return dt.timedelta(seconds=settings.WORKER_LEASE_SECONDS)


def plan_chunks(*, run: BillingRun, chunk_size: int = CHUNK_SIZE) -> int:
    """Cut the customers into ranges of ``chunk_size`` ids (keyset walk over the primary key
    index: one small query per chunk, no OFFSET over the table). Returns the number of chunks.

    The last range has no upper bound, so a customer created during the run is covered too.
    """
    chunk_size = max(1, chunk_size)
    ids = Customer.objects.order_by("pk").values_list("pk", flat=True)
    rows: list[BillingRunChunk] = []
    after = 0
    while True:
        boundary = list(ids.filter(pk__gt=after)[chunk_size - 1 : chunk_size])
        if not boundary:
            remaining = ids.filter(pk__gt=after).count()
            rows.append(
                BillingRunChunk(
                    run=run, position=len(rows), after_id=after, last_id=None, customers=remaining
                )
            )
            break
        rows.append(
            BillingRunChunk(
                run=run,
                position=len(rows),
                after_id=after,
                last_id=boundary[0],
                customers=chunk_size,
            )
        )
        after = boundary[0]
    BillingRunChunk.objects.bulk_create(rows)
    return len(rows)


@dataclass
class Claim:
    """A chunk held by this worker: ``token`` is the ``attempts`` value its claim set."""

    chunk: BillingRunChunk
    token: int


def _claimable(now: dt.datetime) -> Q:
    return Q(status=ChunkStatus.PENDING) | Q(status=ChunkStatus.RUNNING, lease_until__lt=now)


def claim_chunk(*, run_id: int, worker: str) -> Claim | None:
    """Take the first claimable chunk of a running run (one conditional UPDATE), or None."""
    while True:
        now = timezone.now()
        candidate = (
            BillingRunChunk.objects.filter(
                _claimable(now), run_id=run_id, run__status=BillingRunStatus.RUNNING
            )
            .order_by("position")
            .values_list("pk", "attempts")
            .first()
        )
        if candidate is None:
            return None
        pk, attempts = candidate
        taken = BillingRunChunk.objects.filter(_claimable(now), pk=pk, attempts=attempts).update(
            status=ChunkStatus.RUNNING,
            attempts=attempts + 1,
            claimed_by=worker[:80],
            lease_until=now + lease(),
            started_at=now,
        )
        if taken:
            return Claim(chunk=BillingRunChunk.objects.get(pk=pk), token=attempts + 1)
        # another worker took it between the read and the update: look again


def _mine(claim: Claim):
    return BillingRunChunk.objects.filter(
        pk=claim.chunk.pk, attempts=claim.token, status=ChunkStatus.RUNNING
    )


def record_progress(
    *, claim: Claim, counts: Mapping[str, int], errors: list[dict], **fields
) -> bool:
    """The chunk's counts, errors and ``fields`` (cursor, dunning_done) so far, and a renewed
    lease. False if the chunk is no longer ours (the caller stops)."""
    return bool(
        _mine(claim).update(
            counts=dict(counts),
            errors=errors[:MAX_ERRORS_KEPT],
            lease_until=timezone.now() + lease(),
            **fields,
        )
    )


def finish_chunk(
    *, claim: Claim, counts: Mapping[str, int], errors: list[dict], failed: bool = False
) -> bool:
    return bool(
        _mine(claim).update(
            status=ChunkStatus.FAILED if failed else ChunkStatus.DONE,
            counts=dict(counts),
            errors=errors[:MAX_ERRORS_KEPT],
            lease_until=None,
            finished_at=timezone.now(),
        )
    )


@dataclass(frozen=True)
class Progress:
    chunks: int
    done: int
    running: int
    failed: int
    customers: int
    customers_done: int

    @property
    def share(self) -> float:
        return self.done / self.chunks if self.chunks else 1.0


def progress(run_id: int) -> Progress:
    """How far a run is (two aggregate queries over its chunks)."""
    by_status: dict[str, int] = dict(
        BillingRunChunk.objects.filter(run_id=run_id)
        .order_by()
        .values("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    customers = BillingRunChunk.objects.filter(run_id=run_id).aggregate(
        all=Sum("customers"), done=Sum("customers", filter=Q(status=ChunkStatus.DONE))
    )
    return Progress(
        chunks=sum(by_status.values()),
        done=by_status.get(ChunkStatus.DONE, 0) + by_status.get(ChunkStatus.FAILED, 0),
        running=by_status.get(ChunkStatus.RUNNING, 0),
        failed=by_status.get(ChunkStatus.FAILED, 0),
        customers=customers["all"] or 0,
        customers_done=customers["done"] or 0,
    )


def chunk_totals(run_id: int) -> tuple[Counter, list[dict]]:
    """The counts and errors of a run's chunks so far, added up (in chunk order)."""
    counts: Counter = Counter()
    errors: list[dict] = []
    for chunk_counts, chunk_errors in (
        BillingRunChunk.objects.filter(run_id=run_id)
        .order_by("position")
        .values_list("counts", "errors")
    ):
        counts.update(chunk_counts or {})
        errors.extend(chunk_errors or [])
    return counts, errors[:MAX_ERRORS_KEPT]


def finish_run_if_done(*, run_id: int, keys) -> BillingRun | None:
    """Once every chunk is done (or failed), write the run's totals and final status, once.

    Returns the run if this call finished it, else None. ``keys``: the count keys, in order.
    """
    with transaction.atomic():
        if BillingRunChunk.objects.filter(
            run_id=run_id, status__in=[ChunkStatus.PENDING, ChunkStatus.RUNNING]
        ).exists():
            return None
        run = BillingRun.objects.get(pk=run_id)
        if run.status != BillingRunStatus.RUNNING:
            return None
        counts, errors = chunk_totals(run_id)
        counts.update(run.counts or {})  # the run's own work (cancellations done at planning)
        failed = BillingRunChunk.objects.filter(run_id=run_id, status=ChunkStatus.FAILED).exists()
        status = (
            BillingRunStatus.FAILED
            if failed
            else BillingRunStatus.DONE_WITH_ERRORS
            if counts.get("errors")
            else BillingRunStatus.DONE
        )
        finished = BillingRun.objects.filter(pk=run_id, status=BillingRunStatus.RUNNING).update(
            status=status,
            counts={key: int(counts.get(key, 0)) for key in keys},
            errors=(list(run.errors or []) + errors)[:MAX_ERRORS_KEPT],
            finished_at=timezone.now(),
        )
        if not finished:
            return None
    return BillingRun.objects.get(pk=run_id)


def next_lease_expiry(run_id: int) -> dt.datetime | None:
    """When the first chunk held by another worker becomes claimable again (None: none held)."""
    return (
        BillingRunChunk.objects.filter(run_id=run_id, status=ChunkStatus.RUNNING)
        .order_by("lease_until")
        .values_list("lease_until", flat=True)
        .first()
    )


def runs_to_resume(*, now: dt.datetime | None = None) -> list[int]:
    """Running runs with a chunk waiting or under an expired lease, or with every chunk ended
    (their finisher died): the sweep's work."""
    now = now or timezone.now()
    running = BillingRun.objects.filter(status=BillingRunStatus.RUNNING)
    claimable = BillingRunChunk.objects.filter(
        _claimable(now), run__in=running, run__started_at__lt=now - dt.timedelta(seconds=30)
    ).values_list("run_id", flat=True)
    open_runs = BillingRunChunk.objects.filter(
        run__in=running, status__in=[ChunkStatus.PENDING, ChunkStatus.RUNNING]
    ).values_list("run_id", flat=True)
    ended = (
        running.filter(chunks__isnull=False)
        .exclude(pk__in=open_runs)
        .values_list("pk", flat=True)
        .distinct()
    )
    return sorted(set(claimable) | set(ended))
