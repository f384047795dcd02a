import pytest
from django.contrib.auth.hashers import identify_hasher
from django.urls import reverse

from clientarea.accounts.models import AuditEvent, Customer, User
from clientarea.accounts.services import (
    ACCESS_CODE_ALPHABET,
    generate_access_code,
    normalize_access_code,
)
from clientarea.notifications.models import OutgoingEmail
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db

VALID = {
    "email": "Nueva@Example.com",
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


def delivered_text(email: OutgoingEmail) -> str:
    """The text body as delivered (the email log keeps a redacted copy)."""
    from django.core import mail

    return next(str(m.body) for m in reversed(mail.outbox) if m.to == [email.to_email])


def extract_code(email: OutgoingEmail) -> str:
    for line in delivered_text(email).splitlines():
        if ":" in line and normalize_access_code(line.split(":", 1)[1].strip()):
            value = line.split(":", 1)[1].strip()
            if len(value.replace("-", "")) >= 12:
                return value
    raise AssertionError("no access code in email")


def test_access_codes_are_long_and_unambiguous():
    codes = {generate_access_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        raw = code.replace("-", "")
        assert len(raw) >= 12 and set(raw) <= set(ACCESS_CODE_ALPHABET)
        assert not set(raw) & set("0O1IL5S2Z8B")


def test_it_registers_and_emails_the_new_access_code(
    client, django_capture_on_commit_callbacks, mailoutbox
):
    make_provider()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:register"), VALID)
    assert response.status_code == 302
    user = User.objects.get(email="nueva@example.com")
    assert user.customer.document_number == "1020304050"
    email = OutgoingEmail.objects.get(customer=user.customer, template="new_access_code")
    assert "New Access Code" in email.subject or "Nuevo código de acceso" in email.subject
    code = extract_code(email)
    assert "/clientarea/login/" in email.body_text
    assert code not in user.password  # only the hash is stored
    assert email.status == "sent" and len(mailoutbox) == 1
    assert AuditEvent.objects.filter(action="customer.registered", customer=user.customer).exists()
    # and the code logs in (typed in lower case without dashes, too)
    response = client.post(
        reverse("accounts:login"),
        {"username": "nueva@example.com", "password": code.replace("-", "").lower()},
    )
    assert response.status_code == 302 and response.url == reverse("accounts:dashboard")


def test_production_hasher_is_argon2(settings):
    from clientarea import settings as prod

    assert prod.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    settings.PASSWORD_HASHERS = prod.PASSWORD_HASHERS
    user = User.objects.create_user("h@example.com", generate_access_code())
    assert identify_hasher(user.password).algorithm == "argon2"


@pytest.mark.parametrize(
    "changes, field",
    [
        (
            {
                "document_type": "31",
                "document_number": "900108281",
                "check_digit": "5",
                "person_type": "juridica",
                "legal_name": "X SAS",
            },
            "check_digit",
        ),
        ({"document_number": "12ab"}, "document_number"),
        ({"email": "not-an-email"}, "email"),
        ({"municipality_code": "99999"}, "municipality_code"),
        ({"person_type": "juridica", "legal_name": "ACME"}, "document_type"),
        ({"first_name": ""}, "first_name"),
        ({"accept_terms": ""}, "accept_terms"),
    ],
)
def test_bad_input_gets_form_errors_and_writes_nothing(client, changes, field):
    make_provider()
    response = client.post(reverse("accounts:register"), {**VALID, **changes})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not User.objects.exists() and not OutgoingEmail.objects.exists()


def test_errors_are_in_the_persons_language(client):
    response = client.post(
        reverse("accounts:register"),
        {**VALID, "document_number": "12ab"},
        HTTP_ACCEPT_LANGUAGE="es-CO",
    )
    assert "Use solo dígitos" in response.content.decode()
    response = client.post(
        reverse("accounts:register"),
        {**VALID, "document_number": "12ab"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "Use digits only" in response.content.decode()


def test_nit_check_digit_is_computed_when_left_empty(client, django_capture_on_commit_callbacks):
    data = {
        **VALID,
        "person_type": "juridica",
        "document_type": "31",
        "document_number": "900108281",
        "check_digit": "",
        "legal_name": "Ópticas S.A.S.",
    }
    response = client.post(reverse("accounts:register"), data)
    # An empty DV is asked for, with the right value suggested
    assert "3" in str(response.context["form"].errors["check_digit"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:register"), {**data, "check_digit": "3"})
    assert response.status_code == 302
    assert Customer.objects.get().check_digit == "3"


# An existing email or document is refused without saying so on the page (issue 11.4): the
# answer is the same "check your email" as for a new customer; see test_throttling.py.
def test_an_already_registered_email_is_refused(client):
    make_customer("taken@example.com")
    response = client.post(reverse("accounts:register"), {**VALID, "email": "TAKEN@example.com"})
    assert response.status_code == 302 and response.url == reverse("accounts:registered")
    assert User.objects.count() == 1


def test_an_already_registered_document_is_refused(client):
    make_customer(document_number="1020304050")
    response = client.post(reverse("accounts:register"), VALID)
    assert response.status_code == 302 and response.url == reverse("accounts:registered")
    assert User.objects.count() == 1


def test_registration_is_one_transaction(client, monkeypatch):
    from clientarea.accounts import services

    def boom(**kwargs):
        raise RuntimeError("mail template exploded")

    monkeypatch.setattr(services, "_send_access_code_email", boom)
    with pytest.raises(RuntimeError):
        client.post(reverse("accounts:register"), VALID)
    assert (
        not User.objects.exists()
        and not Customer.objects.exists()
        and not OutgoingEmail.objects.exists()
    )
