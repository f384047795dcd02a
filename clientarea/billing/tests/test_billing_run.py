"""The daily billing run: renewals, reminders, suspension, termination, cleanup, dry run, CLI, admin."""

from __future__ import annotations

import datetime as dt
import io
import threading
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from clientarea.accounts.models import Customer
from clientarea.billing import automation, services
from clientarea.billing.models import (
    BillingRun,
    BillingRunStatus,
    Counter,
    ItemKind,
    Order,
    OrderEvent,
    OrderItem,
    OrderState,
)
from clientarea.billing.run_emails import (
    OrderEmailRenderer,
    _stencilable,
    attach_items,
    order_values,
)
from clientarea.billing.tests import aware, make_product
from clientarea.catalog.models import BillingCycle, Product, TaxTreatment
from clientarea.lib.dates import local_today
from clientarea.notifications.models import OutgoingEmail
from clientarea.notifications.services import render_email
from clientarea.payments.services import ManualPaymentDetails, register_manual_payment
from clientarea.subscriptions import selectors as lifecycle_selectors
from clientarea.subscriptions import services as lifecycle
from clientarea.subscriptions.models import Service, ServiceEvent, ServiceStatus, SuspensionReason
from clientarea.test import make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db

D = dt.date(
    2025, 3, 3
)  # a Monday; every date in these tests is in the past (staff events happen "now")


@dataclass
class World:
    hosting: Product
    domain: Product
    alice: Customer
    bob: Customer


@pytest.fixture
def world(db) -> World:
    make_provider()
    hosting = make_product(
        "hosting-pyme", name="Hosting Pyme", prices={"monthly": "29000", "annual": "300000"}
    )
    domain = make_product(
        "dominio-co",
        name="Dominio .co",
        kind="domain",
        tax_treatment=TaxTreatment.EXCLUDED,
        tax_rate="0",
        prices={"annual": "89000"},
    )
    # alice reads English (the emails' texts are checked on her), bob Spanish (the site's language).
    alice = make_customer(
        "alice@example.com",
        first_name="Alice",
        last_name="Gómez",
        document_number="1020304050",
        preferred_language="en",
    )
    bob = make_customer(
        "bob@example.com",
        first_name="Bob",
        last_name="Pérez",
        document_number="1020304051",
        preferred_language="es-co",
    )
    return World(hosting=hosting, domain=domain, alice=alice, bob=bob)


def make_service(
    customer,
    product,
    *,
    due: dt.date,
    cycle: str = BillingCycle.MONTHLY,
    label: str = "example.co",
    status: str = ServiceStatus.ACTIVE,
    anchor: int | None = None,
    price: str = "29000",
    reason: str = "",
) -> Service:
    return Service.objects.create(
        customer=customer,
        product=product,
        cycle=cycle,
        price=Decimal(price),
        label=label,
        status=status,
        suspension_reason=reason,
        start_date=due - dt.timedelta(days=30),
        next_due_date=due,
        anchor_day=anchor or due.day,
    )


def stored(msgid: str, **values) -> str:
    """A reason as the run stores it: in the site's language (translated when the catalogue has it)."""
    with translation.override(django_settings.LANGUAGE_CODE):
        return gettext(msgid) % values


def run(day: dt.date, **kwargs) -> BillingRun:
    return automation.run_billing(run_date=day, **kwargs)


def templates_sent(customer=None) -> list[str]:
    emails = OutgoingEmail.objects.order_by("pk")
    if customer is not None:
        emails = emails.filter(customer=customer)
    return list(emails.values_list("template", flat=True))


def renew_and_get_order(service: Service, day: dt.date) -> Order:
    run(day)
    return Order.objects.get(items__service=service, state=OrderState.PENDING)


# --- Renewal orders -----------------------------------------------------------------------------


def test_it_bills_all_due_services_of_a_customer_in_one_order(world):
    a1 = make_service(world.alice, world.hosting, due=D + dt.timedelta(days=3), label="alice.co")
    a2 = make_service(
        world.alice,
        world.domain,
        due=D + dt.timedelta(days=15),
        cycle=BillingCycle.ANNUAL,
        label="alice.com.co",
        price="89000",
    )
    make_service(world.alice, world.hosting, due=D + dt.timedelta(days=16), label="later.co")
    b1 = make_service(world.bob, world.hosting, due=D + dt.timedelta(days=10), label="bob.co")

    result = run(D)

    assert result.status == BillingRunStatus.DONE
    assert result.counts["orders_created"] == 2 and result.counts["services_billed"] == 3
    order = Order.objects.get(customer=world.alice)
    assert (order.issue_date, order.due_date, order.state) == (
        D,
        D + dt.timedelta(days=3),
        OrderState.PENDING,
    )
    items = list(order.items.order_by("position"))
    assert [i.service for i in items] == [a1, a2]
    assert [i.kind for i in items] == [ItemKind.RENEWAL, ItemKind.RENEWAL]
    assert items[0].description == "Hosting Pyme · alice.co (renewal)"
    assert (items[0].period_start, items[0].period_end) == (
        dt.date(2025, 3, 6),
        dt.date(2025, 4, 6),
    )
    assert (items[1].period_start, items[1].period_end) == (
        dt.date(2025, 3, 18),
        dt.date(2026, 3, 18),
    )
    assert (items[0].unit_price, items[0].tax_rate, items[0].tax_amount, items[0].total) == (
        Decimal("29000"),
        Decimal("19"),
        Decimal("5510"),
        Decimal("34510"),
    )
    assert (items[1].tax_treatment, items[1].tax_rate, items[1].total) == (
        TaxTreatment.EXCLUDED,
        Decimal("0"),
        Decimal("89000"),
    )
    assert (order.subtotal, order.tax_total, order.total) == (
        Decimal("118000"),
        Decimal("5510"),
        Decimal("123510"),
    )
    assert items[0].period_key == f"{a1.pk}:2025-03-06"
    assert (
        order.buyer_snapshot["email"] == "alice@example.com"
        and order.seller_snapshot["document_number"] == "900123456"
    )
    assert list(order.events.values_list("kind", flat=True)) == ["created"]
    bob_order = Order.objects.get(customer=world.bob)
    assert [i.service for i in bob_order.items.all()] == [b1]
    with translation.override("es-co"):  # each customer's items in their language
        assert bob_order.items.get().description == gettext("%(product)s · %(label)s (renewal)") % {
            "product": "Hosting Pyme",
            "label": "bob.co",
        }
    assert templates_sent() == ["order_created", "order_created"]
    email = OutgoingEmail.objects.get(customer=world.alice)
    assert order.number in email.subject and "$ 123.510" in email.subject
    assert f"http://testserver/clientarea/billing/{order.number}/" in email.body_text
    assert f'href="http://testserver/clientarea/billing/{order.number}/"' in email.body_html


