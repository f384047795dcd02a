"""Staff roles: the permission matrix over every back-office URL and action, per role.

The roles are the groups made by ``reports/migrations/0002_staff_roles.py``: ``billing``,
``support`` and ``administrator``. A staff member with no group gets 403 everywhere.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db.models import Model
from django.test import Client, RequestFactory
from django.urls import URLPattern, reverse
from django.utils import timezone

from clientarea.accounts.models import User
from clientarea.billing import services as billing
from clientarea.billing.tests import make_active_service, make_order, make_product
from clientarea.einvoice.models import Invoice, NumberingResolution
from clientarea.reports.tests import ensure_roles
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db

ROLES = ("nobody", "support", "billing", "administrator")
#: Admin URLs every staff member may open (the index, their own password, logout, i18n).
UNIVERSAL = {"index", "logout", "password_change", "password_change_done", "jsi18n", "login"}
#: URL names Django's admin gives every model; the others are our custom views.
STANDARD = ("changelist", "add", "change", "delete", "history", "autocomplete")


def staff(role: str) -> User:
    user = User.objects.create_user(email=f"{role}@conexcol.example", password="x", is_staff=True)
    if role != "nobody":
        ensure_roles()
        user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)  # fresh permission cache


@pytest.fixture
def world():
    """One of most things: customer, service, a paid order with its invoice, a pending order."""
    make_provider()
    NumberingResolution.objects.create(
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
    customer = make_customer()
    make_active_service(customer, make_product())
    paid = make_order(customer, price="50000")
    billing.mark_order_paid(
        order_id=paid.pk, paid_at=timezone.now(), via="manual", method="transfer", reference="t"
    )
    make_order(customer, price="70000")
    assert Invoice.objects.exists()
    return {role: staff(role) for role in ROLES}


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@dataclass(frozen=True)
class AdminUrl:
    model: type[Model]
    name: str  # the URL name without "admin:" and the model prefix: "changelist", "cancel", …
    url: str


def _kwargs(pattern: URLPattern, pk: str) -> dict[str, str]:
    values = {
        "object_id": pk,
        "pk": pk,
        "kind": "pdf",
        "exchange_id": "1",
        "attempt_id": "1",
        "part": "request",
    }
    return {name: values.get(name, "1") for name in pattern.pattern.converters}


def admin_urls() -> list[AdminUrl]:
    """Every URL of every registered model admin, with a real object where the model has one."""
    result = []
    for model in apps.get_models():
        if not admin.site.is_registered(model):
            continue
        model_admin = admin.site.get_model_admin(model)
        # Through the admin's own queryset: a proxy admin (credit and debit notes) shows only
        # some rows of its model, and Django redirects before checking permissions on a missing one.
        probe = RequestFactory().get("/admin/")
        probe.user = User(is_staff=True, is_superuser=True)
        obj = model_admin.get_queryset(probe).order_by("pk").first()
        pk = str(obj.pk) if obj is not None else "999999"
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        for pattern in model_admin.get_urls():
            if not isinstance(pattern, URLPattern) or not pattern.name:
                continue
            name = pattern.name.removeprefix(prefix)
            if name == "history" and obj is None:
                continue  # Django redirects before checking permissions when the object is missing
            url = reverse(f"admin:{pattern.name}", kwargs=_kwargs(pattern, pk))
            result.append(AdminUrl(model=model, name=name, url=url))
    return result


def _has_any_perm(user: User, model: type[Model]) -> bool:
    opts = model._meta
    return any(
        user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")
        for action in ("view", "add", "change", "delete")
    )


def test_roles_exist_with_permissions(world):
    assert Group.objects.filter(name__in=["billing", "support", "administrator"]).exists()
    names = set(Group.objects.values_list("name", flat=True))
    assert {"billing", "support", "administrator"} <= names
    support, billing_user, administrator = (
        world["support"],
        world["billing"],
        world["administrator"],
    )
    assert support.has_perm("accounts.change_customer")
    assert support.has_perm("billing.view_order") and not support.has_perm("billing.change_order")
    assert not support.has_perm("reports.export_reports")
    assert billing_user.has_perm("billing.change_order")
    assert billing_user.has_perm("einvoice.change_invoice")
    assert not billing_user.has_perm("accounts.change_customer")
    assert not billing_user.has_perm("subscriptions.change_service")
    assert administrator.has_perm("auth.change_group")
    assert administrator.has_perm("reports.export_reports")
    assert not administrator.is_superuser


def test_staff_without_a_role_gets_403_on_every_back_office_url(world):
    client = _client(world["nobody"])
    urls = admin_urls()
    assert len(urls) > 60  # every model admin, its standard views and the custom ones
    for item in urls:
        if item.name == "autocomplete":
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(item.url)
            assert response.status_code in (403, 405), (method, item.url, response.status_code)
    for name in ("dashboard", "reports", "movements"):
        assert client.get(reverse(f"reports:{name}")).status_code == 403
    assert client.get(reverse("reports:csv", args=["sales_book"])).status_code == 403
    assert client.get(reverse("reports:csv", args=["movements"])).status_code == 403
    assert client.post(reverse("reports:xlsx", args=["sales_book"])).status_code == 403
    assert client.get(reverse("reports:aging", args=["d1_30"])).status_code == 403


@pytest.mark.parametrize("role", ["support", "billing", "administrator"])
def test_every_admin_url_follows_the_role(world, role):
    """Each URL answers 403 exactly when the role lacks the permission its model admin asks for."""
    user = world[role]
    client = _client(user)
    request = RequestFactory().get("/admin/")
    request.user = user
    for item in admin_urls():
        model_admin: Any = admin.site.get_model_admin(item.model)
        if item.name == "changelist" or item.name == "change":
            allowed = model_admin.has_view_or_change_permission(request)
        elif item.name == "add":
            allowed = model_admin.has_add_permission(request)
        elif item.name == "delete":
            obj = item.model._default_manager.order_by("pk").first()
            allowed = model_admin.has_delete_permission(request, obj)
        elif item.name == "history":
            allowed = model_admin.has_view_or_change_permission(request)
        elif item.name == "autocomplete":
            continue
        elif item.name in dict(getattr(model_admin, "object_actions", ())):
            allowed = model_admin.has_act_permission(request)
        else:  # another custom view: refused at least to whoever has no permission on the model
            if _has_any_perm(user, item.model):
                continue
            allowed = False
        status = client.get(item.url).status_code
        if status == 405:  # a POST-only view (the help center's preview)
            status = client.post(item.url).status_code
        if allowed:
            assert status != 403, (role, item.url)
        else:
            assert status == 403, (role, item.url, status)


def test_every_list_action_declares_its_permission():
    """An action without ``permissions=`` is open to anyone who may see the list."""
    ours = [m for m in apps.get_models() if m.__module__.startswith("clientarea.")]
    checked = 0
    for model in ours:
        if not admin.site.is_registered(model):
            continue
        model_admin = admin.site.get_model_admin(model)
        for name in model_admin.actions or ():
            func = name if callable(name) else getattr(model_admin, name)
            assert getattr(func, "allowed_permissions", ()), f"{model.__name__}.{name}"
            checked += 1
    assert checked >= 10


@pytest.mark.parametrize(
    ("role", "model_label", "action", "available"),
    [
        ("support", "billing.order", "cancel_orders", False),
        ("billing", "billing.order", "cancel_orders", True),
        ("support", "subscriptions.service", "suspend_services", True),
        ("billing", "subscriptions.service", "suspend_services", False),
        ("support", "einvoice.invoice", "resend_to_dian", False),
        ("billing", "einvoice.invoice", "resend_to_dian", True),
        ("support", "payments.payment", "query_again", False),
        ("billing", "payments.payment", "query_again", True),
        ("billing", "accounts.customer", "send_new_access_code", False),
        ("support", "accounts.customer", "send_new_access_code", True),
        ("support", "notifications.outgoingemail", "resend", True),
    ],
)
def test_list_actions_per_role(world, role, model_label, action, available):
    request = RequestFactory().get("/admin/")
    request.user = world[role]
    model_admin = admin.site.get_model_admin(apps.get_model(model_label))
    assert (action in model_admin.get_actions(request)) is available


def test_a_role_without_the_permission_cannot_run_an_action_by_posting_it(world):
    """Support sees orders but posting "cancel" for one changes nothing."""
    from clientarea.billing.models import Order, OrderState

    pending = Order.objects.get(state=OrderState.PENDING)
    client = _client(world["support"])
    response = client.post(
        reverse("admin:billing_order_changelist"),
        {"action": "cancel_orders", "_selected_action": [pending.pk], "apply": "1", "reason": "x"},
    )
    assert response.status_code in (200, 302)
    pending.refresh_from_db()
    assert pending.state == OrderState.PENDING
    assert client.get(reverse("admin:billing_order_cancel", args=[pending.pk])).status_code == 403
    billing_client = _client(world["billing"])
    assert (
        billing_client.get(reverse("admin:billing_order_cancel", args=[pending.pk])).status_code
        == 200
    )


def test_reports_pages_per_role(world):
    expect = {
        "support": {"dashboard": 200, "csv": 403},
        "billing": {"dashboard": 200, "csv": 200},
        "administrator": {"dashboard": 200, "csv": 200},
    }
    for role, answers in expect.items():
        client = _client(world[role])
        assert client.get(reverse("reports:dashboard")).status_code == answers["dashboard"]
        assert client.get(reverse("reports:reports")).status_code == answers["dashboard"]
        assert client.get(reverse("reports:movements")).status_code == answers["dashboard"]
        for kind in ("sales_book", "movements"):
            csv = client.get(reverse("reports:csv", args=[kind]))
            assert csv.status_code == answers["csv"], (role, kind)
            if csv.status_code == 200:
                b"".join(csv.streaming_content)  # type: ignore[attr-defined]


@pytest.mark.parametrize("role", ["support", "billing", "administrator"])
def test_a_role_that_views_a_record_sees_its_parts(world, role):
    """Every inline of a record the role may view is shown to it: the admin hides an inline whose
    model the user may not view, so an order opened without its items and history, a service
    without its history."""
    user = world[role]
    request = RequestFactory().get("/admin/")
    request.user = user
    hidden = []
    for model, model_admin in admin.site._registry.items():
        if model_admin.has_view_or_change_permission(request):
            # The admin leaves out the inlines the user may not view (on an existing record:
            # some admins show none on the add page).
            obj = model._default_manager.order_by("pk").first()
            shown = {type(i) for i in model_admin.get_inline_instances(request, obj)}
            hidden += [
                f"{model._meta.label} -> {cls.model._meta.label}"
                for cls in model_admin.inlines
                if cls not in shown
            ]
    assert hidden == [], hidden


def test_the_index_links_the_reports_only_to_roles_that_may_see_them(world):
    assert b"reports-module" in _client(world["billing"]).get(reverse("admin:index")).content
    assert b"reports-module" not in _client(world["nobody"]).get(reverse("admin:index")).content


def test_roles_migration_is_reversible(world):
    """Going back removes the groups; forward again recreates them with the same permissions."""
    import importlib

    migration = importlib.import_module("clientarea.reports.migrations.0002_staff_roles")
    roles = ["billing", "support", "administrator"]

    def grants() -> dict[str, set[str]]:
        return {
            g.name: set(g.permissions.values_list("codename", flat=True))
            for g in Group.objects.filter(name__in=roles)
        }

    before = grants()
    assert set(before) == set(roles)
    later = [
        importlib.import_module(f"clientarea.reports.migrations.{name}")
        for name in (
            "0004_refund_roles",
            "0005_catalog_ordering_roles",
            "0006_contact_roles",
            "0007_options_roles",
            "0009_record_parts_view_roles",
        )
    ]
    migration.remove_roles(apps, None)
    assert not Group.objects.filter(name__in=roles).exists()
    migration.create_roles(apps, None)
    for step in later:  # the roles migrations that follow add their models' grants
        step.grant(apps, None)
    assert grants() == before
    for step in reversed(later):
        step.revoke(apps, None)
    assert "add_refund" not in grants()["billing"]
    assert "change_coupon" not in grants()["billing"]
    assert "add_contact" not in grants()["support"]
    assert "view_planchangecreditnote" not in grants()["support"]
    assert "view_orderitem" not in grants()["billing"]
    for step in later:
        step.grant(apps, None)
    assert grants() == before
