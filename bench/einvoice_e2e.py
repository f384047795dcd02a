"""``bench/einvoice.py --e2e N1,N2``: the worker path through the DIAN simulator over HTTP (see there).

The parent prepares one throwaway ``VAR_DIR`` per N, migrates it, starts gunicorn with the
simulator on, runs the measuring child (a fresh process, so its peak RSS is its own), reads the
server's peak RSS from ``/proc`` and stops it. The child imports Django already set up by
``bench/einvoice.py`` with the environment the parent gave it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import benchdb
import dianrequests

ROOT = benchdb.ROOT
SIMULATOR_PATH = "/sandbox/dian/WcfDianCustomerServices.svc"


# -- parent ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environment(var_dir: str, port: int) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "REDIS_URL", "DIAN_", "EINVOICE_"))
    }
    env.update(
        VAR_DIR=var_dir,
        SECRET_KEY="bench-only-not-a-secret",
        DEBUG="1",
        PAYMENTS_SANDBOX="1",
        DIAN_SANDBOX="1",
        SITE_URL=f"http://127.0.0.1:{port}",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        EINVOICE_TRANSMITTER="clientarea.einvoice.dian.transmitter.DianTransmitter",
        DIAN_WS_URL=f"http://127.0.0.1:{port}{SIMULATOR_PATH}",
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        HUEY_IMMEDIATE="0",
        LOG_LEVEL="WARNING",
        AXES_ENABLED="0",
        RATELIMIT_ENABLE="0",
        DJANGO_SETTINGS_MODULE="clientarea.settings",
        PYTHONPATH=str(ROOT),
    )
    return env


def _peak_rss_mb(pid: int) -> float:
    """VmHWM of a process and its children (gunicorn's master and workers), in MB."""
    total = 0
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    for each in pids:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def _wait_for(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server did not start on port {port}")


def parent(args) -> None:
    sizes = [int(n) for n in args.e2e.split(",") if n.strip()]
    load = os.getloadavg()
    print(
        f"e2e through the DIAN simulator over HTTP, SQLite; {os.cpu_count()} cores, load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start; gunicorn {args.web_workers}×4 "
        + (
            f"threads, a real Huey consumer: WORKER_TYPE={args.worker_type}, "
            f"WORKER_THREADS={args.worker_threads}"
            if args.worker_type
            else f"threads, {args.worker_processes} worker process(es) × {args.worker_threads} threads"
        )
    )
    figures: list[tuple[int, dict, float]] = []
    for n in sizes:
        var_dir = tempfile.mkdtemp(prefix="ca-bench-e2e-")
        port = _free_port()
        env = _environment(var_dir, port)
        subprocess.run(
            [sys.executable, "-m", "clientarea.cli", "migrate", "--verbosity", "0"],
            env=env,
            check=True,
            cwd=ROOT,
        )
        server = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "clientarea.wsgi:application",
                "--bind", f"127.0.0.1:{port}", "--workers", str(args.web_workers),
                "--threads", "4", "--log-level", "warning", "--keep-alive", "30",
            ],
            env=env,
            cwd=ROOT,
        )  # fmt: skip
        try:
            _wait_for(port)
            # The measuring process runs with DEBUG off: Django keeps no query log then.
            child_env = {**env, "DEBUG": "0", "SECURE_SSL_REDIRECT": "0"}
            child = [
                sys.executable, str(ROOT / "bench" / "einvoice.py"), "--e2e-child", str(n),
                "--worker-threads", str(args.worker_threads), "--url", env["DIAN_WS_URL"],
                "--worker-processes", str(args.worker_processes),
                "--worker-type", args.worker_type, "--server-pid", str(server.pid),
            ]  # fmt: skip
            if args.profile:  # the child writes one cProfile per worker thread and prints them
                child += ["--profile", args.profile]
            if args.steps:
                child += ["--steps"]
            out = subprocess.run(child, env=child_env, cwd=ROOT, check=True, capture_output=True)
            server_rss = _peak_rss_mb(server.pid)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            shutil.rmtree(var_dir, ignore_errors=True)
        lines = out.stdout.decode().splitlines()
        result = json.loads(lines[-1])
        for line in lines[:-1]:
            print(line)
        print(
            f"N={n}: {n} documents validated and delivered in {result['seconds']:.2f} s = "
            f"{n / result['seconds']:.1f} per second (worker CPU {result['cpu'] / n * 1000:.1f} ms "
            f"each, the simulator's server {result['server_cpu'] / n * 1000:.1f} ms); raw baseline "
            f"{result['raw_per_second']:.1f} per second (the server "
            f"{result['raw_server_cpu_ms']:.1f} ms CPU per document), ratio "
            f"{n / result['seconds'] / result['raw_per_second']:.2f}; peak RSS worker "
            f"{result['rss_mb']:.0f} MB, server {server_rss:.0f} MB (all its processes); "
            f"paying the N orders beforehand took {result['pay_seconds']:.1f} s"
        )
        figures.append((n, result, server_rss))
    n, result, server_rss = figures[-1]  # the largest N is the figure; each N's RSS beside it
    rate = n / result["seconds"]
    benchdb.emit(
        "einvoice_e2e",
        figure=rate,
        unit="documents validated and delivered/s (worker path through the DIAN simulator)",
        baseline=result["raw_per_second"],
        db="sqlite",
        n=n,
        worker_cpu_ms_per_item=round(result["cpu"] / n * 1000, 1),
        server_cpu_ms_per_item=round(result["server_cpu"] / n * 1000, 1),
        raw_server_cpu_ms_per_item=round(result["raw_server_cpu_ms"], 1),
        worker_shape=(
            f"huey {args.worker_type} x{args.worker_threads}"
            if args.worker_type
            else f"{args.worker_processes}x{args.worker_threads}"
        ),
        per_n={m: round(m / r["seconds"], 1) for m, r, _rss in figures},
        worker_rss_mb={m: round(r["rss_mb"]) for m, r, _rss in figures},
        server_rss_mb={m: round(rss) for m, _r, rss in figures},
        loadavg_at_start=[round(x, 2) for x in load],
    )


