"""Several worker processes, one schedule, nothing lost or done twice (issue #17, item 4).

Real `clientarea worker` processes against a database they share with this test:
- on PostgreSQL (``DATABASE_URL``), the test database itself, and a Redis server of the test's
  own (a private ``redis-server`` on a free port, so it can be restarted);
- on SQLite, a migrated database file in a temporary folder, and Huey's SQLite queue.

1. Two workers started together both queue every minute's periodic jobs; each job runs once
   for the slot, the other copy is skipped.
2. Workers stopped (SIGTERM), restarted and added while paid orders are being invoiced and
   emailed: every invoice is rendered, emailed and transmitted once, every email and
   provisioning event sent once.
3. (PostgreSQL + Redis) Redis restarts mid-run with no persistence, losing every queued job:
   the sweeps recover the work from the database's outboxes, once.
4. A billing run split into chunks across two workers, one of them killed (SIGKILL) while it
   holds a chunk: the other takes the chunk over when its lease expires, the run finishes, and
   every due service gets its renewal order (and its email) exactly once.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[3]
MINUTE_TASKS = {
    "clientarea.notifications.tasks.deliver_due_emails_task",
    "clientarea.einvoice.tasks.process_pending_invoices_task",
    "clientarea.payments.tasks.apply_pending_messages_task",
    "clientarea.subscriptions.tasks.deliver_due_provisioning_events_task",
}

SETUP = """
import sys
import django
django.setup()
from decimal import Decimal
from django.utils import timezone
from clientarea.billing import services as billing
from clientarea.catalog.models import Product, ProductPrice
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.test import make_customer, make_provider

orders = int(sys.argv[1])
make_provider()
make_resolution()
hosting = Product.objects.create(code="hosting", name="Hosting Pyme", kind="hosting")
ProductPrice.objects.create(product=hosting, cycle="annual", price=Decimal("480000"))
for i in range(orders):
    order = billing.order_new_service(
        customer=make_customer(document_number=f"10172345{i:02d}"),
        product=hosting, cycle="annual", label=f"c{i}.co",
    )
    billing.mark_order_paid(order_id=order.pk, paid_at=timezone.now(), via="payu", method="card")
"""

DONE = (
    "SELECT count(*) FROM einvoice_invoice WHERE rendered_at IS NOT NULL"
    " AND emailed_at IS NOT NULL AND transmitted_at IS NOT NULL AND lease_until IS NULL"
)
UNSENT = (
    "SELECT (SELECT count(*) FROM notifications_outgoingemail WHERE status != 'sent')"
    " + (SELECT count(*) FROM subscriptions_provisioningdelivery WHERE status != 'sent')"
)
ONCE = {
    "invoice emails": "SELECT count(*) FROM notifications_outgoingemail WHERE template = 'invoice_issued'",
    "customers emailed an invoice": "SELECT count(DISTINCT customer_id) FROM notifications_outgoingemail WHERE template = 'invoice_issued'",
    "transmissions": "SELECT count(*) FROM einvoice_transmissionattempt",
    "payment emails": "SELECT count(*) FROM notifications_outgoingemail WHERE template = 'order_paid'",
    "provisioning events": "SELECT count(*) FROM subscriptions_provisioningdelivery",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RedisServer:
    """A private redis-server without persistence: a restart loses every queued job."""

    port: int
    folder: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


@dataclass
class Site:
    env: dict[str, str]
    folder: Path
    query: Callable[[str], int]
    redis: RedisServer | None = None
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)

    def python(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, *args], env=self.env, check=True, capture_output=True, timeout=600
        )

    def start_worker(self, name: str) -> None:
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 (for the process's lifetime)
        self.workers[name] = subprocess.Popen(
            [sys.executable, "-m", "clientarea.cli", "worker"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def stop_worker(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.workers.pop(name)
        proc.send_signal(sig)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def log_records(self) -> list[dict]:
        records = []
        for path in sorted(self.folder.glob("worker-*.log")):
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("{"):
                    record = json.loads(line)
                    record["worker"] = path.stem
                    records.append(record)
        return records

    def logs_tail(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}"
            for p in sorted(self.folder.glob("worker-*.log"))
        )

    def wait(self, condition: Callable[[], bool], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.5)
        return condition()


def postgres_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def site(tmp_path, request) -> Iterator[Site]:
    """A site for real worker processes, on this run's database kind (see the module's doc)."""
    is_postgres = connection.vendor == "postgresql"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "HUEY_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="clientarea.settings",
        PYTHONPATH=os.pathsep.join([str(ROOT), *sys.path]),
        VAR_DIR=str(tmp_path),
        DEBUG="1",
        PAYMENTS_SANDBOX="1",
        SECRET_KEY="several-workers-test",
        EINVOICE_CERT_PATH=str(tmp_path / "signing.p12"),
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        EINVOICE_TRANSMITTER="clientarea.einvoice.transmission.StoreOnlyTransmitter",
        WORKER_LEASE_SECONDS="3",
        WORKER_THREADS="2",
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
    )
    redis = None
    if is_postgres:
        if not shutil.which("redis-server"):
            pytest.skip("needs redis-server (Debian: apt-get install redis-server)")
        redis = RedisServer(port=free_port(), folder=tmp_path)
        redis.start()
        env.update(DATABASE_URL=postgres_url(), REDIS_URL=redis.url, HUEY_NAME="workers-test")
        import psycopg

        def query(sql: str) -> int:
            with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
                row = conn.execute(sql).fetchone()
                return int(row[0]) if row else 0

    else:
        db = tmp_path / "clientarea.sqlite3"
        env["DATABASE_URL"] = f"sqlite:///{db}"

        def query(sql: str) -> int:
            with sqlite3.connect(db, timeout=20) as conn:
                return int(conn.execute(sql).fetchone()[0])

    site = Site(env=env, folder=tmp_path, query=query, redis=redis)
    if not is_postgres:
        site.python("-m", "clientarea.cli", "migrate", "--noinput")
    try:
        yield site
    finally:
        for name in list(site.workers):
            site.stop_worker(name, signal.SIGINT)
        if redis:
            redis.stop()


pytestmark = pytest.mark.django_db(transaction=True)


def wait_for_minute_start(latest_second: int = 15) -> None:
    """Start near the top of a minute, so both workers' start-up copies fall in one slot."""
    while time.gmtime().tm_sec > latest_second:
        time.sleep(0.5)


