"""The Billing, order and Services pages run the same number of queries for 3 or 30 orders, items or services."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from clientarea.accounts.selectors import provider_for_pages
from clientarea.billing import services
from clientarea.billing.models import ItemKind
from clientarea.billing.tests import (
    make_active_service,
    make_order,
    make_product,
    make_renewal_order,
)
from clientarea.helpcenter.selectors import linked_slugs
from clientarea.subscriptions import services as subscription_services
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db

# Session (from its cache: no statement with Redis), the user with their contact and its customer
# and whether two-factor login is on (one joined query: accounts.selectors.session_user), the
# version of the site data (the provider and the help link kept in memory: lib.sitecache; a cache
# read, no statement with Redis), the order's withholdings (the customer's agent status or a paid
# order's fixed withholdings, and whether its withholding is already in the ledger), the page's own
# reads, plus the account's: on Billing the summary and the orders' balances; on an order its
# payments, its balance and the customer's credit. It was 17: the user and the account were
# separate queries, and an order page read an invoice and a debit note it could not have; then 14
# while the two-factor check, the provider and the help link were a query each.
MAX_QUERIES = 12
# The Billing page again, its content cached for the account's state: session, the user with
# their account and two-factor state (one joined query), the site data's version, the account's
# stamp. It was 6 with the two-factor check, the help link and the provider read each time.
BILLING_CACHED_STATEMENTS = 4
LOGIN = "clientarea.accounts.backends.EmailAccessCodeBackend"  # as the login view logs in


@pytest.fixture
def alice():
    make_provider()
    customer = make_customer("alice@example.com")
    # The site data as every process keeps it between changes (the first request after a change
    # reads the provider and the help link once more).
    provider_for_pages()
    linked_slugs("pay")
    return customer


def _orders(customer, n):
    for i in range(n):
        make_order(customer, lines=3, issue_date=dt.date(2026, 1, 1) + dt.timedelta(days=i))


@pytest.mark.parametrize("n", [3, 30])
def test_the_billing_page(client, alice, django_assert_max_num_queries, n):
    _orders(alice, n)
    client.force_login(alice.user, backend=LOGIN)
    with django_assert_max_num_queries(MAX_QUERIES):
        assert client.get(reverse("billing:orders")).status_code == 200
    with django_assert_max_num_queries(MAX_QUERIES):
        assert client.get(reverse("billing:orders") + "?state=pending&page=2").status_code == 200
    with django_assert_max_num_queries(BILLING_CACHED_STATEMENTS):
        assert client.get(reverse("billing:orders")).status_code == 200


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
    client.force_login(alice.user, backend=LOGIN)
    for number in (order.number, paid.number):
        with django_assert_max_num_queries(MAX_QUERIES):
            assert client.get(reverse("billing:order", args=[number])).status_code == 200
        with django_assert_max_num_queries(MAX_QUERIES):
            assert client.get(reverse("billing:order_print", args=[number])).status_code == 200


def test_the_order_page_of_a_withholding_agent_reads_the_agent_once(client, alice):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from clientarea.billing import selectors
    from clientarea.lib.dates import local_today
    from clientarea.lib.money import format_cop
    from clientarea.withholdings.tests.helpers import make_agent, make_rules

    make_rules(local_today().year)
    make_agent(alice)
    line = services.LineSpec(kind=ItemKind.OTHER, description="Hosting", unit_price=Decimal("1e6"))
    order = services.create_order(customer=alice, lines=[line], notify=False)
    net = selectors.amount_to_charge([order])
    assert net < order.total  # the agent withholds part of it
    client.force_login(alice.user, backend=LOGIN)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("billing:order", args=[order.number])).content.decode()
    agent_reads = [q for q in queries if "withholdings_withholdingagent" in q["sql"]]
    assert len(agent_reads) == 1
    assert 'id="order-withholdings"' in page
    assert f'id="order-balance-due">{format_cop(net)}<' in page  # the net, as checkout charges


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
    client.force_login(alice.user, backend=LOGIN)
    with django_assert_max_num_queries(MAX_QUERIES):
        assert client.get(reverse("subscriptions:list")).status_code == 200
    with django_assert_max_num_queries(MAX_QUERIES):
        assert client.get(reverse("subscriptions:detail", args=[service.pk])).status_code == 200
    with django_assert_max_num_queries(MAX_QUERIES):
        assert client.get(reverse("subscriptions:new")).status_code == 200


@pytest.mark.parametrize("n", [3, 30])
def test_the_dashboard(client, alice, django_assert_max_num_queries, n):
    _orders(alice, n)
    client.force_login(alice.user, backend=LOGIN)
    with django_assert_max_num_queries(MAX_QUERIES):
        assert client.get(reverse("accounts:dashboard")).status_code == 200


# The paid transaction, applied by the worker from a stored PayU approval: the inbox row read
# (locked: the claim); the payment with its basket (one read); lock the customer (with its
# withholding agent status: none here), the order and the payment; the payment approved; the
# order's balance; the payment posted; the order paid; its items and services; the renewal and its
# history; the "paid" event; the provider; the numbering resolution locked and advanced; the
# invoice; the account's contacts who receive billing emails; the email (its id only: rendered
# after commit, so no template override is read here); the provisioning outbox row; the inbox row
# processed with its outcome (the claim and the outcome are one write). The order's other open
# attempts are asked about with the payment's lock (none here: nothing to update). Plus the
# transaction and one savepoint (a transaction id that approved another payment must not undo
# the claim). It was 49 statements before issue 18, 34 while the agent was read twice, 33 while
# the email was rendered here, 32 while the inbox row was claimed and finished in two writes, the
# basket and the agent were read on their own and the other attempts were updated whether or not
# there were any, 28 while the ledger's posting held a savepoint of its own (nothing catches its
# errors: they undo the whole transaction).
PAID_TRANSACTION_STATEMENTS = 26


def test_the_paid_transaction_is_lean(client, alice):
    from io import StringIO
    from unittest import mock
    from urllib.parse import urlencode

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from clientarea.einvoice import demo
    from clientarea.einvoice.models import Invoice
    from clientarea.notifications.models import OutgoingEmail
    from clientarea.payments import services as payments
    from clientarea.payments.models import PaymentMessage
    from clientarea.payments.services import inbox
    from clientarea.payments.tests.helpers import make_renewal_order, payu_confirmation
    from clientarea.subscriptions.models import ProvisioningDelivery

    demo.load(StringIO())  # a numbering resolution: the invoice is really issued
    order, service = make_renewal_order(alice)
    payment, _ = payments.start_payment(
        order=order, customer=alice, gateway_code="payu", language="es"
    )
    fields = payu_confirmation(payment.reference, f"{payment.amount}", transaction_id="tx-lean")
    with mock.patch("clientarea.payments.jobs.enqueue_apply_message"):  # applied below
        response = client.post(
            "/payments/payu/confirmation/",
            data=urlencode(fields),
            content_type="application/x-www-form-urlencoded",
        )
    assert response.status_code == 200
    message = PaymentMessage.objects.get()
    with CaptureQueriesContext(connection) as queries:
        assert inbox.apply_message(message_id=message.pk) == "applied"
    # In a test the outer transaction is a savepoint too (its SAVEPOINT and RELEASE are counted).
    statements = [q["sql"] for q in queries.captured_queries]
    assert len(statements) <= PAID_TRANSACTION_STATEMENTS, "\n".join(q[:120] for q in statements)
    # One savepoint inside the transaction (the test's own outer one aside): the approval's.
    assert len([q for q in statements if q.startswith("SAVEPOINT")]) == 2
    # The inbox row: read once, written once (claimed with its outcome).
    inbox_writes = [q for q in statements if q.startswith('UPDATE "payments_paymentmessage"')]
    assert len(inbox_writes) == 1 and '"outcome"' in inbox_writes[0]
    # The basket comes with the payment, the agent status with the customer's lock.
    assert not [q for q in statements if 'FROM "payments_paymentorder"' in q]
    assert not [q for q in statements if 'FROM "withholdings_withholdingagent"' in q]
    order.refresh_from_db()
    service.refresh_from_db()
    assert order.state == "paid"
    assert service.events.filter(kind="renewed", order_number=order.number).count() == 1
    assert Invoice.objects.get(order=order).status == "issued"
    [email] = OutgoingEmail.objects.filter(template="order_paid")
    assert email.render_refs == {"order": order.pk} and email.body_text == ""  # rendered later
    assert ProvisioningDelivery.objects.filter(order_number=order.number).count() == 1
    assert order.ledger_entries.count() == 2  # the charge and the payment, nothing twice


# The paid transaction of an upgrade (a plan change's order), applied from a stored PayU approval:
# as above, except that the order's item applies the change instead of renewing the service (the
# waiting change read and locked, the service locked again with its customer, inside a savepoint;
# the service and the change written, the history and the audit entry) and records the "plan
# changed" email beside the "payment received" one (the contacts who receive technical emails and
# the email row: rendered after commit, so neither the template override in force nor the
# provider is read here). It was 38 while the "plan changed" email was rendered in it, 36 while
# the ledger's posting held a savepoint of its own.
UPGRADE_PAID_TRANSACTION_STATEMENTS = 34


def test_the_paid_transaction_of_an_upgrade_renders_no_email(client, alice):
    from io import StringIO
    from unittest import mock
    from urllib.parse import urlencode

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from clientarea.billing import planchanges
    from clientarea.billing.models import Order
    from clientarea.einvoice import demo
    from clientarea.lib.dates import local_today
    from clientarea.notifications import rendering
    from clientarea.notifications.models import OutgoingEmail
    from clientarea.payments import services as payments
    from clientarea.payments.models import PaymentMessage
    from clientarea.payments.services import inbox
    from clientarea.payments.tests.helpers import payu_confirmation

    demo.load(StringIO())  # a numbering resolution: the invoice is really issued
    pyme = make_product("hosting-pyme", prices={"monthly": "29000"})
    pro = make_product("hosting-pro", prices={"monthly": "59000"})
    service = make_active_service(alice, pyme, start=local_today() - dt.timedelta(days=20))
    change = planchanges.request_plan_change(service=service, product=pro, cycle="monthly")
    order = Order.objects.get(number=change.order_number)
    payment, _ = payments.start_payment(
        order=order, customer=alice, gateway_code="payu", language="es"
    )
    fields = payu_confirmation(payment.reference, f"{payment.amount}", transaction_id="tx-up")
    with mock.patch("clientarea.payments.jobs.enqueue_apply_message"):  # applied below
        client.post(
            "/payments/payu/confirmation/",
            data=urlencode(fields),
            content_type="application/x-www-form-urlencoded",
        )
    message = PaymentMessage.objects.get()
    real = rendering.render_templates
    with (
        mock.patch.object(rendering, "render_templates", side_effect=real) as renders,
        CaptureQueriesContext(connection) as queries,
    ):
        assert inbox.apply_message(message_id=message.pk) == "applied"
    assert [call.kwargs["template"] for call in renders.call_args_list] == []
    statements = [q["sql"] for q in queries.captured_queries]
    assert len(statements) <= UPGRADE_PAID_TRANSACTION_STATEMENTS, "\n".join(
        q[:120] for q in statements
    )
    assert not [q for q in statements if 'FROM "notifications_emailtemplateversion"' in q]
    service.refresh_from_db()
    change.refresh_from_db()
    assert service.product == pro and change.status == "applied"
    [email] = OutgoingEmail.objects.filter(template="plan_changed")
    assert email.render_refs is not None and email.body_text == ""  # rendered later
