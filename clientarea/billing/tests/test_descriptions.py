"""Order lines are written in the language of the customer they bill (issue 11, item 14).

Whoever creates the order (the customer's page in either language, staff, the billing run, the
demo), its item descriptions are composed once, in ``Customer.preferred_language``, with the
product's English name when it has one, and stored: an order is a document and keeps its text.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from clientarea.billing import automation, descriptions, services
from clientarea.billing import demo as billing_demo
from clientarea.billing.models import ItemKind, LedgerEntry, Order
from clientarea.billing.tests import make_active_service, make_product
from clientarea.catalog.models import Product
from clientarea.notifications.models import OutgoingEmail
from clientarea.subscriptions.models import Service
from clientarea.test import make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db

D = dt.date(2025, 3, 3)


@pytest.fixture
def vps():
    make_provider()
    product = make_product(
        "vps-2-4",
        kind="vps",
        name="Servidor VPS 2 vCPU · 4 GB",
        prices={"monthly": "149000"},
        setup_fee="60000",
    )
    product.name_en = "VPS 2 vCPU · 4 GB"
    product.save(update_fields=["name_en"])
    return product


def spanish(msgid: str, **values) -> str:
    with translation.override("es-co"):
        return translation.gettext(msgid) % values


def lines(order: Order) -> list[str]:
    return list(order.items.order_by("position").values_list("description", flat=True))


def test_translations_of_the_fixed_parts_exist():
    """The Spanish texts below are Spanish, not the English msgids (else every test would pass)."""
    assert spanish("Setup fee: %(name)s", name="X") == "Cargo de activación: X"
    assert spanish("%(product)s (renewal)", product="X") == "X (renovación)"


# --- New-service orders and their activation charge --------------------------------------------


@pytest.mark.parametrize("page_language", ["es-co", "en"])
def test_an_english_customers_new_service_order_reads_in_english(vps, page_language):
    alice = make_customer("alice@example.com", preferred_language="en")
    with translation.override(page_language):  # the page's language does not matter
        order = services.order_new_service(
            customer=alice, product=vps, cycle="monthly", label="srv1.alice.co"
        )
    assert lines(order) == [
        "VPS 2 vCPU · 4 GB · srv1.alice.co",
        "Setup fee: VPS 2 vCPU · 4 GB",
    ]
    email = OutgoingEmail.objects.get(customer=alice, template="order_created")
    assert "Setup fee: VPS 2 vCPU · 4 GB" in email.body_text
    assert "Setup fee: VPS 2 vCPU · 4 GB" in email.body_html


@pytest.mark.parametrize("page_language", ["es-co", "en"])
def test_a_spanish_customers_new_service_order_reads_in_spanish(vps, page_language):
    bob = make_customer("bob@example.com", preferred_language="es-co")
    with translation.override(page_language):
        order = services.order_new_service(
            customer=bob, product=vps, cycle="monthly", label="srv1.bob.co"
        )
    assert lines(order) == [
        "Servidor VPS 2 vCPU · 4 GB · srv1.bob.co",
        "Cargo de activación: Servidor VPS 2 vCPU · 4 GB",
    ]


def test_the_english_name_is_used_only_when_set(vps):
    Product.objects.filter(pk=vps.pk).update(name_en="")
    vps.refresh_from_db()
    alice = make_customer("alice@example.com", preferred_language="en")
    with translation.override("es-co"):
        order = services.order_new_service(customer=alice, product=vps, cycle="monthly")
    assert lines(order) == [
        "Servidor VPS 2 vCPU · 4 GB",
        "Setup fee: Servidor VPS 2 vCPU · 4 GB",
    ]


def test_an_english_customer_ordering_from_a_spanish_page_gets_english_lines(client, vps):
    """The portal's order form, with the page in Spanish (a shared computer, say)."""
    alice = make_customer("alice@example.com", preferred_language="en")
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "es-co"
    client.force_login(alice.user)
    response = client.post(
        reverse("subscriptions:new"), {"product": "vps-2-4", "cycle": "monthly", "label": ""}
    )
    assert response.status_code == 302
    assert lines(Order.objects.get(customer=alice)) == [
        "VPS 2 vCPU · 4 GB",
        "Setup fee: VPS 2 vCPU · 4 GB",
    ]


def test_a_customer_without_a_language_gets_the_sites_language(vps):
    carol = make_customer("carol@example.com")
    type(carol).objects.filter(pk=carol.pk).update(preferred_language="")
    carol.refresh_from_db()
    with translation.override("en"):
        order = services.order_new_service(customer=carol, product=vps, cycle="monthly")
    assert lines(order) == [
        "Servidor VPS 2 vCPU · 4 GB",
        "Cargo de activación: Servidor VPS 2 vCPU · 4 GB",
    ]


