"""Refunds join the staff roles: billing views and makes refunds (``add_refund``: the payment's
"Refund" action), support views them, the administrator holds every refund permission.

Permissions are created here if post_migrate has not made them yet (same content type, codename
and name as Django's). Reversible: going back removes these grants only.
"""

from django.db import migrations

from clientarea.reports import role_grants

GRANTS = {
    "billing": {"payments.refund": ("view", "add"), "payments.refundline": ("view",)},
    "support": {"payments.refund": ("view",), "payments.refundline": ("view",)},
    "administrator": {
        "payments.refund": ("add", "change", "delete", "view"),
        "payments.refundline": ("add", "change", "delete", "view"),
    },
}


def grant(apps, schema_editor):
    role_grants.grant(apps, GRANTS)


def revoke(apps, schema_editor):
    role_grants.revoke(apps, GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0003_plan_change_permissions"),
        ("payments", "0009_refunds"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
