"""The withheld amounts that credit notes reversed before the withholdings app recorded it.

Since ``0019`` a credit note on an order a withholding agent paid net posts the withholdings on
the credited part (``withholding_reversed``) on the account, but left them open in Withholdings,
waiting for a certificate the agent will never send for them. Each such movement, oldest first,
is now spread over the order's withheld amounts as ``billing.ledger`` does for new notes
(``withholdings.calculation.spread_reversal``). Going back sets the reversed amounts to zero."""

from decimal import Decimal

from django.db import migrations

from clientarea.withholdings.calculation import spread_reversal


def record_reversals(apps, schema_editor):
    LedgerEntry = apps.get_model("billing", "LedgerEntry")
    OrderWithholding = apps.get_model("withholdings", "OrderWithholding")
    entries = (
        LedgerEntry.objects.filter(kind="withholding_reversed", order__isnull=False)
        .order_by("created_at", "id")
        .values_list("order_id", "amount")
    )
    rows: dict[int, list] = {}
    for order_id, amount in entries:
        if order_id not in rows:
            rows[order_id] = list(OrderWithholding.objects.filter(order_id=order_id))
        found = rows[order_id]
        shares = spread_reversal(
            withheld={row.kind: row.amount for row in found},
            reversed_before={row.kind: row.reversed_amount for row in found},
            amount=Decimal(amount),
        )
        for row in found:
            row.reversed_amount = Decimal(row.reversed_amount) + shares.get(row.kind, Decimal(0))
    changed = [row for found in rows.values() for row in found if row.reversed_amount]
    OrderWithholding.objects.bulk_update(changed, ["reversed_amount"], batch_size=500)


def forget_reversals(apps, schema_editor):
    OrderWithholding = apps.get_model("withholdings", "OrderWithholding")
    OrderWithholding.objects.exclude(reversed_amount=0).update(reversed_amount=0)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0019_ledger_withholding_reversed_by_credit_notes"),
        ("withholdings", "0002_order_withholding_reversed_amount"),
    ]

    operations = [migrations.RunPython(record_reversals, forget_reversals)]