def test_a_second_run_on_the_same_day_does_nothing(world):
    make_service(world.alice, world.hosting, due=D + dt.timedelta(days=3))
    overdue = make_service(world.bob, world.hosting, due=D - dt.timedelta(days=5))
    Order.objects.filter(pk=renew_and_get_order(overdue, D - dt.timedelta(days=20)).pk).update(
        due_date=D - dt.timedelta(days=5)
    )
    OutgoingEmail.objects.all().delete()

    first = run(D)
    snapshot = (
        Order.objects.count(),
        OrderItem.objects.count(),
        OrderEvent.objects.count(),
        OutgoingEmail.objects.count(),
        ServiceEvent.objects.count(),
        Counter.objects.get(name="ODS").value,
    )
    second = run(D)

    assert first.counts["orders_created"] == 1 and first.counts["services_suspended"] == 1
    assert {
        k: v for k, v in second.counts.items() if v and k not in ("customers", "orders_examined")
    } == {}
    assert snapshot == (
        Order.objects.count(),
        OrderItem.objects.count(),
        OrderEvent.objects.count(),
        OutgoingEmail.objects.count(),
        ServiceEvent.objects.count(),
        Counter.objects.get(name="ODS").value,
    )
    assert BillingRun.objects.filter(run_date=D).count() == 2


def test_the_renewal_window_is_n_days_inclusive(world):
    edge = make_service(world.alice, world.hosting, due=D + dt.timedelta(days=15), label="edge.co")
    outside = make_service(
        world.bob, world.hosting, due=D + dt.timedelta(days=16), label="outside.co"
    )

    run(D)
    assert OrderItem.objects.filter(service=edge).count() == 1
    assert not OrderItem.objects.filter(service=outside).exists()

    run(D + dt.timedelta(days=1))
    assert OrderItem.objects.filter(service=outside).count() == 1


@pytest.mark.parametrize(
    ("cycle", "period_end"),
    [
        (BillingCycle.MONTHLY, dt.date(2025, 2, 28)),
        (BillingCycle.QUARTERLY, dt.date(2025, 4, 30)),
        (BillingCycle.SEMIANNUAL, dt.date(2025, 7, 31)),
        (BillingCycle.ANNUAL, dt.date(2026, 1, 31)),
        (BillingCycle.BIENNIAL, dt.date(2027, 1, 31)),
        (BillingCycle.TRIENNIAL, dt.date(2028, 1, 31)),
    ],
)
def test_every_cycle_bills_one_period_from_the_due_date(world, cycle, period_end):
    service = make_service(
        world.alice, world.hosting, due=dt.date(2025, 1, 31), cycle=cycle, anchor=31
    )

    run(dt.date(2025, 1, 20))

    item = OrderItem.objects.get(service=service)
    assert (item.period_start, item.period_end) == (dt.date(2025, 1, 31), period_end)


def test_one_time_pending_cancelled_terminated_and_manually_suspended_services_are_not_billed(
    world,
):
    due = D + dt.timedelta(days=2)
    for status, reason, cycle in [
        (ServiceStatus.ACTIVE, "", BillingCycle.ONE_TIME),
        (ServiceStatus.PENDING, "", BillingCycle.MONTHLY),
        (ServiceStatus.CANCELLED, "", BillingCycle.MONTHLY),
        (ServiceStatus.TERMINATED, "", BillingCycle.MONTHLY),
        (ServiceStatus.SUSPENDED, SuspensionReason.MANUAL, BillingCycle.MONTHLY),
    ]:
        make_service(world.alice, world.hosting, due=due, status=status, reason=reason, cycle=cycle)
    overdue_suspended = make_service(
        world.bob,
        world.hosting,
        due=due,
        status=ServiceStatus.SUSPENDED,
        reason=SuspensionReason.OVERDUE,
    )

    result = run(D)

    assert result.counts["services_billed"] == 1
    assert list(OrderItem.objects.values_list("service", flat=True)) == [overdue_suspended.pk]


