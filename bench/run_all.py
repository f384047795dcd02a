"""Run every benchmark with a small N on the current database and write a markdown table.

    .venv/bin/python bench/run_all.py                       # SQLite (each script's throwaway file)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clientarea \\
        REDIS_URL=redis://127.0.0.1:6379/8 .venv/bin/python bench/run_all.py
    .venv/bin/python bench/run_all.py --only pages,exports --full

``make bench`` runs it (``BENCH_ARGS="--only pages"`` passes arguments). Each script runs in its
own process with this environment (so ``DATABASE_URL``/``REDIS_URL`` reach it). With PostgreSQL,
each script makes its own database next to the one ``DATABASE_URL`` names
(``NAME_bench_<pid>``, see ``benchdb.py``) and drops it at the end; ``http_e2e`` (only with
PostgreSQL and ``REDIS_URL``, or when named in ``--only``) starts the production stack on
``NAME_bench_http``. The Redis database of ``REDIS_URL`` is flushed: give one of its own. Its output goes to the terminal and to ``bench/results-<db>.log``; its LAST
line, if it is the JSON figure line (see ``benchdb.py``), fills a row of
``bench/results-<db>.md``: figure, unit, raw baseline, ratio, the database the script says it
used, the CPU seconds of the script and its children, wall time and the load average. A script
that does not print the figure line gets "no figure"; one that fails gets its exit status. The
machine's load is printed with every row: figures from a shared machine are comparable by CPU
time and ratio, not by wall clock.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import benchdb

HERE = Path(__file__).resolve().parent

# name → (small arguments for `make bench`, what the row measures). --full drops the arguments
# (each script's own defaults: the sizes the README's targets are stated for).
SCRIPTS: dict[str, tuple[list[str], str]] = {
    "billing_run": (
        ["billing_run.py", "--n", "2000"],
        "daily billing run: renewal orders from due services",
    ),
    "confirmations": (
        ["confirmations.py", "--n", "300"],
        "signed PayU confirmations: endpoint, then applied",
    ),
    "einvoice": (
        ["einvoice.py", "--n", "100", "--pdf-n", "30"],
        "invoice XML + CUFE + signature; PDF",
    ),
    "einvoice_e2e": (
        ["einvoice.py", "--e2e", "20"],
        "worker path through the DIAN simulator over HTTP",
    ),
    "dian_simulator": (
        ["dian_simulator.py", "--n", "200"],
        "the DIAN simulator's own CPU per SendBillSync, in-process",
    ),
    "http_e2e": (
        ["http_e2e.py", "--n", "100"],
        "PayU approvals over HTTP, production stack (2 web + 2 workers), applied",
    ),
    "exports": (
        ["exports.py", "--n", "5000"],
        "every export: sales book CSV and XLSX, payments, aging, balances, movements",
    ),
    "search": (
        ["search.py", "--n", "5000", "--repeat", "5"],
        "back-office search over customers, services, orders",
    ),
    "pages": (
        ["pages.py", "--seconds", "4", "--rounds", "3"],
        "logged-in Billing page over HTTP vs the home page",
    ),
}

#: Scripts that start the production stack (deploy/stack.py): PostgreSQL and REDIS_URL needed.
NEEDS_STACK = {"http_e2e"}


def figure_line(output: str) -> dict | None:
    """The script's last non-empty line as the figure record, or None."""
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        return None
    try:
        record = json.loads(lines[-1])
    except ValueError:
        return None
    return record if isinstance(record, dict) and "bench" in record else None


def fmt(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def run_one(name: str, argv: list[str], log, timeout: float) -> dict:
    command = [sys.executable, str(HERE / argv[0]), *argv[1:]]
    print(f"\n=== {name}: {' '.join(argv)}", flush=True)
    log.write(f"\n=== {name}: {' '.join(argv)}\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    lines: list[str] = []
    status: int | str
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=HERE.parent,
    ) as proc:
        assert proc.stdout is not None
        timer = threading.Timer(timeout, proc.kill)  # a script that hangs is stopped
        timer.start()
        try:
            for line in proc.stdout:
                sys.stdout.write(line)
                log.write(line)
                lines.append(line)
            status = proc.wait()
        finally:
            timer.cancel()
    if time.perf_counter() - started >= timeout:
        status = "timeout"
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    log.flush()
    return {
        "name": name,
        "status": status,
        "record": figure_line("".join(lines)) if status == 0 else None,
        "cpu": cpu,
        "wall": time.perf_counter() - started,
        "load": (load + os.getloadavg()[0]) / 2,
    }


def table(results: list[dict], db: str) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        f"# Benchmarks on {db} ({now}, {os.cpu_count()} CPUs)",
        "",
        "Written by `bench/run_all.py` (`make bench`). Ratio = figure / raw baseline of the same "
        "run (higher is better). CPU = the script and its children (server, workers). Load = "
        "the machine's 1-minute load average during the script: other work shares the cores.",
        "",
        "| script | what | figure | unit | baseline | ratio | db | CPU s | wall s | load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rec = r["record"]
        what = SCRIPTS[r["name"]][1]
        if rec is None:
            note = "no figure" if r["status"] == 0 else f"failed ({r['status']})"
            cells = [note, "", "–", "–", "–"]
        else:
            cells = [
                fmt(rec.get("figure")),
                str(rec.get("unit", "")),
                fmt(rec.get("baseline")),
                fmt(rec.get("ratio"), 3),
                str(rec.get("db", "")),
            ]
        out.append(
            f"| `{r['name']}` | {what} | "
            + " | ".join(cells)
            + f" | {r['cpu']:.1f} | {r['wall']:.0f} | {r['load']:.1f} |"
        )
    extras = [r for r in results if r["record"]]
    if extras:
        out += ["", "Other figures each script printed on its figure line:", ""]
        for r in extras:
            rest = {
                k: v
                for k, v in r["record"].items()
                if k not in ("bench", "figure", "unit", "baseline", "ratio", "db")
            }
            out.append(f"- `{r['name']}`: " + ", ".join(f"{k} {v}" for k, v in rest.items()))
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="comma-separated names: " + ", ".join(SCRIPTS))
    parser.add_argument("--full", action="store_true", help="each script's default (large) N")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per script")
    parser.add_argument("--out", help="markdown file (default bench/results-<db>.md)")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(SCRIPTS)
    unknown = [n for n in names if n not in SCRIPTS]
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)} (known: {', '.join(SCRIPTS)})")
    db = benchdb.vendor(os.environ.get("DATABASE_URL", ""))
    out = Path(args.out) if args.out else HERE / f"results-{db}.md"
    if db != "postgresql" or not os.environ.get("REDIS_URL"):
        # The production stack needs both; on SQLite it is left out unless asked for by name.
        names = [n for n in names if n not in NEEDS_STACK or args.only]
    results = []
    with open(out.with_suffix(".log"), "w", encoding="utf-8") as log:
        for name in names:
            argv = SCRIPTS[name][0]
            if args.full:
                argv = argv[:1] + (["--e2e", "40,120"] if name == "einvoice_e2e" else [])
            results.append(run_one(name, argv, log, args.timeout))
            out.write_text(table(results, db), encoding="utf-8")  # written as it goes
    print("\n" + table(results, db))
    print(f"written to {out}")
    return 0 if all(r["status"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
