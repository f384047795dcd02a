"""Background work the reports services ask for, without importing the task module.

``reports.tasks`` registers its Huey task here when it is imported (``ReportsConfig.ready``);
services call :func:`enqueue_export` from ``transaction.on_commit``. Queueing is best effort:
if it fails, the export row is still queued and the sweep produces it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

#: Set by ``reports.tasks``: produce one export (job id).
_run_export: Callable[[int], object] | None = None


def register(*, run_export: Callable[[int], object]) -> None:
    global _run_export
    _run_export = run_export


def enqueue_export(job_id: int) -> None:
    try:
        if _run_export is None:
            raise RuntimeError("reports tasks are not loaded")
        _run_export(job_id)
    except Exception:
        logger.exception("export %s stored but not queued; the sweep will produce it", job_id)
