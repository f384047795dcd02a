"""The invoice and the order snapshot show DIAN's municipality names correctly capitalised."""

from __future__ import annotations

import pytest

from clientarea.einvoice import builder, ubl
from clientarea.einvoice.tests import factories
from clientarea.test import make_customer


@pytest.mark.django_db
def test_invoice_xml_city_name_and_order_snapshot_label():
    customer = make_customer(municipality_code="05148")
    assert customer.municipality_label == "El Carmen de Viboral, Antioquia"
    party = builder.customer_party(customer)
    assert party.municipality_name == "El Carmen de Viboral"
    root = ubl.build_invoice_xml(factories.invoice(customer=party))
    cities = root.xpath("//*[local-name()='CityName']/text()")
    assert "El Carmen de Viboral" in cities