def test_two_workers_run_each_periodic_job_once_per_slot(site):
    wait_for_minute_start()
    site.start_worker("worker-a")
    site.start_worker("worker-b")
    by_task: dict[str, list[dict]] = collections.defaultdict(list)

    def both_decided() -> bool:
        by_task.clear()
        for record in site.log_records():
            if record["logger"] == "clientarea.lib.periodic":
                task = record["message"].split()[1]
                by_task[task].append(record)
        return all(len(by_task[t]) >= 2 for t in MINUTE_TASKS)

    assert site.wait(both_decided, 120), site.logs_tail()
    for task in MINUTE_TASKS:
        slots: dict[str, list[dict]] = collections.defaultdict(list)
        for record in by_task[task]:
            slot = record["message"].split()[3].rstrip(":")
            slots[slot].append(record)
        # Both workers queued the job (two decisions), and each slot ran once.
        for slot, records in slots.items():
            ran = [r["worker"] for r in records if r["message"].endswith("running")]
            assert len(ran) == 1, (task, slot, [r["message"] for r in records])
        skipped = [r for r in by_task[task] if r["message"].endswith("skipped")]
        assert skipped, f"{task}: no copy was skipped; the workers did not share a slot"
        queued_by = {
            r["worker"]
            for r in site.log_records()
            if r["message"].startswith(f"Enqueueing periodic task {task}")
        }
        assert queued_by == {"worker-a", "worker-b"}  # each worker's scheduler queued it
    claims = site.query(
        "SELECT count(*) FROM lib_periodicrun GROUP BY task, slot ORDER BY count(*) DESC LIMIT 1"
    )
    assert claims == 1


def assert_every_side_effect_once(site: Site, orders: int) -> None:
    assert site.wait(lambda: site.query(DONE) == orders and site.query(UNSENT) == 0, 180), (
        site.logs_tail()
    )
    for name, sql in ONCE.items():
        assert site.query(sql) == orders, name


ORDERS = 40  # enough that two workers cannot finish before one is killed, even on a quiet machine


def test_workers_stopped_restarted_and_added_mid_run_lose_and_duplicate_nothing(site):
    site.python("-c", SETUP, str(ORDERS))
    assert site.query(DONE) == 0  # the work waits in the queue and the outboxes
    site.start_worker("worker-1")
    site.start_worker("worker-2")
    assert site.wait(lambda: site.query(DONE) >= 2, 120), site.logs_tail()
    site.stop_worker("worker-2", signal.SIGKILL)  # one dies mid-run, holding leases
    mid_run = site.query(DONE)
    site.stop_worker("worker-1")  # one stopped gracefully: it finishes what it holds
    site.start_worker("worker-3")  # a worker added during the day
    site.start_worker("worker-1")  # and the stopped one restarted
    assert mid_run < ORDERS, "the run finished before the workers were stopped: it proved nothing"
    assert_every_side_effect_once(site, ORDERS)


