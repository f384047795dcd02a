"""Grants of model permissions to the staff role groups, for the roles data migrations.

Each migration that brings new models into the roles declares ``GRANTS`` ({role: {"app.model":
(actions…)}}) and calls :func:`grant` / :func:`revoke` with the historical ``apps``. Permissions are
created if post_migrate has not made them yet (same content type, codename and name as Django's).
Going back removes those grants only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Grants = Mapping[str, Mapping[str, tuple[str, ...]]]


def permission(apps: Any, label: str, action: str) -> Any:
    """The ``action`` permission of model ``label`` ("app.model"), created when missing."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    opts = apps.get_model(label)._meta
    content_type, _ = ContentType.objects.get_or_create(
        app_label=opts.app_label, model=opts.model_name
    )
    found, _ = Permission.objects.get_or_create(
        content_type=content_type,
        codename=f"{action}_{opts.model_name}",
        defaults={"name": f"Can {action} {opts.verbose_name_raw}"[:255]},
    )
    return found


def _permissions(apps: Any, grants: Mapping[str, tuple[str, ...]]) -> list[Any]:
    return [
        permission(apps, label, action) for label, actions in grants.items() for action in actions
    ]


def grant(apps: Any, grants: Grants) -> None:
    Group = apps.get_model("auth", "Group")
    for role, role_grants in grants.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*_permissions(apps, role_grants))


def revoke(apps: Any, grants: Grants) -> None:
    Group = apps.get_model("auth", "Group")
    for role, role_grants in grants.items():
        group = Group.objects.filter(name=role).first()
        if group is not None:
            group.permissions.remove(*_permissions(apps, role_grants))
