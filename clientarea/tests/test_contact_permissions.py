"""Every client-area URL checks the contact's permission (accounts.permissions.client_area).

1. Every view mounted under the client area's prefixes is wrapped in ``client_area`` or listed
   as public below: a new view without the check fails here.
2. The permission matrix: each contact role opens every client-area URL with GET and POST; a
   missing permission is a 403 with the clear page, before any object is looked up; a granted
   one is never a 403.
3. A contact never reaches another account's data.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from clientarea.accounts.models import ROLE_PERMISSIONS, Permission
from clientarea.billing.tests import make_order
from clientarea.test import ACCESS_CODE, make_contact, make_customer, make_provider

pytestmark = pytest.mark.django_db

#: The URL prefixes of the customer-facing pages.
CLIENT_AREA_PREFIXES = ("clientarea/", "payments/")
#: Views under those prefixes that are public or per login (no customer account needed).
PUBLIC = {
    "accounts:register",
    "accounts:registered",
    "accounts:terms",
    "accounts:login",
    "accounts:logout",
    "accounts:forgot",
    "accounts:login_link",
    # Two-factor login belongs to the login (staff use it too), not to an account.
    "accounts:two_factor",
    "accounts:two_factor_setup",
    "accounts:two_factor_verify",
    # The gateways' server-to-server notifications and browser returns (signed, not a session).
    "payments:payu_confirmation",
    "payments:payu_response",
    "payments:payvalida_notification",
    "payments:payvalida_return",
    # The catalog and the cart are open to visitors (the cart survives logging in); checkout
    # needs an account and the Billing permission.
    "order:catalog",
    "order:product",
    "order:cart",
    "order:remove",
    "order:coupon",
}
S, BV, B, SV, SE, A = (
    Permission.SELF,
    Permission.BILLING_VIEW,
    Permission.BILLING,
    Permission.SERVICES_VIEW,
    Permission.SERVICES,
    Permission.ACCOUNT,
)
#: The expected (read, write) permission of every client-area page of this part.
EXPECTED = {
    "accounts:dashboard": (S, S),
    "accounts:profile": (S, B),
    "accounts:change_password": (S, S),
    "accounts:emails": (S, S),
    "accounts:email_detail": (S, S),
    "accounts:email_attachment": (S, S),
    "accounts:email_preferences": (S, S),
    "accounts:contacts": (A, A),
    "accounts:contact_add": (A, A),
    "accounts:contact_edit": (A, A),
    "accounts:contact_remove": (A, A),
    "accounts:contact_access_code": (A, A),
    "accounts:einvoice_email": (A, A),
    "subscriptions:list": (SV, SV),
    "subscriptions:detail": (SV, SV),
    "subscriptions:new": (B, B),
    "subscriptions:cancel": (SE, SE),
    "subscriptions:withdraw_cancellation": (SE, SE),
    "subscriptions:change_plan": (SE, SE),
    "subscriptions:cancel_plan_change": (SE, SE),
    "subscriptions:change_options": (SE, SE),
    "order:checkout": (B, B),
    "billing:orders": (BV, BV),
    "billing:statement": (BV, BV),
    "billing:refunds": (BV, BV),
    "billing:refund": (BV, BV),
    "billing:order": (BV, BV),
    "billing:order_print": (BV, BV),
    "billing:apply_credit": (B, B),
    "einvoice:list": (BV, BV),
    "einvoice:download": (BV, BV),
    "withholdings:index": (BV, BV),
    "withholdings:request": (B, B),
    "withholdings:upload": (BV, B),
    "withholdings:certificate_pdf": (BV, BV),
    "payments:choose": (B, B),
    "payments:pay_several": (B, B),
    "payments:add_funds": (B, B),
    "payments:result": (BV, BV),
}
SAMPLE_ARGS = {
    "number": "ODS-999999",
    "pk": "999999",
    "attachment_id": "1",
    "kind": "pdf",
    "reference": "NOPE-1",
    "code": "nope",
    "index": "0",
}


def _walk(patterns, prefix="", namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield prefix + str(entry.pattern), name, entry.callback


def client_area_urls():
    """(route, name, view) of every URL under the client area's prefixes."""
    return [
        (route, name, view)
        for route, name, view in _walk(get_resolver().url_patterns)
        if route.startswith(CLIENT_AREA_PREFIXES)
    ]


def _path(route: str) -> str:
    path = "/" + route
    for key, value in SAMPLE_ARGS.items():
        for converter in ("str", "int", "path", "slug", "uuid"):
            path = path.replace(f"<{converter}:{key}>", value)
        path = path.replace(f"<{key}>", value)
    assert "<" not in path, path
    return path


def test_every_client_area_view_checks_the_contacts_permission():
    missing = [
        f"{name or route}"
        for route, name, view in client_area_urls()
        if name not in PUBLIC and not hasattr(view, "client_area_permissions")
    ]
    assert not missing, (
        "wrap these views in accounts.permissions.client_area(...) or list them as public: "
        f"{missing}"
    )


def test_this_parts_pages_ask_for_the_documented_permissions():
    seen = {
        name: getattr(view, "client_area_permissions", None)
        for _r, name, view in client_area_urls()
    }
    for name, expected in EXPECTED.items():
        assert seen.get(name) == expected, name


@pytest.fixture
def account():
    make_provider()
    return make_customer("owner@acme.example", person_type="juridica", document_type="31")


ROLES = ["is_owner", "billing", "technical", "view_only"]


@pytest.mark.parametrize("role", ROLES)
def test_the_permission_matrix(client, account, role):
    roles: dict[str, Any] = {role: True}
    contact = make_contact(account, f"{role.replace('_', '')}@acme.example", **roles)
    client.force_login(contact.user, backend="clientarea.accounts.backends.EmailAccessCodeBackend")
    granted = ROLE_PERMISSIONS[role] | {Permission.SELF}
    checked = 0
    for route, name, view in client_area_urls():
        if name in PUBLIC:
            continue
        read, write = view.client_area_permissions
        path = _path(route)
        for method, needed in (("get", read), ("post", write)):
            response = getattr(client, method)(path)
            if needed in granted:
                assert response.status_code != 403, (role, method, path)
            else:
                assert response.status_code == 403, (role, method, path, response.status_code)
                assert b'id="error-page"' in response.content
                assert str(Permission(needed).label).encode() in response.content
            checked += 1
    assert checked >= 2 * len(EXPECTED)


def test_a_contact_never_reaches_another_accounts_data(client, account):
    other = make_customer("other@example.com")
    theirs = make_order(other)
    mine = make_order(account)
    contact = make_contact(account, "all@acme.example", is_owner=True)
    client.force_login(contact.user, backend="clientarea.accounts.backends.EmailAccessCodeBackend")
    assert client.get(f"/clientarea/billing/{mine.number}/").status_code == 200
    assert client.get(f"/clientarea/billing/{theirs.number}/").status_code == 404
    assert client.get(f"/payments/pay/{theirs.number}/").status_code == 404
    page = client.get("/clientarea/billing/").content.decode()
    assert mine.number in page and theirs.number not in page


def test_a_removed_contact_is_logged_out(client, account):
    from clientarea.accounts import contacts

    contact = make_contact(account, "gone@acme.example", billing=True)
    login = {"username": "gone@acme.example", "password": ACCESS_CODE}
    assert client.post("/clientarea/login/", login).status_code == 302
    assert client.get("/clientarea/billing/").status_code == 200
    contacts.remove_contact(contact=contact, actor=account.user)
    response = client.get("/clientarea/billing/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client.post("/clientarea/login/", login).status_code == 200  # refused
