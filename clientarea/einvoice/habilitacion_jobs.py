"""The worker job that advances one habilitación run right after it starts, then as polls fall due.

``habilitacion.start_test_set`` enqueues it with ``transaction.on_commit``. While DIAN validates,
the job schedules itself again for the next due step; if it is ever lost, the sweep in
``tasks.py`` (every minute) advances the run instead.
"""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from clientarea.einvoice import habilitacion_worker


@db_task()
def advance_test_set_job(run_id: int) -> bool:
    wait = habilitacion_worker.advance_run(run_id=run_id)
    if wait is None:
        return True
    advance_test_set_job.schedule((run_id,), delay=max(1.0, wait.total_seconds()))
    return False
