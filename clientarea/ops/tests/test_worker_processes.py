"""`clientarea worker` with Huey's process worker type (``WORKER_TYPE=process``, issue 18).

A real consumer (``run_huey``) in a subprocess, on a SQLite database and Huey's SQLite queue in a
temporary folder, with two forked worker processes:

- every queued job runs once, in a forked process, and no forked process uses the connection the
  parent had open when it forked (it holds a TEMP table only that connection sees);
- SIGINT (Ctrl-C) stops the consumer and its processes, exit status 0;
- killed with SIGKILL, the consumer leaves no process behind: its worker processes and its
  scheduler (once it has queued a job: here a delayed one) exit on their own.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

CONSUMER = """
import os, sys, time
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from huey.contrib.djhuey import db_task


@db_task(name="record")
def record(n):
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_temp_master WHERE name = 'parent_only'")
        inherited = cursor.fetchone()[0]
        cursor.execute("INSERT INTO ran (n, pid, inherited) VALUES (%s, %s, %s)",
                       [n, os.getpid(), inherited])
    if n == 0:  # due in 3 s: a worker puts it in the schedule, the scheduler process queues it
        record.schedule(args=(-1,), delay=3)
    time.sleep(0.1)


with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE IF NOT EXISTS ran (n integer, pid integer, inherited integer)")
    cursor.execute("CREATE TEMP TABLE parent_only (x integer)")  # this connection's own
for n in range(int(sys.argv[1])):
    record(n)
# Forks with the connection above still open; no periodic jobs (they need migrated tables).
call_command("run_huey", "--no-periodic")
"""


def environment(folder: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "HUEY_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="clientarea.settings",
        PYTHONPATH=os.pathsep.join([str(ROOT), *sys.path]),
        VAR_DIR=str(folder),
        DEBUG="1",
        SECRET_KEY="worker-processes-test",
        DATABASE_URL=f"sqlite:///{folder / 'clientarea.sqlite3'}",
        HUEY_IMMEDIATE="0",
        LOG_LEVEL="WARNING",
        WORKER_TYPE="process",
        WORKER_THREADS="2",
    )
    return env


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    """Running (an exited process nobody has waited for yet, a zombie, is not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def rows(folder: Path) -> list[tuple[int, int, int]]:
    try:
        with sqlite3.connect(folder / "clientarea.sqlite3", timeout=20) as conn:
            return conn.execute("SELECT n, pid, inherited FROM ran ORDER BY n").fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []


def wait(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.fixture
def consumer(tmp_path):
    script = tmp_path / "consumer.py"
    script.write_text(CONSUMER)
    env = environment(tmp_path)
    started: list[subprocess.Popen] = []
    forked: list[int] = []

    def start(jobs: int) -> subprocess.Popen:
        log = open(tmp_path / "consumer.log", "ab")  # noqa: SIM115 (for the process's lifetime)
        proc = subprocess.Popen(
            [sys.executable, str(script), str(jobs)], env=env, stdout=log, stderr=log
        )
        started.append(proc)
        assert wait(lambda: len(children(proc.pid)) == 3, 15), log_text()
        forked.extend(children(proc.pid))  # two worker processes and the scheduler
        return proc

    def log_text() -> str:
        return (tmp_path / "consumer.log").read_text(errors="replace")[-3000:]

    start.forked = forked  # type: ignore[attr-defined]
    start.log = log_text  # type: ignore[attr-defined]
    try:
        yield start
    finally:
        for proc in started:
            if proc.poll() is None:
                forked.extend(children(proc.pid))
                proc.kill()
                proc.wait(timeout=10)
        for pid in forked:  # what a failed test left behind
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_forked_workers_run_each_job_once_on_their_own_connection_and_stop_on_ctrl_c(
    consumer, tmp_path
):
    proc = consumer(8)
    assert wait(lambda: len(rows(tmp_path)) >= 9, 15), consumer.log()
    ran = rows(tmp_path)
    assert [n for n, _pid, _inherited in ran] == list(range(-1, 8)), "a job ran twice or never"
    assert {pid for _n, pid, _inherited in ran} <= set(consumer.forked) - {proc.pid}
    assert not any(inherited for _n, _pid, inherited in ran), (
        "a forked process used the parent's database connection"
    )

    proc.send_signal(signal.SIGINT)  # Ctrl-C
    assert proc.wait(timeout=15) == 0, consumer.log()
    assert wait(lambda: not any(alive(pid) for pid in consumer.forked), 5)
    assert "Traceback" not in consumer.log()


def test_a_killed_consumer_leaves_no_process_behind(consumer, tmp_path):
    proc = consumer(2)
    # The delayed job ran: the scheduler process has queued a job, and so watches its parent.
    assert wait(lambda: len(rows(tmp_path)) >= 3, 15), consumer.log()
    proc.kill()
    proc.wait(timeout=10)
    assert wait(lambda: not any(alive(pid) for pid in consumer.forked), 10), [
        pid for pid in consumer.forked if alive(pid)
    ]
