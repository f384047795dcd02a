"""Changing a service's configurable options mid-cycle, as a plan change of kind "options": an
increase is an order that applies the options when paid, a decrease is applied now (credit and
its DIAN credit note on the invoice that paid the period) or at the renewal, the same price at
once; the refusals; the customer's pages. Also the credit note of a plan downgrade."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from clientarea.accounts.models import AuditEvent
from clientarea.billing import change_notes, planchanges
from clientarea.billing import selectors as billing_selectors
from clientarea.billing import services as billing
from clientarea.billing.automation import run_billing
from clientarea.billing.catalog_orders import place_cart_order
from clientarea.billing.models import (
    ItemKind,
    LedgerEntry,
    LedgerKind,
    Order,
    OrderItem,
    PlanChangeCreditNote,
)
from clientarea.billing.proration import credit_with_tax, prorate
from clientarea.catalog.models import ProductKind
from clientarea.catalog.pricing import Selection
from clientarea.catalog.tests.test_ordering import coupon, vps, vps_item
from clientarea.einvoice.models import DocumentKind, Invoice
from clientarea.einvoice.selectors import invoice_balance
from clientarea.einvoice.services import issue_waiting_invoices
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.lib.dates import local_today
from clientarea.lib.money import format_cop
from clientarea.notifications.models import OutgoingEmail
from clientarea.subscriptions.models import (
    PlanChange,
    PlanChangeDirection,
    PlanChangeKind,
    PlanChangeStatus,
    ProvisioningDelivery,
    Service,
    ServiceEvent,
    ServiceEventKind,
)
from clientarea.test import make_customer

pytestmark = pytest.mark.django_db

__all__ = ["vps"]  # the catalog tests' fixture, used here

RATE = Decimal("19")


@pytest.fixture(autouse=True)
def english():
    """Messages for people in English here; stored texts are in the site's language (es-CO)."""
    with translation.override("en"):
        yield


def ordered(vps, captured, *, days_ago=0, code="", resolution=True, **choices) -> Service:
    """A VPS ordered from the catalog (20 GB, 2 IPs, cPanel unless ``choices`` say otherwise)
    and paid ``days_ago`` days ago, with its invoice (accepted when there is a resolution)."""
    if resolution and not Invoice.objects.exists():
        make_resolution()
    customer = make_customer(f"cliente{Service.objects.count()}@example.com")
    order = place_cart_order(customer=customer, items=[vps_item(vps, **choices)], coupon_code=code)
    with captured(execute=True):
        billing.mark_order_paid(
            order_id=order.pk,
            paid_at=timezone.now() - dt.timedelta(days=days_ago),
            via="payu",
            method="card",
            reference=f"tx-{order.pk}",
        )
    return Service.objects.get(customer=customer)


def choose(vps, *, disk=20, ips=2, panel="cpanel") -> dict[int, Selection]:
    return dict(vps_item(vps, disk=disk, ips=ips, panel=panel).selections)


def change_options(service, vps, **choices) -> PlanChange:
    return planchanges.request_options_change(
        service=service, selections=choose(vps, **choices), actor=service.customer.user
    )


def options_of(service) -> dict[str, int]:
    return {o.description: o.quantity for o in service.options.all()}


def expected(service, old_total, new_total):
    return prorate(
        old_price=Decimal(old_total),
        old_months=1,
        new_price=Decimal(new_total),
        new_months=1,
        due_date=service.next_due_date,
        today=local_today(),
        anchor_day=service.anchor_day,
    )


# Options of the default order: 20 GB × 500 + 2 IPs × 10.000 + cPanel 40.000 = 70.000 a month.
BEFORE = {"Disco adicional (GB)": 20, "IP adicional": 2, "Panel de control: cPanel": 1}


# --- More options: an order, applied when paid ---------------------------------------------------