def test_the_batch_rule_agrees_with_the_due_services_query(world):
    rules = automation.Rules.from_settings(D)
    made = []
    for status, reason in [
        (ServiceStatus.ACTIVE, ""),
        (ServiceStatus.PENDING, ""),
        (ServiceStatus.CANCELLED, ""),
        (ServiceStatus.TERMINATED, ""),
        (ServiceStatus.SUSPENDED, SuspensionReason.OVERDUE),
        (ServiceStatus.SUSPENDED, SuspensionReason.MANUAL),
    ]:
        for cycle in (BillingCycle.MONTHLY, BillingCycle.ONE_TIME):
            for days in (-40, 0, 15, 16):
                made.append(
                    make_service(
                        world.alice,
                        world.hosting,
                        due=D + dt.timedelta(days=days),
                        status=status,
                        reason=reason,
                        cycle=cycle,
                    )
                )
    made.append(
        Service.objects.create(
            customer=world.alice, product=world.hosting, cycle="monthly", price=1, status="active"
        )
    )
    billed = made[0]  # active, monthly, 40 days ago: billed by a live order
    services.create_order(
        customer=world.alice,
        lines=[automation.renewal_line(service=billed, language="en")],
        notify=False,
    )

    in_python = {s.pk for s in Service.objects.all() if automation.is_renewable(s, rules)} - {
        billed.pk
    }
    assert in_python == set(automation.due_services(rules).values_list("pk", flat=True))
    assert (
        len(in_python) == 5
    )  # active and overdue-suspended, monthly, due up to D+15 (minus the billed one)


def test_jan_31_anchors_stay_at_month_end(world):
    service = make_service(world.alice, world.hosting, due=dt.date(2025, 1, 31), anchor=31)

    first = renew_and_get_order(service, dt.date(2025, 1, 20))
    services.mark_order_paid(
        order_id=first.pk, paid_at=aware(2025, 1, 25), via="manual", reference="T-1"
    )
    service.refresh_from_db()
    assert service.next_due_date == dt.date(2025, 2, 28)
    second = renew_and_get_order(service, dt.date(2025, 2, 13))

    item = second.items.get()
    assert (item.period_start, item.period_end) == (dt.date(2025, 2, 28), dt.date(2025, 3, 31))
    assert second.due_date == dt.date(2025, 2, 28)


def test_a_period_already_in_the_past_is_due_from_the_run_date(world):
    service = make_service(world.alice, world.hosting, due=D - dt.timedelta(days=10))

    order = renew_and_get_order(service, D)

    assert order.items.get().period_start == D - dt.timedelta(days=10)
    assert (
        order.due_date == D
    )  # the customer gets the whole grace period from the day they are told
    assert run(D + dt.timedelta(days=4)).counts["services_suspended"] == 0


# --- Reminders ---------------------------------------------------------------------------------------


def test_each_reminder_is_sent_once_on_its_day(world):
    due = dt.date(2025, 3, 20)
    make_service(world.alice, world.hosting, due=due)
    sent: dict[str, list[str]] = {}
    day = due - dt.timedelta(days=15)
    while day <= due + dt.timedelta(days=8):
        before = OutgoingEmail.objects.count()
        run(day)
        run(day)  # twice a day: still once
        new = list(OutgoingEmail.objects.order_by("pk")[before:].values_list("template", flat=True))
        if new:
            sent[day.isoformat()] = new
        day += dt.timedelta(days=1)

    assert sent == {
        "2025-03-05": ["order_created"],
        "2025-03-15": ["order_reminder"],
        "2025-03-20": ["order_due_today"],
        "2025-03-21": ["order_overdue"],
        "2025-03-23": ["order_overdue"],
        "2025-03-25": ["service_suspended"],  # the third notice is the suspension email
    }
    order = Order.objects.get()
    assert order.reminders_sent == ["before", "due", "overdue-1", "overdue-2", "overdue-3"]
    assert (
        list(order.events.filter(kind="reminder").values_list("message", flat=True))
        == order.reminders_sent
    )


def test_the_third_notice_is_its_own_email_when_suspension_comes_later(world, settings):
    settings.BILLING_SUSPEND_AFTER_DAYS = 7
    service = make_service(world.alice, world.hosting, due=D)
    order = renew_and_get_order(service, D - dt.timedelta(days=15))

    run(D + dt.timedelta(days=5))

    email = OutgoingEmail.objects.filter(template="order_overdue").get()
    assert order.number in email.subject and "(notice 3 of 3)" in email.subject
    assert "5 days overdue" in email.body_text and "$ 34.510" in email.body_text
    assert "will be suspended on 10/03/2025" in email.body_text
    assert f"http://testserver/clientarea/billing/{order.number}/" in email.body_text
    assert "Pay now" in email.body_html


def test_reminders_say_what_is_left_to_pay_after_a_partial_payment(world):
    """The reminders named only the order's total: a customer who had paid part of it (or whose
    credit had) was asked for the whole again."""
    service = make_service(world.alice, world.hosting, due=D)
    order = renew_and_get_order(service, D - dt.timedelta(days=15))
    register_manual_payment(
        details=ManualPaymentDetails(order=order, reference="TRF-1", amount=Decimal("10000")),
        actor=None,
    )
    run(D - dt.timedelta(days=5))
    run(D + dt.timedelta(days=5))
    reminder = OutgoingEmail.objects.get(template="order_reminder")
    suspended = OutgoingEmail.objects.get(template="service_suspended")
    for email in (reminder, suspended):
        assert "$ 34.510" in email.body_text  # the order's total, as before
        assert "To pay now: $ 24.510" in email.body_text
        assert "To pay now: $ 24.510" in email.body_html
    # An order nobody paid part of keeps its one amount.
    other = make_service(world.bob, world.hosting, due=D + dt.timedelta(days=40), label="b.co")
    renew_and_get_order(other, D + dt.timedelta(days=25))
    run(D + dt.timedelta(days=35))
    [plain] = OutgoingEmail.objects.filter(template="order_reminder", customer=world.bob)
    assert "A pagar ahora" not in plain.body_text and "To pay now" not in plain.body_text


