"""Every export streams in the memory of one chunk, whatever the number of rows.

Customers read with their login are reference cycles (each caches the other) that only Python's
cycle collector frees, and only at a full collection once they have outlived a young one; how
often that runs depends on the whole process's heap, so an export that makes them holds more
memory the more rows it writes. These tests turn the cycle collector off while an export runs:
its memory must then stay flat by reference counting alone, as it does in any worker.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import io
import tracemalloc
from decimal import Decimal

import pytest

from clientarea.accounts.models import Customer, User
from clientarea.billing.models import LedgerEntry, LedgerKind, Order
from clientarea.einvoice.models import Invoice
from clientarea.lib.dates import BOGOTA, local_today
from clientarea.reports import exports, selectors

pytestmark = pytest.mark.django_db


def _customer(i: int) -> Customer:
    """Customers of every shape the files print: people, companies by legal or trade name, a
    NIT with its check digit, one with no name (the login's email is shown), a formula-like
    name (written as text)."""
    if i % 5 == 0:
        return Customer(
            person_type="juridica",
            document_type="31",
            document_number=str(900_000_000 + i),
            check_digit=str(i % 10),
            legal_name=f"Empresa {i} S.A.S." if i % 10 else "",
            trade_name=f"Marca {i}",
            municipality_code="11001",
            phone=f"601{i:07d}",
        )
    return Customer(
        person_type="natural",
        document_type="13",
        document_number=str(20_000_000 + i),
        first_name="" if i % 7 == 0 else ("=Cliente" if i % 11 == 0 else "Cliente"),
        last_name="" if i % 7 == 0 else f"Número {i}",
        municipality_code="11001",
        phone=f"300{i:07d}" if i % 2 else "",
    )


def grow(start: int, stop: int) -> None:
    """Customers ``start`` to ``stop``: each with a paid order and its invoice (sales book,
    payments), a pending order on the ledger (aging, balances, the charges of the movements) and
    a transfer kept as credit (balances, the bank money of the movements)."""
    today = local_today()
    at = dt.datetime.combine(today, dt.time(10), tzinfo=BOGOTA)
    users = User.objects.bulk_create(
        [User(email=f"m{i}@memory.example", password="!") for i in range(start, stop)],
        batch_size=2000,
    )
    people = []
    for i, user in zip(range(start, stop), users, strict=True):
        customer = _customer(i)
        customer.user = user
        people.append(customer)
    Customer.objects.bulk_create(people, batch_size=2000)
    numbered = list(zip(range(start, stop), people, strict=True))
    pending = Order.objects.bulk_create(
        [
            Order(
                number=f"MEM-P{i:07d}",
                customer=c,
                state="pending",
                issue_date=today - dt.timedelta(days=130),
                due_date=today - dt.timedelta(days=i % 120),
                subtotal=Decimal("10000.00"),
                tax_total=Decimal("1900.00"),
                total=Decimal("11900.00"),
            )
            for i, c in numbered
        ],
        batch_size=2000,
    )
    paid = Order.objects.bulk_create(
        [
            Order(
                number=f"MEM-{i:07d}",
                customer=c,
                state="paid",
                issue_date=today,
                due_date=today,
                subtotal=Decimal("45990.00"),
                tax_total=Decimal("8738.10"),
                rounding=Decimal("-0.10"),
                total=Decimal("54728.00"),
                paid_at=at,
                paid_via=("payu", "payvalida", "manual")[i % 3],
                payment_method=("card", "cash", "transfer")[i % 3],
                payment_reference=f"REF-{i}",
                buyer_snapshot={
                    "name": f"Cliente {i}",
                    "document_type": c.document_type,
                    "document_number": c.document_number,
                    "check_digit": c.check_digit,
                },
            )
            for i, c in numbered
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
                issued_at=at,
                paid_at=at,
                total=order.total,
            )
            for i, order in zip(range(start, stop), paid, strict=True)
        ],
        batch_size=2000,
    )
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                customer_id=order.customer_id,
                order=order,
                kind=LedgerKind.ORDER,
                amount=order.total,
                created_at=at,
            )
            for order in pending
        ]
        + [
            LedgerEntry(
                customer=c,
                kind=LedgerKind.CREDIT,
                amount=Decimal("-1000.00") * (1 + i % 20),
                via="manual",
                method="transfer",
                reference=f"TRF-{i}",
                created_at=at,
            )
            for i, c in numbered
        ],
        batch_size=2000,
    )


def _filters() -> exports.Filters:
    return exports.Filters(date_from=local_today(), date_to=local_today())


def peak(kind: str) -> int:
    """The export's peak of traced memory, with the cycle collector off while it runs."""
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        assert sum(1 for _line in exports.csv_lines(kind, _filters())) > 1
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        gc.enable()


def _rows(kind: str) -> list[list[str]]:
    text = "".join(exports.csv_lines(kind, _filters()))
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))[1:]


def _as_text(name: str) -> str:
    return "'" + name if name[:1] == "=" else name


def _check_customers(kind: str, rows: list[list[str]]) -> None:
    """Read as values, each customer is still written as its pages show it (display name,
    document with the NIT's check digit, the login's email when there is no name)."""
    customers = {selectors.customer_document(c): c for c in Customer.objects.select_related("user")}
    if kind == "movements":
        rows = [row for row in rows if row[-3] == LedgerKind.CREDIT]
        assert len(rows) == len(customers)
        for row in rows:
            assert row[9] == _as_text(customers[row[8]].display_name)
        return
    assert len(rows) == len(customers)
    for row in rows:
        customer = customers[row[0]]
        assert row[1:3] == [_as_text(customer.display_name), customer.user.email]
        if kind == "balances":
            assert row[3] == customer.phone


def _flat(kind: str, few: int, many: int) -> None:
    grow(0, few)
    small = peak(kind)
    grow(few, many)
    large = peak(kind)
    assert large < small * 1.3, (small, large)
    _check_customers(kind, _rows(kind))


# Sizes: at least two chunks (2,000 customers, 500 entries) in the smaller file, where the peak
# is already that of two chunks (Django keeps the chunk it read while it reads the next).


def test_balances_memory_is_flat_in_the_number_of_customers():
    _flat("balances", 4_500, 9_000)


def test_aging_memory_is_flat_in_the_number_of_customers():
    _flat("aging", 4_500, 9_000)


def test_movements_memory_is_flat_with_a_customer_per_entry():
    """The movements' own memory test names 20 customers; here every entry has its own."""
    _flat("movements", 1_000, 3_000)
