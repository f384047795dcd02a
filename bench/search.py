"""Benchmark: the back-office global search over N customers (default 100,000).

    .venv/bin/python bench/search.py                 # N=100,000, throwaway SQLite
    .venv/bin/python bench/search.py --n 20000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clientarea .venv/bin/python bench/search.py
        (a new database clientarea_bench_<pid> on that server, migrated, filled and dropped)

Each customer has a user, a folded ``search_text`` (as the services write it), one service
with a domain label and one order. The script prints, per query, the median and p95 time of
``backoffice.selectors.search`` (every kind: customers, services, orders, invoices,
payments), and two baselines for the customer part:

- **raw**: the same customer query as one hand-written SQL statement on the DB-API cursor
  (what the ORM and the rest of the search add on top of the database);
- **unfolded**: the admin's usual search without the folded column (``icontains`` on first and
  last name, company names and email, joined to the user), which is what a name search cost
  before, and which cannot match "pena" to "Peña" at all.

It never asserts timings. The last line is the figure line (``benchdb.emit``): the median over
the queries of the search's p50, against the raw customer query's (ratio = raw / search).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from types import SimpleNamespace

import benchdb

FIRST = [
    "José",
    "María",
    "Ana",
    "Luis",
    "Andrés",
    "Camila",
    "Sofía",
    "Julián",
    "Valentina",
    "Óscar",
]
LAST = ["Restrepo", "Peña", "Gómez", "Muñoz", "Ramírez", "Londoño", "Cárdenas", "Zuluaga", "Díaz"]
COMPANY = ["Ferretería", "Café", "Tiendas", "Droguería", "Panadería", "Distribuciones"]
PLACE = ["Andina", "del Valle", "Antioquia", "Caribe", "La Ñapa", "El Poblado"]


def populate(n: int) -> None:
    """N users, customers, services and orders, written with executemany in chunks (the ORM's
    bulk_create spends most of its time building the SQL, which would dominate the run)."""
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from clientarea.accounts.searchtext import search_text_for
    from clientarea.catalog.models import Product

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    print(f"migrated in {time.perf_counter() - started:.1f} s", flush=True)
    product = Product.objects.create(code="hosting-basic", name="Hosting Básico", kind="hosting")
    rng = random.Random(2026)
    now = timezone.now()
    today = timezone.localdate()
    chunk = 5000
    for start in range(0, n, chunk):
        users, customers, services, orders = [], [], [], []
        for i in range(start, min(start + chunk, n)):
            pk = i + 1
            email = f"cliente{i}@correo{i % 97}.example"
            users.append((pk, email, "!", "", False, True, False, now))
            row = SimpleNamespace(
                first_name="", last_name="", legal_name="", trade_name="", check_digit=""
            )
            if i % 5 == 0:
                row.legal_name = f"{rng.choice(COMPANY)} {rng.choice(PLACE)} {i} S.A.S."
                row.document_number, row.check_digit = str(800000000 + i), str(i % 10)
                row.phone, kind, doc = f"60{i:08d}", "juridica", "31"
            else:
                row.first_name = rng.choice(FIRST)
                row.last_name = f"{rng.choice(LAST)} {rng.choice(LAST)}"
                row.document_number, row.phone, kind, doc = (
                    str(10000000 + i),
                    f"3{i:09d}",
                    "natural",
                    "13",
                )
            customers.append(
                (
                    pk,
                    pk,
                    kind,
                    doc,
                    row.document_number,
                    row.check_digit,
                    row.legal_name,
                    "",
                    row.phone,
                    "",
                    "",
                    "R-99-PN",
                    row.first_name,
                    row.last_name,
                    "es-co",
                    now,
                    now,
                    search_text_for(row, email),
                )
            )
            services.append(
                (
                    pk,
                    product.pk,
                    "annual",
                    "300000",
                    f"sitio{pk}.com.co",
                    "active",
                    "",
                    today,
                    today,
                    now,
                    now,
                    f"sitio{pk}.com.co",  # the label folded (already lower case, no accents)
                )
            )
            orders.append(
                (
                    f"ODS-{pk:06d}",
                    pk,
                    "pending",
                    "COP",
                    today,
                    today,
                    "300000",
                    "57000",
                    "0",
                    "357000",
                    "",
                    "",
                    f"BANCO-{pk}" if pk % 3 == 0 else "",
                    "",
                    "{}",
                    "{}",
                    now,
                    "[]",
                )
            )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO accounts_user (id, email, password, full_name, is_staff, is_active,"
                " is_superuser, date_joined) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                users,
            )
            cursor.executemany(
                "INSERT INTO accounts_customer (id, user_id, person_type, document_type,"
                " document_number, check_digit, legal_name, trade_name, phone, address,"
                " municipality_code, fiscal_responsibilities, first_name, last_name,"
                " preferred_language, created_at, updated_at, search_text, einvoice_email)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
                " '')",
                customers,
            )
            cursor.executemany(
                "INSERT INTO subscriptions_service (customer_id, product_id, cycle, price, label,"
                " status, suspension_reason, start_date, next_due_date, created_at, updated_at,"
                " search_label)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                services,
            )
            cursor.executemany(
                "INSERT INTO billing_order (number, customer_id, state, currency, issue_date,"
                " due_date, subtotal, tax_total, rounding, total, paid_via, payment_method,"
                " payment_reference, cancel_reason, seller_snapshot, buyer_snapshot, created_at,"
                " reminders_sent)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                orders,
            )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in ("accounts_user", "accounts_customer"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n + 1})")
            cursor.execute("ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def timed(fn, repeat: int) -> tuple[float, float, float]:
    """Median and p95 wall-clock ms, and median CPU ms of this process (fairer on a loaded machine;
    for SQLite it includes the database's work, which runs in this process)."""
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    times.sort()
    return (
        statistics.median(times),
        times[max(0, int(len(times) * 0.95) - 1)],
        statistics.median(cpu),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with benchdb.throwaway_database("ca-bench-search-") as bench_db:
        os.environ.update(benchdb.environ(bench_db))
        benchdb.flush_redis()
        benchdb.setup_django()
        from django.db import connection

        from clientarea.accounts.models import User
        from clientarea.backoffice import selectors
        from clientarea.lib.text import fold

        started = time.perf_counter()
        populate(args.n)
        print(
            f"{connection.vendor}: {args.n:,} customers, services and orders loaded in "
            f"{time.perf_counter() - started:.1f} s"
        )
        staff = User.objects.create_superuser(email="bench@conexcol.example", password="x")
        queries = {
            "surname, no accents (pena)": "pena",
            "surname, accented (Muñoz)": "Muñoz",
            "two words (jose restrepo)": "jose restrepo",
            "company (ferreteria andina)": "ferreteria andina",
            "NIT with DV (800.000.005-5)": "800.000.005-5",
            "cédula (10000001)": "10000001",
            "email (cliente4242@)": "cliente4242@",
            "domain (sitio777.com.co)": "sitio777.com.co",
            "order number (ODS-000123)": "ODS-000123",
            "payment reference (BANCO-999)": "BANCO-999",
            "nothing (zzzzqq)": "zzzzqq",
        }
        table = "accounts_customer"
        search_p50s, raw_p50s, search_cpus, raw_cpus = [], [], [], []
        print(
            f"\n{'query':34} {'hits':>5} {'search p50':>11} {'p95':>8}   {'raw p50':>8} "
            f"{'unfolded p50':>13}"
        )
        for label, query in queries.items():
            groups = selectors.search(query, user=staff)
            hits = sum(len(g.hits) for g in groups)
            p50, p95, cpu = timed(lambda q=query: selectors.search(q, user=staff), args.repeat)
            folded = fold(query)

            def raw(folded=folded):
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT id FROM {table} WHERE search_text LIKE %s ORDER BY id LIMIT 20",
                        [f"%{folded}%"],
                    )
                    cursor.fetchall()

            def unfolded(query=query):
                like = f"%{query}%"
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT c.id FROM {table} c JOIN accounts_user u ON u.id = c.user_id "
                        "WHERE UPPER(c.first_name) LIKE UPPER(%s) OR UPPER(c.last_name) LIKE UPPER(%s) "
                        "OR UPPER(c.legal_name) LIKE UPPER(%s) OR UPPER(c.trade_name) LIKE UPPER(%s) "
                        "OR UPPER(u.email) LIKE UPPER(%s) ORDER BY c.id LIMIT 20",
                        [like] * 5,
                    )
                    cursor.fetchall()

            raw_p50, _, raw_cpu = timed(raw, args.repeat)
            search_p50s.append(p50)
            raw_p50s.append(raw_p50)
            search_cpus.append(cpu)
            raw_cpus.append(raw_cpu)
            unfolded_p50, _, unfolded_cpu = timed(unfolded, args.repeat)
            print(
                f"{label:34} {hits:>5} {p50:>8.1f} ms {p95:>5.1f} ms {cpu:>5.1f} ms   "
                f"{raw_p50:>5.1f} ms {raw_cpu:>5.1f} ms   {unfolded_p50:>10.1f} ms {unfolded_cpu:>5.1f} ms"
            )
        print(
            "\nsearch = every kind the staff member may see (5 queries); raw = the customer query "
            "alone as SQL; unfolded = the admin's icontains without the folded column."
        )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    f"EXPLAIN SELECT id FROM {table} WHERE search_text::text LIKE %s LIMIT 20",
                    ["%pena%"],
                )
                print("\nPostgreSQL plan of the customer query:")
                for (line,) in cursor.fetchall():
                    print("  " + line)
        search_ms, raw_ms = statistics.median(search_p50s), statistics.median(raw_p50s)
        benchdb.emit(
            "search",
            figure=search_ms,
            unit="ms per search (p50, median of the queries)",
            baseline=raw_ms,
            ratio=raw_ms / search_ms,
            db=connection.vendor,
            n=args.n,
            search_cpu_ms=round(statistics.median(search_cpus), 2),
            raw_cpu_ms=round(statistics.median(raw_cpus), 3),
            cpu_ratio=round(statistics.median(raw_cpus) / statistics.median(search_cpus), 4),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
