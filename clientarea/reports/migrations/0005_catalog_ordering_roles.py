"""Ordering from the catalog joins the staff roles: configurable options, coupons, their uses and
the options a service keeps. Billing manages coupons and reads the rest; support reads them;
the administrator holds every permission of them (as of 0002 for the older models).
Reversible: going back takes these permissions out of the three groups."""

from django.db import migrations

from clientarea.reports import role_grants

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


def grant(apps, schema_editor):
    role_grants.grant(apps, GRANTS)


def revoke(apps, schema_editor):
    role_grants.revoke(apps, GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0004_refund_roles"),
        ("catalog", "0002_options_and_coupons"),
        ("subscriptions", "0006_service_options_and_coupon"),
        ("billing", "0011_item_discount_and_coupon_uses"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