def test_more_options_is_an_order_that_applies_them_when_paid(
    vps, django_capture_on_commit_callbacks
):
    service = ordered(vps, django_capture_on_commit_callbacks, days_ago=10)
    due = service.next_due_date
    proration = expected(service, "70000", "100000")  # 80 GB: +30.000
    change = change_options(service, vps, disk=80)
    assert change.kind == PlanChangeKind.OPTIONS
    assert change.status == PlanChangeStatus.AWAITING_PAYMENT
    assert change.direction == PlanChangeDirection.UPGRADE
    assert (change.credit, change.charge) == (proration.credit, proration.charge)
    assert change.to_product == change.from_product and change.to_price == service.price
    order = Order.objects.get(number=change.order_number)
    (item,) = order.items.all()
    assert item.kind == ItemKind.PLAN_CHANGE and item.unit_price == proration.amount_due
    assert item.period_start == local_today() and item.period_end == due
    assert "Cambio de opciones: Disco adicional (GB) 20 → 80, 20 días" in item.description
    assert order.total == change.amount
    assert options_of(service) == BEFORE  # nothing changes before payment
    with django_capture_on_commit_callbacks(execute=True):
        billing.mark_order_paid(order_id=order.pk, paid_at=timezone.now(), via="manual")
    change.refresh_from_db()
    service.refresh_from_db()
    assert change.status == PlanChangeStatus.APPLIED
    assert options_of(service) == BEFORE | {"Disco adicional (GB)": 80}
    assert service.next_due_date == due and service.price == Decimal("100000")
    assert ProvisioningDelivery.objects.filter(
        event="services.changed", service_ids=[service.pk], order_number=order.number
    ).exists()
    event = ServiceEvent.objects.get(service=service, kind=ServiceEventKind.OPTIONS_CHANGED)
    assert event.reason == "Disco adicional (GB) 20 → 80"
    audit = AuditEvent.objects.get(action="service.options_changed")
    assert audit.changes["options"]["after"][0]["quantity"] == 80
    requested = AuditEvent.objects.get(action="service.plan_change_requested")
    assert requested.actor == service.customer.user and requested.changes["kind"] == "options"
    email = OutgoingEmail.objects.get(template="plan_changed")
    assert "opciones" in email.subject.lower()


def test_an_added_option_takes_todays_price_and_a_kept_one_keeps_its_price(
    vps, django_capture_on_commit_callbacks
):
    service = ordered(vps, django_capture_on_commit_callbacks, panel="")
    vps["disk"].options.get().prices.filter(cycle="monthly").update(price=Decimal("900"))
    quote = planchanges.quote_options_change(
        service=service, selections=choose(vps, disk=30, panel="plesk")
    )
    prices = {o["description"]: Decimal(o["price"]) for o in quote.to_options}
    assert prices["Disco adicional (GB)"] == Decimal("500.00")  # bought at 500, kept
    assert prices["Panel de control: Plesk"] == Decimal("30000")  # added today
    assert quote.proration == expected(service, "30000", "65000")


def test_the_renewal_after_the_change_bills_the_new_options(
    vps, django_capture_on_commit_callbacks
):
    service = ordered(vps, django_capture_on_commit_callbacks, days_ago=20, resolution=False)
    change = change_options(service, vps, ips=4)
    billing.mark_order_paid(
        order_id=Order.objects.get(number=change.order_number).pk,
        paid_at=timezone.now(),
        via="manual",
    )
    run_billing(run_date=local_today())
    ips = OrderItem.objects.get(
        service=service, kind=ItemKind.OPTION, description__contains="IP adicional",
        period_start=service.next_due_date,
    )  # fmt: skip
    assert (ips.quantity, ips.unit_price) == (Decimal("4"), Decimal("10000"))


# --- Fewer options: now with credit and a credit note, or at the renewal -------------------------


def test_fewer_options_now_credit_the_difference_with_a_credit_note(
    vps, django_capture_on_commit_callbacks, settings
):
    settings.PLAN_CHANGE_DOWNGRADE_AT = "now"
    settings.BILLING_AUTO_APPLY_CREDIT = False
    service = ordered(vps, django_capture_on_commit_callbacks)
    paid = Order.objects.filter(items__service=service).distinct().get()
    invoice = billing_selectors.order_invoice(paid)
    assert invoice is not None and invoice.is_validated
    before = invoice_balance(invoice)
    proration = expected(service, "70000", "20000")  # no cPanel, no disk
    gross = credit_with_tax(proration, old_rate=RATE, new_rate=RATE)
    with django_capture_on_commit_callbacks(execute=True):
        change = change_options(service, vps, disk=0, panel="")
    assert change.status == PlanChangeStatus.APPLIED and change.amount == gross > 0
    assert options_of(service) == {"IP adicional": 2}
    row = PlanChangeCreditNote.objects.get(plan_change=change)
    assert (row.order, row.amount, row.note_error) == (paid, gross, "")
    note = row.credit_note
    assert note is not None and note.kind == DocumentKind.CREDIT_NOTE
    assert note.reference_id == invoice.pk and note.concept == "1"
    assert Decimal("0") <= gross - note.total < Decimal("0.05")  # sized with IVA, never more
    assert invoice_balance(invoice) == before - note.total
    entries = LedgerEntry.objects.filter(customer=service.customer).exclude(
        kind__in=[LedgerKind.ORDER, LedgerKind.PAYMENT]
    )
    assert sorted((e.kind, e.amount, e.order_id, e.reference) for e in entries) == sorted(
        [
            (LedgerKind.CHANGE_NOTE, -gross, paid.pk, note.full_number),
            (LedgerKind.NOTE_TO_CREDIT, gross, paid.pk, note.full_number),
            (LedgerKind.NOTE_TO_CREDIT, -gross, None, paid.number),
        ]
    )
    assert billing_selectors.credit_available(service.customer) == gross
    assert billing_selectors.order_balances([paid.pk])[paid.pk] == 0
    assert ProvisioningDelivery.objects.filter(event="services.changed").exists()
    statement = billing_selectors.account_statement(
        service.customer, start=local_today(), end=local_today()
    )
    assert note.full_number in [line.entry.reference for line in statement.lines]


