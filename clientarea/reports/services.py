"""Exports in the worker: request (durable row + after-commit job), run with progress, sweep."""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation

from clientarea.accounts import audit
from clientarea.reports import exports, jobs
from clientarea.reports.models import ExportJob, ExportStatus

log = logging.getLogger(__name__)


def export_dir() -> Path:
    return Path(settings.REPORTS_EXPORT_DIR)


def request_export(
    *, kind: str, filters: exports.Filters, actor, ip: str | None = None
) -> ExportJob:
    """Write the export job and its audit event; the worker produces the file after commit."""
    with transaction.atomic():
        job = ExportJob.objects.create(
            kind=kind,
            # The language of whoever asked: the worker writes the file in it.
            params={**filters.as_json(), "language": translation.get_language() or ""},
            requested_by=actor,
            status=ExportStatus.QUEUED,
        )
        audit.record(
            action="report_export_requested",
            actor=actor,
            target=str(job),
            changes={"kind": kind, **filters.as_json()},
            ip=ip,
        )
        job_id = job.pk
        transaction.on_commit(lambda: jobs.enqueue_export(job_id))
    return job


def _claim(job_id: int) -> bool:
    """Take the job with one conditional UPDATE: queued, or running under an expired lease."""
    now = timezone.now()
    claimable = Q(status=ExportStatus.QUEUED) | Q(status=ExportStatus.RUNNING, lease_until__lt=now)
    return bool(
        ExportJob.objects.filter(claimable, pk=job_id).update(
            status=ExportStatus.RUNNING,
            started_at=now,
            rows_done=0,
            lease_until=now + dt.timedelta(seconds=settings.WORKER_LEASE_SECONDS),
        )
    )


def run_export(*, job_id: int) -> bool:
    """Produce the XLSX file of one job, reporting progress; False if another worker has it."""
    if not _claim(job_id):
        return False
    job = ExportJob.objects.get(pk=job_id)
    filters = exports.Filters.from_json(job.params)
    lease = dt.timedelta(seconds=settings.WORKER_LEASE_SECONDS)

    def progress(done: int) -> None:
        ExportJob.objects.filter(pk=job_id, status=ExportStatus.RUNNING).update(
            rows_done=done, lease_until=timezone.now() + lease
        )

    folder = export_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{exports.file_stem(job.kind, filters)}-{job.pk}.xlsx"
    try:
        total = exports.REPORTS[job.kind].count(filters)
        ExportJob.objects.filter(pk=job_id).update(rows_total=total)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
        try:
            language = str(job.params.get("language") or settings.LANGUAGE_CODE)
            with os.fdopen(fd, "wb") as out, translation.override(language):
                written = exports.write_xlsx(job.kind, filters, out, progress=progress)
            os.replace(tmp, folder / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except Exception as exc:
        log.exception("Export %s failed", job_id)
        ExportJob.objects.filter(pk=job_id).update(
            status=ExportStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
            lease_until=None,
        )
        return True
    ExportJob.objects.filter(pk=job_id).update(
        status=ExportStatus.DONE,
        rows_done=written,
        rows_total=written,
        file_name=name,
        finished_at=timezone.now(),
        lease_until=None,
    )
    return True


def export_path(job: ExportJob) -> Path | None:
    """The finished file of ``job``, or None if it is not ready (or was removed)."""
    if job.status != ExportStatus.DONE or not job.file_name:
        return None
    path = export_dir() / Path(job.file_name).name
    return path if path.is_file() else None


def sweep_exports(*, older_than_seconds: int = 60) -> int:
    """Run the jobs whose after-commit enqueue was lost, or whose worker died (expired lease)."""
    now = timezone.now()
    lost = ExportJob.objects.filter(
        Q(status=ExportStatus.QUEUED, created_at__lt=now - dt.timedelta(seconds=older_than_seconds))
        | Q(status=ExportStatus.RUNNING, lease_until__lt=now)
    ).values_list("pk", flat=True)
    count = 0
    for job_id in list(lost):
        if run_export(job_id=job_id):
            count += 1
    return count
