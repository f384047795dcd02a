"""Custom orders with free lines, and services created, edited and changed by staff with a reason."""

import datetime as dt
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse
from django.utils import translation

from clientarea.accounts.models import AuditEvent
from clientarea.backoffice.tests import staff_with
from clientarea.billing import custom_orders
from clientarea.billing.models import ItemKind, Order, OrderState
from clientarea.billing.services import OrderStateError
from clientarea.billing.tests import make_active_service, make_product
from clientarea.catalog.models import TaxTreatment
from clientarea.lib.dates import local_today
from clientarea.notifications.models import OutgoingEmail
from clientarea.subscriptions import services as subscription_services
from clientarea.subscriptions.models import Service, ServiceEvent, ServiceStatus
from clientarea.test import make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def carol(client):
    make_provider()
    staff = make_staff()
    client.force_login(staff)
    return staff


@pytest.fixture
def alice(carol):
    return make_customer("alice@example.com", first_name="Alice", last_name="Restrepo")


def line(**overrides) -> custom_orders.CustomLine:
    data: dict = dict(
        description="Migration", quantity=Decimal("1"), unit_price=Decimal("100000"), iva="19"
    )
    data.update(overrides)
    return custom_orders.CustomLine(**data)


def due():
    return local_today() + dt.timedelta(days=5)


# --- The service -----------------------------------------------------------------------------


def test_free_lines_with_each_iva(carol, alice):
    order = custom_orders.create_custom_order(
        customer=alice,
        lines=[
            line(),
            line(
                description="Support hours",
                quantity=Decimal("2"),
                unit_price=Decimal("50000"),
                iva="5",
            ),
            line(description="Domain .co transfer", iva="exempt", unit_price=Decimal("40000")),
            line(description="Training", iva="excluded", unit_price=Decimal("30000")),
        ],
        due_date=due(),
        actor=carol,
        note="sold by phone",
    )
    assert order.state == OrderState.PENDING and order.created_by == carol
    assert order.subtotal == Decimal("270000.00")
    assert order.tax_total == Decimal("24000.00")  # 19 % of 100.000 + 5 % of 100.000
    items = list(order.items.order_by("position"))
    assert [i.tax_treatment for i in items] == [
        TaxTreatment.TAXED,
        TaxTreatment.TAXED,
        TaxTreatment.EXEMPT,
        TaxTreatment.EXCLUDED,
    ]
    assert OutgoingEmail.objects.filter(customer=alice, template="order_created").count() == 1
    audit = AuditEvent.objects.get(action="order.created_by_staff")
    assert audit.target == order.number and audit.actor == carol and audit.customer == alice


@pytest.mark.parametrize(
    "bad",
    [
        {"unit_price": Decimal("-1000")},
        {"unit_price": Decimal("0")},
        {"quantity": Decimal("-1")},
        {"quantity": Decimal("100000")},
        {"unit_price": Decimal("900000000")},
        {"description": "   "},
        {"iva": "16"},
        {"period_start": dt.date(2026, 1, 1)},
    ],
)
def test_negative_absurd_or_incomplete_lines_are_refused(carol, alice, bad):
    with pytest.raises(OrderStateError):
        custom_orders.create_custom_order(
            customer=alice, lines=[line(), line(**bad)], due_date=due(), actor=carol
        )
    assert not Order.objects.exists()


def test_due_date_and_other_customers_services_are_refused(carol, alice):
    bob = make_customer("bob@example.com")
    bobs = make_active_service(bob, make_product("hosting-pyme"))
    with pytest.raises(OrderStateError):
        custom_orders.create_custom_order(
            customer=alice,
            lines=[line()],
            due_date=local_today() - dt.timedelta(days=1),
            actor=carol,
        )
    with pytest.raises(OrderStateError):
        custom_orders.create_custom_order(
            customer=alice, lines=[line(service=bobs)], due_date=due(), actor=carol
        )
    assert not Order.objects.exists()


def test_a_line_for_a_service_period_renews_it_and_cannot_bill_it_twice(carol, alice):
    service = make_active_service(alice, make_product("hosting-pyme"))
    start = service.next_due_date
    assert start is not None
    period = dict(service=service, period_start=start, period_end=start + dt.timedelta(days=30))
    order = custom_orders.create_custom_order(
        customer=alice, lines=[line(**period)], due_date=due(), actor=carol
    )
    assert order.items.get().kind == ItemKind.RENEWAL
    with translation.override("en"), pytest.raises(OrderStateError, match="already billed"):
        custom_orders.create_custom_order(
            customer=alice, lines=[line(**period)], due_date=due(), actor=carol
        )
    assert Order.objects.count() == 1