@pytest.mark.postgres
def test_a_redis_restart_mid_run_loses_no_job(site):
    site.python("-c", SETUP, str(ORDERS))
    site.start_worker("worker-1")
    site.start_worker("worker-2")
    assert site.wait(lambda: site.query(DONE) >= 2, 120), site.logs_tail()
    site.redis.stop()  # no persistence: every queued job is gone
    lost_at = site.query(DONE)
    time.sleep(2)  # the workers see Redis down (they log the errors and keep trying)
    site.redis.start()
    assert lost_at < ORDERS, "the run finished before Redis restarted: it proved nothing"
    assert_every_side_effect_once(site, ORDERS)
    assert all(proc.poll() is None for proc in site.workers.values()), site.logs_tail()


BILLING_SETUP = """
import datetime as dt
import sys
import django
django.setup()
from decimal import Decimal
from clientarea.accounts.models import Customer, User
from clientarea.billing import automation, tasks
from clientarea.catalog.models import Product
from clientarea.subscriptions.models import Service
from clientarea.test import make_provider

n, day, chunk, batch = int(sys.argv[1]), dt.date.fromisoformat(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
make_provider()
hosting = Product.objects.create(code="hosting", name="Hosting Pyme", kind="hosting")
users = User.objects.bulk_create(
    [User(email=f"r{i}@example.com", full_name=f"Cliente {i}", password="!") for i in range(n)]
)
customers = Customer.objects.bulk_create([
    Customer(user=u, document_type="13", document_number=str(10_000_000 + i), first_name="Cliente",
             last_name=str(i), address="Cra 7 # 12-34", municipality_code="11001", phone="3001234567",
             preferred_language="en" if i % 5 == 0 else "es-co")
    for i, u in enumerate(users)
])
services = []
for i, customer in enumerate(customers):
    due = day + dt.timedelta(days=i % 10)
    services.append(Service(customer=customer, product=hosting, cycle="monthly", price=Decimal("29000"),
                            label=f"r{i}.co", status="active", start_date=due - dt.timedelta(days=31),
                            next_due_date=due, anchor_day=due.day))
Service.objects.bulk_create(services)
run = automation.start_run(run_date=day, triggered_by="test", chunk_size=chunk)
tasks.fan_out(run, batch_size=batch)  # queued: the workers are not started yet
"""

RUN_SERVICES = 4000
RUN_CHUNK = 200  # 20 chunks of 4 batches each: a worker is always mid-chunk


def test_a_billing_run_across_two_workers_one_killed_mid_chunk_bills_each_service_once(site):
    site.python("-c", BILLING_SETUP, str(RUN_SERVICES), "2025-03-03", str(RUN_CHUNK), "50")
    site.start_worker("worker-1")
    site.start_worker("worker-2")

    def holds(name: str) -> bool:
        pid = site.workers[name].pid
        return (
            site.query(
                "SELECT count(*) FROM billing_billingrunchunk WHERE status = 'running'"
                f" AND claimed_by LIKE '%:{pid}:%' AND cursor IS NOT NULL"
            )
            >= 1
        )

    # The first worker seen mid-chunk (one of its chunks committed a batch, the chunk not done)
    # is killed: on a loaded machine either may start first and take the early chunks.
    seen: list[str] = []

    def mid_chunk() -> bool:
        seen[:] = [name for name in ("worker-1", "worker-2") if holds(name)][:1]
        return bool(seen)

    assert site.wait(mid_chunk, 120), site.logs_tail()
    victim_name = seen[0]
    survivor_name = "worker-1" if victim_name == "worker-2" else "worker-2"
    survivor = site.workers[survivor_name].pid
    site.stop_worker(victim_name, signal.SIGKILL)
    left = site.query("SELECT count(*) FROM billing_billingrunchunk WHERE status != 'done'")
    assert left > 0, "the run finished before the worker was killed: it proved nothing"

    done = (
        "SELECT count(*) FROM billing_billingrun WHERE status = 'done' AND finished_at IS NOT NULL"
    )
    assert site.wait(lambda: site.query(done) == 1, 120), site.logs_tail()
    once = {
        "items": "SELECT count(*) FROM billing_orderitem",
        "services billed": "SELECT count(DISTINCT service_id) FROM billing_orderitem",
        "orders": "SELECT count(*) FROM billing_order",
        "order emails": (
            "SELECT count(*) FROM notifications_outgoingemail WHERE template = 'order_created'"
        ),
        "customers emailed": "SELECT count(DISTINCT customer_id) FROM notifications_outgoingemail",
        "ledger charges": "SELECT count(*) FROM billing_ledgerentry WHERE kind = 'order'",
    }
    for name, sql in once.items():
        assert site.query(sql) == RUN_SERVICES, name
    assert site.query("SELECT count(*) FROM billing_billingrunchunk WHERE status != 'done'") == 0
    # The killed worker's chunk was taken over (a second claim) by the surviving worker.
    assert (
        site.query(
            "SELECT count(*) FROM billing_billingrunchunk WHERE attempts >= 2"
            f" AND claimed_by LIKE '%:{survivor}:%'"
        )
        >= 1
    ), site.logs_tail()