# -- child ----------------------------------------------------------------------------------------


def _prepare(n: int) -> list[int]:
    """N paid orders, each with its issued invoice (number and CUFE); returns the invoice ids."""
    from decimal import Decimal
    from io import StringIO

    from django.utils import timezone

    from clientarea.billing import services as billing
    from clientarea.catalog.models import Product, ProductPrice
    from clientarea.einvoice import demo
    from clientarea.einvoice.models import Invoice
    from clientarea.test import make_customer, make_provider

    make_provider()
    demo.load(StringIO())  # DIAN's test numbering and a self-signed certificate
    product = Product.objects.create(code="hosting", name="Hosting Pyme", kind="hosting")
    ProductPrice.objects.create(product=product, cycle="annual", price=Decimal("480000"))
    orders = [
        billing.order_new_service(
            customer=make_customer(f"c{i}@bench.example"),
            product=product,
            cycle="annual",
            label=f"c{i}.co",
        )
        for i in range(n)
    ]
    for order in orders:
        billing.mark_order_paid(
            order_id=order.pk, paid_at=timezone.now(), via="payu", method="card"
        )
    return list(
        Invoice.objects.filter(order__in=orders).order_by("id").values_list("id", flat=True)
    )


#: The worker's steps, wrapped by ``--steps``: (label, module, function). Each is timed in the
#: calling thread's CPU time (``time.thread_time``); nested steps count in their parents too.
STEPS = [
    ("render_and_send_invoice (all of it)", "einvoice.delivery", "render_and_send_invoice"),
    ("  claim", "einvoice.delivery", "claim_invoice"),
    ("  render_invoice", "einvoice.delivery", "render_invoice"),
    ("    provider (logo)", "einvoice.delivery", "get_provider"),
    ("    signing key (both steps)", "einvoice.delivery", "_signing_material"),
    ("    CUFE check", "einvoice.ubl", "invoice_cufe"),
    ("    XML build", "einvoice.ubl", "build_invoice_xml"),
    ("    XAdES signature (invoice and AttachedDocument)", "einvoice.signing", "sign_invoice"),
    ("    AttachedDocument (both)", "einvoice.attached", "build_attached_document"),
    ("    PDF", "einvoice.pdf", "render_invoice_pdf"),
    ("      QR path", "einvoice.pdf", "qr_svg"),
    ("  transmit_invoice", "einvoice.delivery", "transmit_invoice"),
    ("    DianTransmitter", "einvoice.dian.transmitter", "DianTransmitter.transmit"),
    ("    DianTransmitter", "einvoice.dian.transmitter", "DianTransmitter._transmit"),
    ("      document from its JSON (every caller)", "einvoice.builder", "document_from_json"),
    ("      package (ZIP)", "einvoice.dian.files", "package"),
    ("      signed SOAP request", "einvoice.dian.envelope", "build_request"),
    ("      POST (transport.send)", "einvoice.dian.transport", "send"),
    ("        a new connection opened", "einvoice.dian.transport", "_open"),
    ("      answer parsed", "einvoice.dian.responses", "parse_envelope"),
    (
        "    AttachedDocument with DIAN's answer",
        "einvoice.delivery",
        "_attached_with_application_response",
    ),
    ("  email_invoice_once", "einvoice.delivery", "email_invoice_once"),
    ("    email ZIP", "einvoice.attached", "build_email_zip"),
    ("deliver_email", "notifications.delivery", "deliver_email"),
]


