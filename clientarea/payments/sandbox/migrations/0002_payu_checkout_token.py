# An unguessable token in the PayU checkout's URLs (the page shows the buyer's email).
# Added in three steps so that existing orders each get their own token.

from django.db import migrations, models

import clientarea.payments.sandbox.models


def give_each_order_a_token(apps, schema_editor):
    SandboxPayUOrder = apps.get_model("sandbox", "SandboxPayUOrder")
    for order in SandboxPayUOrder.objects.filter(checkout_token__isnull=True).only("pk"):
        order.checkout_token = clientarea.payments.sandbox.models.new_checkout_token()
        order.save(update_fields=["checkout_token"])


class Migration(migrations.Migration):
    dependencies = [
        ("sandbox", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="sandboxpayuorder",
            name="checkout_token",
            field=models.CharField(editable=False, max_length=43, null=True),
        ),
        migrations.RunPython(give_each_order_a_token, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="sandboxpayuorder",
            name="checkout_token",
            field=models.CharField(
                default=clientarea.payments.sandbox.models.new_checkout_token,
                editable=False,
                max_length=43,
                unique=True,
            ),
        ),
    ]
