"""A customer who cannot log in: the customer page shows the lockout and the logins, and staff
with the support role unlock the login (django-axes) without the admin of axes."""

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from clientarea.accounts.models import AuditEvent
from clientarea.backoffice.tests import staff_with
from clientarea.test import ACCESS_CODE, clear_default_cache, make_customer, make_provider

pytestmark = pytest.mark.django_db

ADDRESS = "203.0.113.9"


@pytest.fixture(autouse=True)
def _setup(client, settings):
    AccessAttempt.objects.all().delete()
    clear_default_cache()
    make_provider()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def _login(email: str, code: str):
    return Client(REMOTE_ADDR=ADDRESS).post(
        reverse("accounts:login"), {"username": email, "password": code}
    )


def _support(client):
    agent = staff_with(
        "agent@conexcol.example", "accounts.view_customer", "accounts.change_customer"
    )
    client.force_login(agent)
    return agent


def test_support_sees_the_lockout_and_unlocks_the_login(client, settings):
    alice = make_customer("alice@example.com")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login("Alice@example.com", "WRONG-CODE")
    assert _login("alice@example.com", ACCESS_CODE).status_code == 429  # locked out
    failures = settings.AXES_FAILURE_LIMIT + 1  # the refused right code counts too
    agent = _support(client)
    url = reverse("backoffice:customer", args=[alice.pk])

    page = client.get(url).content.decode()
    assert 'id="login-failures"' in page and "Locked until" in page
    assert f"<td>{failures}</td>" in page
    assert "Unlock the login" in page

    response = client.post(
        reverse("backoffice:unlock_login", args=[alice.pk]), {"user": alice.user_id}, follow=True
    )
    page = response.content.decode()
    assert f"Login unlocked: alice@example.com may log in again ({failures} failed" in page
    assert "no login of this account is locked" in page
    event = AuditEvent.objects.get(customer=alice, action="customer.login_unlocked")
    assert event.actor == agent and event.target == "alice@example.com"
    assert event.changes == {"failures": failures, "was_locked": True}

    assert _login("alice@example.com", ACCESS_CODE).status_code == 302  # in again
    page = client.get(url).content.decode()
    history = page.split('id="login-history"')[1].split("</table>")[0]
    assert ADDRESS in history and "alice@example.com" in history


def test_failures_below_the_limit_are_shown_as_not_locked(client, settings):
    alice = make_customer("alice@example.com")
    _login("alice@example.com", "WRONG-CODE")
    _support(client)
    page = client.get(reverse("backoffice:customer", args=[alice.pk])).content.decode()
    assert "May still log in (locked at" in page and "Locked until" not in page


def test_only_a_login_of_this_account_is_unlocked(client, settings):
    alice = make_customer("alice@example.com")
    bob = make_customer("bob@example.com")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login("bob@example.com", "WRONG-CODE")
    _support(client)
    for data in ({"user": bob.user_id}, {"user": "x"}, {}):
        response = client.post(
            reverse("backoffice:unlock_login", args=[alice.pk]), data, follow=True
        )
        assert "This login is not a contact of this account." in response.content.decode()
    assert AccessAttempt.objects.filter(username="bob@example.com").exists()
    assert not AuditEvent.objects.filter(action="customer.login_unlocked").exists()


def test_unlocking_needs_the_permission(client, settings):
    alice = make_customer("alice@example.com")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login("alice@example.com", "WRONG-CODE")
    viewer = staff_with("viewer@conexcol.example", "accounts.view_customer")
    client.force_login(viewer)
    page = client.get(reverse("backoffice:customer", args=[alice.pk])).content.decode()
    assert "Locked until" in page and "Unlock the login" not in page
    response = client.post(
        reverse("backoffice:unlock_login", args=[alice.pk]), {"user": alice.user_id}
    )
    assert response.status_code == 403
    assert AccessAttempt.objects.filter(username="alice@example.com").exists()