def test_manual_staff_orders_keep_the_text_staff_typed(vps):
    alice = make_customer("alice@example.com", preferred_language="en")
    staff = make_staff("soporte@example.com")
    with translation.override("es-co"):
        order = services.create_manual_order(
            customer=alice,
            description="  Migración de sitio web  ",
            unit_price=Decimal("50000"),
            actor=staff,
        )
    assert lines(order) == ["Migración de sitio web"]


def test_issued_orders_keep_their_text(client, vps):
    """An order is a document: renaming the product or changing language later does not rewrite it."""
    alice = make_customer("alice@example.com", preferred_language="en")
    order = services.order_new_service(customer=alice, product=vps, cycle="monthly")
    Product.objects.filter(pk=vps.pk).update(name="Otro nombre", name_en="Another name")
    type(alice).objects.filter(pk=alice.pk).update(preferred_language="es-co")
    client.force_login(alice.user)
    page = client.get(reverse("billing:order", args=[order.number])).content.decode()
    assert "Setup fee: VPS 2 vCPU · 4 GB" in page and "Another name" not in page


# --- Renewals (the billing run and the demo) ---------------------------------------------------


def _service(customer, product, *, label: str, due: dt.date = D + dt.timedelta(days=3)):
    return Service.objects.create(
        customer=customer,
        product=product,
        cycle="monthly",
        price=Decimal("149000"),
        label=label,
        status="active",
        start_date=due - dt.timedelta(days=30),
        next_due_date=due,
        anchor_day=due.day,
    )


@pytest.mark.parametrize("run_language", ["es-co", "en"])
def test_the_billing_run_writes_each_customers_renewal_in_their_language(vps, run_language):
    hosting = make_product("hosting-pyme", name="Hosting Pyme", prices={"monthly": "29000"})
    alice = make_customer("alice@example.com", preferred_language="en")
    bob = make_customer("bob@example.com", preferred_language="es-co")
    _service(alice, vps, label="alice.co")
    _service(alice, hosting, label="")  # no English name: the one name
    _service(bob, vps, label="bob.co")
    with translation.override(run_language):  # the CLI, the worker or staff's page
        automation.run_billing(run_date=D)
    assert lines(Order.objects.get(customer=alice)) == [
        "VPS 2 vCPU · 4 GB · alice.co (renewal)",
        "Hosting Pyme (renewal)",
    ]
    assert lines(Order.objects.get(customer=bob)) == [
        "Servidor VPS 2 vCPU · 4 GB · bob.co (renovación)"
    ]


def test_the_billing_run_translates_the_fixed_texts_once_per_language(vps, monkeypatch):
    calls: list[str] = []
    translate = descriptions.LineTexts.translate

    def counting(language: str) -> descriptions.LineTexts:
        calls.append(language)
        return translate(language)

    monkeypatch.setattr(descriptions.LineTexts, "translate", staticmethod(counting))
    for n in range(6):
        customer = make_customer(preferred_language="en" if n % 2 else "es-co")
        _service(customer, vps, label=f"site{n}.co")
        _service(customer, vps, label="")
    automation.run_billing(run_date=D)
    assert Order.objects.count() == 6
    assert sorted(calls) == ["en", "es-co"]


def _run_queries(customers: int) -> int:
    hosting = make_product("hosting-pyme", name="Hosting Pyme", prices={"monthly": "29000"})
    for n in range(customers):
        customer = make_customer(preferred_language="en" if n % 2 else "es-co")
        _service(customer, hosting, label=f"site{n}.co")
    with CaptureQueriesContext(connection) as queries:
        automation.run_billing(run_date=D)
    assert Order.objects.count() == customers
    return len(queries)


def _forget_orders() -> None:
    LedgerEntry.objects.all().delete()  # the account is append-only in the product, not in tests
    Order.objects.all().delete()
    Service.objects.all().delete()


def test_the_billing_runs_query_count_does_not_grow_per_customer(vps):
    """Renewals of 2 and of 8 customers, English and Spanish alike, take the same queries."""
    # First-use work out of the way: the number counter, and the caches of both languages (the
    # email template in force is looked up once per process and language).
    _run_queries(2)
    _forget_orders()
    few = _run_queries(2)
    _forget_orders()
    assert _run_queries(8) == few


def test_a_demo_renewal_reads_like_the_billing_runs_in_the_customers_language(vps):
    alice = make_customer("alice@example.com", preferred_language="en")
    bob = make_customer("bob@example.com", preferred_language="es-co")
    for customer in (alice, bob):
        service = make_active_service(customer, vps, label=f"{customer.first_name}.co")
        with translation.override("es-co" if customer is alice else "en"):
            order = billing_demo.renewal_order(service=service, issue_date=dt.date(2026, 2, 1))
        expected = automation.renewal_line(
            service=service, language=customer.preferred_language
        ).description
        assert lines(order) == [expected]
        assert order.items.get().kind == ItemKind.RENEWAL
    assert lines(Order.objects.get(customer=alice)) == ["VPS 2 vCPU · 4 GB · Cliente.co (renewal)"]
