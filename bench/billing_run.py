"""Benchmark: the daily billing run over N customers with services due inside the renewal window.

    .venv/bin/python bench/billing_run.py              # N=100,000
    .venv/bin/python bench/billing_run.py --n 10000
    .venv/bin/python bench/billing_run.py --n 10000 --profile var/billing_run.prof

Everything happens in a throwaway SQLite database in a temporary directory
(VAR_DIR and DATABASE_URL are set before Django starts). The data is created
by a child process, so the peak RSS printed at the end is the billing run's
own (plus Django), not the data loader's.

Each customer has one active service (a mix of cycles, prices, tax treatments
and month-end anchor days) due between the run date and the end of the renewal
window, so the run creates N renewal orders with one item each and queues N
"order created" emails. Target on a 2-core machine: 100,000 services in under
60 s with a peak RSS under 400 MB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_DATE = dt.date(2025, 3, 3)


def configure(var_dir: str) -> None:
    os.environ["VAR_DIR"] = var_dir
    os.environ["DATABASE_URL"] = f"sqlite:///{var_dir}/bench.sqlite3"
    os.environ["DJANGO_SETTINGS_MODULE"] = "clientarea.settings"
    os.environ["DEBUG"] = "0"  # no query log, production template settings
    os.environ["LOG_LEVEL"] = "WARNING"  # one INFO line per order would measure the terminal
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
    os.environ.pop("REDIS_URL", None)  # the SQLite task queue inside the temporary directory
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def populate(n: int, run_date: dt.date) -> None:
    """N customers (each with a user) and one due service each, inserted in chunks."""
    from django.core.management import call_command
    from django.db import transaction

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
    chunk = 5000
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        with transaction.atomic():
            users = User.objects.bulk_create(
                [
                    User(
                        email=f"c{start + i}@bench.example",
                        full_name=f"Cliente {start + i}",
                        password="!",
                    )
                    for i in range(size)
                ]
            )
            customers = Customer.objects.bulk_create(
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
                ]
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
            Service.objects.bulk_create(services)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--n", type=int, default=100_000, help="customers with a due service (default 100,000)"
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="write a cProfile of the billing run to FILE"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--populate", metavar="DIR", help=argparse.SUPPRESS)  # child process mode
    args = parser.parse_args()

    if args.populate:
        configure(args.populate)
        populate(args.n, RUN_DATE)
        return 0

    var_dir = tempfile.mkdtemp(prefix="billing-bench-")
    try:
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "--n", str(args.n), "--populate", var_dir], check=True
        )
        print(
            f"data: {args.n:,} customers and due services created in {time.perf_counter() - t0:.1f} s"
        )

        configure(var_dir)
        from django.db import connection

        from clientarea.billing.automation import run_billing
        from clientarea.billing.models import Order, OrderItem
        from clientarea.notifications.models import OutgoingEmail

        connection.ensure_connection()
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile(
                time.process_time
            )  # CPU time: other processes do not distort it
            profiler.enable()
        load_before = os.getloadavg()[0]
        t0, c0 = time.perf_counter(), time.process_time()
        run = run_billing(run_date=RUN_DATE, triggered_by="bench")
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB

        items = OrderItem.objects.count()
        print(
            f"run:  status={run.status} counts={dict(sorted(run.counts.items()))} errors={len(run.errors)}"
        )
        print(
            f"      orders={Order.objects.count():,} items={items:,} emails={OutgoingEmail.objects.count():,}"
        )
        print(
            f"time: {elapsed:.1f} s wall, {items / elapsed:,.0f} services/s "
            f"(CPU {cpu:.1f} s; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, {os.cpu_count()} CPUs)"
        )
        print(f"peak RSS: {peak_mb:.0f} MB")
        ok = elapsed < 60 * args.n / 100_000 and peak_mb < 400 and items == args.n
        print("target (100k in < 60 s, < 400 MB):", "met" if ok else "NOT met")
        return 0
    finally:
        if args.keep:
            print("kept", var_dir)
        else:
            shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
