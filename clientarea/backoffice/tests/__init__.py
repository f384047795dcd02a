"""Helpers of the back-office tests: staff with only some permissions."""

from __future__ import annotations

from django.contrib.auth.models import Permission

from clientarea.accounts.models import User


def staff_with(email: str, *codenames: str) -> User:
    """A staff member (not superuser) with exactly these ``app_label.codename`` permissions."""
    user = User.objects.create_user(email=email, password="x-staff-pass-2026", is_staff=True)
    for name in codenames:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return User.objects.get(pk=user.pk)  # a fresh object: no stale permission cache
