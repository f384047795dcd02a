"""The staff roles: groups ``billing``, ``support`` and ``administrator`` with their permissions.

Permissions are normally created after ``migrate`` (post_migrate); this migration creates the ones
it needs itself (same content types, codenames and names as Django's), so the groups are complete
on a fresh database. Reversible: going back removes the three groups, not the permissions.

The roles cover the models that exist at this migration (it runs after every app's latest one). A
later app's models join a role in that app's own data migration.
"""

from django.db import migrations

ALL = ("add", "change", "delete", "view")
VIEW = ("view",)

ROLES: dict[str, dict[str, tuple[str, ...]]] = {
    # Orders, payments, invoices (and, once they exist, notes); customers and services read-only.
    "billing": {
        "billing.order": ("view", "add", "change"),
        "billing.billingrun": ("view", "add"),
        "payments.payment": ("view", "change"),
        "payments.paymentmessage": ("view", "change"),
        "payments.gatewayswitch": ("view", "change"),
        "einvoice.invoice": ("view", "change"),
        "einvoice.numberingresolution": ("view", "add", "change"),
        "accounts.customer": VIEW,
        "subscriptions.service": VIEW,
        "subscriptions.provisioningdelivery": VIEW,
        "catalog.product": VIEW,
        "notifications.outgoingemail": ("view", "change"),
        "reports.exportjob": ("view_dashboard", "export_reports"),
        "einvoice.note": ("view", "change"),
        "einvoice.notenumbering": VIEW,
        "einvoice.testsetrun": VIEW,
        "billing.ledgerentry": VIEW,
        "payments.paymentorder": VIEW,
        "subscriptions.cancellationrequest": VIEW,
        "withholdings.withholdingagent": ("view", "change"),
        "withholdings.orderwithholding": VIEW,
        "withholdings.withholdingcertificate": ("view", "change"),
        "withholdings.withholdingrule": VIEW,
        "withholdings.uvtvalue": VIEW,
        "backoffice.staffnote": VIEW,
    },
    # Customers and services; money read-only; the help center.
    "support": {
        "accounts.customer": ("view", "add", "change"),
        "accounts.auditevent": VIEW,
        "subscriptions.service": ("view", "change"),
        "subscriptions.provisioningdelivery": VIEW,
        "billing.order": VIEW,
        "billing.billingrun": VIEW,
        "payments.payment": VIEW,
        "payments.paymentmessage": VIEW,
        "einvoice.invoice": VIEW,
        "catalog.product": VIEW,
        "notifications.outgoingemail": ("view", "change"),
        "helpcenter.category": ("view", "add", "change"),
        "helpcenter.tag": ("view", "add", "change"),
        "helpcenter.article": ("view", "add", "change"),
        "helpcenter.vote": VIEW,
        "helpcenter.unansweredsearch": VIEW,
        "reports.exportjob": ("view_dashboard",),
        "einvoice.note": VIEW,
        "billing.ledgerentry": VIEW,
        "subscriptions.cancellationrequest": VIEW,
        "withholdings.withholdingagent": VIEW,
        "withholdings.withholdingcertificate": VIEW,
        "backoffice.staffnote": ("view", "add", "change"),
    },
}

#: The administrator holds every permission of these apps (staff accounts and groups included).
ADMINISTRATOR_APPS = (
    "auth",
    "axes",
    "accounts",
    "notifications",
    "catalog",
    "subscriptions",
    "billing",
    "payments",
    "einvoice",
    "helpcenter",
    "reports",
    "withholdings",
    "backoffice",
    "lib",
)


def _permission(apps, label: str, action: str):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    model = apps.get_model(label)
    opts = model._meta
    content_type, _ = ContentType.objects.get_or_create(
        app_label=opts.app_label, model=opts.model_name
    )
    custom = dict(opts.permissions)
    if action in custom:
        codename, name = action, str(custom[action])
    else:
        codename, name = f"{action}_{opts.model_name}", f"Can {action} {opts.verbose_name_raw}"
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type, codename=codename, defaults={"name": name[:255]}
    )
    return permission


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for role, grants in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(
            [
                _permission(apps, label, action)
                for label, actions in grants.items()
                for action in actions
            ]
        )
    everything = []
    for app_label in ADMINISTRATOR_APPS:
        for model in apps.get_app_config(app_label).get_models():
            opts = model._meta
            actions = [*opts.default_permissions, *(codename for codename, _ in opts.permissions)]
            everything += [_permission(apps, opts.label_lower, action) for action in actions]
    group, _ = Group.objects.get_or_create(name="administrator")
    group.permissions.set(everything)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=[*ROLES, "administrator"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_export_jobs_and_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("axes", "0010_accessattemptexpiration"),
        ("accounts", "0005_two_factor_admin_names"),
        ("notifications", "0004_staff_email_template_versions"),
        ("catalog", "0001_initial"),
        ("subscriptions", "0004_cancellation_requests"),
        ("billing", "0008_ledger_withholding_kind"),
        ("payments", "0008_payment_gateway_transaction_index"),
        ("einvoice", "0005_habilitacion_test_set_runs"),
        ("helpcenter", "0002_search"),
        ("withholdings", "0001_withholding_rules_agents_certificates"),
        ("backoffice", "0001_staff_notes"),
        ("lib", "0001_periodic_runs"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