def test_the_credit_note_waits_for_dian_and_the_sweep_issues_it(
    vps, django_capture_on_commit_callbacks, settings
):
    settings.PLAN_CHANGE_DOWNGRADE_AT = "now"
    service = ordered(vps, django_capture_on_commit_callbacks, resolution=False)
    change = change_options(service, vps, panel="")
    row = PlanChangeCreditNote.objects.get(plan_change=change)
    assert row.credit_note is None and row.note_error
    assert billing_selectors.credit_available(service.customer) == change.amount > 0
    assert change_notes.retry_change_notes() == 0  # still no numbering resolution
    make_resolution()
    with django_capture_on_commit_callbacks(execute=True):
        issue_waiting_invoices()
    with django_capture_on_commit_callbacks(execute=True):
        assert change_notes.retry_change_notes() == 1
    row.refresh_from_db()
    assert row.credit_note is not None and row.credit_note.concept == "1" and not row.note_error
    assert row.entry is not None and row.entry.reference == ""  # the ledger is append-only
    statement = billing_selectors.account_statement(
        service.customer, start=local_today(), end=local_today()
    )
    (line,) = [line for line in statement.lines if line.entry.kind == LedgerKind.CHANGE_NOTE]
    assert line.reference == row.credit_note.full_number


def test_no_credit_beyond_what_was_paid(vps, django_capture_on_commit_callbacks, settings):
    settings.PLAN_CHANGE_DOWNGRADE_AT = "now"
    settings.BILLING_AUTO_APPLY_CREDIT = False
    coupon(code="CASI", value=Decimal("90"))  # the order charged 10 % of the price
    service = ordered(vps, django_capture_on_commit_callbacks, code="CASI")
    paid = Order.objects.filter(items__service=service).distinct().get()
    charged = sum((i.total for i in paid.items.exclude(kind=ItemKind.SETUP_FEE)), Decimal(0))
    change = change_options(service, vps, disk=0, panel="")  # −50.000 of 170.000 a month
    assert (
        change.amount
        == charged
        < credit_with_tax(change_proration(change), old_rate=RATE, new_rate=RATE)
    )
    assert billing_selectors.credit_available(service.customer) == charged
    assert PlanChangeCreditNote.objects.get(plan_change=change).amount == charged
    # A second decrease credits nothing more: that order's money is all credited already.
    second = change_options(service, vps, disk=0, ips=0, panel="")
    assert second.status == PlanChangeStatus.APPLIED and second.amount == 0
    assert billing_selectors.credit_available(service.customer) == charged
    assert not PlanChangeCreditNote.objects.filter(plan_change=second).exists()


def change_proration(change):
    return prorate(
        old_price=Decimal("70000"),
        old_months=1,
        new_price=Decimal("20000"),
        new_months=1,
        due_date=change.service.next_due_date,
        today=local_today(),
        anchor_day=change.service.anchor_day,
    )


def test_fewer_options_at_the_renewal_bill_the_renewal_with_them(
    vps, django_capture_on_commit_callbacks, settings
):
    settings.PLAN_CHANGE_DOWNGRADE_AT = "renewal"
    service = ordered(vps, django_capture_on_commit_callbacks, days_ago=20, resolution=False)
    due = service.next_due_date
    change = change_options(service, vps, ips=0, panel="plesk")
    assert change.status == PlanChangeStatus.SCHEDULED and change.effective_date == due
    assert change.amount == 0 and not PlanChangeCreditNote.objects.exists()
    assert OutgoingEmail.objects.filter(template="plan_change_scheduled").count() == 1
    assert options_of(service) == BEFORE
    run_billing(run_date=local_today())
    lines = {
        i.description.split(" · ")[-1]: (i.quantity, i.unit_price)
        for i in OrderItem.objects.filter(service=service, kind=ItemKind.OPTION, period_start=due)
    }
    assert sorted(lines.values()) == [
        (Decimal("1"), Decimal("30000")),  # Plesk instead of cPanel
        (Decimal("20"), Decimal("500")),  # the disk stays; no IPs
    ]
    assert run_billing(run_date=due).counts["plan_changes_applied"] == 1
    service.refresh_from_db()
    assert options_of(service) == {"Disco adicional (GB)": 20, "Panel de control: Plesk": 1}


