"""Builders shared by the reports tests."""

from __future__ import annotations

import datetime as dt
import itertools

from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from clientarea.accounts.models import User
from clientarea.billing import services as billing
from clientarea.billing.models import Order
from clientarea.billing.tests import make_order
from clientarea.einvoice.models import NumberingResolution


def make_resolution() -> NumberingResolution:
    return NumberingResolution.objects.create(
        number="18760000001",
        prefix="SETP",
        range_from=990000000,
        range_to=995000000,
        next_number=990000000,
        valid_from=dt.date(2019, 1, 19),
        valid_to=dt.date(2030, 1, 19),
        technical_key="fc8eac422eba16e22ffd8c6f94b3f40a6e38162c",
        environment="2",
    )


def paid_order(
    customer, *, price: str, via: str = "payu", method: str = "card", when=None
) -> Order:
    order = make_order(customer, price=price)
    billing.mark_order_paid(
        order_id=order.pk,
        paid_at=when or timezone.now(),
        via=via,
        method=method,
        reference=f"{via}:{order.pk}",
    )
    order.refresh_from_db()
    return order


_seq = itertools.count(1)


def ensure_roles() -> None:
    """The role groups, as the data migration makes them (a transactional test's flush on
    PostgreSQL empties the tables, and flushing does not rerun data migrations)."""
    import importlib

    from django.apps import apps

    if Group.objects.filter(name__in=["billing", "support", "administrator"]).count() < 3:
        importlib.import_module("clientarea.reports.migrations.0002_staff_roles").create_roles(
            apps, None
        )
        for later in (
            "0003_plan_change_permissions",
            "0004_refund_roles",
            "0005_catalog_ordering_roles",
            "0006_contact_roles",
            "0007_options_roles",
            "0009_record_parts_view_roles",
        ):
            importlib.import_module(f"clientarea.reports.migrations.{later}").grant(apps, None)


def staff_client(role: str) -> Client:
    ensure_roles()
    user = User.objects.create_user(
        email=f"{role}-{next(_seq)}@conexcol.example", password="x", is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client
