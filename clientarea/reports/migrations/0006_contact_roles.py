"""Contacts (``accounts.Contact``) join the staff roles: support manages a customer's contacts
(add with invitation, change permissions, remove), billing views them, the administrator holds
every contact permission. Plan changes (``subscriptions.PlanChange``, read-only in the admin)
become visible to billing and support.

Permissions are created here if post_migrate has not made them yet (same content type, codename
and name as Django's). Reversible: going back removes these grants only.
"""

from django.db import migrations

GRANTS = {
    "billing": {"accounts.contact": ("view",), "subscriptions.planchange": ("view",)},
    "support": {
        "accounts.contact": ("add", "change", "delete", "view"),
        "subscriptions.planchange": ("view",),
    },
    "administrator": {"accounts.contact": ("add", "change", "delete", "view")},
}


def _permission(apps, label: str, action: str):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    opts = apps.get_model(label)._meta
    content_type, _ = ContentType.objects.get_or_create(
        app_label=opts.app_label, model=opts.model_name
    )
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type,
        codename=f"{action}_{opts.model_name}",
        defaults={"name": f"Can {action} {opts.verbose_name_raw}"[:255]},
    )
    return permission


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for role, grants in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(
            *[_permission(apps, label, action) for label, actions in grants.items() for action in actions]
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for role, grants in GRANTS.items():
        group = Group.objects.filter(name=role).first()
        if group is not None:
            group.permissions.remove(
                *[
                    _permission(apps, label, action)
                    for label, actions in grants.items()
                    for action in actions
                ]
            )


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0005_catalog_ordering_roles"),
        ("accounts", "0007_account_holders_become_owners"),
        ("subscriptions", "0006_service_options_and_coupon"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