def test_missed_reminders_are_not_back_filled(world):
    service = make_service(world.alice, world.hosting, due=D)
    renew_and_get_order(service, D - dt.timedelta(days=15))
    OutgoingEmail.objects.all().delete()

    run(D + dt.timedelta(days=4))  # the run was down for a while: only the current notice
    assert templates_sent() == ["order_overdue"]
    assert Order.objects.get().reminders_sent == ["overdue-2"]


def test_a_late_order_gets_no_reminder_on_its_issue_day(world):
    make_service(
        world.alice, world.hosting, due=D + dt.timedelta(days=2)
    )  # billed late: inside the reminder window

    for day in range(3):
        run(D + dt.timedelta(days=day))

    # The order email said it all; the "before" stage began 5 days before due, too long ago.
    assert templates_sent() == ["order_created", "order_due_today"]


# --- Suspension and termination ---------------------------------------------------------------------------


def test_it_suspends_after_s_days_and_payment_lifts_it(world):
    service = make_service(world.alice, world.hosting, due=D)
    order = renew_and_get_order(service, D - dt.timedelta(days=15))

    assert run(D + dt.timedelta(days=4)).counts["services_suspended"] == 0
    result = run(D + dt.timedelta(days=5))

    service.refresh_from_db()
    assert result.counts["services_suspended"] == 1
    assert (service.status, service.suspension_reason) == (
        ServiceStatus.SUSPENDED,
        SuspensionReason.OVERDUE,
    )
    event = service.events.filter(kind="suspended").get()
    said = {"number": order.number, "days": 5}
    assert (event.reason_code, event.reason_values) == ("order_not_paid", said)
    assert event.reason == f"Order {order.number} not paid 5 days after due"  # logs, searches
    with translation.override("es"):
        assert lifecycle_selectors.event_reason(event) == stored(
            "Order %(number)s not paid %(days)d days after due", **said
        )
    email = OutgoingEmail.objects.get(template="service_suspended")
    assert order.number in email.subject and "$ 34.510" in email.subject
    assert "Hosting Pyme · example.co" in email.body_text
    assert f"http://testserver/clientarea/billing/{order.number}/" in email.body_text
    assert "terminated on 02/04/2025" in email.body_text

    services.mark_order_paid(
        order_id=order.pk, paid_at=aware(2025, 3, 9), via="manual", reference="T-9"
    )
    service.refresh_from_db()
    assert (service.status, service.suspension_reason, service.next_due_date) == (
        ServiceStatus.ACTIVE,
        "",
        dt.date(2025, 4, 3),
    )
    assert run(D + dt.timedelta(days=7)).counts["services_suspended"] == 0


def test_manual_suspensions_are_left_alone(world):
    service = make_service(world.alice, world.hosting, due=D)
    order = renew_and_get_order(service, D - dt.timedelta(days=15))
    lifecycle.suspend_service(service=service, reason=SuspensionReason.MANUAL, note="abuse report")

    run(D + dt.timedelta(days=5))
    result = run(D + dt.timedelta(days=30))

    service.refresh_from_db()
    order.refresh_from_db()
    assert (service.status, service.suspension_reason) == (
        ServiceStatus.SUSPENDED,
        SuspensionReason.MANUAL,
    )
    assert order.state == OrderState.PENDING
    assert result.counts["services_terminated"] == 0 and "service_suspended" not in templates_sent()


def test_staff_unsuspending_by_hand_is_not_undone(world):
    carol = make_staff()
    service = make_service(world.alice, world.hosting, due=D)
    renew_and_get_order(service, D - dt.timedelta(days=15))
    run(D + dt.timedelta(days=5))
    service.refresh_from_db()
    lifecycle.unsuspend_service(service=service, actor=carol, reason="promised to pay on Friday")

    run(D + dt.timedelta(days=6))

    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE


def test_it_terminates_after_t_days_and_cancels_the_order(world):
    service = make_service(world.alice, world.hosting, due=D)
    order = renew_and_get_order(service, D - dt.timedelta(days=15))
    run(D + dt.timedelta(days=5))

    assert run(D + dt.timedelta(days=29)).counts["services_terminated"] == 0
    result = run(D + dt.timedelta(days=30))

    service.refresh_from_db()
    order.refresh_from_db()
    assert (
        result.counts["services_terminated"] == 1 and result.counts["orders_cancelled_overdue"] == 1
    )
    assert service.status == ServiceStatus.TERMINATED
    reason = stored("Not paid %(days)d days after due", days=30)
    event = service.events.filter(kind="terminated").get()
    assert (event.reason_code, event.reason) == (
        "terminated_not_paid",
        f"Not paid 30 days after due ({order.number})",
    )
    with translation.override("es"):
        assert lifecycle_selectors.event_reason(event) == f"{reason} ({order.number})"
    assert (order.state, order.cancel_reason) == (OrderState.CANCELLED, reason)
    assert not order.items.filter(period_key__isnull=False).exists()
    email = OutgoingEmail.objects.get(template="service_terminated")
    assert order.number in email.subject and "Hosting Pyme · example.co" in email.body_text
    assert "order_cancelled" not in templates_sent()  # one email, not two
    assert (
        run(D + dt.timedelta(days=31)).counts["orders_created"] == 0
    )  # a terminated service is not billed again


