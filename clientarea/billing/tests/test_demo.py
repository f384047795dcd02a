"""The demo: every order state for ana, services active, suspended and pending, and a second run changes nothing."""

import io
from importlib import import_module

import pytest

from clientarea.billing.models import Order, OrderEvent, OrderState
from clientarea.subscriptions.models import Service, ServiceEvent, ServiceStatus

pytestmark = pytest.mark.django_db

LOADERS = (
    "clientarea.accounts.demo",
    "clientarea.catalog.demo",
    "clientarea.subscriptions.demo",
    "clientarea.einvoice.demo",
    "clientarea.billing.demo",
)


def load_demo():
    for path in LOADERS:
        try:
            module = import_module(path)
        except ModuleNotFoundError as exc:
            if exc.name == path:
                continue
            raise
        module.load(io.StringIO())


def snapshot():
    return (
        sorted(Order.objects.values_list("number", "state", "total")),
        sorted(Service.objects.values_list("label", "status", "next_due_date")),
        OrderEvent.objects.count(),
        ServiceEvent.objects.count(),
    )


def test_the_demo_shows_every_state_and_loads_once():
    load_demo()
    ana = Order.objects.filter(customer__user__email="ana@cliente.example")
    assert set(ana.values_list("state", flat=True)) == {
        OrderState.PENDING,
        OrderState.PAID,
        OrderState.CANCELLED,
    }
    pending_kinds = set(ana.filter(state=OrderState.PENDING).values_list("items__kind", flat=True))
    assert {"renewal", "new_service"} <= pending_kinds
    paid = ana.get(state=OrderState.PAID)
    assert (
        paid.paid_via == "manual"
        and ServiceEvent.objects.filter(kind="renewed", order_number=paid.number).exists()
    )
    cancelled = ana.get(state=OrderState.CANCELLED)
    assert (
        cancelled.cancel_reason
        and Service.objects.get(
            order_items__order=cancelled, order_items__kind="new_service"
        ).status
        == ServiceStatus.CANCELLED
    )
    statuses = set(
        Service.objects.filter(customer__user__email="ana@cliente.example").values_list(
            "status", "suspension_reason"
        )
    )
    assert {("active", ""), ("suspended", "overdue"), ("pending", "")} <= statuses
    before = snapshot()
    load_demo()
    assert snapshot() == before


def test_the_demo_statements_charge_each_order_before_its_payments():
    """A statement lists movements by date: in the demo no order is paid before it was charged
    (Ana's statement read as money received before anything was owed)."""
    from clientarea.billing.models import LedgerEntry, LedgerKind

    load_demo()
    charged = dict(
        LedgerEntry.objects.filter(kind=LedgerKind.ORDER).values_list("order_id", "created_at")
    )
    payments = LedgerEntry.objects.filter(kind=LedgerKind.PAYMENT, order__isnull=False)
    assert payments.exists()
    for entry in payments:
        assert entry.order_id is not None
        assert entry.created_at >= charged[entry.order_id], entry.reference