# --- The page --------------------------------------------------------------------------------


def form_data(**lines):
    data = {
        "lines-TOTAL_FORMS": "4",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "20",
        "due_date": due().isoformat(),
        "note": "by phone",
        "notify": "on",
    }
    for n in range(4):
        data[f"lines-{n}-iva"] = "19"
    data.update(lines)
    return data


def test_the_new_order_page_creates_the_order(client, carol, alice):
    url = reverse("backoffice:order_new", args=[alice.pk])
    assert 'name="lines-0-description"' in client.get(url).content.decode()
    response = client.post(
        url,
        form_data(
            **{
                "lines-0-description": "Web migration",
                "lines-0-quantity": "1",
                "lines-0-unit_price": "250000",
                "lines-1-description": "Domain",
                "lines-1-quantity": "1",
                "lines-1-unit_price": "40000",
                "lines-1-iva": "exempt",
            }
        ),
    )
    assert response.status_code == 302
    order = Order.objects.get()
    assert order.items.count() == 2 and order.total == Decimal("337500.00")


def test_the_new_order_page_explains_what_is_wrong(client, carol, alice):
    url = reverse("backoffice:order_new", args=[alice.pk])
    empty = client.post(url, form_data())
    assert empty.status_code == 200 and "Add at least one line." in empty.content.decode()
    negative = client.post(
        url,
        form_data(
            **{"lines-0-description": "x", "lines-0-quantity": "1", "lines-0-unit_price": "-5"}
        ),
    )
    assert negative.status_code == 200
    assert "Enter an amount greater than zero." in negative.content.decode()
    no_price = client.post(url, form_data(**{"lines-0-description": "x", "lines-0-quantity": "1"}))
    assert "Enter the unit price." in no_price.content.decode()
    absurd = client.post(
        url,
        form_data(
            **{
                "lines-0-description": "x",
                "lines-0-quantity": "1",
                "lines-0-unit_price": "999999999",
            }
        ),
    )
    assert "A line may bill at most" in absurd.content.decode()
    assert not Order.objects.exists()


