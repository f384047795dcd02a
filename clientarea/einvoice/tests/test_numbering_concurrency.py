"""Numbers are allocated gap-free under concurrent payments (real PostgreSQL, one connection per thread)."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from clientarea.billing import services as billing
from clientarea.catalog.models import Product, ProductPrice
from clientarea.einvoice.models import Invoice
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.test import make_customer, make_provider


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_payments_get_consecutive_unique_numbers(monkeypatch):
    from clientarea.einvoice import services

    monkeypatch.setattr(
        services, "_schedule_render", lambda invoice_id: None
    )  # only allocation matters here
    make_provider()
    make_resolution()
    product = Product.objects.create(code="h", name="Hosting", kind="hosting")
    ProductPrice.objects.create(product=product, cycle="monthly", price=Decimal("50000"))
    orders = [
        billing.order_new_service(
            customer=make_customer(), product=product, cycle="monthly", label=f"s{i}.co"
        )
        for i in range(12)
    ]
    barrier = threading.Barrier(len(orders))
    errors = []

    def pay(order_id):
        try:
            barrier.wait()
            billing.mark_order_paid(
                order_id=order_id, paid_at=timezone.now(), via="payu", method="card"
            )
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=pay, args=(o.pk,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    numbers = sorted(n for n in Invoice.objects.values_list("number", flat=True) if n is not None)
    assert numbers == list(range(990000000, 990000000 + len(orders)))
