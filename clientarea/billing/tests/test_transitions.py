"""The order state machine: pending → paid | cancelled, and the effects of each transition."""

import datetime as dt
import threading

import pytest
from django.db import connection

from clientarea.billing import services
from clientarea.billing.models import Order, OrderEvent, OrderItem, OrderState
from clientarea.billing.tests import aware, make_active_service, make_product, make_renewal_order
from clientarea.payments.services import ManualPaymentDetails, register_manual_payment
from clientarea.subscriptions.models import Service, ServiceEvent, ServiceStatus
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    make_provider()
    return make_customer("alice@example.com", first_name="Alice")


@pytest.fixture
def hosting():
    return make_product("hosting-pyme", prices={"monthly": "29000", "annual": "300000"})


def pay(order, when=None, via="payu", method="pse"):
    return services.mark_order_paid(
        order_id=order.pk,
        paid_at=when or aware(2026, 2, 10),
        via=via,
        method=method,
        reference="ref-1",
    )


def test_it_applies_a_payment_exactly_once(alice, hosting):
    service = make_active_service(alice, hosting, start=dt.date(2026, 1, 15))
    order = make_renewal_order(service)
    first, second = pay(order), pay(order)
    assert (first.applied, first.reason) == (True, "paid")
    assert (second.applied, second.reason) == (False, "already_paid")
    service.refresh_from_db()
    assert service.next_due_date == dt.date(2026, 3, 15)  # renewed once, not twice
    assert OrderEvent.objects.filter(order=order, kind="paid").count() == 1


def test_it_refuses_to_cancel_a_paid_order(alice, hosting):
    order = make_renewal_order(make_active_service(alice, hosting))
    pay(order)
    with pytest.raises(services.OrderStateError):
        services.cancel_order(order=order, reason="too late")
    order.refresh_from_db()
    assert order.state == OrderState.PAID and order.cancel_reason == ""


def test_it_does_not_apply_a_payment_to_a_cancelled_order(alice, hosting):
    order = services.order_new_service(
        customer=alice, product=hosting, cycle="monthly", label="alice.co"
    )
    services.cancel_order(order=order, reason="changed her mind")
    outcome = pay(order)
    assert (outcome.applied, outcome.reason) == (False, "cancelled")
    order.refresh_from_db()
    assert order.state == OrderState.CANCELLED and order.paid_at is None
    assert Service.objects.get(customer=alice).status == ServiceStatus.CANCELLED


def test_a_cancelled_order_is_final(alice, hosting):
    order = services.order_new_service(
        customer=alice, product=hosting, cycle="monthly", label="alice.co"
    )
    services.cancel_order(order=order, reason="duplicate")
    with pytest.raises(services.OrderStateError):
        services.cancel_order(order=order, reason="again")
    with pytest.raises(services.OrderStateError):
        register_manual_payment(
            details=ManualPaymentDetails(order=order, reference="TR-1"), actor=None
        )


def test_cancelling_needs_a_reason(alice, hosting):
    order = services.order_new_service(
        customer=alice, product=hosting, cycle="monthly", label="alice.co"
    )
    with pytest.raises(services.OrderStateError):
        services.cancel_order(order=order, reason="  ")
    assert Order.objects.get(pk=order.pk).state == OrderState.PENDING


def test_cancelling_frees_the_service_period_for_a_new_order(alice, hosting):
    service = make_active_service(alice, hosting)
    order = make_renewal_order(service)
    services.cancel_order(order=order, reason="wrong price")
    assert OrderItem.objects.get(order=order).period_key is None
    again = make_renewal_order(service)  # would raise IntegrityError if the period were still taken
    assert again.state == OrderState.PENDING
    assert (
        Service.objects.get(pk=service.pk).status == ServiceStatus.ACTIVE
    )  # a renewal's service stays


def test_paying_a_new_service_order_activates_it_from_the_payment_date(alice, hosting):
    order = services.order_new_service(
        customer=alice, product=hosting, cycle="annual", label="alice.co"
    )
    # 23:30 in Bogotá on Feb 29 is already Mar 1 in UTC: the start date is the Colombian date.
    outcome = pay(order, when=dt.datetime(2028, 3, 1, 4, 30, tzinfo=dt.UTC))
    service = Service.objects.get(customer=alice)
    assert outcome.services_changed == [service.pk]
    assert (service.status, service.start_date, service.next_due_date) == (
        ServiceStatus.ACTIVE,
        dt.date(2028, 2, 29),
        dt.date(2029, 2, 28),
    )
    assert ServiceEvent.objects.filter(
        service=service, kind="activated", order_number=order.number
    ).exists()


def test_a_late_renewal_counts_from_the_previous_due_date_not_the_payment_date(alice, hosting):
    service = make_active_service(alice, hosting, start=dt.date(2026, 1, 31))
    assert service.next_due_date == dt.date(2026, 2, 28)
    order = make_renewal_order(service)
    pay(order, when=aware(2026, 3, 20))  # paid three weeks late
    service.refresh_from_db()
    assert service.next_due_date == dt.date(2026, 3, 31)  # back on the anchor day, from Feb 28


def test_register_manual_payment_records_staff_and_reference(alice, hosting):
    from clientarea.test import make_staff

    carol = make_staff()
    order = make_renewal_order(make_active_service(alice, hosting))
    register_manual_payment(
        details=ManualPaymentDetails(
            order=order, reference="Bancolombia 123", paid_at=aware(2026, 2, 3)
        ),
        actor=carol,
    )
    order.refresh_from_db()
    assert (order.state, order.paid_via, order.payment_reference) == (
        OrderState.PAID,
        "manual",
        "Bancolombia 123",
    )
    assert OrderEvent.objects.get(order=order, kind="paid").actor == carol


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_payments_apply_once_and_renew_once():
    make_provider()
    customer = make_customer("race@example.com")
    service = make_active_service(
        customer, make_product("hosting-race"), start=dt.date(2026, 1, 15)
    )
    order = make_renewal_order(service)
    barrier = threading.Barrier(2)
    outcomes, errors = [], []

    def worker():
        try:
            barrier.wait(timeout=10)
            outcomes.append(
                services.mark_order_paid(
                    order_id=order.pk,
                    paid_at=aware(2026, 2, 10),
                    via="payu",
                    method="card",
                    reference="r",
                )
            )
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert sorted(o.applied for o in outcomes) == [False, True]
    service.refresh_from_db()
    assert service.next_due_date == dt.date(2026, 3, 15)
    assert ServiceEvent.objects.filter(service=service, kind="renewed").count() == 1
    assert OrderEvent.objects.filter(order=order, kind="paid").count() == 1


def test_ordering_the_same_service_twice_while_pending_returns_the_same_order(db):
    from decimal import Decimal

    from clientarea.billing import services
    from clientarea.catalog.models import Product, ProductPrice
    from clientarea.test import make_customer, make_provider

    make_provider()
    customer = make_customer()
    product = Product.objects.create(code="dup", name="Hosting", kind="hosting")
    ProductPrice.objects.create(product=product, cycle="monthly", price=Decimal("10000"))
    first = services.order_new_service(
        customer=customer, product=product, cycle="monthly", label="a.co"
    )
    again = services.order_new_service(
        customer=customer, product=product, cycle="monthly", label="a.co"
    )
    other = services.order_new_service(
        customer=customer, product=product, cycle="monthly", label="b.co"
    )
    assert first.pk == again.pk and other.pk != first.pk
    assert customer.services.count() == 2
