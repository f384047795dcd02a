"""The parts shown inside a record's page join the roles that view the record: an order's items
and history, a service's history, a product's prices, an email's attachments and an electronic
document's transmissions to DIAN (read-only inlines). ``0002_staff_roles`` granted the records
only, so billing and support opened an order without its items and a service without its history
(the admin hides an inline whose model the user may not view).

Reversible: going back removes these grants only.
"""

from django.db import migrations

from clientarea.reports import role_grants

PARTS = {
    "billing.orderitem": ("view",),
    "billing.orderevent": ("view",),
    "subscriptions.serviceevent": ("view",),
    "catalog.productprice": ("view",),
    "notifications.emailattachment": ("view",),
    "einvoice.transmissionattempt": ("view",),
}

GRANTS = {"billing": PARTS, "support": PARTS}


def grant(apps, schema_editor):
    role_grants.grant(apps, GRANTS)


def revoke(apps, schema_editor):
    role_grants.revoke(apps, GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0008_money_movements"),
        ("billing", "0019_ledger_withholding_reversed_by_credit_notes"),
        ("subscriptions", "0008_options"),
        ("catalog", "0002_options_and_coupons"),
        ("notifications", "0006_email_rendered_at_delivery"),
        ("einvoice", "0008_transmission_message_code"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
