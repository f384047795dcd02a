"""Benchmark: the logged-in Billing page and an order page over HTTP, next to the home page.

    .venv/bin/python bench/pages.py                       # SQLite, 10 s per page and round
    .venv/bin/python bench/pages.py --seconds 5 --rounds 3 --clients 4 --orders 40
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clientarea \\
        REDIS_URL=redis://127.0.0.1:6379/8 .venv/bin/python bench/pages.py

A child process builds a throwaway site (migrations, the demo data, static files) and gives the
demo customer Ana ``--orders`` more orders of 3 lines each (a full page of 25 on Billing, some
paid, some partly paid, some overdue). Then gunicorn starts exactly as ``clientarea run`` starts
it (2 processes × 4 threads, gthread, DEBUG=0, behind a proxy that says HTTPS), and
``--clients`` client processes (keep-alive connections, each request after the previous
answer) ask for one page as fast as they can for ``--seconds``:

* home:    the public home page, anonymous: the cheapest page of the site, the raw baseline;
* billing: /clientarea/billing/ logged in as Ana (the account, the filters, 25 orders);
* order:   one of Ana's pending orders, logged in.

``--profile FILE`` also serves each page in-process (through the same WSGI application and
middleware, no server) and prints the CPU time per request of each page and its SQL statements,
and writes a cProfile of each page timed in CPU time (``FILE`` for Billing, ``FILE.order`` and
``FILE.home`` for the others; the Billing and order ones are printed).

Pages take turns for ``--rounds`` rounds; each figure is the median round. It prints requests/s,
p50/p99 latency, the server's CPU per request (its processes' CPU time over the requests
answered: fairer than wall clock on a shared machine), on PostgreSQL the CPU of the database's
backends serving the run per request (which the server's CPU leaves out) and the ratio by both
together, and the ratio billing / home (target ≥ 0.6). The last line is the JSON figure line (``benchdb.emit``). Never asserts timings.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchdb

ROOT = benchdb.ROOT
CUSTOMER = "ana@cliente.example"


def populate(orders: int) -> None:
    """Demo site plus ``orders`` orders for Ana; prints the session cookie and an order number."""
    import datetime as dt
    from decimal import Decimal

    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from clientarea.accounts.models import User
    from clientarea.billing import ledger, services
    from clientarea.billing.models import ItemKind
    from clientarea.lib.dates import BOGOTA, local_today

    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)
    call_command("demo_data", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    call_command("collectstatic", verbosity=0, interactive=False)
    user = User.objects.get(email=CUSTOMER)
    customer = user.customer
    today = local_today()
    pending = []
    for i in range(orders):
        lines = [
            services.LineSpec(
                kind=ItemKind.OTHER,
                description=f"Hosting Pyme — sitio{i}.com.co, línea {j + 1}",
                unit_price=Decimal(45000 + 1000 * j),
            )
            for j in range(3)
        ]
        order = services.create_order(
            customer=customer,
            lines=lines,
            issue_date=today - dt.timedelta(days=orders - i),
            due_date=today + dt.timedelta(days=(i % 7) - 3),
            notify=False,
        )
        if i % 3 == 0:
            services.mark_order_paid(
                order_id=order.pk,
                paid_at=dt.datetime.combine(today, dt.time(9), tzinfo=BOGOTA),
                via="manual",
                method="transfer",
                notify=False,
            )
        else:
            pending.append(order)
    for order in pending[::4]:  # a partial payment: "… left to pay" on the row
        ledger.record_payment(
            customer_id=customer.pk,
            amount=Decimal("20000"),
            allocations=[ledger.Allocation(order_id=order.pk, amount=Decimal("20000"))],
            reference=f"BENCH-{order.number}",
            via="manual",
            method="transfer",
            notify=False,
        )
    client = Client()
    client.force_login(
        user, backend="clientarea.accounts.backends.EmailAccessCodeBackend"
    )  # as the login view
    print("session", client.cookies[settings.SESSION_COOKIE_NAME].value)
    print("order", pending[-1].number if pending else customer.orders.first().number)


def profile_in_process(session: str, order: str, out: str, n: int) -> None:
    """Serve each page ``n`` times through the WSGI application in this process; print CPU ms and
    statements per request, and write a cProfile (CPU time) of the Billing and order pages."""
    import cProfile
    import io
    import pstats

    from django.core.wsgi import get_wsgi_application
    from django.db import connection

    application = get_wsgi_application()

    def get(path: str, cookie: str | None) -> int:
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "443",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "localhost",
            "HTTP_X_FORWARDED_PROTO": "https",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        if cookie:
            environ["HTTP_COOKIE"] = f"sessionid={cookie}"
        status: list[str] = []
        body = application(environ, lambda s, h, *a: status.append(s))
        b"".join(body)
        getattr(body, "close", lambda: None)()
        return int(status[0].split()[0])

    pages = {
        "home": ("/", None),
        "billing": ("/clientarea/billing/", session),
        "order": (f"/clientarea/billing/{order}/", session),
    }
    for name, (path, cookie) in pages.items():
        for _ in range(20):  # warm caches, templates, connections
            if get(path, cookie) != 200:
                raise SystemExit(f"{path} did not answer 200")
        queries: list[str] = []

        def record(execute, sql, params, many, context, queries=queries):
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(record):  # (Django resets its own query log per request)
            get(path, cookie)
        cpu0 = time.process_time()
        for _ in range(n):
            get(path, cookie)
        cpu = (time.process_time() - cpu0) / n * 1000
        print(f"in-process {name:8} {cpu:6.2f} ms CPU per request, {len(queries)} statements")
        for sql in queries:
            print("   ", sql[:160])
        profiler = cProfile.Profile(time.process_time)  # CPU, not the neighbours
        profiler.enable()
        for _ in range(n):
            get(path, cookie)
        profiler.disable()
        target = out if name == "billing" else f"{out}.{name}"
        profiler.dump_stats(target)
        if name != "home":
            stats = pstats.Stats(target, stream=sys.stdout)
            stats.sort_stats("cumulative").print_stats(40)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hammer(args: tuple[int, str, dict[str, str], float]) -> tuple[list[float], int]:
    """One client: GET ``path`` on a keep-alive connection until ``seconds`` pass."""
    port, path, headers, seconds = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    while (start := time.perf_counter()) < deadline:
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        latencies.append(time.perf_counter() - start)
    conn.close()
    return latencies, errors


def server_cpu(master: int) -> float:
    """CPU seconds of gunicorn's master and its workers, from /proc."""
    return benchdb.tree_cpu(master)


