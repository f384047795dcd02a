"""After many requests on one kept connection (what a cache of the request's user, of the
Billing list or of prepared statements would reuse), a removed login, a new access code, a
permission taken away and a new order or its payment still show on the very next request."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from clientarea.accounts import contacts
from clientarea.accounts.contacts import Roles
from clientarea.billing import services
from clientarea.billing.models import ItemKind
from clientarea.lib.dates import BOGOTA, local_today
from clientarea.test import make_contact, make_customer, make_provider

pytestmark = pytest.mark.django_db
LOGIN = "clientarea.accounts.backends.EmailAccessCodeBackend"
REPEAT = 8


def _billing(client, times: int = REPEAT):
    for _ in range(times):
        response = client.get(reverse("billing:orders"))
        assert response.status_code == 200
    return response


def _logged_out(response) -> bool:
    return response.status_code == 302 and reverse("accounts:login") in response["Location"]


def _order(customer, *, description: str):
    return services.create_order(
        customer=customer,
        lines=[
            services.LineSpec(
                kind=ItemKind.OTHER, description=description, unit_price=Decimal("45000")
            )
        ],
        issue_date=local_today(),
        due_date=local_today() + dt.timedelta(days=5),
        notify=False,
    )


def test_a_removed_contact_is_logged_out_at_once_after_many_requests(client):
    make_provider()
    customer = make_customer("owner@acme.example")
    contact = make_contact(customer, "ana@acme.example", billing=True)
    client.force_login(contact.user, backend=LOGIN)
    _billing(client)
    contacts.remove_contact(contact=contact, actor=customer.user)
    assert _logged_out(client.get(reverse("billing:orders")))


def test_a_new_access_code_ends_the_session_after_many_requests(client):
    make_provider()
    customer = make_customer("alice@example.com")
    client.force_login(customer.user, backend=LOGIN)
    _billing(client)
    customer.user.set_password("ANOTHER-CODE-1234")
    customer.user.save()
    assert _logged_out(client.get(reverse("billing:orders")))


def test_a_permission_taken_away_counts_at_the_next_request(client):
    make_provider()
    customer = make_customer("owner@acme.example")
    contact = make_contact(customer, "ana@acme.example", billing=True)
    client.force_login(contact.user, backend=LOGIN)
    _billing(client)
    contacts.update_contact(contact=contact, roles=Roles(technical=True), actor=customer.user)
    assert client.get(reverse("billing:orders")).status_code == 403


def test_a_new_order_and_its_payment_show_at_the_next_request(client):
    make_provider()
    customer = make_customer("alice@example.com")
    client.force_login(customer.user, backend=LOGIN)
    _order(customer, description="Hosting Pyme — first.example")
    _billing(client)
    order = _order(customer, description="Hosting Pyme — second.example")
    page = _billing(client, 1).content.decode()
    assert order.number in page
    pending, paid = page.count("state-row-pending"), page.count("state-row-paid")
    services.mark_order_paid(
        order_id=order.pk,
        paid_at=dt.datetime.combine(local_today(), dt.time(9), tzinfo=BOGOTA),
        via="manual",
        method="transfer",
        notify=False,
    )
    page = _billing(client, 1).content.decode()
    assert page.count("state-row-pending") == pending - 1
    assert page.count("state-row-paid") == paid + 1
