# A payment staff registered (a transfer, cash) has the gateway "manual" (no schema change).

import clientarea.payments.models
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0010_review_reason_code'),
    ]

    operations = [
        migrations.AlterField(
            model_name='payment',
            name='gateway',
            field=models.CharField(choices=clientarea.payments.models.payment_gateway_choices, db_index=True, max_length=20, verbose_name='gateway'),
        ),
    ]
