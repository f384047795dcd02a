"""Plan changes: an upgrade's order applies the change when paid (never when cancelled or
expired), a downgrade now (credit) or at the renewal (the billing run), the refusals, the
customer's and staff's pages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from clientarea.accounts.models import AuditEvent
from clientarea.backoffice.tests import staff_with
from clientarea.billing import cancellations, planchanges
from clientarea.billing import selectors as billing_selectors
from clientarea.billing import services as billing
from clientarea.billing.automation import run_billing
from clientarea.billing.models import (
    ItemKind,
    LedgerEntry,
    LedgerKind,
    Order,
    OrderItem,
    OrderState,
)
from clientarea.billing.proration import prorate
from clientarea.billing.tests import make_active_service, make_product, make_renewal_order
from clientarea.catalog.models import ProductKind
from clientarea.lib.dates import add_months, local_today
from clientarea.lib.money import format_cop, tax_for
from clientarea.notifications.delivery import deliver_email
from clientarea.notifications.models import OutgoingEmail
from clientarea.subscriptions import services as subscription_services
from clientarea.subscriptions.models import (
    CancellationReason,
    CancellationWhen,
    PlanChange,
    PlanChangeDirection,
    PlanChangeStatus,
    ProvisioningDelivery,
    Service,
    ServiceEvent,
    ServiceEventKind,
    ServiceStatus,
    SuspensionReason,
)
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana():
    make_provider()
    return make_customer("ana@example.com")


@pytest.fixture
def plans():
    return {
        "pyme": make_product("hosting-pyme", prices={"monthly": "29000", "annual": "300000"}),
        "pro": make_product("hosting-pro", prices={"monthly": "59000", "annual": "600000"}),
        "mini": make_product("hosting-mini", prices={"monthly": "15000"}),
        "vps": make_product("vps-1", kind=ProductKind.VPS, prices={"monthly": "90000"}),
    }


@pytest.fixture
def service(ana, plans):
    # Monthly, started 20 days ago: about 10 days left, inside the 15-day renewal window.
    return make_active_service(
        ana, plans["pyme"], label="ana.co", start=local_today() - dt.timedelta(days=20)
    )


def _change(service, product, cycle="monthly", **kwargs):
    return planchanges.request_plan_change(
        service=service, product=product, cycle=cycle, actor=service.customer.user, **kwargs
    )


def _pay(order):
    return billing.mark_order_paid(order_id=order.pk, paid_at=timezone.now(), via="manual")


def _expected(service, price, months=1):
    return prorate(
        old_price=service.price,
        old_months=1,
        new_price=Decimal(price),
        new_months=months,
        due_date=service.next_due_date,
        today=local_today(),
        anchor_day=service.anchor_day,
    )


# --- Upgrades ----------------------------------------------------------------------------------


def test_an_upgrade_is_an_order_that_changes_the_plan_when_paid(service, plans):
    due = service.next_due_date
    expected = _expected(service, "59000")
    change = _change(service, plans["pro"])
    assert change.status == PlanChangeStatus.AWAITING_PAYMENT
    assert change.direction == PlanChangeDirection.UPGRADE
    assert (change.credit, change.charge) == (expected.credit, expected.charge)
    order = Order.objects.get(number=change.order_number)
    (item,) = order.items.all()
    assert item.kind == ItemKind.PLAN_CHANGE and item.service_id == service.pk
    assert item.unit_price == expected.amount_due
    assert item.tax_rate == Decimal("19.00")  # IVA as the new product
    assert item.period_start == local_today() and item.period_end == due
    assert "Hosting Pro" in item.description and "Hosting Pyme" in item.description
    assert order.total == change.amount and order.due_date <= due
    assert OutgoingEmail.objects.filter(template="order_created").count() == 1
    service.refresh_from_db()
    assert service.product == plans["pyme"]  # nothing changes before payment

    before = ProvisioningDelivery.objects.count()
    outcome = _pay(order)
    assert outcome.applied and service.pk in outcome.services_changed
    service.refresh_from_db()
    change.refresh_from_db()
    assert (service.product, service.price, service.cycle) == (
        plans["pro"],
        Decimal("59000"),
        "monthly",
    )
    assert service.next_due_date == due  # the due date does not move
    assert change.status == PlanChangeStatus.APPLIED and change.closed_at
    event = ServiceEvent.objects.get(service=service, kind=ServiceEventKind.PLAN_CHANGED)
    assert event.order_number == order.number
    delivery = ProvisioningDelivery.objects.order_by("-pk")[0]
    assert ProvisioningDelivery.objects.count() > before
    assert delivery.event == "services.changed" and service.pk in delivery.service_ids
    assert OutgoingEmail.objects.filter(template="plan_changed").count() == 1
    assert AuditEvent.objects.filter(action="service.plan_changed").count() == 1
    assert AuditEvent.objects.filter(action="service.plan_change_requested").count() == 1


def test_a_cancelled_upgrade_order_leaves_the_service_unchanged(service, plans):
    change = _change(service, plans["pro"])
    order = Order.objects.get(number=change.order_number)
    billing.cancel_order(order=order, reason="changed my mind")
    change.refresh_from_db()
    service.refresh_from_db()
    assert change.status == PlanChangeStatus.CANCELLED
    assert service.product == plans["pyme"] and service.price == Decimal("29000")
    # A payment arriving later for the cancelled order changes nothing either.
    assert not _pay(order).applied
    service.refresh_from_db()
    assert service.product == plans["pyme"]
    # And the customer may choose again.
    assert (
        _change(service, plans["pro"], cycle="annual").status == PlanChangeStatus.AWAITING_PAYMENT
    )


def test_the_customer_withdraws_an_upgrade(service, plans):
    change = _change(service, plans["pro"])
    planchanges.cancel_plan_change(change=change, actor=service.customer.user)
    assert Order.objects.get(number=change.order_number).state == OrderState.CANCELLED
    change.refresh_from_db()
    assert change.status == PlanChangeStatus.CANCELLED
    assert AuditEvent.objects.filter(action="service.plan_change_withdrawn").exists()
    with pytest.raises(planchanges.PlanChangeError):
        planchanges.cancel_plan_change(change=change)


def test_an_unpaid_upgrade_expires_in_the_billing_run_and_renewals_wait_for_it(service, plans):
    change = _change(service, plans["pro"])
    order = Order.objects.get(number=change.order_number)
    # While it waits, the run bills no renewal at the old plan.
    run_billing(run_date=local_today())
    assert not OrderItem.objects.filter(service=service, kind=ItemKind.RENEWAL).exists()
    record = run_billing(run_date=order.due_date + dt.timedelta(days=1))
    assert record.counts["plan_changes_expired"] == 1
    order.refresh_from_db()
    change.refresh_from_db()
    service.refresh_from_db()
    assert order.state == OrderState.CANCELLED
    assert change.status == PlanChangeStatus.CANCELLED
    assert service.product == plans["pyme"]
    # Then the renewal is billed, at the plan the service has.
    renewal = OrderItem.objects.get(service=service, kind=ItemKind.RENEWAL)
    assert renewal.unit_price == Decimal("29000")


def test_credit_pays_an_upgrade_at_once(service, plans, settings):
    settings.BILLING_AUTO_APPLY_CREDIT = True
    from clientarea.billing import ledger

    ledger.record_payment(
        customer_id=service.customer_id,
        amount=Decimal("200000"),
        allocations=[],
        reference="TRF-1",
        via="manual",
        method="transfer",
        paid_at=timezone.now(),
    )
    change = _change(service, plans["pro"])
    change.refresh_from_db()
    assert change.status == PlanChangeStatus.APPLIED
    assert Order.objects.get(number=change.order_number).state == OrderState.PAID
    service.refresh_from_db()
    assert service.product == plans["pro"]


# --- Downgrades --------------------------------------------------------------------------------


def test_a_downgrade_now_changes_the_plan_and_credits_the_difference(service, plans, settings):
    settings.PLAN_CHANGE_DOWNGRADE_AT = "now"
    settings.BILLING_AUTO_APPLY_CREDIT = False
    due = service.next_due_date
    expected = _expected(service, "15000")
    change = _change(service, plans["mini"])
    assert change.direction == PlanChangeDirection.DOWNGRADE
    assert change.status == PlanChangeStatus.APPLIED and not change.order_number
    service.refresh_from_db()
    assert (service.product, service.price, service.next_due_date) == (
        plans["mini"],
        Decimal("15000"),
        due,
    )
    gross = (expected.credit + tax_for(expected.credit, Decimal("19"))) - (
        expected.charge + tax_for(expected.charge, Decimal("19"))
    )
    assert change.amount == gross > 0
    entry = LedgerEntry.objects.get(customer=service.customer, kind=LedgerKind.CREDIT)
    assert entry.amount == -gross and entry.order is None
    assert billing_selectors.credit_available(service.customer) == gross
    assert not Order.objects.exists()
    assert ProvisioningDelivery.objects.filter(event="services.changed").exists()
    assert OutgoingEmail.objects.filter(template="plan_changed").count() == 1


def test_a_downgrade_now_to_another_cycle_keeps_the_due_date(ana, plans, settings):
    # The page promises "your due date does not change" and the credit and the charge are for
    # the days left until it; the due date once moved a cycle of the new plan from today
    # (annual → monthly: one month on top of the days already prorated, for free).
    settings.PLAN_CHANGE_DOWNGRADE_AT = "now"
    service = make_active_service(
        ana, plans["pro"], cycle="annual", start=local_today() - dt.timedelta(days=300)
    )
    due = service.next_due_date
    change = _change(service, plans["pyme"], cycle="monthly")
    assert change.direction == PlanChangeDirection.DOWNGRADE
    assert change.status == PlanChangeStatus.APPLIED
    service.refresh_from_db()
    assert (service.product, service.cycle) == (plans["pyme"], "monthly")
    assert service.next_due_date == due
    event = ServiceEvent.objects.get(service=service, kind=ServiceEventKind.PLAN_CHANGED)
    assert event.new_due_date == due


def test_a_downgrade_at_renewal_is_billed_and_applied_by_the_billing_run(service, plans, settings):
    settings.PLAN_CHANGE_DOWNGRADE_AT = "renewal"
    due = service.next_due_date
    change = _change(service, plans["mini"])
    assert change.status == PlanChangeStatus.SCHEDULED and change.effective_date == due
    assert change.amount == 0 and not LedgerEntry.objects.exists()
    assert OutgoingEmail.objects.filter(template="plan_change_scheduled").count() == 1
    service.refresh_from_db()
    assert service.product == plans["pyme"]  # until the due date
    # The renewal (billed before the due date) is at the new plan's price.
    run_billing(run_date=local_today())
    renewal = OrderItem.objects.get(service=service, kind=ItemKind.RENEWAL)
    assert renewal.unit_price == Decimal("15000") and "Hosting Mini" in renewal.description
    assert renewal.period_start == due
    service.refresh_from_db()
    assert service.product == plans["pyme"]
    # On the due date the run applies the change; paying the renewal then renews as usual.
    record = run_billing(run_date=due)
    assert record.counts["plan_changes_applied"] == 1
    service.refresh_from_db()
    change.refresh_from_db()
    assert (service.product, service.price) == (plans["mini"], Decimal("15000"))
    assert change.status == PlanChangeStatus.APPLIED
    _pay(renewal.order)
    service.refresh_from_db()
    assert service.next_due_date == add_months(due, 1, anchor_day=service.anchor_day)


def test_a_scheduled_change_of_cycle_paid_early_is_re_dated_by_the_new_cycle(ana, settings):
    settings.PLAN_CHANGE_DOWNGRADE_AT = "renewal"
    flex = make_product("hosting-flex", prices={"monthly": "20000", "annual": "300000"})
    service = make_active_service(
        ana, flex, cycle="annual", start=local_today() - dt.timedelta(days=360)
    )
    due = service.next_due_date
    change = _change(service, flex, cycle="monthly")  # cheaper per day than the annual plan
    assert change.status == PlanChangeStatus.SCHEDULED and change.effective_date == due
    run_billing(run_date=local_today())
    renewal = OrderItem.objects.get(service=service, kind=ItemKind.RENEWAL)
    assert renewal.unit_price == Decimal("20000")
    assert renewal.period_end == add_months(due, 1, anchor_day=service.anchor_day)
    _pay(renewal.order)  # paid early: the old (annual) cycle moved the due date a year
    service.refresh_from_db()
    assert service.next_due_date == add_months(due, 12, anchor_day=service.anchor_day)
    run_billing(run_date=due)
    service.refresh_from_db()
    assert service.cycle == "monthly" and service.price == Decimal("20000")
    assert service.next_due_date == add_months(due, 1, anchor_day=service.anchor_day)


def test_a_scheduled_downgrade_can_be_withdrawn(service, plans, settings):
    settings.PLAN_CHANGE_DOWNGRADE_AT = "renewal"
    change = _change(service, plans["mini"])
    planchanges.cancel_plan_change(change=change, actor=service.customer.user)
    run_billing(run_date=local_today())
    renewal = OrderItem.objects.get(service=service, kind=ItemKind.RENEWAL)
    assert renewal.unit_price == Decimal("29000")
    assert run_billing(run_date=service.next_due_date).counts["plan_changes_applied"] == 0


# --- Refusals ----------------------------------------------------------------------------------


@pytest.fixture
def english():
    with translation.override("en"):
        yield


def test_a_second_pending_change_is_refused(service, plans, english):
    _change(service, plans["pro"])
    with pytest.raises(planchanges.PlanChangeError, match="already has a plan change"):
        _change(service, plans["pro"], cycle="annual")
    assert PlanChange.objects.count() == 1 and Order.objects.count() == 1


def test_the_same_plan_is_refused(service, plans, english):
    with pytest.raises(planchanges.PlanChangeError, match="already has this plan"):
        _change(service, plans["pyme"])
    assert not PlanChange.objects.exists()


def test_another_kind_of_product_is_refused(service, plans, english):
    with pytest.raises(planchanges.PlanChangeError, match="not available"):
        _change(service, plans["vps"])


def test_a_cycle_without_a_price_is_refused(service, plans, english):
    with pytest.raises(planchanges.PlanChangeError, match="billing cycle"):
        _change(service, plans["mini"], cycle="annual")


@pytest.mark.parametrize("status", ["suspended", "terminated", "cancelled"])
def test_a_service_that_is_not_active_is_refused(service, plans, english, status):
    if status == "suspended":
        subscription_services.suspend_service(service=service, reason=SuspensionReason.MANUAL)
    elif status == "terminated":
        subscription_services.terminate_service(service=service, reason="test")
    else:
        subscription_services.cancel_service(service=service, reason="test")
    service.refresh_from_db()
    assert service.status == status
    with pytest.raises(planchanges.PlanChangeError, match="Only active services"):
        _change(service, plans["pro"])
    assert not PlanChange.objects.exists() and not Order.objects.exists()


def test_an_unpaid_renewal_must_be_paid_first(service, plans, english):
    renewal = make_renewal_order(service, issue_date=local_today())
    with pytest.raises(planchanges.PlanChangeError, match=renewal.number):
        _change(service, plans["pro"])


def test_a_pending_cancellation_must_be_withdrawn_first(service, plans, english):
    cancellations.request_cancellation(
        service=service,
        when=CancellationWhen.END_OF_PERIOD,
        reason=CancellationReason.TOO_EXPENSIVE,
    )
    with pytest.raises(planchanges.PlanChangeError, match="cancel"):
        _change(service, plans["pro"])


def test_a_service_ended_before_its_upgrade_was_paid_keeps_its_plan(service, plans):
    change = _change(service, plans["pro"])
    subscription_services.terminate_service(service=service, reason="test")
    _pay(Order.objects.get(number=change.order_number))
    service.refresh_from_db()
    change.refresh_from_db()
    assert service.product == plans["pyme"] and service.status == ServiceStatus.TERMINATED
    assert change.status == PlanChangeStatus.CANCELLED


def test_the_options_are_the_other_plans_of_the_same_kind(service, plans):
    options = planchanges.plan_options(service, language="es")
    keys = {(q.product.code, q.cycle) for q in options}
    assert keys == {
        ("hosting-pyme", "annual"),
        ("hosting-pro", "monthly"),
        ("hosting-pro", "annual"),
        ("hosting-mini", "monthly"),
    }
    by_key = {(q.product.code, q.cycle): q for q in options}
    assert by_key[("hosting-pro", "monthly")].applies == planchanges.ON_PAYMENT
    assert by_key[("hosting-mini", "monthly")].direction == PlanChangeDirection.DOWNGRADE


# --- Pages ---------------------------------------------------------------------------------------


def _login(client, service):
    client.force_login(service.customer.user)


def test_the_change_page_previews_the_amounts_in_spanish_and_english(
    client, service, plans, settings
):
    _login(client, service)
    url = reverse("subscriptions:change_plan", args=[service.pk])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Cambiar de plan" in html and "Hosting Pro" in html
    upgrade = next(
        q
        for q in planchanges.plan_options(service, language="es")
        if q.product.code == "hosting-pro" and q.cycle == "monthly"
    )
    assert format_cop(upgrade.pay_now) in html
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get(url).content.decode()
    assert "Choose your new plan" in html and "Upgrade: you pay" in html
    detail = client.get(reverse("subscriptions:detail", args=[service.pk])).content.decode()
    assert url in detail


def test_a_refusal_for_an_unpaid_renewal_links_the_order_to_pay(client, service, plans):
    # The page said "pay order ODS-… first" with no way to it: a dead end.
    renewal = make_renewal_order(service, issue_date=local_today())
    _login(client, service)
    order_url = reverse("billing:order", args=[renewal.number])
    for name in ("subscriptions:change_plan", "subscriptions:change_options"):
        html = client.get(reverse(name, args=[service.pk])).content.decode()
        assert renewal.number in html
        assert f'href="{order_url}" id="pay-first">Pagar ahora</a>' in html, name
    renewal.state = OrderState.PAID
    renewal.save(update_fields=["state"])
    html = client.get(reverse("subscriptions:change_plan", args=[service.pk])).content.decode()
    assert 'id="pay-first"' not in html


def test_a_withholding_agent_is_told_an_upgrade_asks_for_the_net(client, service, plans):
    # "Upgrade: you pay $ X now" was the gross; the order then asked the agent for the net.
    from clientarea.withholdings.tests.helpers import make_agent

    _login(client, service)
    url = reverse("subscriptions:change_plan", args=[service.pk])
    assert 'id="withholding-note"' not in client.get(url).content.decode()
    make_agent(service.customer)
    page = client.get(url).content.decode()
    assert 'id="withholding-note"' in page and "descuenta sus retenciones" in page


def test_the_change_pages_keep_each_amount_on_one_line(client, service, plans):
    # On a phone "= $" ended a line and its figure started the next one.
    _login(client, service)
    html = client.get(reverse("subscriptions:change_plan", args=[service.pk])).content.decode()
    upgrade = next(
        q
        for q in planchanges.plan_options(service, language="es")
        if q.product.code == "hosting-pro" and q.cycle == "monthly"
    )
    total = format_cop(upgrade.new_price + upgrade.new_tax)
    assert f'= <span class="nowrap">{total}</span>' in html
    assert f'<span class="nowrap">{format_cop(upgrade.pay_now)}</span>' in html


def test_posting_an_upgrade_goes_to_its_order(client, service, plans):
    _login(client, service)
    url = reverse("subscriptions:change_plan", args=[service.pk])
    response = client.post(url, {"plan": f"{plans['pro'].pk}:monthly"})
    change = PlanChange.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("billing:order", args=[change.order_number])
    detail = client.get(reverse("subscriptions:detail", args=[service.pk])).content.decode()
    assert 'id="plan-change-open"' in detail and change.order_number in detail
    # The page now explains why no second change can be made.
    page = client.get(url).content.decode()
    assert 'id="plan-change-refused"' in page
    response = client.post(reverse("subscriptions:cancel_plan_change", args=[service.pk]))
    assert response.status_code == 302
    change.refresh_from_db()
    assert change.status == PlanChangeStatus.CANCELLED


def test_posting_a_downgrade_says_how_much_went_to_the_credit(client, service, plans, settings):
    # The page only said "Your service has its new plan": where the money went was left out.
    settings.PLAN_CHANGE_DOWNGRADE_AT = "now"
    _login(client, service)
    url = reverse("subscriptions:change_plan", args=[service.pk])
    done = client.post(url, {"plan": f"{plans['mini'].pk}:monthly"}, follow=True)
    change = PlanChange.objects.get()
    assert change.status == PlanChangeStatus.APPLIED and change.amount > 0
    shown = [str(m) for m in done.context["messages"]]
    assert shown == [
        f"Su servicio ya tiene el nuevo plan. {format_cop(change.amount)} (IVA incluido) "
        "pasaron al saldo a favor de su cuenta."
    ]


def test_a_bad_choice_is_a_clear_400(client, service, plans):
    _login(client, service)
    url = reverse("subscriptions:change_plan", args=[service.pk])
    for data in (
        {},
        {"plan": "nonsense"},
        {"plan": f"{plans['vps'].pk}:monthly"},
        {"plan": f"{plans['pyme'].pk}:monthly"},
    ):
        response = client.post(url, data)
        assert response.status_code == 400
        assert 'id="plan-change-error"' in response.content.decode()
    assert not PlanChange.objects.exists()


def test_another_customers_service_is_404(client, service, plans):
    bob = make_customer("bob@example.com")
    client.force_login(bob.user)
    assert client.get(reverse("subscriptions:change_plan", args=[service.pk])).status_code == 404
    response = client.post(
        reverse("subscriptions:change_plan", args=[service.pk]),
        {"plan": f"{plans['pro'].pk}:monthly"},
    )
    assert response.status_code == 404
    assert (
        client.post(reverse("subscriptions:cancel_plan_change", args=[service.pk])).status_code
        == 404
    )
    assert not PlanChange.objects.exists()


def test_staff_change_the_plan_from_the_back_office(client, service, plans, settings):
    settings.PLAN_CHANGE_DOWNGRADE_AT = "now"
    url = reverse("backoffice:service_change_plan", args=[service.pk])
    nobody = staff_with("viewer@conexcol.example", "accounts.view_customer")
    client.force_login(nobody)
    assert client.get(url).status_code == 403
    assert client.post(url, {"plan": f"{plans['mini'].pk}:monthly"}).status_code == 403
    staff = staff_with(
        "support@conexcol.example", "accounts.view_customer", "subscriptions.change_service"
    )
    client.force_login(staff)
    page = client.get(url)
    assert page.status_code == 200 and 'id="plan-options"' in page.content.decode()
    assert client.post(url, {"plan": "nonsense"}).status_code == 200  # the form's error
    response = client.post(url, {"plan": f"{plans['mini'].pk}:monthly"})
    assert response.status_code == 302
    change = PlanChange.objects.get()
    assert change.by_staff and change.requested_by == staff
    service.refresh_from_db()
    assert service.product == plans["mini"]
    customer_page = client.get(reverse("backoffice:customer", args=[service.customer_id]))
    assert customer_page.status_code == 200
    assert Service.objects.get(pk=service.pk).price == Decimal("15000")


# --- Concurrency (PostgreSQL) ----------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_changes_of_one_service_at_once_make_one_change_and_one_order():
    """Two tabs ask for different upgrades at the same moment: one wins, the other is refused."""
    import threading

    from django.db import connection

    make_provider()
    customer = make_customer("race@example.com")
    pyme = make_product("hosting-pyme", prices={"monthly": "29000", "annual": "300000"})
    pro = make_product("hosting-pro", prices={"monthly": "59000", "annual": "600000"})
    service = make_active_service(customer, pyme, start=local_today() - dt.timedelta(days=20))
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def worker(cycle: str) -> None:
        try:
            barrier.wait(timeout=10)
            with translation.override("en"):
                planchanges.request_plan_change(service=service, product=pro, cycle=cycle)
            outcomes.append("changed")
        except planchanges.PlanChangeError as exc:
            outcomes.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(c,)) for c in ("monthly", "annual")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["This service already has a plan change in progress.", "changed"]
    assert PlanChange.objects.filter(service=service).count() == 1
    assert Order.objects.filter(customer=customer).count() == 1


def test_the_plan_changed_email_is_in_the_customers_language(service, plans):
    customer = service.customer
    customer.preferred_language = "en"
    customer.save(update_fields=["preferred_language"])
    plans["pro"].name_en = "Pro Hosting"
    plans["pro"].save(update_fields=["name_en"])
    change = _change(service, plans["pro"])
    _pay(Order.objects.get(number=change.order_number))
    email = OutgoingEmail.objects.get(template="plan_changed")
    assert deliver_email(email_id=email.pk)  # rendered by the worker
    email.refresh_from_db()
    assert email.language == "en"
    assert "Pro Hosting" in email.subject and "Pro Hosting" in email.body_text
    assert "We changed the plan of your service" in email.body_text


def test_the_service_page_offers_change_plan_only_where_a_plan_can_change(client, ana, plans):
    domains = make_product("dominio-co", kind=ProductKind.DOMAIN, prices={"annual": "60000"})
    hosting = make_active_service(ana, plans["pyme"], label="ana.co")
    domain = make_active_service(ana, domains, label="ana-domain.co", cycle="annual")
    client.force_login(ana.user)
    page = client.get(reverse("subscriptions:detail", args=[hosting.pk])).content.decode()
    assert 'id="change-plan"' in page
    page = client.get(reverse("subscriptions:detail", args=[domain.pk])).content.decode()
    assert 'id="change-plan"' not in page


# --- The same plan over another billing cycle -----------------------------------------------------


def _in_english(customer):
    customer.preferred_language = "en"
    customer.save(update_fields=["preferred_language"])


def test_the_same_plan_billed_monthly_instead_of_yearly_is_a_change_of_cycle(client, ana, plans):
    """Annual → monthly of the same plan costs more per day, so it is paid like an upgrade, but
    the page, the order, the history, the email and the back office call it a change of billing
    cycle, not an upgrade."""
    _in_english(ana)
    service = make_active_service(
        ana, plans["pyme"], cycle="annual", start=local_today() - dt.timedelta(days=300)
    )
    client.force_login(ana.user)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("subscriptions:change_plan", args=[service.pk])).content.decode()
    options = page.split('class="plan-option"')[1:]
    (same_plan,) = [o for o in options if f'value="{plans["pyme"].pk}:monthly"' in o]
    assert "Change of billing cycle: you pay" in same_plan and "Upgrade" not in same_plan
    (bigger,) = [o for o in options if f'value="{plans["pro"].pk}:annual"' in o]
    assert "Upgrade: you pay" in bigger

    change = _change(service, plans["pyme"], cycle="monthly")
    assert change.direction == PlanChangeDirection.UPGRADE  # the money: an order to pay
    with translation.override("en"):
        assert change.cycle_only and change.change_label == "Change of billing cycle"
    order = Order.objects.get(number=change.order_number)
    (item,) = order.items.all()
    assert item.description.startswith("Billing cycle change: Hosting Pyme, Annual → Monthly")
    _pay(order)
    service.refresh_from_db()
    assert (service.product, service.cycle) == (plans["pyme"], "monthly")
    event = ServiceEvent.objects.get(service=service, kind=ServiceEventKind.CYCLE_CHANGED)
    assert event.reason == "Hosting Pyme: billing cycle Annual → Monthly"
    assert not ServiceEvent.objects.filter(kind=ServiceEventKind.PLAN_CHANGED).exists()
    history = client.get(reverse("subscriptions:detail", args=[service.pk])).content.decode()
    assert "Billing cycle changed" in history and "Plan changed" not in history
    email = OutgoingEmail.objects.get(template="plan_changed")
    assert deliver_email(email_id=email.pk)
    email.refresh_from_db()
    assert email.subject == "Your service's billing cycle is now Monthly"
    assert "We changed the billing cycle of your service Hosting Pyme from Annual to Monthly" in (
        email.body_text
    )

    staff = staff_with(
        "support@conexcol.example", "subscriptions.view_planchange", "subscriptions.view_service"
    )
    client.force_login(staff)
    listing = client.get("/admin/subscriptions/planchange/").content.decode()
    start = listing.index('id="result_list"')
    results = listing[start : listing.index("</table>", start)]
    assert "Change of billing cycle" in results and ">Upgrade<" not in results
    only_cycles = client.get("/admin/subscriptions/planchange/?change=cycle").content.decode()
    only_upgrades = client.get("/admin/subscriptions/planchange/?change=upgrade").content.decode()
    assert "1 plan change" in only_cycles and "0 plan changes" in only_upgrades
    # Who asked for it: the filter read "By by staff" ("Por por el personal").
    assert "By by staff" not in listing and "By requester" in listing
    by_customer = client.get("/admin/subscriptions/planchange/?by_staff=0").content.decode()
    by_staff = client.get("/admin/subscriptions/planchange/?by_staff=1").content.decode()
    assert "1 plan change" in by_customer and "0 plan changes" in by_staff
    client.cookies["django_language"] = "es-co"
    listing = client.get("/admin/subscriptions/planchange/").content.decode()
    assert "Por quién lo pidió" in listing and "Por por" not in listing
    assert "El cliente" in listing


def test_a_change_to_a_longer_cycle_of_the_same_plan_is_credited_as_a_change_of_cycle(
    service, plans, settings
):
    settings.PLAN_CHANGE_DOWNGRADE_AT = "now"
    _in_english(service.customer)
    change = _change(service, plans["pyme"], cycle="annual")
    assert change.direction == PlanChangeDirection.DOWNGRADE and change.status == "applied"
    with translation.override("en"):
        assert change.change_label == "Change of billing cycle"
    assert ServiceEvent.objects.filter(service=service, kind="cycle_changed").exists()
    email = OutgoingEmail.objects.get(template="plan_changed")
    assert deliver_email(email_id=email.pk)
    email.refresh_from_db()
    assert "The unused days at the previous billing cycle's price" in email.body_text


def test_staff_see_which_choice_is_a_change_of_cycle(client, service, plans):
    staff = staff_with(
        "support@conexcol.example", "accounts.view_customer", "subscriptions.change_service"
    )
    client.force_login(staff)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("backoffice:service_change_plan", args=[service.pk])).content.decode()
    start = page.index('id="plan-options"')
    rows = page[start : page.index("</table>", start)].split("<tr>")
    (annual,) = [row for row in rows if "Hosting Pyme · Annual" in row]
    assert '<td class="plan-change-label">Change of billing cycle</td>' in annual
    (pro,) = [row for row in rows if "Hosting Pro · Monthly" in row]
    assert '<td class="plan-change-label">Upgrade</td>' in pro


def test_posting_a_change_of_cycle_says_the_new_cycle_starts_when_paid(client, ana, plans):
    service = make_active_service(
        ana, plans["pyme"], cycle="annual", start=local_today() - dt.timedelta(days=300)
    )
    client.force_login(ana.user)
    client.cookies["django_language"] = "en"
    response = client.post(
        reverse("subscriptions:change_plan", args=[service.pk]),
        {"plan": f"{plans['pyme'].pk}:monthly"},
        follow=True,
    )
    page = response.content.decode()
    assert "Your new billing cycle starts as soon as it is paid." in page
    assert "Your new plan starts" not in page
