"""What the bench scripts share: the database they run on, and the figure line they print last.

A script is run as ``python bench/NAME.py``, so this folder is on ``sys.path`` and
``import benchdb`` works from each of them.

Database: a throwaway SQLite file in the script's temporary directory, unless ``DATABASE_URL``
points at PostgreSQL; that database is dropped and created again (it must be one you can throw
away: the name must contain "bench" or the script refuses). ``REDIS_URL``, when set, is used for
the task queue and the cache (and flushed), like production.

Figure line: each script prints, as its LAST line, one JSON object that ``bench/run_all.py``
collects into the results table::

    {"bench": "pages", "figure": 123.4, "unit": "requests/s", "baseline": 200.0,
     "ratio": 0.62, "db": "sqlite", ...any other keys}

``figure`` is the script's main measurement, ``baseline`` the raw figure it is compared with in
the same run (plain sqlite3/psycopg, or the cheapest page), ``ratio`` = figure / baseline (for
rates; for times, baseline / figure), so higher is always better.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def database_url(var_dir: str) -> str:
    """The database this run uses: ``DATABASE_URL`` if set (PostgreSQL), else SQLite in var_dir."""
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
    return url or f"sqlite:///{var_dir}/bench.sqlite3"


def vendor(url: str) -> str:
    return "postgresql" if url.startswith(("postgres://", "postgresql://")) else "sqlite"


def reset(url: str) -> None:
    """Drop and create the PostgreSQL database (a no-op for SQLite: the file is new); flush Redis."""
    if vendor(url) == "postgresql":
        import psycopg

        parts = urllib.parse.urlsplit(url)
        name = parts.path.lstrip("/")
        if not name.replace("_", "").isalnum() or "bench" not in name:
            raise SystemExit(
                f"refusing to drop database {name!r}: bench scripts need a throwaway database "
                "whose name contains 'bench' (e.g. clientarea_bench)"
            )
        maintenance = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        import redis

        redis.Redis.from_url(redis_url).flushdb()


def environ(var_dir: str) -> dict[str, str]:
    """The environment of a bench process: production settings, this run's database."""
    url = database_url(var_dir)
    env = {
        "VAR_DIR": var_dir,
        "DATABASE_URL": url,
        "BENCH_DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "clientarea.settings",
        "DEBUG": "0",  # no query log, production template settings
        "LOG_LEVEL": "WARNING",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-not-a-secret"),
        "PAYMENTS_SANDBOX": "0",
        "DIAN_SANDBOX": "0",
    }
    return env


def configure(var_dir: str) -> str:
    """Set this process's environment for Django and start it; return the vendor."""
    os.environ.update(environ(var_dir))
    if ROOT not in map(Path, sys.path):
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    return vendor(os.environ["DATABASE_URL"])


def raw_connection(url: str):
    """A DB-API connection for the raw baseline: sqlite3 (WAL, synchronous=NORMAL) or psycopg."""
    if vendor(url) == "postgresql":
        import psycopg

        return psycopg.connect(url)
    import sqlite3

    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def emit(
    bench: str,
    *,
    figure: float,
    unit: str,
    baseline: float | None,
    ratio: float | None = None,
    db: str,
    **extra,
) -> None:
    """Print the figure line (the script's last line)."""
    if ratio is None and baseline:
        ratio = figure / baseline
    record = {
        "bench": bench,
        "figure": round(figure, 3),
        "unit": unit,
        "baseline": None if baseline is None else round(baseline, 3),
        "ratio": None if ratio is None else round(ratio, 4),
        "db": db,
        "load_average": round(os.getloadavg()[0], 2),
        **extra,
    }
    print(json.dumps(record, ensure_ascii=False), flush=True)
