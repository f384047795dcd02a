"""The product's own paid-order invoice, as the worker signs it today, passes the simulator."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from clientarea.billing import services as billing
from clientarea.catalog.models import Product, ProductPrice
from clientarea.einvoice.models import Invoice, NumberingResolution
from clientarea.test import make_customer, make_provider

from . import documents

pytestmark = [pytest.mark.django_db, pytest.mark.urls("clientarea.einvoice.sandbox.tests.urls")]


@pytest.mark.parametrize(
    "buyer",
    [
        dict(
            person_type="juridica",
            document_type="31",
            document_number="900108281",
            legal_name="Ópticas S.A.S.",
        ),
        dict(first_name="Ana", last_name="Gómez", document_number="1017234567"),
    ],
)
def test_a_paid_order_invoice_is_accepted(call, django_capture_on_commit_callbacks, buyer):
    make_provider()
    hosting = Product.objects.create(code="hosting", name="Hosting Pyme", kind="hosting")
    ProductPrice.objects.create(product=hosting, cycle="annual", price=Decimal("45990"))
    NumberingResolution.objects.create(
        number="18760000001", prefix="SETP", range_from=990000000, range_to=995000000,
        next_number=990000000, valid_from=dt.date(2019, 1, 19), valid_to=dt.date(2030, 1, 19),
        technical_key=documents.TEST_KEY, environment="2",
    )  # fmt: skip
    order = billing.order_new_service(
        customer=make_customer(**buyer), product=hosting, cycle="annual", label="cliente.co"
    )
    with django_capture_on_commit_callbacks(execute=True):
        billing.mark_order_paid(
            order_id=order.pk,
            paid_at=timezone.now(),
            via="payu",
            method="card",
            reference="payu:tx",
        )
    invoice = Invoice.objects.get(order=order)
    result = call("SendBillSync", documents.package(bytes(invoice.xml_signed))).dian()
    assert (result["StatusCode"], result["ErrorMessage"]) == ("00", [])
    assert result["XmlDocumentKey"] == invoice.cufe
