"""``customer_for_user`` takes ``request.user`` as it comes: a logged-in user or an anonymous one."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from clientarea.accounts.selectors import customer_for_user
from clientarea.test import make_customer, make_staff


@pytest.mark.django_db
def test_it_returns_the_customer_of_a_logged_in_user():
    customer = make_customer("dana@example.com")
    assert customer_for_user(customer.user) == customer


@pytest.mark.django_db
def test_staff_without_a_customer_profile_get_a_404():
    with pytest.raises(Http404):
        customer_for_user(make_staff())


@pytest.mark.django_db
def test_an_anonymous_user_gets_a_404_not_a_server_error():
    with pytest.raises(Http404):
        customer_for_user(AnonymousUser())


@pytest.mark.django_db
def test_the_request_user_comes_with_their_account_in_one_statement(django_assert_num_queries):
    """``session_user`` (the request's user): a holder's account and login, a contact's account,
    and no account for staff, all from one statement."""
    from clientarea.accounts.selectors import account_of_user, session_user
    from clientarea.test import make_contact

    customer = make_customer("dana@example.com")
    contact = make_contact(customer, "eva@example.com", billing=True)
    staff = make_staff()
    with django_assert_num_queries(1):
        holder = session_user(customer.user.pk)
        assert holder is not None
        account, own_contact = account_of_user(holder)
        assert account == customer and own_contact is not None and own_contact.is_holder
        assert holder.customer == customer and holder.customer.user is holder
        assert str(account)  # its name and the holder's login, no further read
    with django_assert_num_queries(1):
        member = session_user(contact.user.pk)
        assert member is not None
        assert account_of_user(member) == (customer, contact)
    with django_assert_num_queries(1):
        read = session_user(staff.pk)
        assert read is not None and not hasattr(read, "contact")
    assert session_user(999_999) is None and session_user("x") is None
