"""Staff manage options and coupons in the back office, within their roles."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from clientarea.accounts.models import AuditEvent, User
from clientarea.billing.tests import make_product
from clientarea.catalog.models import Coupon, CouponKind, OptionGroup
from clientarea.reports.tests import ensure_roles
from clientarea.test import make_provider

pytestmark = pytest.mark.django_db


def staff_in(role: str, email: str) -> User:
    user = User.objects.create_user(email=email, password="x", is_staff=True)
    ensure_roles()
    user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)  # fresh permission cache


@pytest.fixture(autouse=True)
def english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def test_the_billing_role_creates_a_coupon_and_switches_it_off(client):
    make_provider()
    vps = make_product("vps", prices={"monthly": "100000"})
    client.force_login(staff_in("billing", "billing@conexcol.example"))
    response = client.post(
        reverse("admin:catalog_coupon_add"),
        {
            "code": " verano ",
            "description": "Summer",
            "active": "on",
            "kind": CouponKind.PERCENT,
            "value": "15",
            "duration": "first",
            "products": [vps.pk],
            "cycles": ["monthly"],
            "max_uses_per_customer": "1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    coupon = Coupon.objects.get()
    assert coupon.code == "VERANO" and coupon.cycles == ["monthly"]
    assert list(coupon.products.all()) == [vps]
    response = client.post(
        reverse("admin:catalog_coupon_changelist"),
        {"action": "deactivate", "_selected_action": [coupon.pk]},
    )
    assert response.status_code == 302
    coupon.refresh_from_db()
    assert not coupon.active
    assert AuditEvent.objects.filter(action="coupon.deactivated", target="VERANO").exists()


def test_a_percentage_over_100_is_refused(client):
    client.force_login(staff_in("administrator", "admin@conexcol.example"))
    response = client.post(
        reverse("admin:catalog_coupon_add"),
        {"code": "X", "kind": CouponKind.PERCENT, "value": "150", "duration": "first"},
    )
    assert response.status_code == 200
    assert "A percentage cannot be more than 100." in response.content.decode()
    assert not Coupon.objects.exists()


def test_support_reads_coupons_but_cannot_change_them_and_options_need_the_administrator(client):
    Coupon.objects.create(code="LEER", kind=CouponKind.FIXED, value=Decimal("1000"))
    support = staff_in("support", "support@conexcol.example")
    client.force_login(support)
    assert client.get(reverse("admin:catalog_coupon_changelist")).status_code == 200
    assert client.get(reverse("admin:catalog_coupon_add")).status_code == 403
    assert not support.has_perm("catalog.change_optiongroup")
    administrator = staff_in("administrator", "admin@conexcol.example")
    assert administrator.has_perm("catalog.add_optiongroup")
    assert administrator.has_perm("catalog.change_coupon")
    client.force_login(administrator)
    product = make_product("vps", prices={"monthly": "100000"})
    response = client.post(
        reverse("admin:catalog_optiongroup_add"),
        {
            "product": product.pk,
            "name": "Extra disk",
            "kind": "quantity",
            "sort_order": "0",
            "min_quantity": "5",
            "max_quantity": "1",
            "options-TOTAL_FORMS": "0",
            "options-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "The maximum must not be smaller than the minimum." in response.content.decode()
    assert not OptionGroup.objects.exists()
