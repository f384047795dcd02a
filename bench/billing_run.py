"""Benchmark: the daily billing run over N customers with a service due, on SQLite or PostgreSQL.

    .venv/bin/python bench/billing_run.py                                # N=10,000, in-process, SQLite
    .venv/bin/python bench/billing_run.py --services 100000 --workers 2  # 2 worker processes
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/6 \\
        .venv/bin/python bench/billing_run.py --services 100000 --workers 2
    .venv/bin/python bench/billing_run.py --services 10000 --profile var/billing_run.prof

The database is a throwaway one: a SQLite file in a temporary directory, or, when
``DATABASE_URL`` names PostgreSQL, a new database ``<name>_bench_<pid>`` on that server
(created and dropped by the script). With ``REDIS_URL`` the workers' queue is Redis (under a
private queue name, flushed at the end); otherwise Huey's SQLite queue in the directory.

The data (N customers, each with one active service due inside the renewal window: a mix of
cycles, prices, tax treatments, languages and month-end anchor days) is created by a child
process (on PostgreSQL with ``COPY``, 20,000 customers per transaction). Then:

* ``--workers 0`` (default): ``run_billing`` in this process (plans the chunks and works them).
* ``--workers W``: W ``clientarea worker`` processes (``--threads`` each, default 1) are started
  and left idle; the run is planned here and its chunk jobs queued; the clock runs until the
  run is done. CPU time is the workers' (from /proc, minus their start-up), peak RSS is each
  worker's VmHWM. The peak so far is also printed as it stood when 25, 50 and 75 % of the
  chunks were done: memory flat in N means those equal the final peak.

Raw baseline, in the same run and the same database: the very order and item rows the run
created are read back and inserted again, 2,000 orders and their items per transaction, into
copies of the two tables with the same indexes and foreign keys: with plain ``sqlite3``
(executemany, the same PRAGMAs) or plain ``psycopg`` (COPY, PostgreSQL's bulk path). Ratio = services/s of the run ÷ services/s of the raw
insert (one order and one item per service). The run also writes, per service, the order's
history event, its ledger entry and the "order created" email, which the baseline does not.

The last line is one JSON object (shared convention of bench/): bench, figure, unit, baseline,
ratio, db, and cpu_s, peak_rss_mb (per worker), load average, N and workers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import benchdb
from benchdb import proc_cpu, proc_peak_mb

ROOT = Path(__file__).resolve().parent.parent
RUN_DATE = dt.date(2025, 3, 3)
RAW_BATCH = 2000


def environment(var_dir: str, database_url: str, redis_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    env.update(
        VAR_DIR=var_dir,
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="clientarea.settings",
        DEBUG="0",  # no query log, production template settings
        LOG_LEVEL="WARNING",  # one INFO line per order would measure the terminal
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
    )
    env.setdefault("SECRET_KEY", "bench-only-not-a-secret")
    if redis_url:
        env.update(REDIS_URL=redis_url, HUEY_NAME=f"bench-billing-{os.getpid()}")
    return env


def configure(env: dict[str, str]) -> None:
    os.environ.clear()
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def populate(n: int, run_date: dt.date) -> None:
    """N customers (each with a user) and one due service each, inserted in chunks."""
    from django.core.management import call_command
    from django.core.management.color import no_style
    from django.db import connection, transaction

    from clientarea.accounts.models import Customer, ProviderProfile, User
    from clientarea.catalog.models import BillingCycle, Product, ProductPrice, TaxTreatment
    from clientarea.subscriptions.models import Service, ServiceStatus

    call_command("migrate", verbosity=0, interactive=False)
    ProviderProfile.objects.create(
        person_type="juridica",
        document_type="31",
        document_number="900123456",
        check_digit="8",
        legal_name="Conexcol S.A.S.",
        trade_name="Conexcol",
        email="facturacion@conexcol.example",
        phone="+57 604 444 0000",
        address="Calle 10 # 43-12",
        municipality_code="05001",
    )
    products = [
        Product.objects.create(
            code="hosting-basic", name="Hosting Básico", name_en="Basic hosting", kind="hosting"
        ),
        Product.objects.create(code="vps-2", name="VPS 2 GB", kind="vps"),
        Product.objects.create(
            code="domain-co",
            name="Dominio .co",
            kind="domain",
            tax_treatment=TaxTreatment.EXCLUDED,
            tax_rate=Decimal("0"),
        ),
    ]
    cycles = [
        BillingCycle.MONTHLY,
        BillingCycle.QUARTERLY,
        BillingCycle.SEMIANNUAL,
        BillingCycle.ANNUAL,
        BillingCycle.BIENNIAL,
        BillingCycle.TRIENNIAL,
    ]
    for product in products:
        ProductPrice.objects.bulk_create(
            [ProductPrice(product=product, cycle=c, price=Decimal("25000")) for c in cycles]
        )
    window = 16  # run date .. run date + BILLING_RENEWAL_DAYS_BEFORE (15)
    postgres = connection.vendor == "postgresql"
    chunk = 20_000 if postgres else 5000

    def create(model, objs: list) -> list:
        return copy_create(model, objs) if postgres else model.objects.bulk_create(objs)

    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        with transaction.atomic():
            users = create(
                User,
                [
                    User(
                        email=f"c{start + i}@bench.example",
                        full_name=f"Cliente {start + i}",
                        password="!",
                    )
                    for i in range(size)
                ],
            )
            customers = create(
                Customer,
                [
                    Customer(
                        user=u,
                        document_type="13",
                        document_number=str(10_000_000 + start + i),
                        first_name="Cliente",
                        last_name=f"Prueba {start + i}",
                        address="Cra 7 # 12-34",
                        municipality_code="11001",
                        phone="3001234567",
                        preferred_language="en" if (start + i) % 5 == 0 else "es-co",
                    )
                    for i, u in enumerate(users)
                ],
            )
            services = []
            for i, customer in enumerate(customers):
                k = start + i
                due = run_date + dt.timedelta(days=k % window)
                services.append(
                    Service(
                        customer=customer,
                        product=products[k % 3],
                        cycle=cycles[k % len(cycles)],
                        price=Decimal(15000 + (k % 7) * 5000),
                        label=f"site{k}.com.co",
                        status=ServiceStatus.ACTIVE,
                        start_date=due.replace(year=due.year - 1),
                        next_due_date=due,
                        anchor_day=31 if k % 11 == 0 else due.day,
                    )
                )
            create(Service, services)
    if postgres:  # the ids were chosen here: move the sequences past them
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), [User, Customer, Service]):
                cursor.execute(sql)


def copy_create(model, objs: list) -> list:
    """``bulk_create`` for a fresh PostgreSQL table, with COPY (1,000,000 customers in minutes):
    ids are given here after the largest one, every value goes through the field's public
    ``pre_save`` / ``get_db_prep_save``, and the rows are streamed with psycopg's COPY."""
    from django.db import DEFAULT_DB_ALIAS, connections
    from django.db.models import Max

    # The connection object itself: ``django.db.connection`` is a proxy that costs a lookup a value.
    connection = connections[DEFAULT_DB_ALIAS]
    fields = model._meta.concrete_fields
    first = (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1
    for i, obj in enumerate(objs):
        obj.pk = first + i
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for obj in objs:
            copy.write_row(
                [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields]
            )
    return objs


# --- Workers ----------------------------------------------------------------------------------


def start_workers(env: dict[str, str], count: int, threads: int, folder: str) -> list:
    procs = []
    for i in range(count):
        log = open(Path(folder) / f"worker-{i}.log", "ab")  # noqa: SIM115 (the process's lifetime)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "clientarea.cli", "worker"],
                env={**env, "WORKER_THREADS": str(threads)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    return procs


def wait_idle(procs: list, seconds: float = 30.0) -> None:
    """Until every worker has started (imported Django, connected) and uses no more CPU."""
    deadline = time.monotonic() + seconds
    last = [proc_cpu(p.pid) for p in procs]
    time.sleep(2)
    while time.monotonic() < deadline:
        time.sleep(1)
        now = [proc_cpu(p.pid) for p in procs]
        if all(b - a < 0.05 for a, b in zip(last, now, strict=True)):
            return
        last = now


# --- Raw baseline ---------------------------------------------------------------------------


def raw_baseline_sqlite(path: str) -> tuple[int, float, float]:
    """(services, seconds, CPU seconds) inserting the run's order and item rows again with plain
    sqlite3 (SQLite works in this process, so its CPU time is all of the work)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    ddl = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name IN ('billing_order', "
        "'billing_orderitem') AND sql IS NOT NULL ORDER BY type DESC"  # tables, then indexes
    ).fetchall()
    for _kind, name, sql in ddl:
        sql = sql.replace('"billing_orderitem"', '"raw_orderitem"').replace(
            '"billing_order"', '"raw_order"'
        )
        sql = sql.replace(f'"{name}"', f'"raw_{name}"', 1) if _kind == "index" else sql
        conn.execute(sql)
    order_cols = [r[1] for r in conn.execute("PRAGMA table_info(billing_order)")]
    item_cols = [r[1] for r in conn.execute("PRAGMA table_info(billing_orderitem)")]
    insert_order = (
        f"INSERT INTO raw_order ({','.join(order_cols)}) VALUES ({','.join('?' * len(order_cols))})"
    )
    insert_item = f"INSERT INTO raw_orderitem ({','.join(item_cols)}) VALUES ({','.join('?' * len(item_cols))})"
    spent, cpu, services, last = 0.0, 0.0, 0, 0
    while True:
        orders = conn.execute(
            f"SELECT {','.join(order_cols)} FROM billing_order WHERE id > ? ORDER BY id LIMIT ?",
            (last, RAW_BATCH),
        ).fetchall()
        if not orders:
            break
        first, last = orders[0][0], orders[-1][0]
        items = conn.execute(
            f"SELECT {','.join(item_cols)} FROM billing_orderitem WHERE order_id BETWEEN ? AND ?",
            (first, last),
        ).fetchall()
        t0, c0 = time.perf_counter(), time.process_time()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(insert_order, orders)
        conn.executemany(insert_item, items)
        conn.execute("COMMIT")
        spent += time.perf_counter() - t0
        cpu += time.process_time() - c0
        services += len(items)
    conn.close()
    return services, spent, cpu


def raw_baseline_postgres(url: str) -> tuple[int, float, None]:
    """(services, seconds, None) inserting the run's order and item rows again with plain psycopg
    COPY (the server does the work: this process's CPU time would not say much)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE raw_order (LIKE billing_order INCLUDING ALL)")
        conn.execute("CREATE TABLE raw_orderitem (LIKE billing_orderitem INCLUDING ALL)")
        conn.execute(
            "ALTER TABLE raw_order ADD FOREIGN KEY (customer_id) REFERENCES accounts_customer(id)"
            " DEFERRABLE INITIALLY DEFERRED"
        )
        conn.execute(
            "ALTER TABLE raw_orderitem ADD FOREIGN KEY (order_id) REFERENCES raw_order(id)"
            " DEFERRABLE INITIALLY DEFERRED, ADD FOREIGN KEY (service_id) REFERENCES"
            " subscriptions_service(id) DEFERRABLE INITIALLY DEFERRED"
        )

        def columns(table: str) -> list[str]:
            return [
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
                    " ORDER BY ordinal_position",
                    (table,),
                )
            ]

        order_cols, item_cols = columns("billing_order"), columns("billing_orderitem")
        copy_order = f"COPY raw_order ({','.join(order_cols)}) FROM STDIN"
        copy_item = f"COPY raw_orderitem ({','.join(item_cols)}) FROM STDIN"
        spent, services, last = 0.0, 0, 0
        from psycopg.types.json import Jsonb

        def fix(row: tuple) -> tuple:  # json columns come back as Python objects
            return tuple(Jsonb(v) if isinstance(v, dict | list) else v for v in row)

        while True:
            orders = conn.execute(
                f"SELECT {','.join(order_cols)} FROM billing_order WHERE id > %s ORDER BY id LIMIT %s",
                (last, RAW_BATCH),
            ).fetchall()
            if not orders:
                break
            first, last = orders[0][0], orders[-1][0]
            items = conn.execute(
                f"SELECT {','.join(item_cols)} FROM billing_orderitem WHERE order_id BETWEEN %s AND %s",
                (first, last),
            ).fetchall()
            orders = [fix(r) for r in orders]
            t0 = time.perf_counter()
            with conn.transaction(), conn.cursor() as cur:
                with cur.copy(copy_order) as copy:
                    for row in orders:
                        copy.write_row(row)
                with cur.copy(copy_item) as copy:
                    for row in items:
                        copy.write_row(row)
            spent += time.perf_counter() - t0
            services += len(items)
    return services, spent, None


# --- Main --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--services",
        "--n",
        type=int,
        default=10_000,
        dest="n",
        help="customers with a due service (default 10,000)",
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="worker processes (default 0: in this process)"
    )
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (default 1)")
    parser.add_argument("--chunk-size", type=int, default=2000, help="customers per chunk")
    parser.add_argument(
        "--profile", metavar="FILE", help="in-process only: write a cProfile of the run to FILE"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary database")
    parser.add_argument("--populate", metavar="DIR", help=argparse.SUPPRESS)  # child process mode
    args = parser.parse_args()

    redis_url = os.environ.get("REDIS_URL") or None
    if args.populate:
        configure(json.loads(Path(args.populate, "env.json").read_text()))
        populate(args.n, RUN_DATE)
        return 0

    bench_db = benchdb.create_database("billing-bench-")
    postgres, var_dir, database_url = bench_db.kind == "postgresql", bench_db.tmp, bench_db.url
    env = environment(var_dir, database_url, redis_url)
    Path(var_dir, "env.json").write_text(json.dumps(env))
    procs: list = []
    try:
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "--services", str(args.n), "--populate", var_dir],
            check=True,
            env=env,
        )
        print(f"data: {args.n:,} customers and due services in {time.perf_counter() - t0:.1f} s")

        configure(env)
        from django.db import connection

        from clientarea.billing import automation, run_chunks, tasks
        from clientarea.billing.models import BillingRunStatus, Order, OrderItem
        from clientarea.notifications.models import OutgoingEmail

        connection.ensure_connection()
        load_before = os.getloadavg()
        trail: list[tuple[float, list[float]]] = []  # (share of chunks done, peak RSS so far)
        if args.workers > 0:
            procs = start_workers(env, args.workers, args.threads, var_dir)
            wait_idle(procs)
            cpu0 = [proc_cpu(p.pid) for p in procs]
            t0 = time.perf_counter()
            run = automation.start_run(
                run_date=RUN_DATE, triggered_by="bench", chunk_size=args.chunk_size
            )
            tasks.fan_out(run)
            while True:
                run.refresh_from_db()
                if run.status != BillingRunStatus.RUNNING:
                    break
                if any(p.poll() is not None for p in procs):
                    raise RuntimeError(f"a worker died; logs in {var_dir}")
                share = run_chunks.progress(run.pk).share
                trail.append((share, [proc_peak_mb(p.pid) for p in procs]))
                time.sleep(0.5)
            elapsed = time.perf_counter() - t0
            cpus = [proc_cpu(p.pid) - c for p, c in zip(procs, cpu0, strict=True)]
            peaks = [proc_peak_mb(p.pid) for p in procs]
            cpu = sum(cpus)
        else:
            profiler = None
            if args.profile:
                import cProfile

                profiler = cProfile.Profile(time.process_time)  # CPU time, not other processes'
                profiler.enable()

            def sample(done: int, total: int) -> None:
                trail.append((done / total if total else 1.0, [proc_peak_mb(os.getpid())]))

            t0, c0 = time.perf_counter(), time.process_time()
            run = automation.run_billing(
                run_date=RUN_DATE,
                triggered_by="bench",
                chunk_size=args.chunk_size,
                progress=sample,
            )
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.profile)
            cpus = [cpu]
            peaks = [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]  # Linux: KiB
        load_after = os.getloadavg()

        items = OrderItem.objects.count()
        orders = Order.objects.count()
        emails = OutgoingEmail.objects.count()
        print(f"run:  status={run.status} errors={len(run.errors)} chunks={run.chunks.count()}")
        print(f"      orders={orders:,} items={items:,} emails={emails:,}")
        rate = items / elapsed
        print(
            f"time: {elapsed:.1f} s wall, {rate:,.0f} services/s; CPU {cpu:.1f} s "
            f"({1e3 * cpu / max(items, 1):.2f} ms per service; per worker "
            f"{', '.join(f'{c:.1f}' for c in cpus)} s)"
        )
        print(
            f"peak RSS per {'worker' if args.workers else 'process'}: "
            f"{', '.join(f'{p:.0f}' for p in peaks)} MB"
        )
        # Peak RSS so far when a quarter, half, three quarters of the chunks were done: flat in N
        # means these equal the final peak (and the peak at a smaller N).
        by_share = [
            [round(p) for p in max((t for t in trail if t[0] <= q), default=(0, peaks))[1]]
            for q in (0.25, 0.5, 0.75)
        ]
        print(
            "      peak RSS so far at 25/50/75 % of the chunks: "
            + "; ".join("/".join(str(p) for p in ps) for ps in by_share)
            + " MB"
        )
        connection.close()

        if postgres:
            raw_services, raw_seconds, raw_cpu = raw_baseline_postgres(database_url)
        else:
            raw_services, raw_seconds, raw_cpu = raw_baseline_sqlite(f"{var_dir}/bench.sqlite3")
        raw_rate = raw_services / raw_seconds if raw_seconds else 0.0
        ratio = rate / raw_rate if raw_rate else 0.0
        cpu_ratio = (raw_cpu / cpu) if raw_cpu and cpu else None
        print(
            f"raw:  {raw_services:,} orders + items again with plain "
            f"{'psycopg COPY' if postgres else 'sqlite3'}: {raw_seconds:.2f} s, {raw_rate:,.0f} services/s"
            + (f", CPU {raw_cpu:.2f} s" if raw_cpu is not None else "")
        )
        print(
            f"ratio {ratio:.3f} (wall clock)"
            + (f", {cpu_ratio:.3f} (CPU time)" if cpu_ratio is not None else "")
            + f"; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
            f"({os.cpu_count()} CPUs)"
        )
        ok = run.status == BillingRunStatus.DONE and items == orders == args.n
        if not ok:
            print("RUN INCOMPLETE", file=sys.stderr)
        benchdb.emit(
            "billing_run",
            figure=round(rate, 1),
            unit="services/s",
            baseline=round(raw_rate, 1),
            ratio=round(ratio, 4),
            db=bench_db.kind,
            cpu_ratio=round(cpu_ratio, 4) if cpu_ratio is not None else None,
            raw_cpu_s=round(raw_cpu, 3) if raw_cpu is not None else None,
            n=args.n,
            workers=args.workers,
            threads=args.threads if args.workers else 1,
            wall_s=round(elapsed, 2),
            cpu_s=round(cpu, 2),
            cpu_ms_per_service=round(1e3 * cpu / max(items, 1), 3),
            peak_rss_mb=[round(p) for p in peaks],
            peak_rss_mb_at_25_50_75=by_share,
            load_avg=[round(load_before[0], 2), round(load_after[0], 2)],
            complete=ok,
        )
        return 0 if ok else 1
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if redis_url:
            try:
                from huey.contrib.djhuey import HUEY

                HUEY.flush()
            except Exception as exc:  # the figures are printed: say so and go on
                print(f"could not flush the bench queue: {exc}", file=sys.stderr)
        if args.keep:
            print("kept", var_dir, database_url)
        else:
            benchdb.drop_database(bench_db)


if __name__ == "__main__":
    sys.exit(main())
