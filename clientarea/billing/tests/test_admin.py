"""Back office: orders are read-only; staff cancel, register payments and resend emails through the services."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from clientarea.billing import selectors, services
from clientarea.billing.models import Order, OrderEvent, OrderState
from clientarea.billing.tests import aware, make_active_service, make_product, make_renewal_order
from clientarea.notifications.models import OutgoingEmail
from clientarea.subscriptions.models import Service, ServiceEvent, ServiceStatus, SuspensionReason
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
def service(carol):
    alice = make_customer("alice@example.com", document_number="1020304050")
    return make_active_service(alice, make_product("hosting-pyme"), start=dt.date(2026, 1, 15))


@pytest.fixture
def order(service):
    return make_renewal_order(service)


def url(name, order):
    return reverse(f"admin:billing_order_{name}", args=[order.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_the_order_list_searches_by_number_email_and_document(client, order):
    changelist = reverse("admin:billing_order_changelist")
    for q in (order.number, "alice@example.com", "1020304050"):
        page = client.get(changelist, {"q": q}).content.decode()
        assert order.number in page, q
    assert order.number not in client.get(changelist, {"q": "nobody@example.com"}).content.decode()
    page = client.get(changelist, {"state__exact": "pending"}).content.decode()
    assert order.number in page and "$ 34.510" in page


def test_an_order_is_read_only_and_cannot_be_deleted(client, order):
    page = client.get(url("change", order)).content.decode()
    assert 'name="_save"' not in page and order.number in page
    assert (
        "Register manual payment" in page
        and "Cancel with reason" in page
        and "Resend the order email" in page
    )
    response = client.post(url("change", order), {"state": "paid", "total": "1"})
    assert response.status_code == 403
    assert client.post(url("delete", order), {"post": "yes"}).status_code == 403
    # "Add" leads to the customer search (then "New order" on the customer's page), not a 403.
    add = client.get(reverse("admin:billing_order_add"))
    assert add.status_code == 302 and add["Location"] == reverse("backoffice:search")
    order.refresh_from_db()
    assert order.state == OrderState.PENDING


def test_an_orders_items_show_the_period_in_one_short_column_and_the_discount_with_its_reason(
    client, order
):
    """Twelve item columns (start, end, discount, reason apart) were wider than 1366 px."""
    item = order.items.get()
    item.discount, item.discount_reason = Decimal("5000"), "Cupón BIENVENIDA"
    item.save(update_fields=["discount", "discount_reason"])
    page = client.get(url("change", order)).content.decode()
    period = page.split('class="field-period"', 1)[1].split("</td>", 1)[0]
    assert f"{item.period_start.day} " in period and " – " in period
    assert str(item.period_start.year) in period and "field-period_start" not in page
    assert "$ 5.000 (Cupón BIENVENIDA)" in page and "field-discount_reason" not in page


def test_the_order_list_offers_one_button_to_make_an_order(client, order):
    """It showed "New service order" and "Add service order" side by side."""
    page = client.get(reverse("admin:billing_order_changelist")).content.decode()
    tools = re.search(r'<ul class="object-tools">(.*?)</ul>', page, re.DOTALL)
    assert tools is not None
    assert tools.group(1).count("<li>") == 1 and reverse("admin:billing_order_new") in tools.group(
        1
    )


def test_staff_register_a_manual_payment(client, carol, order, service):
    form = client.get(url("pay", order))
    assert form.status_code == 200 and 'name="reference"' in form.content.decode()
    response = client.post(
        url("pay", order),
        {"reference": "Bancolombia 5566", "paid_at": "2026-02-12T09:30", "method": "transfer"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == url("change", order)
    assert any("registered" in m for m in messages_of(response))
    order.refresh_from_db()
    assert (order.state, order.paid_via, order.payment_method, order.payment_reference) == (
        "paid",
        "manual",
        "transfer",
        "Bancolombia 5566",
    )
    assert order.paid_at == aware(2026, 2, 12, 9).replace(
        minute=30
    )  # the form's time is Colombian time
    assert OrderEvent.objects.get(order=order, kind="paid").actor == carol
    service.refresh_from_db()
    assert service.next_due_date == dt.date(2026, 3, 15)


def test_a_manual_payment_needs_a_reference_and_a_past_date(client, order):
    response = client.post(
        url("pay", order), {"reference": "  ", "paid_at": "2099-01-01T10:00", "method": "transfer"}
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "reference" in errors and "paid_at" in errors
    assert Order.objects.get(pk=order.pk).state == OrderState.PENDING


def test_a_manual_payment_reads_the_amount_as_a_colombian_clerk_types_it(client, order):
    """A number box dropped the separators ("10.000" arrived as 10.000 and was refused for its
    three decimals; "10000,50" arrived as 1000050): the amount is a text box read the Colombian
    way, and a negative amount or letters get a message in words."""
    due = selectors.amount_to_charge([order])
    for typed, message in (
        ("-5.000", "Enter an amount greater than zero."),
        ("diez mil", "Enter an amount in pesos, for example 150.000 or 150.000,50."),
        ("1.00.000", "Enter an amount in pesos, for example 150.000 or 150.000,50."),
    ):
        refused = client.post(
            url("pay", order),
            {
                "reference": "B-1",
                "paid_at": "2026-02-12T09:30",
                "method": "transfer",
                "amount": typed,
            },
        )
        assert refused.status_code == 200 and message in refused.content.decode(), typed
    form = client.get(url("pay", order)).content.decode()
    assert re.search(r'<input type="text" name="amount"[^>]*inputmode="decimal"', form)
    response = client.post(
        url("pay", order),
        {
            "reference": "B-2",
            "paid_at": "2026-02-12T09:30",
            "method": "transfer",
            "amount": "$ 10.000",
        },
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.state == OrderState.PENDING
    assert selectors.amount_to_charge([order]) == due - 10000


def test_staff_cancel_with_a_reason(client, carol, service):
    new = services.order_new_service(
        customer=service.customer, product=service.product, cycle="monthly", label="new.co"
    )
    assert 'name="reason"' in client.get(url("cancel", new)).content.decode()
    response = client.post(url("cancel", new), {"reason": ""})
    assert response.status_code == 200 and "reason" in response.context["form"].errors
    response = client.post(url("cancel", new), {"reason": "Customer asked by phone"}, follow=True)
    assert any("cancelled" in m for m in messages_of(response))
    new.refresh_from_db()
    assert (new.state, new.cancel_reason) == (OrderState.CANCELLED, "Customer asked by phone")
    assert OrderEvent.objects.get(order=new, kind="cancelled").actor == carol
    assert Service.objects.get(label="new.co").status == ServiceStatus.CANCELLED
    assert OutgoingEmail.objects.filter(
        template="order_cancelled", to_email="alice@example.com"
    ).exists()


@pytest.mark.parametrize("action", ["cancel", "pay"])
def test_actions_on_a_final_order_are_refused_with_a_message(client, order, action):
    services.mark_order_paid(
        order_id=order.pk, paid_at=aware(2026, 2, 1), via="payu", method="card"
    )
    get = client.get(url(action, order), follow=True)
    assert get.status_code == 200 and any("final state" in m for m in messages_of(get))
    data = (
        {"reason": "late"}
        if action == "cancel"
        else {"reference": "X", "paid_at": "2026-02-01T10:00", "method": "cash"}
    )
    post = client.post(url(action, order), data, follow=True)
    assert post.status_code == 200 and any("final state" in m for m in messages_of(post))
    order.refresh_from_db()
    assert (order.state, order.paid_via, order.cancel_reason) == ("paid", "payu", "")
    page = client.get(url("change", order)).content.decode()
    assert "Cancel with reason" not in page and "Register manual payment" not in page


def test_a_state_error_raised_by_the_service_becomes_a_message(client, order, monkeypatch):
    # The order is paid by a gateway between the form and its submission.
    def paid_meanwhile(**kwargs):
        raise services.OrderStateError("Order is paid: only pending orders can be paid.")

    # (the back office posts it through payments.services.register_manual_payment)
    monkeypatch.setattr(services, "post_manual_payment", paid_meanwhile)
    response = client.post(
        url("pay", order),
        {"reference": "X", "paid_at": "2026-02-01T10:00", "method": "cash"},
        follow=True,
    )
    assert (
        response.status_code == 200
        and "Order is paid: only pending orders can be paid." in messages_of(response)
    )


def test_staff_resend_the_order_email(client, carol, order):
    assert client.get(url("resend", order)).status_code == 200
    response = client.post(url("resend", order), follow=True)
    assert any("sent again" in m for m in messages_of(response))
    assert (
        OutgoingEmail.objects.filter(template="order_created", to_email="alice@example.com").count()
        == 1
    )
    assert OrderEvent.objects.get(order=order, kind="email_resent").actor == carol


def test_the_cancel_action_asks_for_a_reason_and_skips_final_orders(client, order, service):
    other = services.order_new_service(
        customer=service.customer, product=service.product, cycle="monthly", label="b.co"
    )
    paid = services.order_new_service(
        customer=service.customer, product=service.product, cycle="monthly", label="c.co"
    )
    services.mark_order_paid(order_id=paid.pk, paid_at=aware(2026, 2, 1), via="payu", method="card")
    changelist = reverse("admin:billing_order_changelist")
    ids = [str(o.pk) for o in (order, other, paid)]
    intermediate = client.post(changelist, {"action": "cancel_orders", "_selected_action": ids})
    assert intermediate.status_code == 200 and 'name="reason"' in intermediate.content.decode()
    done = client.post(
        changelist,
        {
            "action": "cancel_orders",
            "_selected_action": ids,
            "apply": "1",
            "reason": "Billing error",
        },
        follow=True,
    )
    texts = messages_of(done)
    assert any("2 orders cancelled" in m for m in texts) and any(paid.number in m for m in texts)
    states = dict(Order.objects.filter(pk__in=ids).values_list("number", "state"))
    assert states == {order.number: "cancelled", other.number: "cancelled", paid.number: "paid"}


def test_the_order_page_in_the_admin_shows_items_and_history(client, order):
    page = client.get(url("change", order)).content.decode()
    assert "Hosting Pyme · example.co" in page and re.search(r">\s*created\s*<", page)


def test_staff_suspend_unsuspend_and_terminate_services(client, carol, service):
    changelist = reverse("admin:subscriptions_service_changelist")
    client.post(changelist, {"action": "suspend_services", "_selected_action": [service.pk]})
    service.refresh_from_db()
    assert (service.status, service.suspension_reason) == (
        ServiceStatus.SUSPENDED,
        SuspensionReason.MANUAL,
    )
    event = ServiceEvent.objects.get(service=service, kind="suspended")
    assert (event.reason_code, event.reason, event.actor) == ("staff", "by our support team", carol)
    again = client.post(
        changelist, {"action": "suspend_services", "_selected_action": [service.pk]}, follow=True
    )
    assert any("Not changed" in m for m in messages_of(again))
    client.post(changelist, {"action": "unsuspend_services", "_selected_action": [service.pk]})
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE
    client.post(changelist, {"action": "terminate_services", "_selected_action": [service.pk]})
    service.refresh_from_db()
    assert service.status == ServiceStatus.TERMINATED
    assert ServiceEvent.objects.get(service=service, kind="terminated").reason_code == "staff"


def test_the_service_admin_searches_and_shows_history_read_only(client, service):
    changelist = reverse("admin:subscriptions_service_changelist")
    for q in ("example.co", "alice@example.com", "1020304050"):
        assert "example.co" in client.get(changelist, {"q": q}).content.decode()
    page = client.get(
        reverse("admin:subscriptions_service_change", args=[service.pk])
    ).content.decode()
    assert (
        "Activated" in page and 'name="status"' not in page and 'name="events-0-reason"' not in page
    )


def test_the_service_pages_read_in_spanish(client, carol, service):
    """The back office's service page in es-CO: the history's statuses in words (they showed
    the stored "active"), the list's search in Spanish; the customer's service page too."""
    changelist = reverse("admin:subscriptions_service_changelist")
    client.post(changelist, {"action": "suspend_services", "_selected_action": [service.pk]})
    client.cookies["django_language"] = "es-co"
    page = client.get(reverse("admin:subscriptions_service_change", args=[service.pk])).content
    history = page.decode().split('id="events-group"')[1]
    assert '<td class="field-was"><p>Activo</p></td>' in history
    assert '<td class="field-became"><p>Suspendido</p></td>' in history
    assert "por nuestro equipo de soporte" in history
    assert not re.search(r">\s*(active|suspended|staff)\s*<", history)
    listing = client.get(changelist).content.decode()
    assert 'alt="Buscar"' in listing and 'alt="Search"' not in listing
    client.force_login(service.customer.user)
    client.cookies["django_language"] = "es-co"
    page = client.get(reverse("subscriptions:detail", args=[service.pk])).content.decode()
    assert (
        ">Historial<" in page and "Suspendido" in page and "por nuestro equipo de soporte" in page
    )
    assert not re.search(r">\s*(History|Suspended|State|staff)\s*<", page)


def test_the_product_admin_edits_prices_inline(client, carol):
    product = make_product("dominio-co", kind="domain", prices={"annual": "89000"})
    page = client.get(reverse("admin:catalog_product_change", args=[product.pk])).content.decode()
    assert 'name="prices-0-price"' in page
    listing = client.get(reverse("admin:catalog_product_changelist")).content.decode()
    assert "dominio-co" in listing


def test_staff_without_the_change_permission_cannot_act(client, order):
    from django.contrib.auth.models import Permission

    from clientarea.accounts.models import User

    viewer = User.objects.create_user(email="viewer@conexcol.example", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(viewer)
    assert client.get(url("change", order)).status_code == 200
    assert client.get(url("cancel", order)).status_code == 403
    assert (
        client.post(
            url("pay", order), {"reference": "X", "paid_at": "2026-02-01T10:00", "method": "cash"}
        ).status_code
        == 403
    )
    assert Order.objects.get(pk=order.pk).state == OrderState.PENDING


# --- Staff create an order (one item outside the catalogue) --------------------------------------


def _manual(client, **data):
    form = {
        "customer": "alice@example.com",
        "description": "Migración de sitio & correo",
        "unit_price": "150000",
        "quantity": "1",
        "tax_treatment": "taxed",
        "tax_rate": "19",
        "due_date": "",
        "reason": "",
        "notify": "on",
    }
    form.update(data)
    return client.post(reverse("admin:billing_order_new"), form)


def test_staff_create_an_order_for_a_customer(client, carol, service):
    changelist = client.get(reverse("admin:billing_order_changelist")).content.decode()
    assert reverse("admin:billing_order_new") in changelist
    assert client.get(reverse("admin:billing_order_new")).status_code == 200

    response = _manual(client, customer="1020304050", reason="Agreed by phone")

    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == url("change", order)
    assert (order.state, order.total, order.created_by) == (
        OrderState.PENDING,
        178500,
        carol,
    )
    item = order.items.get()
    assert (item.description, item.kind, item.period_key) == (
        "Migración de sitio & correo",
        "other",
        None,
    )
    event = order.events.get()
    assert (event.kind, event.actor, event.message) == ("created", carol, "Agreed by phone")
    email = OutgoingEmail.objects.get(template="order_created")
    assert email.to_email == "alice@example.com" and order.number in email.subject


def test_a_manual_order_with_bad_input_is_refused_with_a_message(client, carol, service):
    for data, message in (
        ({"customer": "nobody@example.com"}, "No customer has that email or document number."),
        ({"unit_price": "0"}, "Enter an amount greater than zero."),
        ({"unit_price": "abc"}, "Enter an amount in pesos, for example 150.000 or 150.000,50."),
        ({"due_date": "2001-01-01"}, "The due date cannot be in the past."),
        ({"description": "   "}, "This field is required."),
    ):
        response = _manual(client, **data)
        assert response.status_code == 200, data
        assert message in response.content.decode(), data
    assert not Order.objects.exists() and not OutgoingEmail.objects.exists()


def test_staff_without_the_change_permission_cannot_create_orders(client, carol, service):
    from django.contrib.auth.models import Permission

    from clientarea.accounts.models import User

    viewer = User.objects.create_user(email="viewer@conexcol.example", password="x" * 16)
    viewer.is_staff = True
    viewer.save()
    viewer.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(viewer)
    assert (
        reverse("admin:billing_order_new")
        not in client.get(reverse("admin:billing_order_changelist")).content.decode()
    )
    assert _manual(client).status_code == 403
    assert not Order.objects.exists()


def test_a_manual_payment_is_in_the_audit_log_with_who_when_and_how_much(client, carol, order):
    from clientarea.accounts.models import AuditEvent

    client.post(
        url("pay", order),
        {"reference": "Bancolombia 7788", "paid_at": "2026-02-12T09:30", "method": "cash",
         "amount": "10000"},
    )  # fmt: skip
    client.post(
        url("pay", order),
        {"reference": "Bancolombia 7789", "paid_at": "2026-02-13T10:00", "method": "transfer"},
    )
    order.refresh_from_db()
    assert order.state == OrderState.PAID
    partial, rest = AuditEvent.objects.filter(action="billing.manual_payment").order_by("id")
    for event in (partial, rest):
        assert (event.actor, event.customer, event.target) == (carol, order.customer, order.number)
    assert partial.changes == {
        "amount": "10000.00",
        "due_before": "34510.00",
        "paid_to_order": "10000.00",
        "withheld": "0",
        "withholding": "none",
        "credited": "0.00",
        "credit_applied": "0.00",
        "orders_paid": [],
        "reference": "Bancolombia 7788",
        # The payment row kept for it (payments.services.register_manual_payment).
        "payment": f"{order.number}-1",
        "method": "cash",
        "paid_at": "2026-02-12T09:30:00-05:00",
        "state": "pending",
    }
    assert (
        rest.changes["amount"],
        rest.changes["due_before"],
        rest.changes["state"],
        rest.changes["payment"],
    ) == ("24510.00", "24510.00", "paid", f"{order.number}-2")


def test_the_payment_form_explains_a_withholding_agents_net(client, carol):
    """It said only "Still due on this order: $ 945.064" under a total of $ 1.011.500."""
    from decimal import Decimal

    from clientarea.lib.dates import local_today
    from clientarea.withholdings.tests.helpers import make_agent, make_rules

    make_rules(local_today().year)
    company = make_customer(
        "compras@andina.example",
        person_type="juridica",
        document_type="31",
        document_number="901234567",
        check_digit="7",
    )
    make_agent(company)
    order = services.create_manual_order(
        customer=company, description="Migración", unit_price=Decimal("850000"), notify=False
    )
    page = client.get(url("pay", order)).content.decode()
    assert "Still due on this order: $ 945.064" in page
    assert "withholding agent: of the $ 1.011.500 still owed it withholds $ 66.436" in page


def test_the_order_page_labels_every_field_and_column_in_spanish(client, carol, settings):
    """The order page said "Created by", "Service", "Created at", "Actor" and "Message" in a
    Spanish back office, and above each row of its items and history repeated the row's name
    ("10 created", an untranslated code)."""
    order = services.create_manual_order(
        customer=make_customer("dora@example.com", document_number="52123456"),
        description="Migración de sitio",
        unit_price=Decimal("150000"),
        quantity=Decimal("1"),
        tax_treatment="taxed",
        tax_rate=Decimal("19"),
        due_date=None,
        reason="Acordado por teléfono",
        actor=carol,
        notify=False,
    )
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    page = client.get(url("change", order)).content.decode()
    for label in ("Creada por:", ">Servicio<", ">Fecha<", ">Por<", ">Nota<"):
        assert label in page, label
    for english in ("Created by", ">Service<", "Created at", ">Actor<", ">Message<"):
        assert english not in page, english
    assert f"{order.pk} created" not in page
    assert "+00:00" not in page and " a las " in page  # the event's date in words, Bogotá time
    assert "Acordado por teléfono" in page and carol.email in page
