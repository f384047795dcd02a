"""Debit notes issued before they were owed on the ledger become owed: each gets the pending
order that collects it (number and total of the note, one item per note line, the parties of the
invoice's order), its "order issued" event and its "debit note" charge on the ledger, dated when
the note was issued. They are due ``BILLING_ORDER_DUE_DAYS`` after this migration runs (not after
the note's date), so no customer is overdue the moment it runs.

Reversible while nothing was paid on them: going back removes those orders, their items, events
and charges, and refuses (nothing removed) if any of them has a payment or credit applied, which
the ledger must keep.
"""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import migrations
from django.utils import timezone

BOGOTA = dt.timezone(dt.timedelta(hours=-5))


def forward(apps, schema_editor):
    Invoice = apps.get_model("einvoice", "Invoice")
    Order = apps.get_model("billing", "Order")
    OrderItem = apps.get_model("billing", "OrderItem")
    OrderEvent = apps.get_model("billing", "OrderEvent")
    LedgerEntry = apps.get_model("billing", "LedgerEntry")
    collected = set(
        Order.objects.filter(debit_note__isnull=False).values_list("debit_note_id", flat=True)
    )
    today = timezone.now().astimezone(BOGOTA).date()
    due = today + dt.timedelta(days=settings.BILLING_ORDER_DUE_DAYS)
    notes = (
        Invoice.objects.filter(kind="debit_note", full_number__isnull=False)
        .exclude(pk__in=collected)
        .select_related("reference__order")
        .order_by("pk")
    )
    for note in notes.iterator(chunk_size=500):
        lines = (note.document or {}).get("lines") or []
        invoice_order = note.reference.order if note.reference_id else None
        issued_at = note.issued_at or note.created_at
        subtotal = sum((Decimal(line["line_extension"]) for line in lines), Decimal("0"))
        tax = sum((Decimal(line.get("tax_amount") or "0") for line in lines), Decimal("0"))
        order = Order.objects.create(
            number=note.full_number,
            customer_id=note.customer_id,
            state="pending",
            issue_date=issued_at.astimezone(BOGOTA).date(),
            due_date=due,
            subtotal=subtotal,
            tax_total=tax,
            rounding=Decimal("0"),
            total=note.total,
            seller_snapshot=invoice_order.seller_snapshot if invoice_order else {},
            buyer_snapshot=invoice_order.buyer_snapshot if invoice_order else {},
            created_at=issued_at,
            debit_note_id=note.pk,
        )
        reference = note.reference.full_number if note.reference_id else ""
        OrderItem.objects.bulk_create(
            [
                OrderItem(
                    order=order,
                    position=position,
                    kind="debit_note",
                    description=f"Nota débito {note.full_number} sobre la factura {reference}: "
                    f"{line.get('description', '')}"[:300],
                    quantity=Decimal("1"),
                    unit_price=Decimal(line["line_extension"]),
                    tax_treatment=line.get("tax_treatment") or "taxed",
                    tax_rate=Decimal(line.get("tax_rate") or "0"),
                    subtotal=Decimal(line["line_extension"]),
                    tax_amount=Decimal(line.get("tax_amount") or "0"),
                    total=Decimal(line["line_extension"]) + Decimal(line.get("tax_amount") or "0"),
                )
                for position, line in enumerate(lines, start=1)
            ]
        )
        OrderEvent.objects.create(
            order=order,
            kind="created",
            created_at=issued_at,
            message=f"debit note {note.full_number}",
            data={"total": str(note.total)},
        )
        LedgerEntry.objects.create(
            customer_id=note.customer_id,
            kind="debit_note",
            amount=note.total,
            order=order,
            created_at=issued_at,
        )


def backward(apps, schema_editor):
    Order = apps.get_model("billing", "Order")
    LedgerEntry = apps.get_model("billing", "LedgerEntry")
    orders = Order.objects.filter(debit_note__isnull=False)
    if LedgerEntry.objects.filter(order__in=orders).exclude(kind="debit_note").exists():
        raise RuntimeError(
            "Some debit notes were paid (in part) on the ledger: going back would lose those "
            "payments. Nothing was removed."
        )
    LedgerEntry.objects.filter(order__in=orders).delete()
    apps.get_model("billing", "OrderItem").objects.filter(order__in=orders).delete()
    apps.get_model("billing", "OrderEvent").objects.filter(order__in=orders).delete()
    orders.delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0015_debitnotes")]

    operations = [migrations.RunPython(forward, backward)]
