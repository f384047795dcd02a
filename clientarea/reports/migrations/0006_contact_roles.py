"""Contacts (``accounts.Contact``) join the staff roles: support manages a customer's contacts
(add with invitation, change permissions, remove), billing views them, the administrator holds
every contact permission. Plan changes (``subscriptions.PlanChange``, read-only in the admin)
become visible to billing and support.

Permissions are created here if post_migrate has not made them yet (same content type, codename
and name as Django's). Reversible: going back removes these grants only.
"""

from django.db import migrations

from clientarea.reports import role_grants

GRANTS = {
    "billing": {"accounts.contact": ("view",), "subscriptions.planchange": ("view",)},
    "support": {
        "accounts.contact": ("add", "change", "delete", "view"),
        "subscriptions.planchange": ("view",),
    },
    "administrator": {"accounts.contact": ("add", "change", "delete", "view")},
}


def grant(apps, schema_editor):
    role_grants.grant(apps, GRANTS)


def revoke(apps, schema_editor):
    role_grants.revoke(apps, GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0005_catalog_ordering_roles"),
        ("accounts", "0007_account_holders_become_owners"),
        ("subscriptions", "0006_service_options_and_coupon"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
