"""Suspension rules: an overdue suspension is lifted by paying; a manual (staff) one stays."""

import datetime as dt

import pytest

from clientarea.billing import services as billing
from clientarea.billing.tests import aware, make_active_service, make_product, make_renewal_order
from clientarea.subscriptions import services
from clientarea.subscriptions.models import ServiceEvent, ServiceStatus, SuspensionReason
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def service():
    make_provider()
    return make_active_service(
        make_customer("alice@example.com"),
        make_product("hosting-basico"),
        start=dt.date(2026, 1, 15),
    )


def pay(order):
    return billing.mark_order_paid(
        order_id=order.pk, paid_at=aware(2026, 2, 25), via="payu", method="card"
    )


def test_paying_the_overdue_order_lifts_an_overdue_suspension(service):
    order = make_renewal_order(service)
    services.suspend_service(service=service, reason=SuspensionReason.OVERDUE)
    outcome = pay(order)
    service.refresh_from_db()
    assert (service.status, service.suspension_reason) == (ServiceStatus.ACTIVE, "")
    assert service.next_due_date == dt.date(2026, 3, 15)
    assert service.pk in outcome.services_changed
    unsuspended = ServiceEvent.objects.get(service=service, kind="unsuspended")
    assert (unsuspended.reason_code, unsuspended.reason, unsuspended.order_number) == (
        "paid",
        "payment received",
        order.number,
    )


def test_paying_does_not_lift_a_manual_suspension(service):
    order = make_renewal_order(service)
    services.suspend_service(service=service, reason=SuspensionReason.MANUAL, note="staff")
    pay(order)
    service.refresh_from_db()
    assert (service.status, service.suspension_reason) == (
        ServiceStatus.SUSPENDED,
        SuspensionReason.MANUAL,
    )
    assert service.next_due_date == dt.date(2026, 3, 15)  # the period is still renewed
    assert not ServiceEvent.objects.filter(service=service, kind="unsuspended").exists()


def test_only_an_active_service_can_be_suspended(service):
    services.terminate_service(service=service, reason="staff")
    with pytest.raises(services.ServiceStateError):
        services.suspend_service(service=service, reason=SuspensionReason.MANUAL)
    with pytest.raises(services.ServiceStateError):
        services.unsuspend_service(service=service)


def test_a_terminated_service_is_not_renewed(service):
    order = make_renewal_order(service)
    services.terminate_service(service=service, reason="staff")
    outcome = pay(order)
    service.refresh_from_db()
    assert outcome.applied and outcome.services_changed == []
    assert (service.status, service.next_due_date) == (
        ServiceStatus.TERMINATED,
        dt.date(2026, 2, 15),
    )


def test_every_change_is_in_the_history(service):
    services.suspend_service(service=service, reason=SuspensionReason.MANUAL, note="staff")
    services.unsuspend_service(service=service, reason="staff")
    kinds = list(
        ServiceEvent.objects.filter(service=service)
        .order_by("created_at", "id")
        .values_list("kind", "from_status", "to_status")
    )
    assert kinds == [
        ("created", "", "pending"),
        ("activated", "pending", "active"),
        ("suspended", "active", "suspended"),
        ("unsuspended", "suspended", "active"),
    ]
