"""Issue 11.3, with real processes: the worker is killed with SIGKILL while it renders and sends
invoices, then started again; every invoice is rendered, emailed and transmitted exactly once,
and every email and provisioning event goes out once.

The test runs its own site in a temporary directory (SQLite database, Huey on SQLite), outside
the test database: a separate worker process must see the same data.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ORDERS = 12

SETUP = f"""
import django
django.setup()
from decimal import Decimal
from django.utils import timezone
from huey.contrib.djhuey import HUEY
from clientarea.billing import services as billing
from clientarea.catalog.models import Product, ProductPrice
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.test import make_customer, make_provider

make_provider()
make_resolution()
hosting = Product.objects.create(code="hosting", name="Hosting Pyme", kind="hosting")
ProductPrice.objects.create(product=hosting, cycle="annual", price=Decimal("480000"))
for i in range({ORDERS}):
    order = billing.order_new_service(
        customer=make_customer(document_number=f"10172345{{i:02d}}"),
        product=hosting, cycle="annual", label=f"c{{i}}.co",
    )
    billing.mark_order_paid(order_id=order.pk, paid_at=timezone.now(), via="payu", method="card")
    if i == {ORDERS // 4}:
        HUEY.flush()  # the jobs queued so far are lost, as if the web process died after commit
"""


def site_env(var: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "HUEY_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="clientarea.settings",
        PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[3]), *sys.path]),
        VAR_DIR=str(var),
        DEBUG="1",
        PAYMENTS_SANDBOX="1",
        SECRET_KEY="worker-crash-test",
        EINVOICE_CERT_PATH=str(var / "signing.p12"),
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        # No web server answers as the DIAN simulator here: invoices are stored only.
        EINVOICE_TRANSMITTER="clientarea.einvoice.transmission.StoreOnlyTransmitter",
        WORKER_LEASE_SECONDS="3",
        WORKER_THREADS="2",
        LOG_LEVEL="WARNING",
    )
    return env


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(db, timeout=20) as conn:
        return conn.execute(sql).fetchone()[0]


def start_worker(env, var: Path) -> subprocess.Popen:
    log = open(var / "worker.log", "ab")  # noqa: SIM115 (kept open for the process's lifetime)
    return subprocess.Popen(
        [sys.executable, "-m", "clientarea.cli", "worker"], env=env, stdout=log, stderr=log
    )


RENDERED = "SELECT count(*) FROM einvoice_invoice WHERE rendered_at IS NOT NULL"
DONE = (
    "SELECT count(*) FROM einvoice_invoice WHERE rendered_at IS NOT NULL"
    " AND emailed_at IS NOT NULL AND transmitted_at IS NOT NULL AND lease_until IS NULL"
)
UNSENT = (
    "SELECT (SELECT count(*) FROM notifications_outgoingemail WHERE status != 'sent')"
    " + (SELECT count(*) FROM subscriptions_provisioningdelivery WHERE status != 'sent')"
)


def test_a_worker_killed_mid_run_and_restarted_does_every_side_effect_once(tmp_path):
    env = site_env(tmp_path)
    db = tmp_path / "clientarea.sqlite3"
    for command in (["-m", "clientarea.cli", "migrate", "--noinput"], ["-c", SETUP]):
        subprocess.run(
            [sys.executable, *command], env=env, check=True, capture_output=True, timeout=300
        )
    assert count(db, RENDERED) == 0  # no worker yet: the work waits in the queue and the tables

    worker = start_worker(env, tmp_path)
    try:
        deadline = time.monotonic() + 120
        while count(db, RENDERED) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(worker.pid, signal.SIGKILL)  # mid-run: some invoices done, some claimed, some not
        worker.wait(timeout=30)
        killed_at = count(db, DONE)
        time.sleep(4)  # the dead worker's leases expire

        worker = start_worker(env, tmp_path)  # its sweeps run at start, then every minute
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            if count(db, DONE) == ORDERS and count(db, UNSENT) == 0:
                break
            time.sleep(0.5)
    finally:
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    log = (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
    assert killed_at < ORDERS, "the worker finished before it was killed; the test proved nothing"
    assert count(db, DONE) == ORDERS, log
    assert count(db, UNSENT) == 0, log
    # Exactly once: one invoice email per invoice, one transmission per invoice,
    # one "payment received" email and one provisioning event per order.
    assert (
        count(
            db, "SELECT count(*) FROM notifications_outgoingemail WHERE template = 'invoice_issued'"
        )
        == ORDERS
    )
    assert (
        count(
            db,
            "SELECT count(DISTINCT customer_id) FROM notifications_outgoingemail WHERE template = 'invoice_issued'",
        )
        == ORDERS
    )
    assert count(db, "SELECT count(*) FROM einvoice_transmissionattempt") == ORDERS
    assert (
        count(db, "SELECT count(*) FROM notifications_outgoingemail WHERE template = 'order_paid'")
        == ORDERS
    )
    assert count(db, "SELECT count(*) FROM subscriptions_provisioningdelivery") == ORDERS
