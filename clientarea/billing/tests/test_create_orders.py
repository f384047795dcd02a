"""One way to create orders: create_orders inserts a batch set-based, with the same invariants as one order."""

from __future__ import annotations

import ast
import datetime as dt
import inspect
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from clientarea.billing import automation, run_emails, services
from clientarea.billing.models import (
    Counter,
    ItemKind,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderItem,
    OrderState,
)
from clientarea.billing.tests import make_active_service, make_product
from clientarea.notifications.models import OutgoingEmail
from clientarea.notifications.services import render_email
from clientarea.test import make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    make_provider()
    hosting = make_product("hosting-pyme", prices={"monthly": "45990", "annual": "300000"})
    alice = make_customer("alice@example.com", first_name="Alice", preferred_language="en")
    bob = make_customer("bob@example.com", first_name="Bob", preferred_language="es-co")
    return hosting, alice, bob


def _renewal(service):
    return automation.renewal_line(service=service, language="en")


def test_create_orders_makes_a_batch_in_one_insert_per_table(world, django_assert_max_num_queries):
    hosting, alice, bob = world
    specs = [
        services.OrderSpec(
            customer=customer,
            lines=[_renewal(make_active_service(customer, hosting, label=f"{n}.co"))],
            issue_date=dt.date(2026, 2, 1),
            due_date=dt.date(2026, 2, 15),
            reason="renewal (billing run)",
        )
        for n, customer in enumerate([alice, bob, alice])
    ]
    # Savepoints, the provider, the counter (created here, locked, saved), then orders, items,
    # events, emails and the ledger's charges: one INSERT each, whatever the number of orders;
    # one query for the credit of the batch's customers; the site data's version (one read of the
    # shared cache for the batch) and the staff-edited version of the "order created" email in
    # force, looked up once per language (two here) and then kept in the process under that
    # version; one query for the batch's contacts who receive billing emails.
    with django_assert_max_num_queries(19):
        orders = services.create_orders(specs=specs)

    assert [o.number for o in orders] == ["ODS-000001", "ODS-000002", "ODS-000003"]
    assert Counter.objects.get(name="ODS").value == 3
    for order, spec in zip(orders, specs, strict=True):
        order.refresh_from_db()
        assert (order.customer, order.state) == (spec.customer, OrderState.PENDING)
        assert (order.issue_date, order.due_date) == (dt.date(2026, 2, 1), dt.date(2026, 2, 15))
        # 45.990 + IVA 8.738,10 = 54.728,10 → pay 54.728 (whole pesos, lib/money.py)
        assert (order.subtotal, order.tax_total, order.rounding, order.total) == (
            Decimal("45990.00"),
            Decimal("8738.10"),
            Decimal("-0.10"),
            Decimal("54728.00"),
        )
        assert order.buyer_snapshot["email"] == spec.customer.user.email
        assert order.seller_snapshot["name"]
        item, line = order.items.get(), spec.lines[0]
        assert line.service is not None
        assert item.period_key == f"{line.service.pk}:{line.period_start}"
        event = order.events.get()
        assert (event.kind, event.message) == (OrderEventKind.CREATED, "renewal (billing run)")
    emails = list(OutgoingEmail.objects.order_by("pk"))
    assert [e.to_email for e in emails] == [
        "alice@example.com",
        "bob@example.com",
        "alice@example.com",
    ]
    assert [e.language for e in emails] == ["en", "es-co", "en"]
    assert all(o.number in e.subject for o, e in zip(orders, emails, strict=True))


def test_a_batch_that_bills_a_period_twice_writes_nothing(world):
    hosting, alice, bob = world
    service = make_active_service(alice, hosting)
    other = make_active_service(bob, hosting)
    specs = [
        services.OrderSpec(customer=bob, lines=[_renewal(other)]),
        services.OrderSpec(customer=alice, lines=[_renewal(service)]),
        services.OrderSpec(customer=alice, lines=[_renewal(service)]),  # the same period again
    ]
    with pytest.raises(IntegrityError), transaction.atomic():
        services.create_orders(specs=specs)
    assert not Order.objects.exists() and not OrderItem.objects.exists()
    assert not OutgoingEmail.objects.exists()
    assert Counter.objects.filter(name="ODS", value__gt=0).count() == 0  # no number used up


def test_one_order_and_the_billing_run_make_the_same_order(world):
    """create_order is create_orders with one spec: same totals, items, event and email."""
    hosting, alice, _ = world
    staff = make_staff("soporte@example.com")
    service = make_active_service(alice, hosting)
    line = _renewal(service)
    one = services.create_order(
        customer=alice,
        lines=[line],
        issue_date=dt.date(2026, 2, 1),
        due_date=dt.date(2026, 2, 15),
        actor=staff,
        reason="manual",
    )
    assert one.created_by == staff and one.events.get().actor == staff
    email = OutgoingEmail.objects.get()
    pay_url = services.order_pay_url(one)
    expected = render_email(
        template="order_created",
        language="en",
        context={
            "order": run_emails.attach_items(one, list(one.items.all())),
            "customer": alice,
            "pay_url": pay_url,
        },
    )
    assert (email.subject, email.body_text, email.body_html) == expected
    assert pay_url in email.body_text


