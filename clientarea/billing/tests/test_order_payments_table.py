"""An order's "Payments received": what the customer paid on it, as a positive amount."""

import pytest
from django.urls import reverse

from clientarea.billing import services
from clientarea.billing.tests import aware, make_order
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client):
    make_provider()
    customer = make_customer("alice@example.com")
    client.force_login(customer.user)
    client.cookies["django_language"] = "en"
    return customer


def payments_table(client, order) -> str:
    page = client.get(reverse("billing:order", args=[order.number])).content.decode()
    if 'id="order-payments"' not in page:
        return ""
    table = page[page.index('id="order-payments"') :]
    return table[: table.index("</table>")]


def test_a_payment_reads_as_the_money_received(client, alice):
    order = make_order(alice, price="100000")
    services.mark_order_paid(
        order_id=order.pk, paid_at=aware(2026, 2, 10), via="payu", method="pse"
    )
    table = payments_table(client, order)
    assert "$ 119.000" in table and "-$ 119.000" not in table  # was "-$ 119.000"


def test_a_cancelled_unpaid_order_lists_no_payment(client, alice):
    """Its cancellation was listed as a payment received of the order's total."""
    order = make_order(alice, price="100000")
    services.cancel_order(order=order, reason="Ordered twice")
    assert payments_table(client, order) == ""


def test_a_gateway_payment_reads_as_the_reference_the_customer_saw(client, alice):
    """A gateway's payment was listed as "payu:2e56920c-26b7-…" (the ledger's key: gateway and
    transaction id), a code the customer never saw; checkout, the result page and the gateway's
    receipt call it by the attempt's reference. A bank transfer keeps the reference staff typed."""
    from decimal import Decimal

    from clientarea.billing import ledger

    order = make_order(alice, price="100000")
    ledger.record_payment(
        customer_id=alice.pk,
        amount=Decimal("50000"),
        allocations=[ledger.Allocation(order_id=order.pk, amount=Decimal("50000"))],
        reference="payu:2e56920c-26b7-4be0-8095-546316ad62bc",
        via="payu",
        method="card",
        memo=f"{order.number}-1",
    )
    ledger.record_payment(
        customer_id=alice.pk,
        amount=Decimal("69000"),
        allocations=[ledger.Allocation(order_id=order.pk, amount=Decimal("69000"))],
        reference="Transferencia Bancolombia 20431877",
        via="manual",
        method="transfer",
    )
    statement = client.get(reverse("billing:statement")).content.decode()
    csv = client.get(reverse("billing:statement"), {"format": "csv"}).content.decode()
    for page in (payments_table(client, order), statement, csv):
        assert f"{order.number}-1" in page
        assert "payu:" not in page and "2e56920c" not in page
        assert "Transferencia Bancolombia 20431877" in page


def test_a_credit_applied_shows_no_empty_reference(client, alice, settings):
    """Account credit applied to the order has no reference: on a phone its card read
    "Reference:" followed by nothing."""
    from decimal import Decimal

    from clientarea.billing import ledger

    settings.BILLING_AUTO_APPLY_CREDIT = True
    order = make_order(alice, price="100000")
    ledger.record_payment(
        customer_id=alice.pk, amount=Decimal("20000"), reference="TRF-9", via="manual"
    )
    table = payments_table(client, order)
    assert "Credit applied" in table
    assert table.count('data-label="Reference"') == 0
    assert table.count("<td") == 4 and '<td class="break-anywhere"></td>' in table
