"""The Billing page's content is rendered once per state of the account and shown again from the
page cache; whatever changes the account (a payment, a new order, a cancellation, credit) shows
on the very next request."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clientarea.billing import ledger, selectors, services
from clientarea.billing.tests import make_order
from clientarea.test import make_customer, make_provider
from clientarea.withholdings.tests.helpers import make_agent

pytestmark = pytest.mark.django_db

URL = reverse("billing:orders")


@pytest.fixture
def alice(client, settings):
    make_provider()
    customer = make_customer("alice@example.com")
    client.force_login(customer.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return customer


def _page(client, url: str = URL) -> tuple[str, int]:
    """The page without its per-request tokens, and how many queries it ran."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
    return html, len(queries)


def _account_due(html: str) -> str:
    match = re.search(r'<dd id="account-due">([^<]+)</dd>', html)
    assert match
    return match.group(1)


def test_the_second_view_comes_from_the_cache_and_is_the_same(client, alice):
    for i in range(3):
        make_order(alice, lines=3, issue_date=dt.date(2026, 1, 1) + dt.timedelta(days=i))
    first, first_queries = _page(client)
    second, second_queries = _page(client)
    assert second == first
    # The stamp replaces the summary, the orders, their items and dues, the account and the
    # agent check.
    assert second_queries <= first_queries - 5


def test_a_payment_shows_at_once(client, alice):
    order = make_order(alice, price="100000")
    html, _ = _page(client)
    assert _account_due(html) == "$ 119.000"
    assert "left to pay" not in html

    ledger.record_payment(
        customer_id=alice.pk,
        amount=Decimal("20000"),
        allocations=[ledger.Allocation(order_id=order.pk, amount=Decimal("20000"))],
        reference="BANK-1",
        via="manual",
        method="transfer",
        notify=False,
    )
    html, _ = _page(client)
    assert _account_due(html) == "$ 99.000"
    assert '<span class="nowrap">$ 99.000</span> left to pay' in html  # one line: "$ 99.000"

    services.mark_order_paid(
        order_id=order.pk,
        paid_at=dt.datetime(2026, 2, 1, 12, tzinfo=dt.UTC),
        via="payu",
        method="card",
        notify=False,
    )
    html, _ = _page(client)
    assert _account_due(html) == "$ 0"
    assert 'class="badge badge-paid"' in html
    assert 'id="total-due"' not in html


def test_new_and_cancelled_orders_show_at_once(client, alice):
    html, _ = _page(client)
    assert "order-row" not in html
    order = make_order(alice)
    html, _ = _page(client)
    assert f'data-number="{order.number}"' in html
    assert 'class="badge badge-pending"' in html
    services.cancel_order(order=order, reason="test", notify=False)
    html, _ = _page(client)
    assert 'class="badge badge-cancelled"' in html
    assert 'class="badge badge-pending"' not in html


def test_language_filter_and_page_each_have_their_own_entry(client, alice, settings):
    for i in range(30):
        make_order(alice, issue_date=dt.date(2026, 1, 1) + dt.timedelta(days=i))
    english, _ = _page(client)
    pending, _ = _page(client, URL + "?state=pending")
    second, _ = _page(client, URL + "?page=2")
    assert 'aria-current="true">Pending' in pending
    assert "Page 2 of 2" in second and "Page 1 of 2" in english
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es-co"
    spanish, _ = _page(client)
    assert "Total a pagar" in spanish or "Saldo" in spanish
    assert ">Balance<" in english and ">Balance<" not in spanish


def test_the_stamp_follows_ledger_and_order_events(alice):
    before = selectors.account_version(alice)
    order = make_order(alice)
    after_order = selectors.account_version(alice)
    assert after_order != before
    ledger.record_payment(
        customer_id=alice.pk,
        amount=Decimal("1000"),
        reference="BANK-2",
        via="manual",
        method="transfer",
        notify=False,
    )  # credit only: a ledger entry without an order
    after_credit = selectors.account_version(alice)
    assert after_credit != after_order
    # An event that changes nothing shown still gives a new stamp (one render more, never stale).
    services.resend_order_email(order=order)
    assert selectors.account_version(alice) != after_credit


def test_a_withholding_agent_is_never_served_from_the_cache(client, alice):
    make_order(alice)
    make_agent(alice)
    assert selectors.account_version(alice) is None
    _page(client)  # the provider and the help link are kept from here on (lib.sitecache)
    _, first = _page(client)
    _, second = _page(client)
    assert second == first