def test_unpaid_new_service_orders_are_cancelled_after_c_days(world):
    order = services.order_new_service(
        customer=world.alice, product=world.hosting, cycle=BillingCycle.MONTHLY, label="new.co"
    )
    service = order.items.get(kind=ItemKind.NEW_SERVICE).service
    assert service is not None

    assert run(order.issue_date + dt.timedelta(days=6)).counts["orders_cancelled_unpaid"] == 0
    result = run(order.issue_date + dt.timedelta(days=7))

    order.refresh_from_db()
    service.refresh_from_db()
    assert result.counts["orders_cancelled_unpaid"] == 1
    assert (order.state, order.cancel_reason) == (
        OrderState.CANCELLED,
        stored("Not paid %(days)d days after issue", days=7),
    )
    assert service.status == ServiceStatus.CANCELLED
    assert "order_cancelled" in templates_sent()


# --- Dry run, failures, concurrency ----------------------------------------------------------------------------


def test_a_dry_run_counts_but_changes_nothing(world):
    make_service(world.alice, world.hosting, due=D + dt.timedelta(days=3))
    overdue = make_service(world.bob, world.hosting, due=D - dt.timedelta(days=5))
    order = renew_and_get_order(overdue, D - dt.timedelta(days=20))
    Order.objects.filter(pk=order.pk).update(due_date=D - dt.timedelta(days=5))
    snapshot = (
        Order.objects.count(),
        OrderItem.objects.count(),
        OrderEvent.objects.count(),
        OutgoingEmail.objects.count(),
        ServiceEvent.objects.count(),
        Counter.objects.get(name="ODS").value,
    )

    dry = run(D, dry_run=True)

    assert dry.dry_run and dry.status == BillingRunStatus.DONE
    assert (
        dry.counts["orders_created"] == 1
        and dry.counts["services_suspended"] == 1
        and dry.counts["emails_queued"] == 2
    )
    assert snapshot == (
        Order.objects.count(),
        OrderItem.objects.count(),
        OrderEvent.objects.count(),
        OutgoingEmail.objects.count(),
        ServiceEvent.objects.count(),
        Counter.objects.get(name="ODS").value,
    )
    overdue.refresh_from_db()
    order.refresh_from_db()
    assert overdue.status == ServiceStatus.ACTIVE and order.reminders_sent == []
    real = run(D)
    assert dict(real.counts) == dict(dry.counts)


def test_one_failing_customer_is_reported_and_the_others_are_billed(world, monkeypatch):
    make_service(world.alice, world.hosting, due=D + dt.timedelta(days=3))
    make_service(world.bob, world.hosting, due=D + dt.timedelta(days=3))
    real = automation.renewal_line

    def broken_for_bob(*, service, **kwargs):
        if service.customer_id == world.bob.pk:
            raise ValueError("bad price data")
        return real(service=service, **kwargs)

    monkeypatch.setattr(automation, "renewal_line", broken_for_bob)
    result = run(D)

    assert result.status == BillingRunStatus.DONE_WITH_ERRORS
    assert result.counts["orders_created"] == 1 and result.counts["errors"] == 1
    assert result.errors == [
        {"customer": world.bob.pk, "action": "renew", "message": "ValueError: bad price data"}
    ]
    assert (
        Order.objects.filter(customer=world.alice).exists()
        and not Order.objects.filter(customer=world.bob).exists()
    )


def test_a_failing_dunning_step_is_reported_and_undone(world, monkeypatch):
    a = make_service(world.alice, world.hosting, due=D)
    b = make_service(world.bob, world.hosting, due=D)
    renew_and_get_order(a, D - dt.timedelta(days=15))
    renew_and_get_order(b, D - dt.timedelta(days=15))
    real = automation._queue_service_email

    def broken_for_alice(run_, work, **kwargs):
        if work.customer.pk == world.alice.pk:
            raise RuntimeError("SMTP template missing")
        return real(run_, work, **kwargs)

    monkeypatch.setattr(automation, "_queue_service_email", broken_for_alice)
    result = run(D + dt.timedelta(days=5))

    a.refresh_from_db()
    b.refresh_from_db()
    assert result.errors == [
        {
            "customer": world.alice.pk,
            "action": "suspend",
            "message": "RuntimeError: SMTP template missing",
        }
    ]
    assert a.status == ServiceStatus.ACTIVE  # no suspension without its email
    assert b.status == ServiceStatus.SUSPENDED


def test_a_period_billed_meanwhile_is_skipped_customer_by_customer(world, monkeypatch):
    alice_service = make_service(world.alice, world.hosting, due=D + dt.timedelta(days=3))
    make_service(world.bob, world.hosting, due=D + dt.timedelta(days=3))
    real = automation._plan

    def concurrent_run_bills_alice_first(run_, customer, due_services):
        if customer.pk == world.alice.pk:
            line = automation.renewal_line(service=alice_service, language="es-co")
            services.create_order(
                customer=customer,
                lines=[line],
                issue_date=D,
                due_date=line.period_start,
                notify=False,
            )
        return real(run_, customer, due_services)

    monkeypatch.setattr(automation, "_plan", concurrent_run_bills_alice_first)
    result = run(D)

    assert result.status == BillingRunStatus.DONE
    assert (result.counts["already_billed"], result.counts["orders_created"]) == (1, 1)
    assert OrderItem.objects.filter(service=alice_service).count() == 1
    assert Order.objects.filter(customer=world.bob).count() == 1


