"""Public forms that send email are throttled per address and per target email, and registration
and forgot-code tell an attacker nothing about who is a customer."""

import pytest
from django.urls import reverse

from clientarea.accounts.models import AuditEvent, User
from clientarea.notifications.models import OutgoingEmail
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db

VALID = {
    "email": "nueva@example.com",
    "person_type": "natural",
    "document_type": "13",
    "document_number": "1020304050",
    "first_name": "Laura",
    "last_name": "Martínez",
    "phone": "3001112233",
    "address": "Calle 1 # 2-3",
    "municipality_code": "05001",
    "preferred_language": "es-co",
    "accept_terms": "on",
}


@pytest.fixture(autouse=True)
def _provider():
    make_provider()


@pytest.fixture(autouse=True)
def _one_rate_window(monkeypatch):
    """Counting windows are fixed slices of time: keep a slow test inside one of them."""
    import time
    import types

    import django_ratelimit.core

    now = time.time()
    monkeypatch.setattr(django_ratelimit.core, "time", types.SimpleNamespace(time=lambda: now))


def test_sixty_forgot_code_requests_send_a_few_emails_not_sixty(client):
    make_customer("victim@example.com")
    statuses = [
        client.post(reverse("accounts:forgot"), {"email": "victim@example.com"}).status_code
        for _ in range(60)
    ]
    assert OutgoingEmail.objects.filter(template="login_link").count() == 3
    assert statuses[:3] == [200, 200, 200] and set(statuses[3:]) == {429}


def test_the_per_email_limit_holds_across_addresses(client):
    make_customer("victim@example.com")
    for n in range(4):
        response = client.post(
            reverse("accounts:forgot"), {"email": "Victim@Example.com"}, REMOTE_ADDR=f"192.0.2.{n}"
        )
    assert response.status_code == 429
    assert OutgoingEmail.objects.filter(template="login_link").count() == 3


def test_the_per_address_limit_holds_across_emails(client):
    for n in range(11):
        response = client.post(reverse("accounts:forgot"), {"email": f"someone{n}@example.com"})
    assert response.status_code == 429


def test_people_are_told_how_long_to_wait_machines_get_429(client):
    for _ in range(4):
        response = client.post(
            reverse("accounts:forgot"), {"email": "x@example.com"}, HTTP_ACCEPT_LANGUAGE="en"
        )
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    page = response.content.decode()
    assert "Too many requests" in page and "try again in" in page
    response = client.post(
        reverse("accounts:forgot"), {"email": "x@example.com"}, HTTP_ACCEPT_LANGUAGE="es-CO"
    )
    assert "Demasiadas solicitudes" in response.content.decode()


def test_twenty_registrations_with_third_party_addresses_send_a_few_emails(client):
    statuses = []
    for n in range(20):
        data = {**VALID, "email": f"third{n}@example.com", "document_number": str(1020304050 + n)}
        statuses.append(client.post(reverse("accounts:register"), data).status_code)
    assert OutgoingEmail.objects.filter(template="new_access_code").count() == 5
    assert statuses[:5] == [302] * 5 and set(statuses[5:]) == {429}


def test_forgot_code_does_the_same_work_for_known_and_unknown_emails(client, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from clientarea.accounts import tasks

    calls = []
    monkeypatch.setattr(tasks, "send_login_link", lambda email, ip: calls.append((email, ip)))
    make_customer("ana@example.com")
    client.get(reverse("accounts:forgot"))  # the session and CSRF cookie exist from now on
    with CaptureQueriesContext(connection) as known:
        client.post(reverse("accounts:forgot"), {"email": "ana@example.com"})
    with CaptureQueriesContext(connection) as unknown:
        client.post(reverse("accounts:forgot"), {"email": "nobody@example.com"})

    # the web request never looks the address up (the worker does): apart from the
    # rate-limit counters, both requests run the same statements
    def statements(captured):
        return [
            q["sql"]
            for q in captured.captured_queries
            if "clientarea_cache" not in q["sql"] and "SAVEPOINT" not in q["sql"]
        ]

    assert statements(known) == statements(unknown)
    assert not any("accounts_user" in sql for sql in statements(known))
    assert calls == [("ana@example.com", "127.0.0.1"), ("nobody@example.com", "127.0.0.1")]


def _answer(response):
    return response.status_code, response.get("Location")


def test_registering_an_existing_email_gets_the_same_answer_and_warns_the_owner(
    client, django_capture_on_commit_callbacks, mailoutbox
):
    owner = make_customer("taken@example.com", preferred_language="en")
    new = client.post(reverse("accounts:register"), {**VALID, "email": "fresh@example.com"})
    with django_capture_on_commit_callbacks(execute=True):
        taken = client.post(
            reverse("accounts:register"),
            {**VALID, "email": "TAKEN@example.com", "document_number": "55555555"},
        )
    assert _answer(taken) == _answer(new)
    page = client.get(taken["Location"]).content.decode()
    assert "already registered" not in page and "ya está registrado" not in page
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1
    notice = OutgoingEmail.objects.get(template="registration_attempt")
    assert notice.to_email == "taken@example.com" and notice.customer == owner
    assert "nothing was created or changed" in notice.body_text
    assert [m.to for m in mailoutbox] == [["taken@example.com"]]
    assert AuditEvent.objects.filter(action="customer.registration_attempt").exists()


def test_registering_an_existing_document_gets_the_same_answer_and_tells_both(
    client, django_capture_on_commit_callbacks, mailoutbox
):
    make_customer("owner@example.com", document_number="1020304050")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("accounts:register"), {**VALID, "email": "other@example.com"}
        )
    assert _answer(response) == (302, reverse("accounts:registered"))
    assert not User.objects.filter(email="other@example.com").exists()
    assert sorted(m.to[0] for m in mailoutbox) == ["other@example.com", "owner@example.com"]
    refused = OutgoingEmail.objects.get(template="registration_refused")
    assert refused.to_email == "other@example.com" and refused.customer is None
    assert OutgoingEmail.objects.get(template="registration_attempt").to_email == (
        "owner@example.com"
    )


def test_help_center_votes_and_searches_are_throttled(client):
    from clientarea.helpcenter.tests.helpers import make_article

    article = make_article(title="Cómo pagar", slug="como-pagar-throttle")
    for _ in range(31):
        response = client.post(f"/help/{article.slug}/vote/", {"value": "like"})
    assert response.status_code == 429
    for _ in range(61):
        response = client.get("/help/search/", {"q": "pagar"})
    assert response.status_code == 429


def test_a_refused_registration_costs_a_password_hash_like_a_new_one(client, monkeypatch):
    from django.contrib.auth import base_user, hashers

    hashed = []

    def counting(password, *args, **kwargs):
        if password is not None:
            hashed.append(1)
        return hashers.make_password(password, *args, **kwargs)

    monkeypatch.setattr(base_user, "make_password", counting)
    client.post(reverse("accounts:register"), VALID)
    new = len(hashed)
    client.post(reverse("accounts:register"), {**VALID, "document_number": "77777777"})  # email
    client.post(reverse("accounts:register"), {**VALID, "email": "other@example.com"})  # document
    assert new == 1 and len(hashed) == 3
