"""What the bench scripts share: a throwaway database, the raw baseline of plain writes, and the
figure line they print last.

A script is run as ``python bench/NAME.py``, so this folder is on ``sys.path`` and
``import benchdb`` works from each of them.

Database (:func:`create_database`, :func:`throwaway_database`): with no ``DATABASE_URL``, a
SQLite file in a new temporary directory; with ``DATABASE_URL=postgres://…/NAME``, a fresh
database ``NAME_bench_<pid>`` on that server (the database ``NAME`` itself is never touched).
Either way the temporary directory is the run's ``VAR_DIR``, the bench migrates the database,
and :func:`drop_database` removes both at the end (``--keep`` in the scripts that offer it keeps
them to look at). :func:`environ` is the environment of a bench process or of the servers and
workers it starts: production settings (``DEBUG=0``), this run's database, and, with
``REDIS_URL``, a private Huey queue name on that Redis.

Raw baseline (:func:`five_write_commits`): N transactions of five writes each (update an order,
insert a ledger row, update a service, insert its history row, insert an email row), committed
one by one with the bare driver (``sqlite3`` with the product's pragmas: WAL,
synchronous=NORMAL; or ``psycopg``), the shape of the paid transaction's essential writes
without any framework. :func:`raw_connection` is the same bare driver for other baselines.

Figure line (:func:`emit`): each script prints, as its LAST line, one JSON object that
``bench/run_all.py`` collects into the results table::

    {"bench": "pages", "figure": 123.4, "unit": "requests/s", "baseline": 200.0,
     "ratio": 0.62, "db": "sqlite", "loadavg": [1.2, 1.0, 0.8], "peak_rss_mb": 120.5, ...}

``figure`` is the script's main measurement, ``baseline`` the raw figure it is compared with in
the same run (plain sqlite3/psycopg, or the cheapest page), ``ratio`` = figure / baseline (for
rates; a script measuring times passes baseline / figure), so higher is always better.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Database:
    kind: str  # "sqlite" | "postgresql"
    url: str  # what DATABASE_URL must say for Django
    tmp: str  # a temporary directory (VAR_DIR) for files


def vendor(url: str) -> str:
    return "postgresql" if url.startswith(("postgres://", "postgresql://")) else "sqlite"


def create_database(prefix: str) -> Database:
    """A new database for one bench run (see the module docstring): remove it with drop_database."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    base = os.environ.get("DATABASE_URL", "")
    if vendor(base) == "sqlite":
        return Database("sqlite", f"sqlite:///{tmp}/bench.sqlite3", tmp)
    parts = urlsplit(base)
    name = f"{(parts.path.lstrip('/') or 'clientarea')}_bench_{os.getpid()}"
    url = urlunsplit(parts._replace(path=f"/{name}"))
    _pg_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _pg_admin(url, f'CREATE DATABASE "{name}"')
    return Database("postgresql", url, tmp)