def test_the_fallback_path_makes_the_same_order_as_the_bulk_path(world, monkeypatch):
    service = make_service(world.alice, world.hosting, due=D + dt.timedelta(days=3))
    make_service(
        world.alice,
        world.domain,
        due=D + dt.timedelta(days=5),
        cycle=BillingCycle.ANNUAL,
        label="a.com.co",
        price="89000",
    )
    bulk = renew_and_get_order(service, D)
    bulk_items = list(bulk.items.order_by("position").values())
    bulk_email = OutgoingEmail.objects.get()
    services.cancel_order(order=bulk, reason="test", notify=False)

    monkeypatch.setattr(automation, "_insert_renewals", lambda run_, plans: 1 / 0)
    one = renew_and_get_order(service, D)

    skip = {"id", "number", "created_at", "state", "cancelled_at", "cancel_reason"}
    bulk.refresh_from_db()
    assert {
        f.name: getattr(one, f.name) for f in Order._meta.concrete_fields if f.name not in skip
    } == {f.name: getattr(bulk, f.name) for f in Order._meta.concrete_fields if f.name not in skip}
    one_items = list(one.items.order_by("position").values())
    for a, b in zip(bulk_items, one_items, strict=True):
        assert {k: v for k, v in a.items() if k not in {"id", "order_id"}} == {
            k: v for k, v in b.items() if k not in {"id", "order_id"}
        }
    assert (one.events.get(kind="created").message, one.events.get(kind="created").data) == (
        bulk.events.get(kind="created").message,
        bulk.events.get(kind="created").data,
    )
    one_email = OutgoingEmail.objects.exclude(pk=bulk_email.pk).get(template="order_created")
    assert one_email.body_html == bulk_email.body_html.replace(bulk.number, one.number)


def test_a_run_that_cannot_go_on_is_recorded_as_failed(world, monkeypatch):
    def database_gone(*args, **kwargs):
        raise ConnectionError("database went away")

    monkeypatch.setattr(automation, "renewal_batches", database_gone)
    with pytest.raises(ConnectionError):
        run(D)
    failed = BillingRun.objects.get()
    assert failed.status == BillingRunStatus.FAILED and failed.finished_at
    assert failed.errors == [
        {"customer": None, "action": "run", "message": "ConnectionError: database went away"}
    ]


