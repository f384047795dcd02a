"""Refunds join the staff roles: billing views and makes refunds (``add_refund``: the payment's
"Refund" action), support views them, the administrator holds every refund permission.

Permissions are created here if post_migrate has not made them yet (same content type, codename
and name as Django's). Reversible: going back removes these grants only.
"""

from django.db import migrations

GRANTS = {
    "billing": {"payments.refund": ("view", "add"), "payments.refundline": ("view",)},
    "support": {"payments.refund": ("view",), "payments.refundline": ("view",)},
    "administrator": {
        "payments.refund": ("add", "change", "delete", "view"),
        "payments.refundline": ("add", "change", "delete", "view"),
    },
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
        ("reports", "0003_plan_change_permissions"),
        ("payments", "0009_refunds"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
