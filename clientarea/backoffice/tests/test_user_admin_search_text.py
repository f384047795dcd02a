"""Staff change a customer's login email on the admin's User page: the customer's search text
follows at once (through ``accounts.services.save_user_by_staff``), and the change is audited."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from clientarea.accounts.models import AuditEvent, Customer, User
from clientarea.backoffice.selectors import search
from clientarea.test import make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db


def user_form(user: User, **changes) -> dict:
    joined = timezone.localtime(user.date_joined)
    data = {
        "email": user.email,
        "full_name": user.full_name,
        "is_active": "on",
        "date_joined_0": joined.strftime("%Y-%m-%d"),
        "date_joined_1": joined.strftime("%H:%M:%S"),
        "last_login_0": "",
        "last_login_1": "",
    }
    data.update(changes)
    return data


def found(staff, text: str) -> list[str]:
    groups = {group.kind: group for group in search(text, user=staff)}
    customers = groups.get("customers")
    return [hit.title for hit in customers.hits] if customers else []


def test_a_new_email_on_the_user_page_is_what_the_customer_is_found_by(client):
    make_provider()
    staff = make_staff()
    alice = make_customer("alice.old@example.com", first_name="Alice", last_name="Restrepo Peña")
    client.force_login(staff)
    url = reverse("admin:accounts_user_change", args=[alice.user.pk])
    response = client.post(url, user_form(alice.user, email="ana.nueva@ejemplo.co"))
    assert response.status_code == 302, response.content.decode()[:2000]
    alice.refresh_from_db()
    assert alice.user.email == "ana.nueva@ejemplo.co"
    assert "ana.nueva@ejemplo.co" in alice.search_text
    assert "alice.old" not in alice.search_text
    assert found(staff, "ana.nueva@ejemplo") == [alice.display_name]
    assert found(staff, "alice.old@example") == []
    event = AuditEvent.objects.get(action="user.changed_by_staff", customer=alice)
    assert event.changes["email"] == {
        "before": "alice.old@example.com",
        "after": "ana.nueva@ejemplo.co",
    }
    assert "password" not in event.changes


def test_a_staff_login_without_customer_saves_and_is_audited(client):
    make_provider()
    staff = make_staff()
    clerk = User.objects.create_user(email="clerk@conexcol.example", password="x", is_staff=True)
    client.force_login(staff)
    url = reverse("admin:accounts_user_change", args=[clerk.pk])
    data = user_form(clerk, full_name="Clara Pérez")
    data["is_staff"] = "on"
    assert client.post(url, data).status_code == 302
    clerk.refresh_from_db()
    assert clerk.full_name == "Clara Pérez"
    event = AuditEvent.objects.get(action="user.changed_by_staff", target="clerk@conexcol.example")
    assert event.customer is None and set(event.changes) == {"full_name"}


def test_a_refused_email_changes_nothing(client):
    make_provider()
    staff = make_staff()
    alice = make_customer("alice@example.com")
    make_customer("bob@example.com")
    client.force_login(staff)
    url = reverse("admin:accounts_user_change", args=[alice.user.pk])
    response = client.post(url, user_form(alice.user, email="bob@example.com"))
    assert response.status_code == 200  # the form shows the error
    assert "alice@example.com" in Customer.objects.get(pk=alice.pk).search_text
    assert not AuditEvent.objects.filter(action="user.changed_by_staff").exists()
