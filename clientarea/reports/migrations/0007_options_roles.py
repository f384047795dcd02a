"""The credit notes of downgrades (``billing.PlanChangeCreditNote``, read-only in the admin)
become visible to billing, support and the administrator, like plan changes.

Reversible: going back removes these grants only.
"""

from django.db import migrations

from clientarea.reports import role_grants

GRANTS = {
    "billing": {"billing.planchangecreditnote": ("view",)},
    "support": {"billing.planchangecreditnote": ("view",)},
    "administrator": {"billing.planchangecreditnote": ("view",)},
}


def grant(apps, schema_editor):
    role_grants.grant(apps, GRANTS)


def revoke(apps, schema_editor):
    role_grants.revoke(apps, GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0006_contact_roles"),
        ("billing", "0014_options"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
