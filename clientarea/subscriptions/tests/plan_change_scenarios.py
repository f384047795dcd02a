"""Plan and options changes on fixed dates, whose "plan changed" email is compared with the text
it had when it was rendered inside the transaction (``plan_changed_emails.json``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.test import override_settings

from clientarea.billing import planchanges
from clientarea.billing import services as billing
from clientarea.billing.catalog_orders import place_cart_order
from clientarea.billing.models import Order
from clientarea.billing.tests import make_active_service, make_product
from clientarea.catalog.tests.test_ordering import vps_item
from clientarea.notifications.models import OutgoingEmail
from clientarea.subscriptions.models import PlanChange, Service
from clientarea.test import make_customer, make_provider

BOGOTA = ZoneInfo("America/Bogota")
#: The service starts on START (due a month later, DUE); the change is asked for on ASKED and
#: its order paid the day after.
START = dt.date(2026, 1, 15)
DUE = dt.date(2026, 2, 15)
ASKED = dt.date(2026, 2, 5)
PAID = dt.datetime(2026, 2, 6, 10, 30, tzinfo=BOGOTA)

SCENARIOS = ("upgrade", "downgrade", "options", "options_down")


def _alice(language: str):
    make_provider()
    return make_customer(
        "alice@example.com",
        first_name="Alice",
        last_name="Pérez & Cía",
        preferred_language=language,
    )


def _pay_change(change: PlanChange) -> None:
    billing.mark_order_paid(
        order_id=Order.objects.get(number=change.order_number).pk, paid_at=PAID, via="manual"
    )


def _plan_change(language: str, *, to: str) -> tuple[Service, PlanChange]:
    pyme = make_product("hosting-pyme", prices={"monthly": "29000", "annual": "300000"})
    make_product("hosting-pro", prices={"monthly": "59000", "annual": "600000"})
    make_product("hosting-mini", prices={"monthly": "15000"})
    product = make_product(to)
    product.name_en = {"hosting-pro": "Pro Hosting", "hosting-mini": "Mini Hosting"}[to]
    product.save(update_fields=["name_en"])
    service = make_active_service(_alice(language), pyme, label="alice&co.com", start=START)
    assert service.next_due_date == DUE
    with override_settings(PLAN_CHANGE_DOWNGRADE_AT="now", BILLING_AUTO_APPLY_CREDIT=False):
        change = planchanges.request_plan_change(
            service=service, product=product, cycle="monthly", today=ASKED
        )
    if change.order_number:
        _pay_change(change)
    return service, change


def _options_change(vps, language: str, *, disk: int) -> tuple[Service, PlanChange]:
    alice = _alice(language)
    order = place_cart_order(customer=alice, items=[vps_item(vps, label="srv1.alice.co")])
    billing.mark_order_paid(
        order_id=order.pk,
        paid_at=dt.datetime.combine(START, dt.time(9), tzinfo=BOGOTA),
        via="manual",
    )
    service = Service.objects.get(customer=alice)
    assert service.next_due_date == DUE
    selections = dict(vps_item(vps, disk=disk).selections)
    with override_settings(PLAN_CHANGE_DOWNGRADE_AT="now", BILLING_AUTO_APPLY_CREDIT=False):
        change = planchanges.request_options_change(
            service=service, selections=selections, today=ASKED
        )
    if change.order_number:
        _pay_change(change)
    return service, change


def run(scenario: str, language: str, vps) -> tuple[Service, PlanChange]:
    """The scenario's change, applied (its email recorded, not delivered)."""
    if scenario == "upgrade":
        service, change = _plan_change(language, to="hosting-pro")
    elif scenario == "downgrade":
        service, change = _plan_change(language, to="hosting-mini")
        assert change.amount > Decimal("0")  # credited: the email says how much
    elif scenario == "options":
        service, change = _options_change(vps, language, disk=80)
    else:
        service, change = _options_change(vps, language, disk=0)
        assert change.amount > Decimal("0")
    change.refresh_from_db()
    assert change.status == "applied"
    return service, change


def the_email() -> OutgoingEmail:
    (email,) = OutgoingEmail.objects.filter(template="plan_changed")
    return email