def drop_database(db: Database) -> None:
    """Close this process's Django connections, drop the database and remove its directory."""
    _close_django_connections()
    if db.kind == "postgresql":
        name = urlsplit(db.url).path.lstrip("/")
        _pg_admin(db.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    shutil.rmtree(db.tmp, ignore_errors=True)


@contextlib.contextmanager
def throwaway_database(prefix: str, *, keep: bool = False) -> Iterator[Database]:
    """create_database, then drop_database at the end unless ``keep`` (it says where it is)."""
    db = create_database(prefix)
    try:
        yield db
    finally:
        if keep:
            _close_django_connections()
            print(f"kept {db.tmp} {db.url}", file=sys.stderr)
        else:
            drop_database(db)


def _close_django_connections() -> None:
    if "django.db" not in sys.modules:
        return
    from django.apps import apps

    if apps.ready:  # before django.setup() nothing is open
        from django.db import connections

        connections.close_all()


def _pg_admin(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(
        urlunsplit(urlsplit(url)._replace(path="/postgres")), autocommit=True
    ) as c:
        c.execute(statement)


def flush_redis() -> None:
    """Empty the Redis database of ``REDIS_URL`` (cache and queue), if one is set."""
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        import redis

        redis.Redis.from_url(redis_url).flushdb()


def environ(db: Database) -> dict[str, str]:
    """The environment of a bench process (or the servers it starts): production settings, this
    run's database, this checkout's code; with REDIS_URL, a private queue name."""
    env = {
        "VAR_DIR": db.tmp,
        "DATABASE_URL": db.url,
        "DJANGO_SETTINGS_MODULE": "clientarea.settings",
        "DEBUG": "0",  # no query log, production template settings
        "LOG_LEVEL": "WARNING",  # one INFO line per step would measure the terminal
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-not-a-secret"),
        "PAYMENTS_SANDBOX": "0",
        "DIAN_SANDBOX": "0",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    if os.environ.get("REDIS_URL"):
        env["HUEY_NAME"] = f"ca-bench-{os.getpid()}"
    return env


def setup_django() -> str:
    """Start Django in this process with the environment already set; return the vendor."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    return vendor(os.environ.get("DATABASE_URL", ""))


def raw_connection(url: str):
    """A DB-API connection for a raw baseline: sqlite3 (WAL, synchronous=NORMAL) or psycopg."""
    if vendor(url) == "postgresql":
        import psycopg

        return psycopg.connect(url)
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


SCHEMA = (
    "CREATE TABLE raw_order (id INTEGER PRIMARY KEY, state VARCHAR(10) NOT NULL,"
    " paid_at TIMESTAMP NULL)",
    "CREATE TABLE raw_ledger (id {auto} PRIMARY KEY, order_id INTEGER NOT NULL,"
    " amount NUMERIC(14, 2) NOT NULL, reference VARCHAR(120) NOT NULL, created_at TIMESTAMP NOT NULL)",
    "CREATE TABLE raw_service (id INTEGER PRIMARY KEY, next_due_date DATE NOT NULL)",
    "CREATE TABLE raw_service_event (id {auto} PRIMARY KEY, service_id INTEGER NOT NULL,"
    " kind VARCHAR(20) NOT NULL, new_due_date DATE NOT NULL, created_at TIMESTAMP NOT NULL)",
    "CREATE TABLE raw_email (id {auto} PRIMARY KEY, to_email VARCHAR(254) NOT NULL,"
    " subject VARCHAR(300) NOT NULL, body TEXT NOT NULL, created_at TIMESTAMP NOT NULL)",
)


def five_write_commits(db: Database, n: int) -> dict[str, float]:
    """Commit ``n`` five-write transactions with the bare driver; rate per second and CPU each.

    The raw_* tables are made anew (dropped first), so this can run in any bench database."""
    if db.kind == "sqlite":
        conn = sqlite3.connect(os.path.join(db.tmp, "raw.sqlite3"), isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        auto, mark, begin = "INTEGER", "?", "BEGIN IMMEDIATE"
    else:
        import psycopg

        conn = psycopg.connect(db.url, autocommit=True)
        auto, mark, begin = "BIGSERIAL", "%s", "BEGIN"
    try:
        for statement in SCHEMA:
            table = statement.split()[2]
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute(statement.format(auto=auto))
        rows = [(i, "pending") for i in range(1, n + 1)]
        conn.execute(begin)
        for row in rows:
            conn.execute(f"INSERT INTO raw_order (id, state) VALUES ({mark}, {mark})", row)
            conn.execute(
                f"INSERT INTO raw_service (id, next_due_date) VALUES ({mark}, {mark})",
                (row[0], "2027-01-01"),
            )
        conn.execute("COMMIT")
        body = "Hemos recibido su pago. " * 40
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(1, n + 1):
            now = time.strftime("%Y-%m-%d %H:%M:%S")
            conn.execute(begin)
            conn.execute(
                f"UPDATE raw_order SET state = {mark}, paid_at = {mark} WHERE id = {mark}",
                ("paid", now, i),
            )
            conn.execute(
                "INSERT INTO raw_ledger (order_id, amount, reference, created_at)"
                f" VALUES ({mark}, {mark}, {mark}, {mark})",
                (i, "-119000.00", f"payu:raw-{i}", now),
            )
            conn.execute(
                f"UPDATE raw_service SET next_due_date = {mark} WHERE id = {mark}",
                ("2027-02-01", i),
            )
            conn.execute(
                "INSERT INTO raw_service_event (service_id, kind, new_due_date, created_at)"
                f" VALUES ({mark}, {mark}, {mark}, {mark})",
                (i, "renewed", "2027-02-01", now),
            )
            conn.execute(
                "INSERT INTO raw_email (to_email, subject, body, created_at)"
                f" VALUES ({mark}, {mark}, {mark}, {mark})",
                (f"c{i}@example.com", "Pago recibido", body, now),
            )
            conn.execute("COMMIT")
        wall, cpu_used = time.perf_counter() - started, time.process_time() - cpu
        for statement in SCHEMA:
            conn.execute(f"DROP TABLE {statement.split()[2]}")
    finally:
        conn.close()
    return {"per_second": n / wall, "cpu_ms_each": cpu_used / n * 1000, "wall_s": wall}


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (and its reaped children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def proc_children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (gunicorn's workers, say)."""
    children: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            children += [int(c) for c in (task / "children").read_text().split()]
    return children


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live children (gunicorn's master and workers)."""
    total = 0.0
    for each in [pid, *proc_children(pid)]:
        with contextlib.suppress(OSError):  # a child that has just exited
            total += proc_cpu(each)
    return total


def proc_peak_mb(pid: int) -> float:
    """A process's peak resident memory (VmHWM), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(
    bench: str,
    *,
    figure: float,
    unit: str,
    baseline: float | None,
    ratio: float | None = None,
    db: str,
    **extra: object,
) -> None:
    """Print the figure line (the script's last line): one JSON object, see the module docstring.

    ``ratio`` defaults to figure / baseline; ``loadavg`` (1, 5, 15 minutes) and this process's
    ``peak_rss_mb`` are added unless given."""
    if ratio is None and baseline:
        ratio = figure / baseline
    record: dict[str, object] = {
        "bench": bench,
        "figure": round(figure, 3),
        "unit": unit,
        "baseline": None if baseline is None else round(baseline, 3),
        "ratio": None if ratio is None else round(ratio, 4),
        "db": db,
        **extra,
    }
    record.setdefault("loadavg", [round(x, 2) for x in os.getloadavg()])
    record.setdefault("peak_rss_mb", round(peak_rss_mb(), 1))
    print(json.dumps(record, ensure_ascii=False), flush=True)
