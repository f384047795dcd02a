"""The catalog a customer orders from, and the demo catalog."""

import io
from decimal import Decimal

import pytest
from django.utils import translation

from clientarea.billing.tests import make_product
from clientarea.catalog import demo
from clientarea.catalog.models import Product, TaxTreatment
from clientarea.catalog.selectors import orderable_catalog

pytestmark = pytest.mark.django_db


def test_it_groups_active_products_by_kind_with_iva_and_total():
    make_product("dominio-co", kind="domain", prices={"biennial": "175000", "annual": "89000"})
    make_product("hosting-basico", prices={"annual": "150000", "monthly": "15000"})
    make_product("retired", prices={"monthly": "1000"}, active=False)
    Product.objects.create(code="no-prices", name="No prices", kind="ssl")
    make_product(
        "excluded-cloud",
        kind="vps",
        prices={"monthly": "100000"},
        tax_treatment=TaxTreatment.EXCLUDED,
        tax_rate="0",
    )
    with translation.override("en"):
        groups = orderable_catalog("en")
    assert [g.kind for g in groups] == ["hosting", "domain", "vps"]
    hosting = groups[0].offers[0]
    assert [p.cycle for p in hosting.prices] == [
        "monthly",
        "annual",
    ]  # cycle order, not price order
    assert (hosting.prices[0].tax, hosting.prices[0].total) == (
        Decimal("2850.00"),
        Decimal("17850.00"),
    )
    assert [p.cycle for p in groups[1].offers[0].prices] == ["annual", "biennial"]
    cloud = groups[2].offers[0]
    assert (cloud.prices[0].tax, cloud.prices[0].total, cloud.tax_label) == (
        Decimal("0.00"),
        Decimal("100000.00"),
        "Excluded from IVA",
    )


def test_it_uses_the_english_name_when_there_is_one():
    product = make_product("dominio-co", kind="domain", prices={"annual": "89000"})
    product.name, product.name_en = "Dominio .co", ".co domain"
    product.save()
    assert orderable_catalog("en")[0].offers[0].name == ".co domain"
    assert orderable_catalog("es-co")[0].offers[0].name == "Dominio .co"


def test_the_demo_catalog_is_idempotent_and_taxed():
    demo.load(io.StringIO())
    first = {p.code: sorted(p.prices.values_list("cycle", "price")) for p in Product.objects.all()}
    demo.load(io.StringIO())
    again = {p.code: sorted(p.prices.values_list("cycle", "price")) for p in Product.objects.all()}
    assert first == again and len(first) == len(demo.PRODUCTS)
    assert set(Product.objects.values_list("tax_treatment", "tax_rate")) == {
        ("taxed", Decimal("19.00"))
    }
    assert {"hosting", "domain", "ssl", "vps", "email"} <= set(
        Product.objects.values_list("kind", flat=True)
    )
    for product in Product.objects.all():
        product.full_clean()