def test_garbage_collection_settings_are_restored_after_a_run(world, monkeypatch):
    import gc

    before = gc.get_threshold()
    run(D)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    monkeypatch.setattr(automation, "renewal_batches", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        run(D)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_create_no_duplicates():
    make_provider()
    hosting = make_product("hosting-pyme")
    for n in range(
        10
    ):  # orders five days overdue: one suspension and one email each, whoever gets there first
        customer = make_customer(f"late{n}@example.com", document_number=str(40_000_000 + n))
        make_service(customer, hosting, due=D - dt.timedelta(days=5), label=f"late{n}.co")
    automation.run_billing(run_date=D - dt.timedelta(days=20))
    assert Order.objects.count() == 10
    for n in range(60):
        customer = make_customer(f"c{n}@example.com", document_number=str(30_000_000 + n))
        make_service(customer, hosting, due=D + dt.timedelta(days=n % 10), label=f"c{n}.co")
        if n % 3 == 0:  # a second service: grouped into the same order
            make_service(customer, hosting, due=D + dt.timedelta(days=12), label=f"second{n}.co")
    results: list[BillingRun] = []
    failures: list[BaseException] = []
    barrier = threading.Barrier(2)

    def billing_run() -> None:
        try:
            barrier.wait()
            results.append(automation.run_billing(run_date=D, batch_size=7))
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=billing_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not failures and len(results) == 2
    assert sum(r.counts["orders_created"] for r in results) == 60
    assert all(r.counts["errors"] == 0 for r in results), [r.errors for r in results]
    live = OrderItem.objects.filter(period_key__isnull=False)
    assert live.count() == len(set(live.values_list("service_id", "period_start")))
    assert Service.objects.filter(status=ServiceStatus.SUSPENDED).count() == 10
    assert OutgoingEmail.objects.filter(template="service_suspended").count() == 10
    assert OutgoingEmail.objects.filter(template="order_created").count() == 70
    assert Order.objects.count() == 70 and OrderItem.objects.count() == 90
    numbers = sorted(int(n.split("-")[1]) for n in Order.objects.values_list("number", flat=True))
    assert numbers == list(range(1, 71))  # gap-free, no duplicates
    connections.close_all()


# --- Emails ---------------------------------------------------------------------------------------------------


def test_emails_are_delivered_after_commit(world, django_capture_on_commit_callbacks, mailoutbox):
    make_service(world.alice, world.hosting, due=D + dt.timedelta(days=3))

    with django_capture_on_commit_callbacks(execute=True):
        run(D)

    order = Order.objects.get()
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["alice@example.com"] and order.number in message.subject
    assert f"http://testserver/clientarea/billing/{order.number}/" in message.body
    assert OutgoingEmail.objects.get().status == "sent"


@pytest.mark.parametrize("language", ["es-co", "en"])
def test_renewal_emails_are_identical_to_a_full_render(world, language):
    tricky = [
        dict(first_name="Ana & Co <b>", last_name='"Ñandú"'),
        dict(first_name="José", last_name=""),
        dict(
            person_type="juridica",
            document_type="31",
            document_number="900108281",
            check_digit="3",
            legal_name="Hosting & Más S.A.S.",
        ),
    ]
    for n, extra in enumerate(tricky):
        customer = make_customer(f"tricky{n}@example.com", preferred_language=language, **extra)
        make_service(
            customer, world.hosting, due=D + dt.timedelta(days=n + 1), label=f"<site{n}>.co"
        )
        make_service(
            customer,
            world.domain,
            due=D + dt.timedelta(days=9),
            cycle=BillingCycle.ANNUAL,
            label="",
            price="89000.50",
        )
    make_service(
        world.alice,
        world.domain,
        due=D + dt.timedelta(days=2),
        cycle=BillingCycle.ANNUAL,
        price="89000",
    )

    run(D)

    assert OutgoingEmail.objects.count() == 4
    for email in OutgoingEmail.objects.select_related("customer__user"):
        order = Order.objects.prefetch_related("items").get(customer=email.customer)
        expected = render_email(
            template="order_created",
            language=email.language,
            context={
                "order": order,
                "customer": email.customer,
                "pay_url": services.order_pay_url(order),
            },
        )
        assert (email.subject, email.body_text, email.body_html) == expected


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=st.text(max_size=12),
    last=st.text(max_size=12),
    label=st.text(max_size=12),
    amount=st.decimals(min_value=0, max_value=10**9, places=2),
    zero_tax=st.booleans(),
    language=st.sampled_from(["es-co", "en"]),
)
def test_the_email_stencil_matches_the_template_for_any_values(
    world, first, last, label, amount, zero_tax, language
):
    from clientarea.accounts.models import User
    from clientarea.billing.models import OrderItem as Item

    renderer = OrderEmailRenderer(audit_every=1)
    customer = Customer(
        user=User(email="x@example.com"),
        first_name=first,
        last_name=last,
        preferred_language=language,
    )
    tax = Decimal("0") if zero_tax else (amount * Decimal("0.19")).quantize(Decimal("0.01"))
    order = Order(
        pk=10**9,
        number="ODS-123456",
        customer=customer,
        issue_date=D,
        due_date=D + dt.timedelta(days=3),
        subtotal=amount,
        tax_total=tax,
        total=amount + tax,
    )
    items = [
        Item(
            pk=10**9,
            order=order,
            position=1,
            kind=ItemKind.RENEWAL,
            description=f"Hosting · {label} (renewal)",
            period_start=D,
            period_end=D + dt.timedelta(days=31),
            quantity=Decimal("1.00"),
            unit_price=amount,
            tax_rate=Decimal("0") if zero_tax else Decimal("19"),
            subtotal=amount,
            tax_amount=tax,
            total=amount + tax,
        )
    ]
    for _ in range(2):  # the first render builds and verifies the stencil, the second uses it
        got = renderer.render(
            template="order_created",
            order=order,
            items=items,
            customer=customer,
            pay_url="http://testserver/p/",
            language=language,
        )
        expected = render_email(
            template="order_created",
            language=language,
            context={
                "order": attach_items(order, items),
                "customer": customer,
                "pay_url": "http://testserver/p/",
            },
        )
        assert got == expected
    assert renderer.stats["dropped"] == 0  # the stencil itself was right, not rescued by the audit
    values, _choices = order_values(
        order=order, items=items, customer=customer, pay_url="http://testserver/p/"
    )
    if _stencilable(values):  # names with leading/trailing spaces are rendered in full, by design
        assert renderer.stats["stencil"] == 2


def test_stencils_are_used_for_renewals_and_refused_for_unsafe_templates(world, monkeypatch):
    from clientarea.billing import run_emails

    renderer = OrderEmailRenderer()
    for n in range(3):
        customer = make_customer(f"s{n}@example.com")
        make_service(customer, world.hosting, due=D + dt.timedelta(days=1))
    monkeypatch.setattr(automation, "OrderEmailRenderer", lambda: renderer)
    run(D)
    assert renderer.stats == {"stencil": 3, "full": 0, "dropped": 0}

    # A template that transforms a value (here with |upper and |lower) is rendered in full.
    _refused_for_a_transforming_template(world, run_emails)


def _refused_for_a_transforming_template(world, run_emails):
    import copy
    import tempfile
    from pathlib import Path

    from django.test import override_settings

    folder = Path(tempfile.mkdtemp()) / "emails"
    folder.mkdir()
    (folder / "shout.subject.txt").write_text("{{ order.number|lower }}")
    (folder / "shout.txt").write_text("{{ customer.display_name|upper }} {{ order.total }}")
    (folder / "shout.html").write_text("<p>{{ customer.display_name|upper }}</p>")
    templates = copy.deepcopy(django_settings.TEMPLATES)
    templates[0]["DIRS"] = [folder.parent, *templates[0]["DIRS"]]
    renderer = run_emails.OrderEmailRenderer()
    customer = world.alice
    order = Order(number="ODS-000777", customer=customer, total=Decimal("1190.00"))
    with override_settings(TEMPLATES=templates):
        for _ in range(2):
            got = renderer.render(
                template="shout",
                order=order,
                items=[],
                customer=customer,
                pay_url="http://testserver/p/",
                language="en",
            )
            assert got == render_email(
                template="shout",
                language="en",
                context={"order": order, "customer": customer, "pay_url": "http://testserver/p/"},
            )
    assert got[0] == "ods-000777" and "ALICE" in got[1]
    assert renderer.stats == {"stencil": 0, "full": 2, "dropped": 0}