def _wrap_steps() -> dict[str, list[float]]:
    import functools
    import importlib

    spent: dict[str, list[float]] = {}
    for label, module_name, name in STEPS:
        module = importlib.import_module(f"clientarea.{module_name}")
        owner, _, attribute = name.rpartition(".")
        target = getattr(module, owner) if owner else module
        original = getattr(target, attribute, None)
        if original is None:  # a name this version of the code does not have
            continue
        times = spent.setdefault(label, [])

        def timed(*args, _original=original, _times=times, **kwargs):
            started = time.thread_time()
            try:
                return _original(*args, **kwargs)
            finally:
                _times.append(time.thread_time() - started)

        setattr(target, attribute, functools.wraps(original)(timed))
    # The names other modules imported from the wrapped ones (``from x import f``) are wrapped too.
    from clientarea.einvoice import attached, signing

    attached.sign_invoice = signing.sign_invoice
    return spent


def _work(invoice_ids: list[int], errors: list[BaseException], profile: str = "") -> None:
    """What the worker does for each invoice: render, send, accept, email, deliver."""
    import cProfile

    from django.db import connection

    from clientarea.einvoice import delivery
    from clientarea.einvoice.models import Invoice
    from clientarea.notifications import delivery as mail
    from clientarea.notifications.models import OutgoingEmail

    profiler = cProfile.Profile(time.thread_time) if profile else None  # this thread's CPU
    if profiler is not None:
        profiler.enable()
    try:
        for invoice_id in invoice_ids:
            delivery.render_and_send_invoice(invoice_id=invoice_id)
            customer_id = Invoice.objects.values_list("customer_id", flat=True).get(pk=invoice_id)
            for email_id in OutgoingEmail.objects.filter(
                customer_id=customer_id, template="invoice_issued"
            ).values_list("id", flat=True):
                mail.deliver_email(email_id=email_id)
    except BaseException as exc:  # reported by the parent
        errors.append(exc)
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        connection.close()


def _raw_baseline(url: str, n: int, threads: int) -> float:
    """The same kind of documents sent by a bare loop: SOAP requests built beforehand."""
    from zoneinfo import ZoneInfo

    from django.conf import settings

    from clientarea.einvoice import signing
    from clientarea.einvoice.dian import transport

    key, cert = signing.load_pkcs12(settings.EINVOICE_CERT_PATH, settings.EINVOICE_CERT_PASSWORD)
    now = dt.datetime.now(ZoneInfo("America/Bogota"))
    requests, _invoices = dianrequests.signed_requests(
        n=n, first=1_000_000, url=url, key=key, cert=cert, issue=now
    )  # numbers the e2e run never used
    headers = {"Content-Type": dianrequests.content_type()}
    chunks = [requests[i::threads] for i in range(threads)]

    def post(chunk: list[bytes]) -> None:
        for body in chunk:
            transport.send("POST", url, body, headers, timeout=60)
        transport.close_connections()

    started = time.perf_counter()
    workers = [threading.Thread(target=post, args=(c,)) for c in chunks]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return n / (time.perf_counter() - started)