def test_a_scheduled_options_change_can_be_withdrawn(
    vps, django_capture_on_commit_callbacks, settings
):
    settings.PLAN_CHANGE_DOWNGRADE_AT = "renewal"
    service = ordered(vps, django_capture_on_commit_callbacks, resolution=False)
    change = change_options(service, vps, panel="")
    planchanges.cancel_plan_change(change=change, actor=service.customer.user)
    change.refresh_from_db()
    assert change.status == PlanChangeStatus.CANCELLED
    assert run_billing(run_date=service.next_due_date).counts["plan_changes_applied"] == 0
    assert options_of(service) == BEFORE


def test_the_same_price_applies_at_once_even_when_downgrades_wait(
    vps, django_capture_on_commit_callbacks, settings
):
    settings.PLAN_CHANGE_DOWNGRADE_AT = "renewal"
    service = ordered(vps, django_capture_on_commit_callbacks, resolution=False)
    change = change_options(service, vps, disk=0, ips=3)  # −10.000 and +10.000
    assert change.status == PlanChangeStatus.APPLIED and change.amount == 0
    assert options_of(service) == {"IP adicional": 3, "Panel de control: cPanel": 1}
    assert (
        not PlanChangeCreditNote.objects.exists()
        and not LedgerEntry.objects.filter(kind=LedgerKind.CREDIT).exists()
    )


# --- A plan downgrade's credit also gets its credit note ------------------------------------------


def test_a_plan_downgrade_credits_with_a_credit_note(
    vps, django_capture_on_commit_callbacks, settings
):
    from clientarea.billing.tests import make_product

    settings.PLAN_CHANGE_DOWNGRADE_AT = "now"
    small = make_product("vps-small", kind=ProductKind.VPS, prices={"monthly": "60000"})
    service = ordered(vps, django_capture_on_commit_callbacks)
    change = planchanges.request_plan_change(
        service=service, product=small, cycle="monthly", actor=service.customer.user
    )
    row = PlanChangeCreditNote.objects.get(plan_change=change)
    assert row.credit_note is not None and row.amount == change.amount > 0
    assert LedgerEntry.objects.filter(kind=LedgerKind.CHANGE_NOTE, amount=-row.amount).exists()


# --- Refusals, in words -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        ({"disk": 101}, "between 0 and 100"),
        ({}, "already has these options"),
    ],
)
def test_bad_options_are_refused_with_a_clear_message(
    vps, django_capture_on_commit_callbacks, choices, message
):
    service = ordered(vps, django_capture_on_commit_callbacks, resolution=False)
    with pytest.raises(planchanges.PlanChangeError, match=message):
        change_options(service, vps, **choices)
    assert not PlanChange.objects.exists() and Order.objects.count() == 1


def test_an_option_of_another_product_is_refused(vps, django_capture_on_commit_callbacks):
    service = ordered(vps, django_capture_on_commit_callbacks, resolution=False)
    selections = choose(vps) | {vps["foreign"].pk: Selection(option_id=vps["foreign_option"].pk)}
    with pytest.raises(planchanges.PlanChangeError, match="does not belong"):
        planchanges.request_options_change(service=service, selections=selections)


def test_one_open_change_per_service(vps, django_capture_on_commit_callbacks):
    service = ordered(vps, django_capture_on_commit_callbacks, resolution=False)
    change_options(service, vps, disk=40)
    with pytest.raises(planchanges.PlanChangeError, match="already has a plan change"):
        change_options(service, vps, disk=60)


# --- The customer's pages -----------------------------------------------------------------------


def _login(client, service):
    client.force_login(service.customer.user)
    return reverse("subscriptions:change_options", args=[service.pk])