def test_an_order_without_items_is_refused(world):
    _, alice, _ = world
    with pytest.raises(services.OrderStateError):
        services.create_orders(specs=[services.OrderSpec(customer=alice, lines=[])])
    assert not Order.objects.exists()


def test_the_billing_run_has_no_order_building_code_of_its_own():
    source = inspect.getsource(automation)
    assert "Order(" not in source.replace("Order(number=self.PLACEHOLDER)", "")
    assert "OrderItem(" not in source and "bulk_create" not in source
    assert "create_orders" in source


# --- Order events have choices ----------------------------------------------------------------


def test_order_event_kinds_are_choices(world):
    hosting, alice, _ = world
    order = services.create_order(
        customer=alice, lines=[_renewal(make_active_service(alice, hosting))], notify=False
    )
    event = OrderEvent(order=order, kind="somethingelse")
    with pytest.raises(ValidationError):
        event.full_clean()
    assert set(OrderEventKind.values) >= {
        "created",
        "paid",
        "cancelled",
        "email_resent",
        "reminder",
    }


def test_a_reminder_reads_in_words_in_the_history(client, world, settings):
    hosting, alice, _ = world
    order = services.create_order(
        customer=alice, lines=[_renewal(make_active_service(alice, hosting))], notify=False
    )
    OrderEvent.objects.create(order=order, kind=OrderEventKind.REMINDER, message="before")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(alice.user)
    page = client.get(reverse("billing:order", args=[order.number])).content.decode()
    assert "Payment reminder sent" in page


# --- The run's emails use public template API only ----------------------------------------------


def test_run_emails_imports_no_template_internals():
    tree = ast.parse(inspect.getsource(run_emails))
    modules = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module is not None
    }
    internals = {
        "django.template.base",
        "django.template.defaulttags",
        "django.template.loader_tags",
        "django.templatetags.i18n",
    }
    assert not modules & internals
    assert "_result_cache" not in inspect.getsource(run_emails)
    assert "_prefetched_objects_cache" not in inspect.getsource(run_emails)


def test_an_unsaved_order_can_show_its_items_in_an_email(world):
    _, alice, _ = world
    order = Order(number="ODS-000009", customer=alice, total=Decimal("1000.00"))
    item = OrderItem(
        kind=ItemKind.OTHER,
        description="Soporte & migración",
        unit_price=Decimal("1000"),
        subtotal=Decimal("1000.00"),
        tax_amount=Decimal("0.00"),
        total=Decimal("1000.00"),
        tax_rate=Decimal("0"),
    )
    shown = run_emails.attach_items(order, [item])
    assert list(shown.items.all()) == [item] and shown.number == "ODS-000009"
    _subject, _text, html = render_email(
        template="order_created",
        language="en",
        context={"order": shown, "customer": alice, "pay_url": "http://testserver/p/"},
    )
    assert "Soporte &amp; migración" in html


def test_a_stencil_is_never_used_for_an_order_of_another_sign(world, tmp_path):
    """A template that branches on an amount's sign gets the branch of each order's own sign."""
    import copy

    from django.conf import settings as django_settings
    from django.test import override_settings

    _, alice, _ = world
    folder = tmp_path / "emails"
    folder.mkdir()
    (folder / "sign.subject.txt").write_text("{{ order.number }}")
    (folder / "sign.txt").write_text(
        "{% if order.rounding < 0 %}down {{ order.rounding }}{% else %}up {{ order.rounding }}"
        "{% endif %}"
    )
    (folder / "sign.html").write_text("<p>{{ order.total }}</p>")
    templates = copy.deepcopy(django_settings.TEMPLATES)
    templates[0]["DIRS"] = [tmp_path, *templates[0]["DIRS"]]
    renderer = run_emails.OrderEmailRenderer(audit_every=10**6)  # no audit: the shape must do it
    with override_settings(TEMPLATES=templates):
        for number, rounding in (("ODS-1", "0.40"), ("ODS-2", "-0.30"), ("ODS-3", "0.20")):
            order = Order(
                number=number, customer=alice, total=Decimal("1000"), rounding=Decimal(rounding)
            )
            got = renderer.render(
                template="sign",
                order=order,
                items=[],
                customer=alice,
                pay_url="http://testserver/p/",
                language="en",
            )
            word = "down" if rounding.startswith("-") else "up"
            assert got[1] == f"{word} {rounding}\n"
    assert renderer.stats["dropped"] == 0