class DatabaseCpu:
    """CPU seconds of the PostgreSQL backends serving this run's database (from /proc: the
    server runs on this machine), which ``server_cpu`` leaves out; nothing on SQLite (the
    database works inside gunicorn's processes). A backend that ends during a round loses its
    share of it (gunicorn keeps its connections for ``DB_CONN_MAX_AGE``, 60 s)."""

    def __init__(self, bench_db: benchdb.Database):
        self.conn = None
        if bench_db.kind == "postgresql":
            self.conn = benchdb.raw_connection(bench_db.url)
            self.conn.autocommit = True

    def snapshot(self) -> dict[int, float]:
        if self.conn is None:
            return {}
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
        cpu = {}
        for (pid,) in rows:
            with contextlib.suppress(OSError):  # a backend that has just ended
                cpu[pid] = benchdb.proc_cpu(pid)
        return cpu

    @staticmethod
    def spent(before: dict[int, float], after: dict[int, float]) -> float:
        """CPU of the round: a backend that started during it counts whole."""
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="per page and round")
    parser.add_argument("--rounds", type=int, default=3, help="0 with --profile: no server")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--orders", type=int, default=40, help="extra orders for the customer")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--profile", metavar="FILE", help="also profile the pages in-process (CPU time) into FILE"
    )
    parser.add_argument("--profile-requests", type=int, default=300, help=argparse.SUPPRESS)
    parser.add_argument(
        "--profile-run", nargs=2, metavar=("SESSION", "ORDER"), help=argparse.SUPPRESS
    )
    parser.add_argument("--populate", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.populate:
        benchdb.setup_django()
        populate(args.orders)
        return 0
    if args.profile_run:
        benchdb.setup_django()
        profile_in_process(*args.profile_run, args.profile, args.profile_requests)
        return 0

    bench_db = benchdb.create_database("pages-bench-")
    var_dir, db = bench_db.tmp, bench_db.kind
    env = {**os.environ, **benchdb.environ(bench_db)}
    env["BEHIND_PROXY"] = "1"  # the client says X-Forwarded-Proto: https, as Caddy does
    benchdb.flush_redis()
    server = None
    try:
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "--orders", str(args.orders), "--populate", var_dir],
            check=True,
            env=env,
            capture_output=True,
            text=True,
        ).stdout
        values = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
        session, order = values["session"].strip(), values["order"].strip()
        print(f"{db}: demo site + {args.orders} orders in {time.perf_counter() - started:.1f} s")
        if args.profile:
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--profile",
                    str(Path(args.profile).resolve()),
                    "--profile-requests",
                    str(args.profile_requests),
                    "--profile-run",
                    session,
                    order,
                ],
                check=True,
                env=env,
                cwd=var_dir,
            )
            if args.rounds == 0:  # the profile only
                return 0

        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "clientarea.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.web_workers),
                "--threads",
                "4",
                "--worker-class",
                "gthread",
                "--timeout",
                "60",
            ],
            env={**env, "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(dir=var_dir)},
            cwd=var_dir,
            stdout=subprocess.DEVNULL,
            stderr=open(Path(var_dir, "gunicorn.log"), "w"),  # noqa: SIM115
        )
        base = {"Host": "localhost", "X-Forwarded-Proto": "https"}
        logged_in = {**base, "Cookie": f"sessionid={session}"}
        pages = {
            "home": ("/", base),
            "billing": ("/clientarea/billing/", logged_in),
            "order": (f"/clientarea/billing/{order}/", logged_in),
        }
        for _ in range(100):  # wait for gunicorn, then check every page answers 200
            time.sleep(0.2)
            try:
                for path, headers in pages.values():
                    _, errors = hammer((port, path, headers, 0.01))
                    if errors:
                        raise OSError(f"{path} did not answer 200")
                break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit(Path(var_dir, "gunicorn.log").read_text()) from None
        else:
            raise SystemExit(
                "gunicorn did not answer: " + Path(var_dir, "gunicorn.log").read_text()
            )
        for path, headers in pages.values():  # warm every thread's caches
            hammer((port, path, headers, 1.0))

        print(
            f"gunicorn {args.web_workers}×4 threads, {args.clients} client processes, "
            f"{args.rounds} rounds × {args.seconds:g} s per page; load average "
            f"{os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs"
        )
        results: dict[str, list[dict]] = {name: [] for name in pages}
        database = DatabaseCpu(bench_db)
        with multiprocessing.Pool(args.clients) as pool:
            for _ in range(args.rounds):
                for name, (path, headers) in pages.items():
                    db0 = database.snapshot()
                    cpu0, t0 = server_cpu(server.pid), time.perf_counter()
                    parts = pool.map(hammer, [(port, path, headers, args.seconds)] * args.clients)
                    elapsed, cpu = time.perf_counter() - t0, server_cpu(server.pid) - cpu0
                    db_cpu = database.spent(db0, database.snapshot())
                    latencies = [x for part, _ in parts for x in part]
                    errors = sum(e for _, e in parts)
                    results[name].append(
                        {
                            "rps": len(latencies) / elapsed,
                            "p50": percentile(latencies, 0.5) * 1000,
                            "p99": percentile(latencies, 0.99) * 1000,
                            "cpu_ms": cpu / max(len(latencies), 1) * 1000,
                            "db_cpu_ms": db_cpu / max(len(latencies), 1) * 1000,
                            "errors": errors,
                        }
                    )
        summary = {}
        print(
            f"\n{'page':8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'server CPU ms/req':>18}"
            f" {'database CPU ms/req':>20} errors"
        )
        for name, rounds in results.items():
            med = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
            med["errors"] = sum(r["errors"] for r in rounds)
            summary[name] = med
            print(
                f"{name:8} {med['rps']:>7.1f} {med['p50']:>7.1f} {med['p99']:>7.1f} "
                f"{med['cpu_ms']:>18.2f} "
                + (f"{med['db_cpu_ms']:>20.2f}" if db == "postgresql" else f"{'(in server)':>20}")
                + f" {med['errors']:>6}"
            )
        home, billing, order_page = summary["home"], summary["billing"], summary["order"]
        ratio = billing["rps"] / home["rps"]
        print(
            f"\nBilling / home: {ratio:.2f} (target ≥ 0.6); order / home: "
            f"{order_page['rps'] / home['rps']:.2f}; by server CPU per request: billing "
            f"{home['cpu_ms'] / billing['cpu_ms']:.2f}, order {home['cpu_ms'] / order_page['cpu_ms']:.2f}"
        )
        with_db = {name: page["cpu_ms"] + page["db_cpu_ms"] for name, page in summary.items()}
        if db == "postgresql":
            print(
                f"by server + database CPU per request: billing "
                f"{with_db['home'] / with_db['billing']:.2f}, order "
                f"{with_db['home'] / with_db['order']:.2f}"
            )
        benchdb.emit(
            "pages",
            figure=billing["rps"],
            unit="Billing page requests/s",
            baseline=home["rps"],
            ratio=ratio,
            db=db,
            billing_p50_ms=round(billing["p50"], 1),
            billing_p99_ms=round(billing["p99"], 1),
            billing_cpu_ms=round(billing["cpu_ms"], 2),
            order_rps=round(order_page["rps"], 1),
            order_ratio=round(order_page["rps"] / home["rps"], 3),
            order_p50_ms=round(order_page["p50"], 1),
            order_p99_ms=round(order_page["p99"], 1),
            order_cpu_ms=round(order_page["cpu_ms"], 2),
            home_p50_ms=round(home["p50"], 1),
            home_p99_ms=round(home["p99"], 1),
            home_cpu_ms=round(home["cpu_ms"], 2),
            errors=billing["errors"] + order_page["errors"] + home["errors"],
            # Server CPU per request, home / page: fairer than requests/s on a shared machine.
            cpu_ratio=round(home["cpu_ms"] / billing["cpu_ms"], 3),
            order_cpu_ratio=round(home["cpu_ms"] / order_page["cpu_ms"], 3),
            # PostgreSQL's backends for this run's database (0 on SQLite): what the server CPU
            # leaves out and requests/s do not.
            billing_db_cpu_ms=round(billing["db_cpu_ms"], 2),
            order_db_cpu_ms=round(order_page["db_cpu_ms"], 2),
            home_db_cpu_ms=round(home["db_cpu_ms"], 2),
            cpu_ratio_with_db=round(with_db["home"] / with_db["billing"], 3),
        )
        return 0
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
        if args.keep:
            print("kept", var_dir, bench_db.url, file=sys.stderr)
        else:
            benchdb.drop_database(bench_db)


if __name__ == "__main__":
    sys.exit(main())