def test_the_admin_add_buttons_lead_to_the_customer_search(client, carol):
    for name in ("admin:billing_order_add", "admin:subscriptions_service_add"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"] == reverse("backoffice:search")
    clerk = staff_with("clerk@conexcol.example", "billing.view_order")
    client.force_login(clerk)
    assert client.get(reverse("admin:billing_order_add")).status_code == 403


# --- Services --------------------------------------------------------------------------------


def test_staff_create_a_service_with_a_price_override(client, carol, alice):
    product = make_product("hosting-pyme")
    response = client.post(
        reverse("backoffice:service_new", args=[alice.pk]),
        {
            "product": product.pk,
            "cycle": "annual",
            "label": "Restrepo.CO",
            "price": "250000",
            "next_due_date": "2027-03-01",
            "reason": "sold by phone",
        },
    )
    assert response.status_code == 302
    service = Service.objects.get()
    assert service.status == ServiceStatus.ACTIVE and service.label == "restrepo.co"
    assert service.price == Decimal("250000") and service.next_due_date == dt.date(2027, 3, 1)
    assert ServiceEvent.objects.get(service=service).reason == "sold by phone"
    assert AuditEvent.objects.filter(action="service.created_by_staff", customer=alice).exists()


def test_staff_type_a_due_date_day_first_whatever_the_language(client, carol, alice):
    """The browser's date box read a date in the browser's order: typed in English, 01/03/2027
    was 3 January. A text box, day/month/year in both languages, shown that way too."""
    service = make_active_service(alice, make_product("hosting-pyme"))
    url = reverse("backoffice:service_edit", args=[service.pk])
    due = service.next_due_date
    assert due is not None
    page = client.get(url).content.decode()
    assert f'type="text" name="next_due_date" value="{due:%d/%m/%Y}"' in page
    assert 'placeholder="dd/mm/yyyy"' in page
    data = {
        "product": service.product_id,
        "cycle": "monthly",
        "label": "example.co",
        "price": "19000",
        "next_due_date": "01/03/2027",
        "reason": "moved by phone",
    }
    assert client.post(url, data).status_code == 302
    service.refresh_from_db()
    assert service.next_due_date == dt.date(2027, 3, 1)
    refused = client.post(url, {**data, "next_due_date": "03/31/2027"})
    assert "Write the date as day/month/year, e.g. 04/12/2026." in refused.content.decode()


def test_a_service_needs_a_reason_and_a_sane_price(client, carol, alice):
    product = make_product("hosting-pyme")
    url = reverse("backoffice:service_new", args=[alice.pk])
    data = {"product": product.pk, "cycle": "monthly", "label": "", "reason": ""}
    assert "This field is required." in client.post(url, data).content.decode()
    data.update(reason="x", price="-1")
    assert client.post(url, data).status_code == 200
    data.update(price="999999999999")
    assert "The price must be between" in client.post(url, data).content.decode()
    assert not Service.objects.exists()


def test_staff_edit_a_service(client, carol, alice):
    service = make_active_service(alice, make_product("hosting-pyme"))
    response = client.post(
        reverse("backoffice:service_edit", args=[service.pk]),
        {
            "product": service.product_id,
            "cycle": "monthly",
            "label": "nuevo.co",
            "price": "19000",
            "next_due_date": "2026-09-30",
            "reason": "discount agreed",
        },
    )
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.label == "nuevo.co" and service.price == Decimal("19000")
    assert service.next_due_date == dt.date(2026, 9, 30) and service.anchor_day == 30
    event = ServiceEvent.objects.filter(service=service).first()
    assert event is not None
    assert event.kind == "edited" and event.reason == "discount agreed"
    audit = AuditEvent.objects.get(action="service.edited")
    assert audit.changes["label"] == {"before": "example.co", "after": "nuevo.co"}


def test_terminating_takes_a_reason_from_the_list_and_an_optional_note(client, carol, alice):
    """Staff who end a service choose why from a list: the history and the email read it in
    the customer's language (English here, staff in Spanish), and a note staff add is shown
    as typed, said to be our support team's; "Other" needs the note."""
    alice.preferred_language = "en"
    alice.save(update_fields=["preferred_language"])
    service = make_active_service(alice, make_product("hosting-pyme"))
    url = reverse("backoffice:service_status", args=[service.pk, "terminate"])
    client.cookies["django_language"] = "en"
    assert "<h1>Terminate: " in client.get(url).content.decode()  # read in the staff's language
    client.cookies["django_language"] = "es"
    assert "<h1>Terminar: " in client.get(url).content.decode()
    refused = client.post(url, {"reason_code": "other", "reason": " "})
    assert refused.status_code == 200 and "eligió “Otro”" in refused.content.decode()
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE
    note = "El cliente lo pidió por teléfono"
    assert client.post(url, {"reason_code": "customer_request", "reason": note}).status_code == 302
    service.refresh_from_db()
    assert service.status == ServiceStatus.TERMINATED
    event = service.events.get(kind="terminated")
    assert (event.reason_code, event.reason_values) == (
        "staff_termination_note",
        {"cause": "customer_request", "note": note},
    )
    said = f"Terminated by our support team: At the customer's request. Our support team's note: “{note}”"
    email = OutgoingEmail.objects.get(customer=alice, template="service_status_changed")
    assert said in email.body_text
    client.force_login(alice.user)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("subscriptions:detail", args=[service.pk])).content.decode()
    assert said in unescape(page)
    audit = AuditEvent.objects.get(action="service.terminate").changes
    assert (audit["reason_code"], audit["note"]) == ("customer_request", note)


@pytest.mark.parametrize(
    ("action", "start", "end"),
    [
        ("suspend", ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED),
        ("unsuspend", ServiceStatus.SUSPENDED, ServiceStatus.ACTIVE),
    ],
)
def test_suspend_unsuspend_with_a_reason(client, carol, alice, action, start, end):
    service = make_active_service(alice, make_product("hosting-pyme"))
    if start == ServiceStatus.SUSPENDED:
        subscription_services.suspend_service(service=service, reason="manual")
    url = reverse("backoffice:service_status", args=[service.pk, action])
    assert "This field is required." in client.post(url, {"reason": "  "}).content.decode()
    service.refresh_from_db()
    assert service.status == start
    assert client.post(url, {"reason": "customer asked"}).status_code == 302
    service.refresh_from_db()
    assert service.status == end
    email = OutgoingEmail.objects.get(customer=alice, template="service_status_changed")
    assert "customer asked" in email.body_text
    assert AuditEvent.objects.get(action=f"service.{action}").changes["reason"] == "customer asked"
    # The same change again is refused with a message, not a 500.
    again = client.post(url, {"reason": "again"})
    assert again.status_code == 200 and "cannot be changed that way" in again.content.decode()