def _threads(chunks: list[list[int]], errors: list[BaseException], profiles: list[str]) -> None:
    workers = [
        threading.Thread(target=_work, args=(chunk, errors, profile))
        for chunk, profile in zip(chunks, profiles, strict=True)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def _processes(
    ids: list[int], processes: int, threads: int, errors: list[BaseException]
) -> tuple[float, float, float]:
    """``--worker-processes`` > 1: that many forked worker processes, each with ``threads``
    threads, share the invoices (as several ``clientarea worker`` processes would). Returns the
    wall seconds, the CPU seconds of all of them and the largest peak RSS of one, in MB."""
    from django.db import connections

    connections.close_all()  # each process opens its own
    before = os.times()
    started = time.perf_counter()
    pids = []
    for share in (ids[i::processes] for i in range(processes)):
        pid = os.fork()
        if pid == 0:  # a worker process: its threads, then out without the parent's clean-up
            failed: list[BaseException] = []
            try:
                _threads([share[i::threads] for i in range(threads)], failed, [""] * threads)
            finally:
                for exc in failed:
                    print(f"worker process {os.getpid()}: {exc!r}", file=sys.stderr)
                os._exit(1 if failed else 0)
        pids.append(pid)
    for pid in pids:
        _pid, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            errors.append(RuntimeError(f"worker process {pid} failed"))
    seconds = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return seconds, cpu, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _consumer(n: int, worker_type: str, workers: int) -> tuple[float, float, float]:
    """``--worker-type``: a real ``clientarea worker`` (Huey consumer) takes the jobs the payments
    queued (the invoices, their emails, the payment emails and provisioning events) until every
    invoice is accepted and emailed. The wall clock includes its start-up (≈ 1–2 s: Django,
    the task modules). Returns the wall seconds, the CPU seconds of the consumer and its forked
    processes (stopped with SIGINT, waited for) and its peak RSS, in MB."""
    from django.db import connections

    from clientarea.einvoice.models import Invoice, InvoiceStatus
    from clientarea.notifications.models import OutgoingEmail

    connections.close_all()
    env = {**os.environ, "WORKER_TYPE": worker_type, "WORKER_THREADS": str(workers)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    consumer = subprocess.Popen([sys.executable, "-m", "clientarea.cli", "worker"], env=env)
    try:
        while not (
            Invoice.objects.filter(status=InvoiceStatus.ACCEPTED).count() == n
            and OutgoingEmail.objects.filter(template="invoice_issued", status="sent").count() == n
        ):
            if consumer.poll() is not None:
                raise SystemExit(f"the worker exited with {consumer.returncode}")
            time.sleep(0.05)
        seconds = time.perf_counter() - started
    finally:
        connections.close_all()
        consumer.send_signal(signal.SIGINT)
        consumer.wait(timeout=60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, after.ru_maxrss / 1024


def child(args) -> None:
    from clientarea.einvoice.models import Invoice, InvoiceStatus
    from clientarea.notifications.models import OutgoingEmail

    n, threads = args.e2e_child, args.worker_threads
    started = time.perf_counter()
    ids = _prepare(n)
    pay_seconds = time.perf_counter() - started
    chunks = [ids[i::threads] for i in range(threads)]
    steps = _wrap_steps() if args.steps else {}
    errors: list[BaseException] = []
    profiles = [
        str(Path(tempfile.gettempdir()) / f"ca-e2e-{os.getpid()}-{i}.prof") if args.profile else ""
        for i in range(threads)
    ]
    processes = max(1, args.worker_processes)
    server_cpu = benchdb.tree_cpu(args.server_pid)
    if args.worker_type:
        seconds, cpu, rss_mb = _consumer(n, args.worker_type, threads)
    elif processes == 1:
        started, cpu = time.perf_counter(), time.process_time()
        _threads(chunks, errors, profiles)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    else:
        seconds, cpu, rss_mb = _processes(ids, processes, threads, errors)
    server_cpu = benchdb.tree_cpu(args.server_pid) - server_cpu
    if args.profile and processes == 1:
        import pstats

        stats = pstats.Stats(*profiles, stream=sys.stdout)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats("clientarea", 30)
    if errors:
        raise SystemExit(f"worker errors: {errors[:3]}")
    accepted = Invoice.objects.filter(pk__in=ids, status=InvoiceStatus.ACCEPTED).count()
    sent = OutgoingEmail.objects.filter(template="invoice_issued", status="sent").count()
    if accepted != n or sent != n:
        raise SystemExit(f"only {accepted} of {n} accepted and {sent} emailed")
    for label, values in steps.items():
        if values:
            print(
                f"  {label:55s} {sum(values) / n * 1000:6.2f} ms CPU per document "
                f"({len(values) / n:.2f} calls)"
            )
    raw_n = min(n, 200)
    raw_server_cpu = benchdb.tree_cpu(args.server_pid)
    raw = _raw_baseline(args.url, raw_n, threads)
    raw_server_cpu = benchdb.tree_cpu(args.server_pid) - raw_server_cpu
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu": cpu,
                "rss_mb": rss_mb,
                "raw_per_second": raw,
                "server_cpu": server_cpu,
                "raw_server_cpu_ms": raw_server_cpu / raw_n * 1000,
                "pay_seconds": pay_seconds,
            }
        )
    )
