"""The customer's page in the back office, as Spanish-speaking staff read it."""

import pytest
from django.urls import reverse

from clientarea.test import make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db


def test_the_customers_login_is_labelled_in_spanish(client):
    """The account's login was labelled "User:", the one English word on the page."""
    make_provider()
    customer = make_customer("alice@example.com")
    client.force_login(make_staff())
    client.cookies["django_language"] = "es-co"
    page = client.get(reverse("admin:accounts_customer_change", args=[customer.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "<label>Acceso:</label>" in html and "<label>User:</label>" not in html
