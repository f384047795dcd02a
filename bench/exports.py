"""Benchmark: every report export over N invoices: the sales book (streamed CSV and worker XLSX)
and the payments, aging, balances and money movements files.

    .venv/bin/python bench/exports.py              # N=100,000
    .venv/bin/python bench/exports.py --n 10000
    .venv/bin/python bench/exports.py --n 20000 --heap   # Python heap peaks (tracemalloc)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clientarea .venv/bin/python bench/exports.py

Everything happens in a throwaway database: SQLite in a temporary directory, or a new
PostgreSQL database next to the one ``DATABASE_URL`` names, dropped at the end (see ``benchdb``). A child process creates the data: N paid orders with
their issued invoices, spread over min(N, 20,000) customers, each also owing one pending order on
its ledger (aging, balances, the movements' charges) and holding a transfer kept as credit
(balances, the movements' bank money). Each measurement then runs in its own fresh process, so
every peak RSS printed is that export's own (plus Django), not the loader's or another export's:

* raw:   the baseline, the same join read with the sqlite3 module (or psycopg) and written by
         csv.writer;
* csv:   ``exports.csv_lines`` (what the streaming response sends, chunk by chunk);
* xlsx:  ``services.run_export`` (what the worker does: count, openpyxl write-only, progress rows);
* payments, aging, balances, movements: those reports as CSV (a row per paid order, per
  customer owing money, per customer whose account is not at zero, per ledger entry).

The point is that memory stays flat whatever N is: compare the peak RSS at --n 10000 and 100000
(Django itself is most of it), or, with ``--heap``, each export's peak of Python memory
(tracemalloc, which also makes the CPU figures several times slower: not comparable then).
The last line is the figure line (``benchdb.emit``): the CSV export's rows/s against the raw
baseline's, with the XLSX figures beside it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from decimal import Decimal

import benchdb

DAY = dt.date(2026, 3, 16)
CUSTOMERS = 20_000
#: The measured kinds written as CSV, and their reports ("csv" is the sales book).
CSV_REPORTS = {
    "csv": "sales_book",
    "payments": "payments",
    "aging": "aging",
    "balances": "balances",
    "movements": "movements",
}


def configure(var_dir: str) -> str:
    """A child process: Django on the database the parent made (its environment says which)."""
    return benchdb.setup_django()


def populate(n: int) -> None:
    from django.core.management import call_command
    from django.db import transaction

    from clientarea.accounts.models import Customer, User
    from clientarea.billing.models import LedgerEntry, Order
    from clientarea.einvoice.models import Invoice
    from clientarea.lib.dates import BOGOTA

    call_command("migrate", verbosity=0, interactive=False)
    customers = min(CUSTOMERS, n)
    with transaction.atomic():
        users = User.objects.bulk_create(
            [User(email=f"c{i}@bench.example", password="!") for i in range(customers)],
            batch_size=2000,
        )
        people = Customer.objects.bulk_create(
            [
                Customer(
                    user=user,
                    person_type="natural",
                    document_type="13",
                    document_number=str(10_000_000 + i),
                    first_name="Cliente",
                    last_name=f"Prueba {i}",
                    municipality_code="11001",
                )
                for i, user in enumerate(users)
            ],
            batch_size=2000,
        )
    start = dt.datetime.combine(DAY, dt.time(8), tzinfo=BOGOTA)
    for chunk in range(0, n, 5000):
        with transaction.atomic():
            orders = Order.objects.bulk_create(
                [
                    Order(
                        number=f"ODS-{i:07d}",
                        customer=people[i % customers],
                        state="paid",
                        issue_date=DAY,
                        due_date=DAY,
                        subtotal=Decimal("45990.00"),
                        tax_total=Decimal("8738.10"),
                        rounding=Decimal("-0.10"),
                        total=Decimal("54728.00"),
                        paid_at=start + dt.timedelta(seconds=i),
                        paid_via=("payu", "payvalida", "manual")[i % 3],
                        payment_method=("card", "cash", "transfer")[i % 3],
                        buyer_snapshot={
                            "name": f"Cliente Prueba {i % customers}",
                            "document_type": "13",
                            "document_number": str(10_000_000 + i % customers),
                            "check_digit": "",
                        },
                    )
                    for i in range(chunk, min(n, chunk + 5000))
                ],
                batch_size=2000,
            )
            Invoice.objects.bulk_create(
                [
                    Invoice(
                        order=order,
                        customer_id=order.customer_id,
                        status="accepted",
                        number=990_000_000 + i,
                        full_number=f"SETP{990_000_000 + i}",
                        cufe=f"{i:096x}",
                        issued_at=order.paid_at,
                        paid_at=order.paid_at,
                        total=order.total,
                    )
                    for i, order in enumerate(orders, start=chunk)
                ],
                batch_size=2000,
            )
    with transaction.atomic():
        pending = Order.objects.bulk_create(
            [
                Order(
                    number=f"ODS-P{i:07d}",
                    customer=person,
                    state="pending",
                    issue_date=DAY - dt.timedelta(days=7 + i % 120),
                    due_date=DAY - dt.timedelta(days=i % 120),
                    subtotal=Decimal("10000.00"),
                    tax_total=Decimal("1900.00"),
                    total=Decimal("11900.00"),
                )
                for i, person in enumerate(people)
            ],
            batch_size=2000,
        )
        # What the pending orders owe on the ledger, and a transfer kept as credit each.
        LedgerEntry.objects.bulk_create(
            [
                LedgerEntry(
                    customer_id=order.customer_id,
                    order=order,
                    kind="order",
                    amount=order.total,
                    created_at=start,
                )
                for order in pending
            ]
            + [
                LedgerEntry(
                    customer=person,
                    kind="credit",
                    amount=Decimal("-5000.00"),
                    via="manual",
                    method="transfer",
                    reference=f"TRF-{i}",
                    created_at=start + dt.timedelta(seconds=i),
                )
                for i, person in enumerate(people)
            ],
            batch_size=2000,
        )


def measure(kind: str, heap: bool = False) -> None:
    """One export in this (fresh) process; prints one line of figures."""
    from clientarea.reports import exports

    filters = exports.Filters(date_from=DAY, date_to=DAY + dt.timedelta(days=30))
    if heap:
        tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    rows = size = 0
    if kind == "raw":
        import csv

        class Sink:
            def write(self, value: str) -> int:
                nonlocal size
                size += len(value.encode())
                return len(value)

        writer = csv.writer(Sink())
        db = benchdb.raw_connection(os.environ["DATABASE_URL"])
        cursor = db.cursor()
        cursor.execute(
            "SELECT i.issued_at, i.full_number, i.cufe, o.buyer_snapshot, o.subtotal, o.tax_total,"
            " o.rounding, i.total, o.number FROM einvoice_invoice i"
            " JOIN billing_order o ON o.id = i.order_id ORDER BY i.issued_at, i.id"
        )
        for row in cursor:
            writer.writerow(row)
            rows += 1
    elif kind in CSV_REPORTS:
        for line in exports.csv_lines(CSV_REPORTS[kind], filters):
            size += len(line.encode())
            rows += 1
        rows -= 2  # the BOM and the header
    elif kind == "xlsx":
        from clientarea.reports import services
        from clientarea.reports.models import ExportJob

        job = ExportJob.objects.create(kind="sales_book", params=filters.as_json())
        services.run_export(job_id=job.pk)
        job.refresh_from_db()
        assert job.status == "done", job.error
        rows = job.rows_done
        path = services.export_path(job)
        assert path is not None
        size = path.stat().st_size
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    heap_mb = tracemalloc.get_traced_memory()[1] / 1e6 if heap else None
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(
        f"{kind:>9}: {rows:>8,} rows  {elapsed:6.1f} s wall  {cpu:6.1f} s CPU  "
        f"{rows / elapsed:>9,.0f} rows/s  {size / 1e6:6.1f} MB out  peak RSS {peak_mb:4.0f} MB"
        + (f"  heap peak {heap_mb:5.1f} MB" if heap_mb is not None else "")
    )
    print(
        json.dumps(
            {
                "kind": kind,
                "rows": rows,
                "wall": elapsed,
                "cpu": cpu,
                "rss": peak_mb,
                "heap": heap_mb,
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="invoices (default 100,000)")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the XLSX export into FILE")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--heap",
        action="store_true",
        help="also trace each export's peak of Python memory (tracemalloc; slows the CPU figures)",
    )
    parser.add_argument("--populate", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("--measure", metavar="KIND", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.populate:
        configure(args.populate)
        if args.measure:
            measure(args.measure, heap=args.heap)
        else:
            populate(args.n)
        return 0

    bench_db = benchdb.create_database("exports-bench-")
    var_dir, db = bench_db.tmp, bench_db.kind
    env = {**os.environ, **benchdb.environ(bench_db)}
    benchdb.flush_redis()
    try:
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "--n", str(args.n), "--populate", var_dir],
            check=True,
            env=env,
        )
        print(f"{db}: {args.n:,} invoices created in {time.perf_counter() - t0:.1f} s")
        print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs")
        figures = {}
        for kind in ("raw", "csv", "xlsx", "payments", "aging", "balances", "movements"):
            command = [sys.executable, __file__, "--populate", var_dir, "--measure", kind]
            if args.heap:
                command.append("--heap")
            if kind == "xlsx" and args.profile:
                command[1:1] = ["-m", "cProfile", "-o", args.profile]
            out = subprocess.run(command, check=True, env=env, capture_output=True, text=True)
            lines = out.stdout.strip().splitlines()
            print(lines[-2], flush=True)
            figures[kind] = json.loads(lines[-1])
        raw, csv_, xlsx = figures["raw"], figures["csv"], figures["xlsx"]
        benchdb.emit(
            "exports",
            figure=csv_["rows"] / csv_["cpu"],
            unit="sales-book CSV rows per CPU-second",
            baseline=raw["rows"] / raw["cpu"],
            db=db,
            n=args.n,
            csv_rows_per_s=round(csv_["rows"] / csv_["wall"]),
            xlsx_rows_per_cpu_s=round(xlsx["rows"] / xlsx["cpu"]),
            xlsx_ratio=round(raw["cpu"] / xlsx["cpu"], 4),
            xlsx_cpu_s=round(xlsx["cpu"], 2),
            csv_cpu_s=round(csv_["cpu"], 2),
            raw_cpu_s=round(raw["cpu"], 2),
            peak_rss_mb={k: round(v["rss"]) for k, v in figures.items()},
            rows={k: v["rows"] for k, v in figures.items()},
            **(
                {"heap_peak_mb": {k: round(v["heap"], 2) for k, v in figures.items()}}
                if args.heap
                else {}
            ),
        )
        return 0
    finally:
        if args.keep:
            print("kept", var_dir, bench_db.url)
        else:
            benchdb.drop_database(bench_db)


if __name__ == "__main__":
    sys.exit(main())