# --- CLI, schedule, admin ------------------------------------------------------------------------------------


def test_the_cli_prints_a_summary_table(world):
    make_service(world.alice, world.hosting, due=D + dt.timedelta(days=3))
    out = io.StringIO()

    call_command("billing_run", "--date=2025-03-03", "--no-progress", stdout=out)

    text = out.getvalue()
    assert "2025-03-03" in text.splitlines()[0]
    label = str(
        automation.COUNT_LABELS["orders_created"]
    )  # in the site's language, like the command
    assert text.split(label)[1].splitlines()[0].strip() == "1"
    assert BillingRun.objects.get().triggered_by == "cli"


def test_the_cli_dry_run_says_so_and_exits_1_on_errors(world, monkeypatch):
    make_service(world.alice, world.hosting, due=D + dt.timedelta(days=3))
    out = io.StringIO()
    call_command("billing_run", "--date=2025-03-03", "--dry-run", stdout=out)
    assert (
        gettext("(dry run: nothing was changed)") in out.getvalue() and not Order.objects.exists()
    )

    monkeypatch.setattr(automation, "renewal_line", lambda **kwargs: 1 / 0)
    out = io.StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("billing_run", "--date=2025-03-03", stdout=out)
    assert excinfo.value.returncode == 1
    assert f"{world.alice.pk}  renew  ZeroDivisionError" in out.getvalue()


@pytest.mark.parametrize(
    "argv", [["--date", "2025-02-30"], ["--date", "yesterday"], ["--dates", "2025-03-03"]]
)
def test_the_cli_rejects_bad_input_with_exit_status_2(argv, capsys):
    from clientarea.cli import main

    with pytest.raises(SystemExit) as excinfo:
        main(["clientarea", "billing-run", *argv])

    assert excinfo.value.code == 2
    err = capsys.readouterr().err
    assert "invalid date" in err or "unrecognized arguments" in err


def test_the_progress_bar_goes_to_stderr(world, capsys):
    for n in range(3):
        make_service(
            make_customer(f"p{n}@example.com"), world.hosting, due=D + dt.timedelta(days=1)
        )

    call_command(
        "billing_run", "--date=2025-03-03", "--progress", "--batch-size=2", "--chunk-size=2"
    )

    err = capsys.readouterr().err  # in customers (alice, bob and these 3), after each chunk
    assert "2/5" in err and "4/5" in err and "5/5" in err and "100%" in err


def test_the_worker_runs_once_a_day_from_the_configured_hour(world, settings):
    settings.BILLING_RUN_HOUR = 6
    make_service(world.alice, world.hosting, due=D + dt.timedelta(days=3))

    assert automation.run_scheduled(now=aware(2025, 3, 3, 5)) is None
    first = automation.run_scheduled(now=aware(2025, 3, 3, 6))
    assert first is not None
    assert (
        first.run_date == D
        and first.triggered_by == "worker"
        and first.counts["orders_created"] == 1
    )
    assert automation.run_scheduled(now=aware(2025, 3, 3, 7)) is None
    BillingRun.objects.filter(pk=first.pk).update(status=BillingRunStatus.FAILED)
    assert automation.run_scheduled(now=aware(2025, 3, 3, 8)) is not None  # a failed run is retried


def test_the_back_office_lists_runs_and_runs_billing_now(world, client):
    client.cookies["django_language"] = "en"
    client.force_login(make_staff())
    make_service(world.alice, world.hosting, due=local_today() + dt.timedelta(days=3))
    changelist = reverse("admin:billing_billingrun_changelist")

    page = client.get(changelist).content.decode()
    assert "Run billing now" in page
    assert client.get(reverse("admin:billing_billingrun_run_now")).status_code == 405
    response = client.post(
        reverse("admin:billing_billingrun_run_now")
    )  # the task runs inline in tests

    assert response.status_code == 302
    run_ = BillingRun.objects.get()
    assert (
        run_.triggered_by == "staff:carol@conexcol.example" and run_.counts["orders_created"] == 1
    )
    page = client.get(changelist).content.decode()
    assert "1 renewal orders created" in page
    detail = client.get(reverse("admin:billing_billingrun_change", args=[run_.pk])).content.decode()
    assert "Renewal orders created" in detail and "Emails queued" in detail
    assert client.get(reverse("admin:billing_billingrun_add")).status_code == 403


def test_errors_are_shown_in_the_back_office(world, client):
    client.force_login(make_staff())
    run_ = BillingRun.objects.create(
        run_date=D,
        status=BillingRunStatus.DONE_WITH_ERRORS,
        counts={"errors": 1},
        errors=[{"customer": world.bob.pk, "action": "renew", "message": "ValueError: <bad>"}],
    )

    detail = client.get(reverse("admin:billing_billingrun_change", args=[run_.pk])).content.decode()

    assert "ValueError: &lt;bad&gt;" in detail and ">renew<" in detail


def test_staff_without_permission_cannot_run_billing(world, client):
    from django.contrib.auth.models import Permission

    from clientarea.accounts.models import User

    clerk = User.objects.create_user(
        email="clerk@conexcol.example", password="x" * 12, is_staff=True
    )
    clerk.user_permissions.add(Permission.objects.get(codename="view_billingrun"))
    client.force_login(clerk)

    assert (
        "Run billing now"
        not in client.get(reverse("admin:billing_billingrun_changelist")).content.decode()
    )
    assert client.post(reverse("admin:billing_billingrun_run_now")).status_code == 403
    assert not BillingRun.objects.exists()
