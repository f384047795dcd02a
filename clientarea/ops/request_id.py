"""The request id: one value per web request, in every log line it causes, also in the worker.

The web side takes a sane ``X-Request-ID`` from the proxy (or makes one) in
``middleware.RequestIdMiddleware``. A job queued while a request id is set carries it in its Huey
task id (``<request id>~<uuid>``): the worker's pre-execute hook reads it back, so the job's log
lines, and the jobs it queues in turn, carry the id of the request that started the chain. A job
queued with no request id (the scheduler, a command) logs under its own task id.
"""

from __future__ import annotations

import re
import threading
import uuid
import weakref
from contextvars import ContextVar

HEADER = "X-Request-ID"
# Letters, digits and . _ : - only (it goes into log lines and task ids), and not too long.
SANE = re.compile(r"[A-Za-z0-9._:-]{1,100}")
# Separates the request id from Huey's own id in a task id; never part of a sane request id.
TASK_ID_SEPARATOR = "~"

current: ContextVar[str | None] = ContextVar("clientarea_request_id", default=None)


def new_id() -> str:
    return uuid.uuid4().hex


def accept_or_make(value: str | None) -> str:
    """The caller's id when it is sane, otherwise a fresh one."""
    if value and SANE.fullmatch(value):
        return value
    return new_id()


def get() -> str | None:
    return current.get()


def task_request_id(task_id: str) -> str:
    """The request id a job runs under: the one its task id carries, else the task id itself."""
    prefix, separator, _ = task_id.partition(TASK_ID_SEPARATOR)
    return prefix if separator and SANE.fullmatch(prefix) else task_id


# --- Huey hooks --------------------------------------------------------------------------------
# The worker runs jobs in threads; each thread keeps the ids it replaced, to put them back after
# the job (in immediate mode a job runs inside the request that queued it).
_stack = threading.local()


def tag_enqueued_task(signal: str, task, *args, **kwargs) -> None:
    """Huey's ``enqueued`` signal, sent before the task is stored: prefix its id with ours."""
    request_id = current.get()
    if request_id and TASK_ID_SEPARATOR not in str(task.id):
        task.id = f"{request_id}{TASK_ID_SEPARATOR}{task.id}"


def enter_task(task) -> None:
    """Huey pre-execute hook: the job's log lines carry its request id."""
    saved = getattr(_stack, "tokens", None)
    if saved is None:
        saved = _stack.tokens = []
    saved.append(current.set(task_request_id(str(task.id))))


def leave_task(task, task_value, exception) -> None:
    """Huey post-execute hook: back to the id in force before the job."""
    saved = getattr(_stack, "tokens", None)
    if saved:
        current.reset(saved.pop())


_connected: weakref.WeakSet = weakref.WeakSet()


def connect_task_queue(huey=None) -> None:
    """Register the hooks on a Huey instance, by default the project's (once per instance; called
    from AppConfig.ready, so in the web processes and in the worker)."""
    from huey.signals import SIGNAL_ENQUEUED

    if huey is None:
        from huey.contrib.djhuey import HUEY

        huey = HUEY
    if huey in _connected:
        return
    _connected.add(huey)
    huey.signal(SIGNAL_ENQUEUED)(tag_enqueued_task)
    huey.pre_execute(name="clientarea_request_id")(enter_task)
    huey.post_execute(name="clientarea_request_id")(leave_task)
