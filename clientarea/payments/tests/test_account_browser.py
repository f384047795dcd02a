"""The customer's account in a real browser, against the PayU simulator: three orders paid in
one transaction, and a duplicate payment kept as credit that pays the next renewal."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.conf import settings

from clientarea.billing import automation
from clientarea.billing import services as billing
from clientarea.billing.models import ItemKind, Order
from clientarea.billing.selectors import credit_available
from clientarea.catalog.models import Product, ProductPrice
from clientarea.einvoice.models import Invoice
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.lib.dates import local_today
from clientarea.notifications.models import OutgoingEmail
from clientarea.payments.models import Payment
from clientarea.payments.tests.test_e2e_browser import pay_by_card, wait_for_status
from clientarea.subscriptions.models import Service
from clientarea.test import ACCESS_CODE, make_customer, make_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def renewal_for(customer, *, code: str, label: str, days: int) -> tuple[Service, Order]:
    product = Product.objects.create(code=code, name=f"Hosting {code}", kind="hosting")
    ProductPrice.objects.create(product=product, cycle="annual", price=Decimal("100000"))
    due = local_today() + dt.timedelta(days=days)
    service = Service.objects.create(
        customer=customer,
        product=product,
        cycle="annual",
        price=Decimal("100000"),
        label=label,
        status="active",
        start_date=due.replace(year=due.year - 1),
        next_due_date=due,
        anchor_day=due.day,
    )
    order = billing.create_order(
        customer=customer,
        lines=[
            billing.LineSpec(
                kind=ItemKind.RENEWAL,
                description=f"Hosting {code} · {label} (renovación)",
                unit_price=Decimal("100000"),
                service=service,
                period_start=due,
                period_end=billing.period_end_for(cycle="annual", start=due, anchor_day=due.day),
            )
        ],
    )
    return service, order


@pytest.fixture
def alice():
    make_provider()
    make_resolution()
    return make_customer(
        "alice@example.com", first_name="Alice", last_name="Gómez", document_number="1020304050"
    )


def log_in(page, live_site) -> None:
    page.goto(live_site.url + "/")
    page.click("#client-access")
    page.fill("#id_username", "alice@example.com")
    page.fill("#id_password", ACCESS_CODE)
    page.click("main button[type=submit]")
    page.wait_for_url(live_site.url + "/clientarea/")
    page.click("#nav-billing")


def test_three_orders_paid_in_one_payu_transaction(page, live_site, alice):
    renewals = [renewal_for(alice, code=f"h{n}", label=f"site{n}.co", days=5 + n) for n in range(3)]
    orders = [order for _service, order in renewals]
    log_in(page, live_site)
    assert page.inner_text("#account-due").strip() == "$ 357.000"
    for order in orders:
        page.check(f"#select-{order.number}")
    page.click("#pay-selected")
    page.wait_for_url(re.compile(r"/payments/pay-orders/"))
    assert page.inner_text("#pay-total").strip() == "$ 357.000"
    for order in orders:
        assert order.number in page.inner_text("#pay-orders")
    page.click("#gateway-payu")
    pay_by_card(page, "4111111111111111")
    wait_for_status(page, "approved")
    payment = Payment.objects.get()
    assert payment.amount == Decimal("357000.00")
    for service, order in renewals:
        order.refresh_from_db()
        service.refresh_from_db()
        assert order.state == "paid"
        assert order.payment_reference == f"payu:{payment.gateway_transaction_id}"
        start = order.items.get().period_start
        assert service.next_due_date is not None and start is not None
        assert service.next_due_date > start
    assert Invoice.objects.filter(order__in=orders).count() == 3
    email = OutgoingEmail.objects.get(template="orders_paid", customer=alice)
    assert all(order.number in email.body_text for order in orders)
    page.goto(live_site.url + "/clientarea/billing/")
    assert page.inner_text("#account-due").strip() == "$ 0"
    assert page.locator("#pay-all-due").count() == 0


def test_a_duplicate_payment_becomes_credit_and_pays_the_next_renewal(page, live_site, alice):
    service, order = renewal_for(alice, code="dup", label="alice.co", days=10)
    log_in(page, live_site)
    # Two tabs at PayU's checkout for the same order: the customer pays in both.
    first_tab = page.context.new_page()
    first_tab.goto(live_site.url + f"/payments/pay/{order.number}/")
    first_tab.click("#gateway-payu")
    first_tab.wait_for_url(re.compile(r"/sandbox/payu/"))
    page.goto(live_site.url + f"/payments/pay/{order.number}/")
    page.click("#gateway-payu")
    pay_by_card(page, "4111111111111111")
    wait_for_status(page, "approved")
    pay_by_card(first_tab, "4111111111111111")
    wait_for_status(first_tab, "duplicate")
    assert "saldo a su favor" in first_tab.inner_text("#payment-status")
    assert credit_available(alice) == Decimal("119000.00")
    assert OutgoingEmail.objects.filter(template="credit_added", customer=alice).exists()
    page.goto(live_site.url + "/clientarea/billing/")
    assert page.inner_text("#account-credit").strip() == "$ 119.000"
    # The next renewal is billed: the credit pays it at once.
    service.refresh_from_db()
    assert service.next_due_date is not None
    automation.run_billing(
        run_date=service.next_due_date - dt.timedelta(days=settings.BILLING_RENEWAL_DAYS_BEFORE)
    )
    renewal = Order.objects.exclude(pk=order.pk).get(customer=alice)
    assert renewal.state == "paid" and renewal.paid_via == "credit"
    assert credit_available(alice) == 0
    page.goto(live_site.url + "/clientarea/billing/")
    assert page.inner_text("#account-credit").strip() == "$ 0"
    page.click(f"tr[data-number='{renewal.number}'] a")
    page.wait_for_url(f"**/billing/{renewal.number}/")
    page.wait_for_selector(".badge-paid", state="visible")  # is_visible() would not wait (load)
    assert "Saldo a favor aplicado" in page.inner_text("#order-payments")
    page.goto(live_site.url + "/clientarea/billing/statement/")
    assert renewal.number in page.inner_text("#statement")
