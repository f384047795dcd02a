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
