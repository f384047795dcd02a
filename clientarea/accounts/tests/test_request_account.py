"""The request's user is read with their account (so the permission check reads nothing more),
sessions live in a cache in front of the database, and logging out still ends the session
everywhere it is kept."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.sessions.backends.cached_db import SessionStore
from django.core.cache import caches
from django.http import Http404
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from clientarea.accounts import twofactor
from clientarea.accounts.models import Contact
from clientarea.accounts.selectors import account_of_user, customer_login, session_user
from clientarea.test import make_contact, make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db
LOGIN = "clientarea.accounts.backends.EmailAccessCodeBackend"


def test_the_holder_and_their_account_come_with_the_user(django_assert_num_queries):
    customer = make_customer("holder@example.com")
    with django_assert_num_queries(1):  # one joined query: user, contact, customer
        user = session_user(customer.user.pk)
    assert user is not None
    with django_assert_num_queries(0):
        found, contact = account_of_user(user)
        assert found == customer and contact is not None and contact.is_holder
        assert found.display_name  # the holder's login is there for the name's fallback


def test_a_contact_and_the_account_they_belong_to_come_with_the_user(
    django_assert_num_queries,
):
    customer = make_customer("owner@acme.example", person_type="juridica", document_type="31")
    contact = make_contact(customer, "ana@acme.example", billing=True)
    with django_assert_num_queries(1):
        user = session_user(contact.user.pk)
    assert user is not None
    with django_assert_num_queries(0):
        found, found_contact = account_of_user(user)
        assert found == customer and found_contact == contact and found_contact.user is user
        assert not found_contact.is_holder and "billing" in found_contact.permissions
    assert found.user.email == "owner@acme.example"  # the holder's login (in the same query)


def test_a_holder_without_a_contact_row_still_gets_their_account():
    customer = make_customer("old@example.com")
    Contact.objects.filter(user=customer.user).delete()  # an account made before contacts
    user = session_user(customer.user.pk)
    assert user is not None
    assert account_of_user(user) == (customer, None)


def test_an_inactive_contact_counts_as_no_contact_and_unknown_ids_read_nothing():
    customer = make_customer("owner@acme.example")
    contact = make_contact(customer, "gone@acme.example", billing=True)
    contact.user.is_active = False
    contact.user.save()
    user = session_user(contact.user.pk)
    assert user is not None
    with pytest.raises(Http404):  # not the holder, and the contact does not count
        account_of_user(user)
    assert session_user(10**9) is None
    assert session_user("not a number") is None


def test_a_user_read_another_way_still_resolves_to_the_same_account():
    customer = make_customer("owner@acme.example")
    contact = make_contact(customer, "ana@acme.example", technical=True)
    assert account_of_user(contact.user) == (customer, contact)
    with pytest.raises(Http404):
        account_of_user(make_staff())


def test_login_as_customer_reads_the_customer_login_never_staff():
    customer = make_customer("alice@example.com")
    login = customer_login(customer.pk)
    assert login == customer.user and account_of_user(login)[0] == customer
    assert customer_login(10**9) is None


def test_the_two_factor_check_sees_only_confirmed_devices():
    customer = make_customer("alice@example.com")
    assert not twofactor.has_two_factor(customer.user)
    device = TOTPDevice.objects.create(user=customer.user, name="authenticator", confirmed=False)
    assert not twofactor.has_two_factor(customer.user)
    device.confirmed = True
    device.save()
    assert twofactor.has_two_factor(customer.user)


def test_sessions_are_cached_in_front_of_the_database():
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"
    assert settings.SESSION_CACHE_ALIAS in settings.CACHES


def test_logging_out_ends_the_session_in_the_cache_and_the_database(client, django_user_model):
    make_provider()
    customer = make_customer("alice@example.com")
    client.force_login(customer.user, backend=LOGIN)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.get(reverse("billing:orders")).status_code == 200
    assert caches[settings.SESSION_CACHE_ALIAS].get(SessionStore.cache_key_prefix + key)
    client.post(reverse("accounts:logout"))

    assert not SessionStore().exists(key)  # the database row
    assert caches[settings.SESSION_CACHE_ALIAS].get(SessionStore.cache_key_prefix + key) is None
    client.cookies[settings.SESSION_COOKIE_NAME] = key  # the old cookie, replayed
    response = client.get(reverse("billing:orders"))
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


def test_a_new_access_code_ends_the_other_sessions(client):
    make_provider()
    customer = make_customer("alice@example.com")
    client.force_login(customer.user, backend=LOGIN)
    assert client.get(reverse("billing:orders")).status_code == 200
    customer.user.set_password("ANOTHER-CODE-1234")
    customer.user.save()
    response = client.get(reverse("billing:orders"))  # the cached session no longer fits the user
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
