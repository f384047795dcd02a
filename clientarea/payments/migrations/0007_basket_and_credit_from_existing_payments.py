"""Existing payments: each lists its order in the basket, and money approved that did not pay an
order (a duplicate payment, or one approved after its order was cancelled) becomes the customer's
credit in the ledger, followed by its refund when staff already refunded it. Reversible."""

from django.db import migrations

MEMO = "migrated: approved payment that paid no order"


def forward(apps, schema_editor):
    Payment = apps.get_model("payments", "Payment")
    PaymentOrder = apps.get_model("payments", "PaymentOrder")
    LedgerEntry = apps.get_model("billing", "LedgerEntry")
    baskets = []
    entries = []
    for payment in Payment.objects.select_related("order").order_by("pk").iterator(chunk_size=1000):
        if payment.order_id is None:
            continue
        baskets.append(
            PaymentOrder(payment_id=payment.pk, order_id=payment.order_id, amount=payment.amount)
        )
        unpaid = payment.duplicate or payment.order.state == "cancelled"
        if payment.status == "approved" and unpaid:
            at = payment.approved_at or payment.created_at
            entries.append(
                LedgerEntry(
                    customer_id=payment.customer_id,
                    kind="credit",
                    amount=-payment.amount,
                    reference=payment.reference,
                    via=payment.gateway if payment.gateway in ("payu", "payvalida") else "",
                    method=payment.method if payment.method in ("card", "pse", "cash") else "",
                    memo=MEMO,
                    created_at=at,
                )
            )
            if payment.refund_status == "refunded":
                entries.append(
                    LedgerEntry(
                        customer_id=payment.customer_id,
                        kind="refund",
                        amount=payment.amount,
                        reference=payment.reference,
                        memo=MEMO,
                        created_at=payment.refunded_at or at,
                    )
                )
    PaymentOrder.objects.bulk_create(baskets, batch_size=1000)
    LedgerEntry.objects.bulk_create(entries, batch_size=1000)


def backward(apps, schema_editor):
    apps.get_model("billing", "LedgerEntry").objects.filter(memo=MEMO).delete()
    apps.get_model("payments", "PaymentOrder").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0006_payments_for_several_orders_and_funds"),
        ("billing", "0006_ledger_from_existing_orders"),
    ]

    operations = [migrations.RunPython(forward, backward)]