def test_the_page_previews_then_confirms_an_increase(
    client, vps, django_capture_on_commit_callbacks
):
    service = ordered(vps, django_capture_on_commit_callbacks, resolution=False)
    url = _login(client, service)
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="es")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'value="20"' in text and "Cambiar opciones" in text
    data = {
        f"option_{vps['disk'].pk}": "50",
        f"option_{vps['ips'].pk}": "2",
        f"option_{vps['panel'].pk}": str(vps["cpanel"].pk),
    }
    preview = client.post(url, data | {"preview": "1"})
    assert preview.status_code == 200 and not PlanChange.objects.exists()
    quote = preview.context["quote"]
    assert quote.applies == "payment" and format_cop(quote.pay_now) in preview.content.decode()
    done = client.post(url, data | {"confirm": "1"})
    change = PlanChange.objects.get()
    assert done.status_code == 302 and done["Location"].endswith(change.order_number + "/")
    assert Order.objects.get(number=change.order_number).total == quote.pay_now
    detail = client.get(reverse("subscriptions:detail", args=[service.pk]))
    assert b'id="plan-change-open"' in detail.content


def test_confirming_fewer_options_says_how_much_went_to_the_credit(
    client, vps, django_capture_on_commit_callbacks, settings
):
    # The page only said "Your service has its new options": where the money went was left out.
    settings.PLAN_CHANGE_DOWNGRADE_AT = "now"
    service = ordered(vps, django_capture_on_commit_callbacks, resolution=False)
    url = _login(client, service)
    data = {f"option_{vps['disk'].pk}": "0", f"option_{vps['ips'].pk}": "2"}
    data[f"option_{vps['panel'].pk}"] = str(vps["cpanel"].pk)
    done = client.post(url, data | {"confirm": "1"}, follow=True)
    change = PlanChange.objects.get()
    assert change.status == PlanChangeStatus.APPLIED and change.amount > 0
    shown = [str(m) for m in done.context["messages"]]
    assert shown == [
        f"Su servicio ya tiene sus nuevas opciones. {format_cop(change.amount)} (IVA incluido) "
        "pasaron al saldo a favor de su cuenta."
    ]


def test_a_bad_quantity_is_a_clear_400(client, vps, django_capture_on_commit_callbacks):
    service = ordered(vps, django_capture_on_commit_callbacks, resolution=False)
    url = _login(client, service)
    response = client.post(url, {f"option_{vps['disk'].pk}": "500", "confirm": "1"})
    assert response.status_code == 400 and not PlanChange.objects.exists()
    assert b'id="options-change-error"' in response.content


def test_another_customers_service_is_404(client, vps, django_capture_on_commit_callbacks):
    service = ordered(vps, django_capture_on_commit_callbacks, resolution=False)
    client.force_login(make_customer("otro@example.com").user)
    url = reverse("subscriptions:change_options", args=[service.pk])
    assert client.get(url).status_code == 404


def test_a_product_without_options_says_so(client, django_capture_on_commit_callbacks):
    from clientarea.billing.tests import make_active_service, make_product
    from clientarea.test import make_provider

    make_provider()
    plain = make_product("hosting-plain", prices={"monthly": "20000"})
    service = make_active_service(make_customer("sin@example.com"), plain, start=local_today())
    url = _login(client, service)
    response = client.get(url)
    assert b'id="options-change-refused"' in response.content
    detail = client.get(reverse("subscriptions:detail", args=[service.pk]))
    assert b'id="change-options"' not in detail.content


def test_the_service_page_offers_change_options(client, vps, django_capture_on_commit_callbacks):
    service = ordered(vps, django_capture_on_commit_callbacks, resolution=False)
    _login(client, service)
    detail = client.get(reverse("subscriptions:detail", args=[service.pk]))
    assert b'id="change-options"' in detail.content


def test_a_technical_contact_changes_options_and_the_audit_names_them(
    client, vps, django_capture_on_commit_callbacks
):
    from clientarea.test import make_contact

    service = ordered(vps, django_capture_on_commit_callbacks, resolution=False)
    technician = make_contact(service.customer, "tecnico@example.com", technical=True)
    billing_only = make_contact(service.customer, "contable@example.com", billing=True)
    url = reverse("subscriptions:change_options", args=[service.pk])
    data = {
        f"option_{vps['disk'].pk}": "30",
        f"option_{vps['ips'].pk}": "2",
        f"option_{vps['panel'].pk}": str(vps["cpanel"].pk),
        "confirm": "1",
    }
    client.force_login(billing_only.user)
    assert client.post(url, data).status_code == 403
    assert not PlanChange.objects.exists()
    client.force_login(technician.user)
    assert client.post(url, data).status_code == 302
    change = PlanChange.objects.get()
    assert change.requested_by == technician.user
    audit = AuditEvent.objects.get(action="service.plan_change_requested")
    assert audit.actor == technician.user and audit.customer == service.customer
