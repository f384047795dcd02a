"""Global search: accent- and case-insensitive names, exact numbers and references, by kind."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clientarea.accounts import services as account_services
from clientarea.backoffice import selectors
from clientarea.backoffice.tests import staff_with
from clientarea.billing.tests import make_active_service, make_order, make_product
from clientarea.einvoice.models import Invoice
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.payments.models import Payment
from clientarea.payments.services import ManualPaymentDetails, register_manual_payment
from clientarea.subscriptions import services as subscription_services
from clientarea.test import make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    make_provider()
    make_resolution()
    staff = make_staff()
    jose = make_customer(
        "jose@correo.example",
        first_name="José Ángel",
        last_name="Restrepo Peña",
        document_number="1020304050",
        phone="310 555 0199",
    )
    company = make_customer(
        "compras@andina.example",
        person_type="juridica",
        document_type="31",
        document_number="900108281",
        check_digit="3",
        legal_name="Tiendas Andina S.A.S.",
        trade_name="Café Andino",
    )
    other = make_customer("otro@correo.example", first_name="Luisa", last_name="Gómez")
    service = make_active_service(
        jose, make_product("hosting-pyme"), label="ferreteria-pena.com.co"
    )
    order = make_order(jose)
    paid = make_order(company)
    register_manual_payment(
        details=ManualPaymentDetails(order=paid, reference="BANCOLOMBIA-778899"), actor=staff
    )
    payment = Payment.objects.create(
        reference=f"{order.number}-1",
        gateway_reference=f"{order.number}-1",
        attempt=1,
        order=order,
        customer=jose,
        gateway="payu",
        amount=Decimal("119000.00"),
        currency="COP",
        tax=Decimal("19000.00"),
        tax_base=Decimal("100000.00"),
        gateway_transaction_id="7d5f0a1e-tx-42",
    )
    return {
        "staff": staff,
        "jose": jose,
        "company": company,
        "other": other,
        "service": service,
        "order": order,
        "paid": paid,
        "invoice": Invoice.objects.get(order=paid),
        "payment": payment,
    }


def titles(query, user):
    return {g.kind: [h.title for h in g.hits] for g in selectors.search(query, user=user)}


@pytest.mark.parametrize(
    "query", ["Restrepo", "restrepo", "RESTREPO", "pena", "Peña", "PEÑA", "jose angel", "José"]
)
def test_names_are_found_without_accents_or_case(world, query):
    assert titles(query, world["staff"])["customers"] == ["José Ángel Restrepo Peña"]


@pytest.mark.parametrize(
    "query",
    ["andino", "CAFE ANDINO", "Tiendas Andina", "900108281", "900.108.281-3", "compras@andina"],
)
def test_companies_by_trade_name_nit_and_email(world, query):
    assert titles(query, world["staff"])["customers"] == ["Tiendas Andina S.A.S."]


@pytest.mark.parametrize(
    "query",
    [
        "9001082813",
        "contabilidad@andina.example",
        "CONTABILIDAD@andina.example ",
        "fe@andina.example",
    ],
)
def test_a_company_by_its_nit_with_the_check_digit_run_on_and_by_its_contacts_emails(world, query):
    """The billing contact who calls, or the e-invoice address on a DIAN email, found nothing."""
    from clientarea.accounts.models import Customer
    from clientarea.test import make_contact

    company = world["company"]
    make_contact(company, "contabilidad@andina.example", billing=True)
    make_contact(company, "soporte@andina.example", technical=True)
    Customer.objects.filter(pk=company.pk).update(einvoice_email="fe@andina.example")
    assert titles(query, world["staff"])["customers"] == ["Tiendas Andina S.A.S."]


def test_a_nit_with_a_wrong_check_digit_run_on_is_not_that_nit(world):
    assert "customers" not in titles("9001082814", world["staff"])


@pytest.mark.parametrize("query", ["1020304050", "1.020.304.050", "3105550199", "310 555 0199"])
def test_cedula_and_phone_as_typed(world, query):
    assert titles(query, world["staff"])["customers"] == ["José Ángel Restrepo Peña"]


def test_domain_order_invoice_payment_and_transaction(world):
    staff = world["staff"]
    assert titles("ferreteria-pena", staff)["services"][0].startswith("ferreteria-pena.com.co")
    number = world["order"].number
    assert titles(number.lower(), staff)["orders"] == [number]
    assert titles(number.split("-")[1][-4:], staff)["orders"] == [number]  # "0001"
    assert titles("BANCOLOMBIA-778899", staff)["orders"] == [world["paid"].number]
    full_number = world["invoice"].full_number
    assert titles(full_number, staff)["invoices"] == [full_number]
    assert titles("7d5f0a1e-tx-42", staff)["payments"] == [world["payment"].reference]
    assert titles(world["payment"].reference, staff)["payments"] == [world["payment"].reference]


def test_an_order_number_finds_its_payment_attempts_with_amounts(world):
    """ "I paid ODS-000123 but it says pending": the order and its attempts, side by side."""
    staff = world["staff"]
    number = world["order"].number
    groups = {g.kind: g.hits for g in selectors.search(number, user=staff)}
    assert [h.title for h in groups["payments"]] == [world["payment"].reference]
    assert "$ 119.000" in groups["payments"][0].detail
    assert "$ 119.000" in groups["orders"][0].detail
    # Paid by a transfer staff registered: its payment row is the only attempt.
    paid = world["paid"].number
    assert titles(paid, staff)["payments"] == [f"{paid}-1"]


def test_a_profile_change_is_searchable_at_once(world):
    account_services.update_customer_profile(
        customer=world["other"], changes={"last_name": "Muñoz"}, actor=world["staff"]
    )
    assert titles("munoz", world["staff"])["customers"] == ["Luisa Muñoz"]
    assert "customers" not in titles("gomez", world["staff"])


def test_short_queries_and_nonsense_find_nothing(world):
    assert selectors.search("a", user=world["staff"]) == []
    assert selectors.search("%_'\"; drop", user=world["staff"]) == []
    assert selectors.search("zzzz-nobody", user=world["staff"]) == []


def test_each_kind_needs_its_view_permission(world):
    clerk = staff_with("clerk@conexcol.example", "accounts.view_customer")
    assert set(titles("restrepo", clerk)) == {"customers"}
    assert titles(world["order"].number, clerk) == {}


def test_the_search_costs_one_query_per_kind(world):
    for n in range(15):
        make_customer(f"restrepo{n}@correo.example", first_name="Ana", last_name=f"Restrepo {n}")
    staff = world["staff"]
    with CaptureQueriesContext(connection) as queries:
        groups = selectors.search("restrepo", user=staff)
    assert len(groups[0].hits) == 16
    assert len(queries) == len(selectors.KINDS)


def test_the_search_page_and_the_box_on_every_admin_page(client, world):
    client.force_login(world["staff"])
    index = client.get(reverse("admin:index")).content.decode()
    assert 'id="bo-header-q"' in index and reverse("backoffice:search") in index
    page = client.get(reverse("backoffice:search"), {"q": "Peña"}).content.decode()
    assert "José Ángel Restrepo Peña" in page
    assert reverse("backoffice:customer", args=[world["jose"].pk]) in page
    assert (
        'id="no-results"'
        in client.get(reverse("backoffice:search"), {"q": "qqqq"}).content.decode()
    )


def test_the_order_and_service_lists_find_the_customer_by_name(client, world):
    """The issue: "Restrepo" found nothing in the orders and services lists."""
    client.force_login(world["staff"])
    orders = client.get(reverse("admin:billing_order_changelist"), {"q": "Restrepo"})
    assert world["order"].number in orders.content.decode()
    assert world["paid"].number not in orders.content.decode()
    services_page = client.get(reverse("admin:subscriptions_service_changelist"), {"q": "peña"})
    assert "ferreteria-pena.com.co" in services_page.content.decode()


def test_anonymous_and_customers_are_sent_to_the_staff_login(client, world):
    response = client.get(reverse("backoffice:search"), {"q": "pena"})
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]
    client.force_login(world["jose"].user)
    response = client.get(reverse("backoffice:search"), {"q": "pena"})
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]


def test_a_label_with_accents_is_found_without_them_and_after_an_edit(world):
    staff = world["staff"]
    service = subscription_services.create_service(
        customer=world["other"],
        product=make_product("dominio-co-idn", kind="domain", prices={"annual": "60000"}),
        cycle="annual",
        label="cafetería-peña.co",
        actor=staff,
        reason="sold by phone",
        notify=False,
    )
    assert titles("cafeteria-pena", staff)["services"][0].startswith("cafetería-peña.co")
    assert titles("CAFETERÍA", staff)["services"][0].startswith("cafetería-peña.co")
    subscription_services.update_service(
        service=service, changes={"label": "panadería-ñandú.co"}, actor=staff, reason="renamed"
    )
    assert titles("nandu", staff)["services"][0].startswith("panadería-ñandú.co")
    assert "services" not in titles("cafeteria-pena", staff)


def test_a_label_edited_in_the_admin_goes_through_the_service(client, world):
    staff = staff_with(
        "editor@conexcol.example", "subscriptions.view_service", "subscriptions.change_service"
    )
    client.force_login(staff)
    service = world["service"]
    url = reverse("admin:subscriptions_service_change", args=[service.pk])
    page = client.get(url)
    assert page.status_code == 200
    data = {"label": "ferretería-peña-2.com.co"}
    for inline in page.context["inline_admin_formsets"]:  # read-only inlines: counts only
        prefix = inline.formset.prefix
        data[f"{prefix}-TOTAL_FORMS"] = str(inline.formset.total_form_count())
        data[f"{prefix}-INITIAL_FORMS"] = str(inline.formset.initial_form_count())
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    service.refresh_from_db()
    assert service.label == "ferretería-peña-2.com.co"
    assert service.search_label == "ferreteria-pena-2.com.co"
    assert service.events.filter(kind="edited").exists()
