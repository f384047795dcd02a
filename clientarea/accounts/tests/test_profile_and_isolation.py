import pytest
from django.urls import reverse

from clientarea.accounts.models import AuditEvent
from clientarea.notifications.services import Attachment, queue_email
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast():
    make_provider()
    alice = make_customer("alice@example.com", first_name="Alice")
    bob = make_customer("bob@example.com", first_name="Bob")
    return alice, bob


def test_profile_identity_changes_are_logged(client, cast):
    alice, _ = cast
    client.force_login(alice.user)
    data = {
        "person_type": "natural",
        "document_type": "13",
        "document_number": "99887766",
        "check_digit": "",
        "first_name": "Alicia",
        "last_name": alice.last_name,
        "legal_name": "",
        "trade_name": "",
        "phone": "311",
        "address": "Nueva 1",
        "municipality_code": "05001",
        "fiscal_responsibilities": ["R-99-PN"],
        "preferred_language": "es-co",
    }
    response = client.post(reverse("accounts:profile"), data)
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.document_number == "99887766"
    event = AuditEvent.objects.get(action="customer.identity_changed", customer=alice)
    assert event.changes["first_name"] == {"before": "Alice", "after": "Alicia"}
    assert event.actor == alice.user


def test_profile_rejects_a_bad_nit_without_touching_data(client, cast):
    alice, _ = cast
    client.force_login(alice.user)
    data = {
        "person_type": "juridica",
        "document_type": "31",
        "document_number": "900108281",
        "check_digit": "7",
        "legal_name": "X",
        "first_name": "",
        "last_name": "",
        "trade_name": "",
        "phone": "1",
        "address": "a",
        "municipality_code": "05001",
        "fiscal_responsibilities": ["R-99-PN"],
        "preferred_language": "es-co",
    }
    response = client.post(reverse("accounts:profile"), data)
    assert response.status_code == 200 and "check_digit" in response.context["form"].errors
    alice.refresh_from_db()
    assert alice.document_type == "13"


def test_a_customer_cannot_read_another_customers_emails(
    client, cast, django_capture_on_commit_callbacks
):
    alice, bob = cast
    with django_capture_on_commit_callbacks(execute=True):
        email = queue_email(
            to=bob.user.email,
            template="login_link",
            customer=bob,
            context={"customer": bob, "link": "x", "hours": 1},
            attachments=[Attachment("a.txt", b"hi", "text/plain")],
        )
    client.force_login(alice.user)
    assert client.get(reverse("accounts:email_detail", args=[email.pk])).status_code == 404
    att = email.attachments.get()
    assert (
        client.get(reverse("accounts:email_attachment", args=[email.pk, att.pk])).status_code == 404
    )
    assert bob.user.email not in client.get(reverse("accounts:emails")).content.decode()
    client.force_login(bob.user)
    assert client.get(reverse("accounts:email_detail", args=[email.pk])).status_code == 200
    assert (
        client.get(reverse("accounts:email_attachment", args=[email.pk, att.pk])).content == b"hi"
    )


def test_unknown_urls_are_404(client, cast):
    alice, _ = cast
    client.force_login(alice.user)
    assert client.get("/clientarea/emails/999999/").status_code == 404
    assert client.get("/clientarea/nope/").status_code == 404


def test_staff_only_back_office(client, cast):
    alice, _ = cast
    client.force_login(alice.user)
    assert client.get("/admin/").status_code == 302
    assert client.get("/admin/notifications/outgoingemail/").status_code == 302


def test_home_has_client_access_in_both_languages(client, cast):
    es = client.get("/", HTTP_ACCEPT_LANGUAGE="es-CO").content.decode()
    en = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Acceso clientes" in es and 'href="/clientarea/login/"' in es
    assert "Client access" in en


def test_language_switcher(client, cast):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert "Client access" in client.get("/").content.decode()
