"""Ordering from the catalog joins the staff roles: configurable options, coupons, their uses and
the options a service keeps. Billing manages coupons and reads the rest; support reads them;
the administrator holds every permission of them (as of 0002 for the older models).
Reversible: going back takes these permissions out of the three groups."""

from django.db import migrations

ALL = ("add", "change", "delete", "view")
VIEW = ("view",)

GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "billing": {
        "catalog.coupon": ("view", "add", "change"),
        "catalog.optiongroup": VIEW,
        "catalog.option": VIEW,
        "catalog.optionprice": VIEW,
        "billing.couponredemption": VIEW,
        "subscriptions.serviceoption": VIEW,
    },
    "support": {
        "catalog.coupon": VIEW,
        "catalog.optiongroup": VIEW,
        "catalog.option": VIEW,
        "catalog.optionprice": VIEW,
        "billing.couponredemption": VIEW,
        "subscriptions.serviceoption": VIEW,
    },
    "administrator": {
        "catalog.coupon": ALL,
        "catalog.optiongroup": ALL,
        "catalog.option": ALL,
        "catalog.optionprice": ALL,
        "billing.couponredemption": ALL,
        "subscriptions.serviceoption": ALL,
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
            *[
                _permission(apps, label, action)
                for label, actions in grants.items()
                for action in actions
            ]
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for role, grants in GRANTS.items():
        group = Group.objects.filter(name=role).first()
        if group is None:
            continue
        group.permissions.remove(
            *[
                _permission(apps, label, action)
                for label, actions in grants.items()
                for action in actions
            ]
        )


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0004_refund_roles"),
        ("catalog", "0002_options_and_coupons"),
        ("subscriptions", "0006_service_options_and_coupon"),
        ("billing", "0011_item_discount_and_coupon_uses"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
