"""End to end over HTTP on the production configuration: signed PayU approvals → applied.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clientarea REDIS_URL=redis://127.0.0.1:6379/6 \\
        .venv/bin/python bench/http_e2e.py [--n 1000] [--concurrency 8] [--keep]

Starts what ``deploy/stack.py`` starts for the smoke and load tests (DEBUG=0, PostgreSQL, Redis,
Caddy with TLS in front, gunicorn with 2 processes × 4 threads, ``--workers`` worker processes,
default 2), in a fresh database (``--database-url``, default ``<name>_bench_http`` on the server
of ``DATABASE_URL``: dropped and created again, so its name must contain "bench") and the Redis
database of ``--redis-url``/``REDIS_URL`` (flushed at start and end). Then, from this
process on the same database:

1. N pending renewal orders with a started PayU attempt each (``bench/confirmations.py``'s
   ``prepare``), and N signed "approved" confirmations plus ``--duplicates`` exact redeliveries;
2. raw baseline of the endpoint: as many ``GET /healthz/live`` (Django answers, nothing read
   or written) through the same proxy, with the same client, as the stack answers them;
3. the confirmations POSTed through Caddy to ``/payments/payu/confirmation/`` by
   ``--concurrency`` client threads, each on its own kept-alive HTTPS connection, each request
   after the previous answer; the clock runs from the first request until the workers have paid
   every order (approvals applied per second, the figure) and then until every invoice the
   payments issued is accepted by the DIAN simulator (the follow-up jobs the same workers run);
4. raw baseline of the database: the bare ``psycopg`` driver committing N five-write
   transactions on the same server (``benchdb.five_write_commits``).

It prints the endpoint's p50/p99 next to the health check's, approvals applied per second,
the CPU seconds each part of the stack spent per approval (gunicorn, workers, Caddy, read from
/proc: fairer than wall clock on a shared machine), how busy the machine's cores were, and the
consistency check (each order paid and renewed once, redeliveries recorded as duplicates, one
invoice each). The last line is the JSON figure line (``benchdb.emit``).

Targets (issue 18): >= 200 approvals/s applied, p99 < 100 ms at the endpoint. This script never
asserts timings; it exits 1 only when the run is inconsistent.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import benchdb

sys.path.insert(0, str(benchdb.ROOT / "deploy"))
import stack as stack_mod

ENDPOINT = "/payments/payu/confirmation/"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def stack_cpu(stack: stack_mod.Stack) -> dict[str, float]:
    """CPU seconds so far of gunicorn (master and its workers), each worker, and Caddy."""
    cpu = {"web": benchdb.tree_cpu(stack.procs["web"].pid)}
    for name, proc in stack.procs.items():
        if name.startswith("worker") or name == "caddy":
            cpu[name] = benchdb.proc_cpu(proc.pid)
    return cpu


def send_all(
    stack: stack_mod.Stack, requests: list[tuple[str, str, bytes | None]], concurrency: int
) -> tuple[list[float], list[int], float]:
    """Send the requests from ``concurrency`` threads, one kept HTTPS connection each, through
    the proxy; (latencies in s, statuses, wall seconds)."""
    port = urllib.parse.urlsplit(stack.base_url).port
    context = stack.ssl_context()
    latencies: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()
    pending = list(reversed(requests))

    def client() -> None:
        conn = http.client.HTTPSConnection("localhost", port, context=context, timeout=60)
        try:
            while True:
                with lock:
                    if not pending:
                        return
                    method, path, body = pending.pop()
                headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
                t0 = time.perf_counter()
                conn.request(method, path, body=body, headers=headers)
                answer = conn.getresponse()
                answer.read()
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
                    statuses.append(answer.status)
        finally:
            conn.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses, time.perf_counter() - started


def wait_until(count, target: int, timeout: float) -> bool:
    """Poll ``count()`` every 0.1 s until it reaches ``target``; False on timeout."""
    deadline = time.perf_counter() + timeout
    while count() < target:
        if time.perf_counter() > deadline:
            return False
        time.sleep(0.1)
    return True


def default_database_url() -> str:
    base = os.environ.get("DATABASE_URL", "")
    if benchdb.vendor(base) != "postgresql":
        return "postgres://postgres@127.0.0.1:5432/clientarea_bench_http"
    parts = urllib.parse.urlsplit(base)
    name = f"{parts.path.lstrip('/') or 'clientarea'}_bench_http"
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1000, help="approvals (default 1000)")
    parser.add_argument("--duplicates", type=float, default=0.10, help="redelivered share")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument(
        "--database-url",
        default=default_database_url(),
        help="a throwaway PostgreSQL database, dropped and created again (default: NAME_bench_http "
        "on the server of DATABASE_URL, or clientarea_bench_http on 127.0.0.1)",
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"), help="(flushed)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for workers")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the folder and the database")
    args = parser.parse_args()
    if not args.redis_url:
        parser.error("give --redis-url or REDIS_URL (a Redis database this run may flush)")
    if "bench" not in urllib.parse.urlsplit(args.database_url).path:
        parser.error("--database-url: the database is dropped; its name must contain 'bench'")

    workdir = Path(tempfile.mkdtemp(prefix="ca-bench-http-"))
    print(f"== production configuration in {workdir} ({os.cpu_count()} cores)", flush=True)
    stack = stack_mod.start(
        workdir=workdir,
        database_url=args.database_url,
        redis_url=args.redis_url,
        workers=args.workers,
        extra_env={"LOG_LEVEL": "WARNING"},  # an INFO line per job would measure the log files
    )
    ok = False
    try:
        ok = measure(args, stack)
    finally:
        stack_mod.stop(stack, keep=args.keep)
        if args.keep:
            print(f"kept {workdir} and {args.database_url}", file=sys.stderr)
    return 0 if ok else 1


def measure(args: argparse.Namespace, stack: stack_mod.Stack) -> bool:
    os.environ.update(stack.env)  # the stack's database, queue, secrets and keys
    benchdb.setup_django()
    import confirmations  # bench/confirmations.py: the same orders and signed bodies
    from django.db.models import Count

    from clientarea.billing.models import Order
    from clientarea.einvoice.models import Invoice, InvoiceStatus
    from clientarea.payments.models import PaymentMessage
    from clientarea.subscriptions.models import ServiceEvent

    payments, ids = confirmations.prepare(args.n)
    bodies, n_duplicates = confirmations.bodies_for(payments, args.duplicates, args.seed)
    orders = Order.objects.filter(pk__in=ids)
    invoices = Invoice.objects.filter(order__in=ids)
    n_requests = len(bodies)

    health, health_status, health_wall = send_all(
        stack, [("GET", "/healthz/live", None)] * n_requests, args.concurrency
    )
    health_ms = [x * 1000 for x in health]
    print(
        f"raw endpoint baseline, GET /healthz/live x{n_requests}, {args.concurrency} clients: "
        f"{n_requests / health_wall:.0f}/s, p50 {percentile(health_ms, 50):.1f} ms, "
        f"p99 {percentile(health_ms, 99):.1f} ms"
    )

    load0, cpu0, busy0 = os.getloadavg(), stack_cpu(stack), machine_busy()
    client_cpu0 = time.process_time()
    started = time.perf_counter()
    latencies, statuses, post_wall = send_all(
        stack, [("POST", ENDPOINT, body) for body in bodies], args.concurrency
    )
    client_cpu = time.process_time() - client_cpu0
    paid_in_time = wait_until(lambda: orders.filter(state="paid").count(), args.n, args.timeout)
    paid_wall = time.perf_counter() - started
    cpu1, busy1, docs_at_paid = (
        stack_cpu(stack),
        machine_busy(),
        invoices.filter(status=InvoiceStatus.ACCEPTED).count(),
    )
    docs_in_time = wait_until(
        lambda: invoices.filter(status=InvoiceStatus.ACCEPTED).count(), args.n, args.timeout
    )
    docs_wall = time.perf_counter() - started
    cpu2, load1 = stack_cpu(stack), os.getloadavg()

    ms = [x * 1000 for x in latencies]
    bad = [s for s in statuses if s != 200]
    rate = args.n / paid_wall
    spent = {k: cpu1[k] - cpu0[k] for k in cpu1}
    workers = sum(v for k, v in spent.items() if k.startswith("worker"))
    docs_workers = sum(cpu2[k] - cpu1[k] for k in cpu2 if k.startswith("worker"))
    busy = (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1)
    print(
        f"endpoint, POST {ENDPOINT} x{n_requests} ({args.n} approvals + {n_duplicates} "
        f"redeliveries), {args.concurrency} clients: {n_requests / post_wall:.0f}/s, "
        f"p50 {percentile(ms, 50):.1f} ms, p90 {percentile(ms, 90):.1f} ms, "
        f"p99 {percentile(ms, 99):.1f} ms, max {max(ms):.1f} ms; non-200: {len(bad)}"
    )
    print(
        f"applied: every order paid {paid_wall:.2f} s after the first request = "
        f"{rate:.1f} approvals/s ({docs_at_paid} invoices accepted by then)"
        + ("" if paid_in_time else " [TIMED OUT]")
    )
    print(
        f"documents: every invoice accepted by the DIAN simulator {docs_wall:.2f} s after the "
        f"first request = {args.n / docs_wall:.1f}/s" + ("" if docs_in_time else " [TIMED OUT]")
    )
    print(
        "CPU ms per approval until all paid: "
        + ", ".join(f"{k} {v / args.n * 1000:.1f}" for k, v in spent.items())
        + f", client {client_cpu / args.n * 1000:.1f}; workers' CPU per document afterwards "
        f"{docs_workers / max(args.n - docs_at_paid, 1) * 1000:.1f} ms; machine busy "
        f"{busy:.0%} of {os.cpu_count()} cores; load average {load0[0]:.2f} → {load1[0]:.2f}"
    )

    raw = benchdb.five_write_commits(
        benchdb.Database("postgresql", stack.database_url, str(stack.workdir)), args.n
    )
    print(
        f"raw database baseline (bare psycopg, same server): {raw['per_second']:.0f} five-write "
        f"transactions/s; applying end to end is {rate / raw['per_second']:.3f} of it"
    )

    paid = orders.filter(state="paid").count()
    renewed = ServiceEvent.objects.filter(
        kind="renewed", order_number__in=orders.values("number")
    ).count()
    outcomes = dict(
        PaymentMessage.objects.values_list("outcome")
        .annotate(n=Count("id"))
        .values_list("outcome", "n")
    )
    issued = invoices.count()
    ok = (
        paid == args.n
        and renewed == args.n
        and issued == args.n
        and not bad
        and outcomes.get("duplicate", 0) == n_duplicates
    )
    print(f"orders paid {paid}/{args.n}, renewals {renewed}, invoices {issued}, inbox {outcomes}")
    print("consistency:", "OK (each order paid and renewed exactly once)" if ok else "FAILED")
    benchdb.emit(
        "http_e2e",
        figure=rate,
        unit=f"approvals applied/s end to end (HTTP, 2 web + {args.workers} workers)",
        baseline=raw["per_second"],
        db="postgresql",
        n=args.n,
        concurrency=args.concurrency,
        endpoint_per_s=round(n_requests / post_wall, 1),
        endpoint_p50_ms=round(percentile(ms, 50), 1),
        endpoint_p99_ms=round(percentile(ms, 99), 1),
        health_p50_ms=round(percentile(health_ms, 50), 1),
        health_p99_ms=round(percentile(health_ms, 99), 1),
        documents_per_s=round(args.n / docs_wall, 1),
        cpu_ms_per_approval={k: round(v / args.n * 1000, 1) for k, v in spent.items()},
        worker_cpu_ms_per_approval=round(workers / args.n * 1000, 1),
        client_cpu_ms_per_approval=round(client_cpu / args.n * 1000, 1),
        machine_busy=round(busy, 2),
        loadavg=[round(load0[0], 2), round(load1[0], 2)],
        health_non_200=sum(1 for s in health_status if s != 200),
        mean_ms=round(statistics.fmean(ms), 1),
        consistent=ok,
    )
    return ok


if __name__ == "__main__":
    sys.exit(main())
