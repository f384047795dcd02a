"""Existing orders become ledger entries: each order's charge, its payment when paid (at the
payment time, with its reference), its cancellation when cancelled. Reversible: going back
removes the entries (the ledger did not exist before)."""

from django.db import migrations

BATCH = 2000


def forward(apps, schema_editor):
    Order = apps.get_model("billing", "Order")
    LedgerEntry = apps.get_model("billing", "LedgerEntry")
    rows = []
    for order in Order.objects.order_by("pk").iterator(chunk_size=BATCH):
        rows.append(
            LedgerEntry(
                customer_id=order.customer_id,
                kind="order",
                amount=order.total,
                order_id=order.pk,
                created_at=order.created_at,
            )
        )
        if order.state == "paid":
            rows.append(
                LedgerEntry(
                    customer_id=order.customer_id,
                    kind="payment",
                    amount=-order.total,
                    order_id=order.pk,
                    reference=order.payment_reference,
                    via=order.paid_via,
                    method=order.payment_method,
                    created_at=order.paid_at or order.created_at,
                )
            )
        elif order.state == "cancelled":
            rows.append(
                LedgerEntry(
                    customer_id=order.customer_id,
                    kind="order_cancelled",
                    amount=-order.total,
                    order_id=order.pk,
                    memo=order.cancel_reason,
                    created_at=order.cancelled_at or order.created_at,
                )
            )
        if len(rows) >= BATCH:
            LedgerEntry.objects.bulk_create(rows)
            rows = []
    LedgerEntry.objects.bulk_create(rows)


def backward(apps, schema_editor):
    apps.get_model("billing", "LedgerEntry").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_account_ledger")]

    operations = [migrations.RunPython(forward, backward)]
