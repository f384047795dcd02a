"""Plan changes (``subscriptions.PlanChange``) join the administrator role, which holds every
permission of the product's apps (``0002_staff_roles``). The model is read-only in the admin;
staff change plans from the back-office service page (``subscriptions.change_service``)."""

from django.db import migrations

ACTIONS = ("add", "change", "delete", "view")


def _permissions(apps):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    model = apps.get_model("subscriptions", "PlanChange")
    opts = model._meta
    content_type, _ = ContentType.objects.get_or_create(
        app_label=opts.app_label, model=opts.model_name
    )
    return [
        Permission.objects.get_or_create(
            content_type=content_type,
            codename=f"{action}_{opts.model_name}",
            defaults={"name": f"Can {action} {opts.verbose_name_raw}"[:255]},
        )[0]
        for action in ACTIONS
    ]


def grant(apps, schema_editor):
    group = apps.get_model("auth", "Group").objects.filter(name="administrator").first()
    if group is not None:
        group.permissions.add(*_permissions(apps))


def revoke(apps, schema_editor):
    group = apps.get_model("auth", "Group").objects.filter(name="administrator").first()
    if group is not None:
        group.permissions.remove(*_permissions(apps))


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0002_staff_roles"),
        ("subscriptions", "0005_plan_changes"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
