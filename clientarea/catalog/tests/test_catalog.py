"""The catalog a customer orders from, and the demo catalog."""

import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from clientarea.billing.tests import make_product
from clientarea.catalog import demo
from clientarea.catalog.models import Product, TaxTreatment
from clientarea.catalog.selectors import orderable_catalog
from clientarea.test import make_staff

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


def test_every_demo_product_has_an_english_name_and_description():
    demo.load(io.StringIO())
    missing = Product.objects.filter(name_en="") | Product.objects.filter(description_en="")
    assert not missing.exists()
    assert Product.objects.get(code="ssl-dv").display_name("en") == "SSL certificate"
    assert Product.objects.get(code="ssl-dv").display_name("es-co") == "Certificado SSL"


def test_staff_edit_the_english_name_in_the_back_office(client, settings):
    settings.LANGUAGE_CODE = "en"
    client.force_login(make_staff())
    product = make_product("ssl-dv", kind="ssl", name="Certificado SSL", prices={"annual": "1"})
    url = reverse("admin:catalog_product_change", args=[product.pk])
    form = client.get(url).content.decode()
    assert 'name="name_en"' in form
    listing = client.get(reverse("admin:catalog_product_changelist")).content.decode()
    assert "column-name_en" in listing  # staff see which products still lack an English name
    price = product.prices.get()
    response = client.post(
        url,
        {
            "code": "ssl-dv",
            "name": "Certificado SSL",
            "name_en": "SSL certificate",
            "kind": "ssl",
            "active": "on",
            "sort_order": "0",
            "description": "",
            "description_en": "",
            "tax_treatment": "taxed",
            "tax_rate": "19.00",
            "setup_fee": "0",
            "option_groups-TOTAL_FORMS": "0",
            "option_groups-INITIAL_FORMS": "0",
            "prices-TOTAL_FORMS": "1",
            "prices-INITIAL_FORMS": "1",
            "prices-MIN_NUM_FORMS": "0",
            "prices-MAX_NUM_FORMS": "1000",
            "prices-0-id": str(price.pk),
            "prices-0-product": str(product.pk),
            "prices-0-cycle": "annual",
            "prices-0-price": "1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    product.refresh_from_db()
    assert product.name_en == "SSL certificate"
