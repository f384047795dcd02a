"""The worker's processes under ``WORKER_TYPE=process``: no shared connection, no orphans.

With Huey's process worker type, ``clientarea worker`` forks its worker processes and its scheduler
from one parent (the consumer). Two rules keep that safe:

- A forked process never inherits an open database connection: right before any ``fork()`` the
  forking thread's connections are closed (``os.register_at_fork``), so each process opens its
  own. Huey closes its own queue connection before it forks; Redis clients reconnect after one.
- A forked process does not outlive its parent. Stopped with SIGINT or SIGTERM, the parent
  stops its processes itself; killed (SIGKILL, a crash), it cannot, and the processes it leaves
  would go on taking jobs with no one to stop them. Each worker process checks every second that
  its parent is still the one that forked it and exits if not (what it held is retried by the
  sweeps when its lease expires, as for a killed worker); so does the scheduler process, from the
  first job it queues (within a minute of its start: the periodic jobs).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
import weakref

from django.db import connections

logger = logging.getLogger("clientarea.ops.worker")

#: Seconds between two checks of a worker process's parent.
PARENT_CHECK_SECONDS = 1.0

_connected: weakref.WeakSet = weakref.WeakSet()
_fork_hook = threading.Lock()
_fork_hook_registered = False
_watch_lock = threading.Lock()
_watching = 0  # the pid of the process whose watch runs (a forked copy of this value is stale)


def orphaned() -> bool:
    """Whether this process was forked by multiprocessing and its parent has since gone."""
    parent = multiprocessing.parent_process()
    return parent is not None and os.getppid() != parent.pid


def _watch() -> None:
    while not orphaned():
        time.sleep(PARENT_CHECK_SECONDS)
    logger.warning("worker process %s: its parent is gone, exiting", os.getpid())
    os._exit(1)


def watch_parent() -> None:
    """In a process forked by the worker, exit once the parent is gone (a daemon thread checks
    every second; once per process). Nothing to do in a thread worker or a web process."""
    global _watching
    if multiprocessing.parent_process() is None:
        return
    with _watch_lock:
        if _watching == os.getpid():
            return
        _watching = os.getpid()
    threading.Thread(target=_watch, name="clientarea-parent-watch", daemon=True).start()


def _on_enqueued(signal: str, task) -> None:
    # The scheduler process runs no start-up hook: it starts its watch when it first queues a
    # job (periodic jobs every minute, delayed ones when due). Never exit here: Huey sends this
    # signal before it writes the job to the queue.
    watch_parent()


def _close_connections_before_fork() -> None:
    connections.close_all()


def connect_task_queue(huey=None) -> None:
    """Register the hooks (once per process and per Huey instance; from AppConfig.ready)."""
    global _fork_hook_registered
    from huey.signals import SIGNAL_ENQUEUED

    with _fork_hook:
        if not _fork_hook_registered:
            os.register_at_fork(before=_close_connections_before_fork)
            _fork_hook_registered = True
    if huey is None:
        from huey.contrib.djhuey import HUEY

        huey = HUEY
    if huey in _connected:
        return
    _connected.add(huey)
    huey.on_startup(name="clientarea_watch_parent")(watch_parent)
    huey.signal(SIGNAL_ENQUEUED)(_on_enqueued)
