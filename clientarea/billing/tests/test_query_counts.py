"""The Billing, order and Services pages run the same number of queries for 3 or 30 orders, items or services."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from clientarea.billing import services
from clientarea.billing.models import ItemKind
from clientarea.billing.tests import (
    make_active_service,
    make_order,
    make_product,
    make_renewal_order,
)
from clientarea.subscriptions import services as subscription_services
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db

# Session, user, whether two-factor login is on (one EXISTS), customer, provider (context
# processor), the help link, the order's withholdings (the customer's agent status or a paid
# order's fixed withholdings, and whether its withholding is already in the ledger), the page's
# own reads, plus the account's: on Billing the summary
# and the orders' balances; on an order its payments, its balance and the customer's credit.
MAX_QUERIES = 17


@pytest.fixture
def alice():
    make_provider()
    return make_customer("alice@example.com")


def _orders(customer, n):
    for i in range(n):
        make_order(customer, lines=3, issue_date=dt.date(2026, 1, 1) + dt.timedelta(days=i))


@pytest.mark.parametrize("n", [3, 30])
def test_the_billing_page(client, alice, django_assert_max_num_queries, n):
    _orders(alice, n)
    client.force_login(alice.user)
    with django_assert_max_num_queries(MAX_QUERIES):
        assert client.get(reverse("billing:orders")).status_code == 200
    with django_assert_max_num_queries(MAX_QUERIES):
        assert client.get(reverse("billing:orders") + "?state=pending&page=2").status_code == 200


@pytest.mark.parametrize("n", [3, 30])
def test_the_order_page(client, alice, django_assert_max_num_queries, n):
    hosting = make_product("hosting-pyme")
    lines = [
        services.LineSpec(kind=ItemKind.OTHER, description=f"Item {i}", unit_price=Decimal("1000"))
        for i in range(n)
    ]
    order = services.create_order(customer=alice, lines=lines, notify=False)
    for _ in range(n):
        services.resend_order_email(order=order)  # n history events
    paid = make_renewal_order(make_active_service(alice, hosting))
    services.mark_order_paid(
        order_id=paid.pk,
        paid_at=dt.datetime(2026, 2, 1, 12, tzinfo=dt.UTC),
        via="payu",
        method="card",
    )
    client.force_login(alice.user)
    for number in (order.number, paid.number):
        with django_assert_max_num_queries(MAX_QUERIES):
            assert client.get(reverse("billing:order", args=[number])).status_code == 200
        with django_assert_max_num_queries(MAX_QUERIES):
            assert client.get(reverse("billing:order_print", args=[number])).status_code == 200


@pytest.mark.parametrize("n", [3, 30])
def test_the_services_pages(client, alice, django_assert_max_num_queries, n):
    products = [make_product(f"product-{i % 5}") for i in range(5)]
    for i in range(n):
        service = make_active_service(alice, products[i % 5], label=f"site{i}.co")
        make_renewal_order(service)
    for _ in range(n):
        assert service.next_due_date is not None
        subscription_services.change_due_date(
            service=service,
            new_due=service.next_due_date + dt.timedelta(days=1),
            actor=None,
            reason="test",
        )
    client.force_login(alice.user)
    with django_assert_max_num_queries(MAX_QUERIES):
        assert client.get(reverse("subscriptions:list")).status_code == 200
    with django_assert_max_num_queries(MAX_QUERIES):
        assert client.get(reverse("subscriptions:detail", args=[service.pk])).status_code == 200
    with django_assert_max_num_queries(MAX_QUERIES):
        assert client.get(reverse("subscriptions:new")).status_code == 200


@pytest.mark.parametrize("n", [3, 30])
def test_the_dashboard(client, alice, django_assert_max_num_queries, n):
    _orders(alice, n)
    client.force_login(alice.user)
    with django_assert_max_num_queries(MAX_QUERIES):
        assert client.get(reverse("accounts:dashboard")).status_code == 200
