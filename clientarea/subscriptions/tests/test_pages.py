"""The customer's Services pages and ordering a new service."""

import datetime as dt
import re

import pytest
from django.urls import reverse

from clientarea.billing.models import Order, OrderState
from clientarea.billing.tests import make_active_service, make_product, make_renewal_order
from clientarea.subscriptions import services
from clientarea.subscriptions.models import Service, ServiceStatus, SuspensionReason
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(client, settings):
    """Pages in English (the msgids), whatever translations are compiled."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def cast():
    make_provider()
    return make_customer("alice@example.com", first_name="Alice"), make_customer(
        "bob@example.com", first_name="Bob"
    )


@pytest.fixture
def catalog():
    return {
        "hosting": make_product(
            "hosting-pyme", name="Hosting Pyme", prices={"monthly": "29000", "annual": "300000"}
        ),
        "domain": make_product(
            "dominio-co", kind="domain", name="Dominio .co", prices={"annual": "89000"}
        ),
        "vps": make_product(
            "vps-2-4",
            kind="vps",
            name="VPS 2 vCPU",
            prices={"monthly": "149000"},
            setup_fee="60000",
        ),
        "old": make_product(
            "hosting-clasico", name="Hosting Clásico", prices={"monthly": "12000"}, active=False
        ),
    }


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_the_services_page_lists_status_in_words_and_the_next_due_date(client, cast, catalog):
    alice, _ = cast
    active = make_active_service(
        alice, catalog["hosting"], label="alice.co", start=dt.date(2026, 1, 15)
    )
    suspended = make_active_service(
        alice, catalog["domain"], cycle="annual", label="alice-shop.co", start=dt.date(2025, 3, 1)
    )
    services.suspend_service(service=suspended, reason=SuspensionReason.OVERDUE)
    client.force_login(alice.user)
    page = html(client.get(reverse("subscriptions:list")))
    # A domain may wrap after its dots (the break_domains filter).
    assert (
        ">alice.<wbr>co<" in page
        and "Hosting Pyme" in page
        and "Monthly" in page
        and "$ 29.000" in page
    )
    assert '<span class="badge badge-paid">Active</span>' in page
    assert "Suspended · overdue payment" in page and "badge-pending" in page
    assert "15 Feb 2026" in page and "1 Mar 2026" in page
    assert page.index(">alice-shop.<wbr>co<") < page.index(">alice.<wbr>co<")  # suspended first
    assert reverse("subscriptions:detail", args=[active.pk]) in page


def test_the_empty_services_page_says_what_appears_there(client, cast):
    client.force_login(cast[0].user)
    page = html(client.get(reverse("subscriptions:list")))
    assert (
        'class="empty"' in page and "will appear here" in page and reverse("order:catalog") in page
    )


def test_the_service_detail_shows_history_and_the_orders_that_billed_it(client, cast, catalog):
    alice, _ = cast
    service = make_active_service(
        alice, catalog["hosting"], label="alice.co", start=dt.date(2026, 1, 15)
    )
    order = make_renewal_order(service)
    client.force_login(alice.user)
    page = html(client.get(reverse("subscriptions:detail", args=[service.pk])))
    assert order.number in page and reverse("billing:order", args=[order.number]) in page
    assert "Activated" in page and "Created" in page and "15 Feb 2026" in page


def test_a_customer_cannot_open_another_customers_service(client, cast, catalog):
    alice, bob = cast
    service = make_active_service(bob, catalog["hosting"], label="bob.co")
    client.force_login(alice.user)
    assert client.get(reverse("subscriptions:detail", args=[service.pk])).status_code == 404
    assert client.get(reverse("subscriptions:detail", args=[999999])).status_code == 404
    assert "bob.co" not in html(client.get(reverse("subscriptions:list")))


def test_the_order_page_lists_active_products_by_kind_with_iva_and_total(client, cast, catalog):
    client.force_login(cast[0].user)
    page = html(client.get(reverse("subscriptions:new")))
    assert "Web hosting" in page and "Domain" in page and "VPS" in page
    assert "Hosting Clásico" not in page  # inactive
    assert "$ 29.000" in page and "$ 5.510" in page and "$ 34.510" in page  # price, IVA, total
    assert "$ 89.000" in page and "$ 16.910" in page and "$ 105.910" in page
    fee = '<span class="nowrap">$ 60.000</span> + <span class="nowrap">$ 11.400</span> IVA'
    assert f"One-time setup fee: {fee}." in page
    assert page.index("Web hosting") < page.index(">Domain<")


def test_ordering_a_service_creates_a_pending_order_and_goes_to_it(client, cast, catalog):
    alice, _ = cast
    client.force_login(alice.user)
    response = client.post(
        reverse("subscriptions:new"),
        {"product": "hosting-pyme", "cycle": "annual", "label": " Alice.CO "},
    )
    order = Order.objects.get(customer=alice)
    assert response.status_code == 302 and response["Location"] == reverse(
        "billing:order", args=[order.number]
    )
    assert order.state == OrderState.PENDING and order.total == 357000
    service = Service.objects.get(customer=alice)
    assert (service.status, service.label, service.cycle) == (
        ServiceStatus.PENDING,
        "alice.co",
        "annual",
    )
    assert 'id="pay-now"' in html(client.get(response["Location"]))


def test_the_setup_fee_is_its_own_line(client, cast, catalog):
    alice, _ = cast
    client.force_login(alice.user)
    client.post(
        reverse("subscriptions:new"), {"product": "vps-2-4", "cycle": "monthly", "label": ""}
    )
    order = Order.objects.get(customer=alice)
    assert [i.kind for i in order.items.all()] == ["new_service", "setup_fee"]
    assert order.subtotal == 209000


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"product": "nope", "cycle": "monthly", "label": "a.co"}, "product", "invalid_choice"),
        (
            {"product": "hosting-clasico", "cycle": "monthly", "label": "a.co"},
            "product",
            "invalid_choice",
        ),  # inactive
        (
            {"product": "dominio-co", "cycle": "monthly", "label": "a.co"},
            "cycle",
            "cycle_not_offered",
        ),
        (
            {"product": "hosting-pyme", "cycle": "weekly", "label": "a.co"},
            "cycle",
            "invalid_choice",
        ),
        ({"product": "hosting-pyme", "cycle": "monthly", "label": ""}, "label", "label_required"),
        (
            {"product": "dominio-co", "cycle": "annual", "label": "http://mi tienda/"},
            "label",
            "label_invalid",
        ),
        (
            {"product": "dominio-co", "cycle": "annual", "label": "localhost"},
            "label",
            "label_invalid",
        ),
        ({"product": "dominio-co", "cycle": "annual", "label": "x" * 250}, "label", "max_length"),
        ({}, "product", "required"),
        (
            {"product": ["hosting-pyme", "dominio-co"], "cycle": "", "label": "a.co"},
            "cycle",
            "required",
        ),
    ],
)
def test_invalid_choices_are_form_errors_not_500(client, cast, catalog, data, field, code):
    client.force_login(cast[0].user)
    response = client.post(reverse("subscriptions:new"), data)
    assert response.status_code == 200
    errors = response.context["form"].errors.as_data()
    assert [e.code for e in errors.get(field, [])] == [code], errors
    assert 'class="error" role="alert"' in response.content.decode()
    assert not Order.objects.exists()


def test_the_cycle_error_names_the_cycles_on_offer(client, cast, catalog):
    client.force_login(cast[0].user)
    response = client.post(
        reverse("subscriptions:new"), {"product": "dominio-co", "cycle": "monthly", "label": "a.co"}
    )
    assert (
        "Dominio .co can be ordered with these billing cycles: Annual."
        in response.context["form"].errors["cycle"]
    )


def test_an_internationalised_domain_is_accepted(client, cast, catalog):
    client.force_login(cast[0].user)
    response = client.post(
        reverse("subscriptions:new"),
        {"product": "dominio-co", "cycle": "annual", "label": "Cafetería.co"},
    )
    assert response.status_code == 302
    assert Service.objects.get().label == "cafetería.co"


def test_a_product_deactivated_meanwhile_is_a_form_error(client, cast, catalog, monkeypatch):
    from clientarea.billing import services as billing_services
    from clientarea.portal import services_views as views

    def refuse(**kwargs):
        raise billing_services.OrderStateError(
            "This product is not available with that billing cycle."
        )

    monkeypatch.setattr(views, "order_new_service", refuse)
    client.force_login(cast[0].user)
    response = client.post(
        reverse("subscriptions:new"),
        {"product": "hosting-pyme", "cycle": "monthly", "label": "a.co"},
    )
    assert response.status_code == 200 and "not available" in response.content.decode()


def test_a_choose_link_preselects_product_and_cycle(client, cast, catalog):
    client.force_login(cast[0].user)
    page = html(client.get(reverse("subscriptions:new") + "?product=dominio-co&cycle=annual"))
    assert re.search(r'<option value="dominio-co" selected>', page)
    assert re.search(r'<option value="annual" selected>', page)
