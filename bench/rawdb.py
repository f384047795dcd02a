"""What the benchmarks compare against: a throwaway database, and the raw rate of plain writes.

Every figure a bench prints sits next to a raw baseline measured in the same run, on the same
database and machine, so the ratio says how close to the database's own limit the product gets
(issue 18). This module holds the two pieces the benches share:

- :func:`throwaway_database`: with no ``DATABASE_URL``, a SQLite file in a temporary directory;
  with ``DATABASE_URL=postgres://…``, a fresh database ``<name>_bench_<pid>`` on that server,
  dropped at the end. Either way the bench migrates it and nothing it writes outlives it.
- :func:`five_write_commits`: N transactions of five writes each (update an order, insert a
  ledger row, update a service, insert its history row, insert an email row), committed one by
  one with the bare driver (``sqlite3`` with the product's pragmas: WAL, synchronous=NORMAL;
  or ``psycopg``), the shape of the paid transaction's essential writes without any framework.

The last line a bench prints is one JSON object (``report``), read by ``bench/run_all.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit


@dataclass(frozen=True)
class Database:
    kind: str  # "sqlite" | "postgresql"
    url: str  # what DATABASE_URL must say for Django
    tmp: str  # a temporary directory (VAR_DIR) for files


@contextlib.contextmanager
def throwaway_database(prefix: str) -> Iterator[Database]:
    """A database for one bench run (see the module docstring); removed afterwards."""
    import shutil

    tmp = tempfile.mkdtemp(prefix=prefix)
    base = os.environ.get("DATABASE_URL", "")
    try:
        if base.startswith(("postgres://", "postgresql://")):
            parts = urlsplit(base)
            name = f"{(parts.path.lstrip('/') or 'clientarea')}_bench_{os.getpid()}"
            _pg_admin(base, f'CREATE DATABASE "{name}"')
            try:
                yield Database("postgresql", urlunsplit(parts._replace(path=f"/{name}")), tmp)
            finally:
                _close_django_connections()
                _pg_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            yield Database("sqlite", f"sqlite:///{tmp}/bench.sqlite3", tmp)
    finally:
        _close_django_connections()
        shutil.rmtree(tmp, ignore_errors=True)


def _close_django_connections() -> None:
    from django.apps import apps

    if apps.ready:  # before django.setup() nothing is open
        from django.db import connections

        connections.close_all()


def _pg_admin(url: str, statement: str) -> None:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(statement)


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
    """Commit ``n`` five-write transactions with the bare driver; rate per second and CPU each."""
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
    finally:
        conn.close()
    return {"per_second": n / wall, "cpu_ms_each": cpu_used / n * 1000, "wall_s": wall}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(**fields: object) -> None:
    """Print the bench's last line: one JSON object (bench, figure, unit, baseline, ratio, db, …)."""
    fields.setdefault("loadavg", [round(x, 2) for x in os.getloadavg()])
    fields.setdefault("peak_rss_mb", round(peak_rss_mb(), 1))
    print(json.dumps(fields, sort_keys=False), flush=True)
