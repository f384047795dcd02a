"""lib/bulk.insert writes the same rows as QuerySet.bulk_create (on this run's database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from django.utils.translation import gettext_lazy

from clientarea.billing.models import LedgerEntry, LedgerKind, Order, OrderEvent
from clientarea.lib import bulk
from clientarea.lib.dates import BOGOTA
from clientarea.notifications.models import OutgoingEmail
from clientarea.test import make_customer

pytestmark = pytest.mark.django_db


def orders(customer, numbers):
    return [
        Order(
            number=number,
            customer=customer,
            issue_date=dt.date(2025, 3, 3),
            due_date=dt.date(2025, 3, 31),
            subtotal=Decimal("1234.50"),
            tax_total=Decimal("234.56"),
            rounding=Decimal("-0.06"),
            total=Decimal("1469"),
            seller_snapshot={"name": "Conexcol S.A.S.", "ñ": ["á", 1, None]},
            buyer_snapshot={},
            created_at=dt.datetime(2025, 3, 3, 6, 0, 1, 123456, tzinfo=BOGOTA),
        )
        for number in numbers
    ]


def rows(queryset):
    return [
        {k: v for k, v in row.items() if k not in {"id", "number"}} for row in queryset.values()
    ]


def test_the_same_rows_as_bulk_create_and_the_ids_back():
    customer = make_customer()
    reference = Order.objects.bulk_create(orders(customer, ["A-1", "A-2"]))
    mine = orders(customer, ["B-1", "B-2"])

    bulk.insert(mine, return_ids=True)

    assert [o.pk for o in mine] == list(
        Order.objects.filter(number__startswith="B").order_by("number").values_list("pk", flat=True)
    )
    assert not mine[0]._state.adding
    assert rows(Order.objects.filter(number__startswith="B").order_by("number")) == rows(
        Order.objects.filter(pk__in=[o.pk for o in reference]).order_by("number")
    )
    # A lazy translation in a text field, a datetime default, a decimal, no ids wanted.
    pending = gettext_lazy("Pending")
    events = [OrderEvent(order=mine[0], kind="created", message=pending)]  # type: ignore[misc]
    bulk.insert(events)
    event = OrderEvent.objects.get()
    assert event.message == str(gettext_lazy("Pending")) == "Pendiente" and event.data == {}
    assert abs(event.created_at - timezone.now()) < dt.timedelta(minutes=1)
    bulk.insert([LedgerEntry(customer=customer, kind=LedgerKind.ORDER, amount=Decimal("1469"))])
    assert LedgerEntry.objects.get().amount == Decimal("1469.00")


def test_many_rows_with_ids_across_statements():
    customer = make_customer()
    emails = [
        OutgoingEmail(
            customer=customer,
            to_email="a@example.com",
            subject=f"S{i}",
            template="t",
            language="es-co",
            body_text="x",
        )
        for i in range(250)  # more than one statement's worth of parameters on SQLite
    ]
    bulk.insert(emails, return_ids=True)
    stored = dict(OutgoingEmail.objects.values_list("pk", "subject"))
    assert {e.pk: e.subject for e in emails} == stored and len(stored) == 250