def test_service_pages_need_their_permissions(client, alice):
    service = make_active_service(alice, make_product("hosting-pyme"))
    viewer = staff_with(
        "viewer@conexcol.example", "accounts.view_customer", "subscriptions.view_service"
    )
    client.force_login(viewer)
    assert client.get(reverse("backoffice:service_new", args=[alice.pk])).status_code == 403
    assert client.get(reverse("backoffice:service_edit", args=[service.pk])).status_code == 403
    url = reverse("backoffice:service_status", args=[service.pk, "terminate"])
    assert client.post(url, {"reason": "x"}).status_code == 403
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE


def test_reactivating_shows_why_it_was_suspended_and_what_it_still_owes(client, carol, alice):
    service = make_active_service(alice, make_product("hosting-pyme"))
    other = make_active_service(alice, make_product("hosting-pyme"), label="other.co")
    owed = custom_orders.create_custom_order(
        customer=alice, lines=[line(service=service)], due_date=due(), actor=carol
    )
    not_this = custom_orders.create_custom_order(
        customer=alice, lines=[line(service=other)], due_date=due(), actor=carol
    )
    subscription_services.suspend_service(service=service, reason="overdue")
    url = reverse("backoffice:service_status", args=[service.pk, "unsuspend"])
    page = client.get(url).content.decode()
    assert "suspended for: overdue payment" in page
    unpaid = page.split('id="service-unpaid"')[1].split("</div>")[0]
    assert "This service has an unpaid order:" in unpaid
    assert owed.number in unpaid and "$ 119.000" in unpaid
    assert reverse("admin:billing_order_pay", args=[owed.pk]) in unpaid
    assert not_this.number not in unpaid
    assert "Reactivating does not pay it:" in unpaid
    # Once paid, nothing is said; suspending never lists orders.
    Order.objects.filter(pk=owed.pk).update(state=OrderState.PAID)
    assert 'id="service-unpaid"' not in client.get(url).content.decode()
    suspend = reverse("backoffice:service_status", args=[other.pk, "suspend"])
    assert 'id="service-unpaid"' not in client.get(suspend).content.decode()


def test_the_service_admin_reads_its_price_in_pesos(client, carol, alice):
    service = make_active_service(alice, make_product("hosting-pyme"))
    Service.objects.filter(pk=service.pk).update(price=Decimal("29000"))
    page = client.get(reverse("admin:subscriptions_service_change", args=[service.pk]))
    assert "$ 29.000" in page.content.decode() and "29000,00" not in page.content.decode()
    listing = client.get(reverse("admin:subscriptions_service_changelist")).content.decode()
    assert "$ 29.000" in listing


def test_the_suspension_reason_shows_only_while_the_service_is_suspended(client, carol, alice):
    """The service keeps its last suspension's reason after it is terminated; the back office
    said "suspension reason: Overdue payment" beside "Terminated" (service page, list, filter,
    and the status form's summary). It shows only while the service is suspended."""
    service = make_active_service(alice, make_product("hosting-pyme"))
    subscription_services.suspend_service(service=service, reason="overdue")
    change = reverse("admin:subscriptions_service_change", args=[service.pk])
    changelist = reverse("admin:subscriptions_service_changelist")
    summary = reverse("backoffice:service_status", args=[service.pk, "terminate"])
    overdue = f"{changelist}?suspended_for=overdue"

    def pages() -> list[str]:
        return [unescape(client.get(url).content.decode()) for url in (change, overdue, summary)]

    suspended = pages()
    assert 'readonly">Overdue payment<' in suspended[0]
    assert "example.co" in suspended[1] and 'class="field-suspended_for">Overdue' in suspended[1]
    assert "suspended for: overdue payment" in suspended[2]

    subscription_services.terminate_service(service=service, reason="staff")
    service.refresh_from_db()
    assert service.suspension_reason == "overdue"  # kept: it was the last suspension's reason
    terminated = pages()
    assert "Overdue payment" not in terminated[0] and "Terminated" in terminated[0]
    assert "example.co" not in terminated[1]  # not among the services suspended as overdue
    listed = client.get(changelist).content.decode()
    assert "example.co" in listed and 'class="field-suspended_for">Overdue' not in listed
    assert "suspended for" not in terminated[2] and "Terminated" in terminated[2]
