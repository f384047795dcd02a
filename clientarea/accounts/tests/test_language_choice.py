"""The language switcher sticks: a visitor who chooses English and logs in keeps reading English
(the login put the account's Spanish back), and an account holder's choice becomes the account's
language, that of its emails, new orders and invoices (the switcher changed only the pages)."""

import pytest
from django.conf import settings
from django.urls import reverse

from clientarea.accounts.models import AuditEvent, Customer
from clientarea.test import ACCESS_CODE, make_contact, make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana():
    make_provider()
    return make_customer("ana@example.com", first_name="Ana")


def choose(client, language: str) -> None:
    response = client.post(reverse("set_language"), {"language": language, "next": "/"})
    assert response.status_code == 302


def language_of(customer: Customer) -> str:
    return Customer.objects.get(pk=customer.pk).preferred_language


def test_english_chosen_before_logging_in_stays_after_it(client, ana):
    choose(client, "en")
    response = client.post(
        reverse("accounts:login"), {"username": "ana@example.com", "password": ACCESS_CODE}
    )
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert "Log out" in client.get(reverse("accounts:dashboard")).content.decode()
    assert language_of(ana) == "en"  # her emails and invoices follow
    event = AuditEvent.objects.get(action="customer.profile_changed", customer=ana)
    assert event.changes == {"preferred_language": {"before": "es-co", "after": "en"}}


def test_a_login_without_a_choice_shows_the_accounts_language(client, ana):
    Customer.objects.filter(pk=ana.pk).update(preferred_language="en")
    response = client.post(
        reverse("accounts:login"), {"username": "ana@example.com", "password": ACCESS_CODE}
    )
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert not AuditEvent.objects.filter(action="customer.profile_changed").exists()


def test_the_holders_choice_is_the_accounts_language(client, ana):
    client.force_login(ana.user)
    choose(client, "en")
    assert language_of(ana) == "en"
    choose(client, "es-co")
    assert language_of(ana) == "es-co"


def test_a_contacts_or_staff_members_choice_changes_only_their_pages(client, ana):
    contact = make_contact(ana, "team@example.com")
    client.force_login(contact.user)
    choose(client, "en")
    assert "Log out" in client.get(reverse("accounts:dashboard")).content.decode()
    client.logout()
    client.force_login(make_staff())
    choose(client, "en")
    assert language_of(ana) == "es-co"


def test_an_unknown_language_changes_nothing(client, ana):
    client.force_login(ana.user)
    choose(client, "fr")
    assert language_of(ana) == "es-co"
