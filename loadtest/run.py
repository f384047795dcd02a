"""Load test of the production configuration: start it, run Locust headless, report, stop.

    python loadtest/run.py --duration 10m [--users 40] [--spawn-rate 4] [--workers 2]

Starts the same stack as the smoke test (``deploy/stack.py``: DEBUG=0, PostgreSQL, Redis, Caddy
with TLS, gunicorn with 2 processes, 2 workers, the simulators on), runs
``loadtest/locustfile.py`` against it through the proxy for ``--duration``, then prints, per
request kind: requests, failures, throttled answers (429 on purpose, counted apart), and the
50th/95th/99th percentile and maximum latency. It waits for the worker to apply every payment
the load made and says how many orders were paid. Exit status 1 if any request failed.
Needs Locust: ``pip install -e '.[load]'``.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "deploy"))
import stack as stack_mod  # noqa: E402 (deploy/ is not a package)

COLUMNS = ("Request Count", "Failure Count", "50%", "95%", "99%", "Max Response Time")


def report(stats_csv: Path) -> tuple[int, int, int, int]:
    """Print the table; return (requests, failures, throttled, card payments made)."""
    rows = list(csv.DictReader(stats_csv.open(encoding="utf-8")))
    print(
        f"\n{'request kind':44} {'requests':>8} {'failed':>6} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7}"
    )
    total = failures = throttled = cards = 0
    for row in rows:
        name = row["Name"] if row["Name"] != "Aggregated" else "ALL"
        count, failed, p50, p95, p99, top = (row[c] for c in COLUMNS)
        label = f"{row['Type']} {name}" if name != "ALL" else "ALL (throttled included)"
        print(f"{label[:44]:44} {count:>8} {failed:>6} {p50:>7} {p95:>7} {p99:>7} {top:>7}")
        if name == "ALL":
            total, failures = int(count), int(failed)
        elif name.endswith("(throttled)"):
            throttled += int(count)
        elif name == "pay: card on the simulator":
            cards = int(count) - int(failed)
    return total, failures, throttled, cards


def paid_by_load(stack: stack_mod.Stack) -> tuple[int, int]:
    """Orders the load created (the last ones may be unpaid: the run stopped mid-way), and how
    many of them are paid."""
    result = stack.clientarea(
        "shell",
        "-c",
        "from clientarea.billing.models import Order as O; "
        "q = O.objects.filter(items__description__contains='load-').distinct(); "
        "print(q.count(), q.filter(state='paid').count())",
    )
    made, paid = result.stdout.split()[-2:]
    return int(made), int(paid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", default="2m", help="Locust --run-time, e.g. 90s, 10m")
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--spawn-rate", type=float, default=4)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/clientarea_load"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--keep", action="store_true", help="keep the folder and database")
    args = parser.parse_args(argv)
    locust = shutil.which("locust", path=str(Path(sys.executable).parent)) or shutil.which("locust")
    if not locust:
        print("Locust is not installed: pip install -e '.[load]'", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="clientarea-load-"))
    print(f"== production configuration in {workdir}", flush=True)
    stack = stack_mod.start(
        workdir=workdir,
        database_url=args.database_url,
        redis_url=args.redis_url,
        workers=args.workers,
    )
    failed = True
    try:
        print(f"== {args.users} users for {args.duration} against {stack.base_url}", flush=True)
        env = {**stack.env, "LOADTEST_CA_BUNDLE": str(stack.ca_file)}
        started = time.monotonic()
        subprocess.run(
            [
                locust,
                "-f",
                str(ROOT / "loadtest" / "locustfile.py"),
                "--headless",
                "--host",
                stack.base_url,
                "--users",
                str(args.users),
                "--spawn-rate",
                str(args.spawn_rate),
                "--run-time",
                args.duration,
                "--csv",
                str(workdir / "locust"),
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            env=env,
            check=False,
            timeout=None,
        )
        elapsed = time.monotonic() - started
        total, failures, throttled, cards = report(workdir / "locust_stats.csv")
        exceptions = list(
            csv.DictReader((workdir / "locust_exceptions.csv").open(encoding="utf-8"))
        )
        for row in exceptions:
            print(f"exception x{row['Count']}: {row['Message']}")
        failures += sum(int(row["Count"]) for row in exceptions)
        print(
            f"\n{total} requests in {elapsed:.0f} s ({total / max(elapsed, 1):.1f}/s): "
            f"{failures} failed (exceptions included), {throttled} throttled on purpose (429)"
        )
        deadline = time.monotonic() + 180
        made, paid = paid_by_load(stack)
        while paid < cards and time.monotonic() < deadline:
            time.sleep(5)
            made, paid = paid_by_load(stack)
        print(f"orders created by the load: {made}, paid by card: {cards}, paid now: {paid}")
        stack_mod.ensure_running(stack)
        failed = failures > 0 or paid < cards
    finally:
        stack_mod.stop(stack, keep=args.keep)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print("== load test " + ("FAILED" if failed else "passed"), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
