"""Login as customer: permission, banner, time limit, audit, and no escalation."""

import pytest
from django.urls import reverse

from clientarea.accounts import impersonation
from clientarea.accounts.models import AuditEvent, User
from clientarea.backoffice.tests import staff_with
from clientarea.billing.tests import make_order
from clientarea.payments.models import Payment
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def alice():
    make_provider()
    return make_customer("alice@example.com", first_name="Alice", last_name="Restrepo")


@pytest.fixture
def agent(client, alice):
    user = staff_with(
        "agent@conexcol.example", "accounts.view_customer", "accounts.impersonate_customer"
    )
    client.force_login(user)
    return user


def start(client, customer):
    return client.post(reverse("backoffice:impersonate_start", args=[customer.pk]))


def test_staff_see_the_client_area_as_the_customer_with_a_banner(client, agent, alice):
    response = start(client, alice)
    assert response.status_code == 302 and response["Location"] == reverse("accounts:dashboard")
    page = client.get(reverse("accounts:dashboard")).content.decode()
    assert 'id="impersonation-banner"' in page and "Viewing as Alice Restrepo" in page
    assert reverse("backoffice:impersonate_stop") in page
    # The back office still sees the staff member, never the customer.
    assert client.get(reverse("backoffice:customer", args=[alice.pk])).status_code == 200
    started = AuditEvent.objects.get(action="customer.impersonation_started")
    assert started.actor == agent and started.customer == alice and not started.changes["sensitive"]


def test_one_click_back_ends_it_and_is_audited(client, agent, alice):
    start(client, alice)
    response = client.post(reverse("backoffice:impersonate_stop"))
    assert response["Location"] == reverse("backoffice:customer", args=[alice.pk])
    assert impersonation.SESSION_KEY not in client.session
    stopped = AuditEvent.objects.get(action="customer.impersonation_stopped")
    assert stopped.changes == {"reason": "back"} and stopped.actor == agent
    # The client area is the staff member's own again: it sends staff to the back office.
    assert client.get(reverse("accounts:dashboard"))["Location"] == reverse("admin:index")


def test_no_access_code_change_or_payment_without_the_permission(client, agent, alice):
    order = make_order(alice)
    start(client, alice)
    assert client.get(reverse("accounts:change_password")).status_code == 403
    response = client.post(
        reverse("payments:choose", args=[order.number]), {"gateway": "payu", "method": "card"}
    )
    assert response.status_code == 403
    assert not Payment.objects.exists()
    # Looking is allowed.
    assert client.get(reverse("payments:choose", args=[order.number])).status_code == 200


def test_the_sensitive_permission_allows_them(client, alice):
    boss = staff_with(
        "boss@conexcol.example",
        "accounts.impersonate_customer",
        "accounts.impersonate_sensitive",
    )
    client.force_login(boss)
    start(client, alice)
    assert client.get(reverse("accounts:change_password")).status_code == 200


def test_it_expires(client, agent, alice, settings):
    settings.IMPERSONATION_MINUTES = 0
    start(client, alice)
    response = client.get(reverse("accounts:dashboard"))
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    assert impersonation.SESSION_KEY not in client.session
    assert AuditEvent.objects.get(action="customer.impersonation_stopped").changes == {
        "reason": "expired"
    }


def test_client_area_logout_ends_the_visit_not_the_staff_session(client, agent, alice):
    start(client, alice)
    response = client.post(reverse("accounts:logout"))
    assert response["Location"] == reverse("backoffice:customer", args=[alice.pk])
    assert client.get(reverse("admin:index")).status_code == 200  # still logged in as staff
    assert AuditEvent.objects.get(action="customer.impersonation_stopped").changes == {
        "reason": "logout"
    }


def test_without_the_permission_it_is_403(client, alice):
    clerk = staff_with("clerk@conexcol.example", "accounts.view_customer")
    client.force_login(clerk)
    assert start(client, alice).status_code == 403
    assert impersonation.SESSION_KEY not in client.session
    assert not AuditEvent.objects.filter(action="customer.impersonation_started").exists()


def test_losing_the_permission_ends_it_at_once(client, agent, alice):
    start(client, alice)
    agent.user_permissions.clear()
    assert client.get(reverse("accounts:dashboard"))["Location"] == reverse("admin:index")
    assert impersonation.SESSION_KEY not in client.session


def test_a_staff_login_cannot_be_impersonated(client, agent, alice):
    """No escalation: a customer profile whose login is staff or superuser is refused."""
    User.objects.filter(pk=alice.user_id).update(is_superuser=True, is_staff=True)
    response = start(client, alice)
    assert response.status_code == 302 and impersonation.SESSION_KEY not in client.session
    # A session forged to point at it is dropped instead of used.
    session = client.session
    session[impersonation.SESSION_KEY] = {
        "staff_id": agent.pk,
        "customer_id": alice.pk,
        "expires_at": "2999-01-01T00:00:00+00:00",
    }
    session.save()
    assert client.get(reverse("accounts:dashboard")).status_code == 302
    assert impersonation.SESSION_KEY not in client.session


def test_a_customer_cannot_start_it(client, alice):
    client.force_login(alice.user)
    response = start(client, alice)
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]