@pytest.mark.parametrize("stencil", [True, False], ids=["billing-run", "one-order"])
def test_the_order_created_email_says_what_the_account_credit_paid_and_what_is_left(
    world, settings, stencil
):
    """Credit applied when the order is created: the email showed only the total and Pay now."""
    from clientarea.billing import ledger
    from clientarea.lib.money import format_cop

    settings.BILLING_AUTO_APPLY_CREDIT = True
    hosting, alice, bob = world
    ledger.record_payment(
        customer_id=alice.pk, amount=Decimal("10000"), reference="TRF-1", via="manual"
    )
    ledger.record_payment(
        customer_id=bob.pk, amount=Decimal("60000"), reference="TRF-2", via="manual"
    )
    OutgoingEmail.objects.all().delete()  # the "credit added" emails
    carol = make_customer("carol@example.com", first_name="Carol", preferred_language="en")
    specs = [
        services.OrderSpec(customer=c, lines=[_renewal(make_active_service(c, hosting))])
        for c in (alice, bob, carol)
    ]
    renderer = run_emails.OrderEmailRenderer() if stencil else None
    orders = services.create_orders(specs=specs, renderer=renderer)

    def created(order):
        return OutgoingEmail.objects.get(template="order_created", subject__contains=order.number)

    # Alice: 10.000 of credit on 54.728, 44.728 left to pay, and the Pay now link.
    text = created(orders[0]).body_text
    assert f"Paid with your account credit: {format_cop(Decimal('10000'))}" in text
    assert f"Left to pay: {format_cop(Decimal('44728'))}" in text
    assert "Pay it online (card, PSE or cash)" in text
    assert "Left to pay" in created(orders[0]).body_html
    # Bob: the credit paid it all (in Spanish): nothing to pay, no Pay now button.
    email = created(orders[1])
    assert f"Pagado con su saldo a favor: {format_cop(Decimal('54728'))}" in email.body_text
    assert "no queda nada por pagar" in email.body_text
    assert "Páguela en línea" not in email.body_text
    assert "Pagar ahora" not in email.body_html
    # Carol has no credit: the email is as before.
    text = created(orders[2]).body_text
    assert "account credit" not in text and "Left to pay" not in text
    assert "Pay it online (card, PSE or cash)" in text
    if renderer is not None:
        assert renderer.stats["dropped"] == 0


def test_a_resent_order_email_says_what_credit_paid(world, settings):
    """Staff's "resend the email": a pending order's copy showed only its total and Pay now, and a
    paid order's said "we received your payment" even when account credit had paid it."""
    from clientarea.billing import ledger
    from clientarea.lib.money import format_cop

    settings.BILLING_AUTO_APPLY_CREDIT = True
    hosting, alice, _ = world
    ledger.record_payment(
        customer_id=alice.pk, amount=Decimal("10000"), reference="TRF-1", via="manual"
    )
    order = services.create_order(
        customer=alice, lines=[_renewal(make_active_service(alice, hosting))], notify=False
    )
    OutgoingEmail.objects.all().delete()
    services.resend_order_email(order=order)
    text = OutgoingEmail.objects.get(template="order_created").body_text
    assert f"Paid with your account credit: {format_cop(Decimal('10000'))}" in text
    assert f"Left to pay: {format_cop(Decimal('44728'))}" in text
    ledger.record_payment(
        customer_id=alice.pk,
        amount=Decimal("44728"),
        allocations=[ledger.Allocation(order_id=order.pk, amount=Decimal("44728"))],
        reference="TRF-2",
        via="manual",
    )
    order.refresh_from_db()
    assert order.state == OrderState.PAID
    services.resend_order_email(order=order)
    text = OutgoingEmail.objects.filter(template="order_paid").latest("pk").body_text
    assert f"Paid with your account credit: {format_cop(Decimal('10000'))}" in text
    assert f"Payment received: {format_cop(Decimal('44728'))}" in text


def test_an_order_the_credit_pays_at_creation_is_announced_before_its_payment(world, settings):
    """Credit that paid a new order in full logged its "payment received" email just before its
    "order created" one: the customer read that it was paid before that it was issued."""
    from clientarea.billing import ledger

    settings.BILLING_AUTO_APPLY_CREDIT = True
    hosting, alice, bob = world
    ledger.record_payment(
        customer_id=bob.pk, amount=Decimal("60000"), reference="TRF-2", via="manual"
    )
    OutgoingEmail.objects.all().delete()  # the "credit added" email
    specs = [
        services.OrderSpec(customer=c, lines=[_renewal(make_active_service(c, hosting))])
        for c in (alice, bob)
    ]
    orders = services.create_orders(specs=specs)
    assert Order.objects.get(pk=orders[1].pk).state == OrderState.PAID
    # The email log, newest first (its own ordering), as staff and the customer read it.
    bobs = [e.template for e in OutgoingEmail.objects.filter(customer=bob)]
    assert bobs == ["order_paid", "order_created"]
    oldest_first = OutgoingEmail.objects.filter(customer=bob).order_by("created_at", "pk")
    assert [e.template for e in oldest_first] == ["order_created", "order_paid"]
    assert [e.template for e in OutgoingEmail.objects.filter(customer=alice)] == ["order_created"]
