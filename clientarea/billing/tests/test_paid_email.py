"""The "payment received" email: recorded in the paid transaction with the order's id, rendered
by the worker when it delivers it (and by the sweep if the worker died first)."""

from io import StringIO

import pytest
from django.utils import timezone

from clientarea.billing import services
from clientarea.billing.models import OrderState
from clientarea.billing.tests import aware, make_active_service, make_product, make_renewal_order
from clientarea.einvoice import demo
from clientarea.lib.money import format_cop
from clientarea.notifications import delivery
from clientarea.notifications.models import EmailStatus, OutgoingEmail
from clientarea.payments.services import ManualPaymentDetails, register_manual_payment
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def order():
    make_provider()
    demo.load(StringIO())  # a numbering resolution: the invoice is issued (no staff email)
    alice = make_customer("alice@example.com", first_name="Alice", preferred_language="en")
    service = make_active_service(alice, make_product("hosting-pyme"))
    return make_renewal_order(service)


def pay(order):
    return services.mark_order_paid(
        order_id=order.pk, paid_at=aware(2026, 2, 10), via="payu", method="card"
    )


def test_the_paid_transaction_records_it_unrendered_and_the_worker_renders_it(
    order, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        pay(order)
    [email] = OutgoingEmail.objects.filter(template="order_paid")
    assert email.render_refs == {"order": order.pk}
    assert (email.subject, email.body_text, email.language) == ("", "", "en")
    for callback in callbacks:
        callback()
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT and email.render_refs is None
    assert email.subject == f"Payment received: service order {order.number}"
    assert f"payment of {format_cop(order.total)}" in email.body_text
    assert "Hello Alice" in email.body_text and order.number in email.body_html
    for item in order.items.all():
        assert item.description in email.body_text
    [sent] = mailoutbox
    assert (sent.subject, sent.body) == (email.subject, email.body_text)


def test_a_worker_killed_before_rendering_it_leaves_it_to_the_sweep(
    order, django_capture_on_commit_callbacks, monkeypatch, mailoutbox
):
    class Killed(BaseException):
        pass

    def killed(*args, **kwargs):
        raise Killed

    with django_capture_on_commit_callbacks(execute=False):  # the after-commit job is lost
        pay(order)
    email = OutgoingEmail.objects.get(template="order_paid")
    with monkeypatch.context() as m:
        m.setattr(delivery.rendering, "render_email", killed)  # dies while rendering
        with pytest.raises(Killed):
            delivery.deliver_email(email_id=email.pk)
    email.refresh_from_db()
    assert email.status == EmailStatus.SENDING and email.render_refs == {"order": order.pk}
    assert delivery.deliver_due_emails() == 0  # its lease is live
    OutgoingEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    assert delivery.deliver_due_emails() == 1
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT and email.render_refs is None
    assert [m.subject for m in mailoutbox] == [email.subject]


def test_an_order_that_is_not_paid_is_never_announced(order, monkeypatch, mailoutbox):
    # Cannot happen through the services (paid is final); the email refuses to claim a payment.
    monkeypatch.setattr("clientarea.notifications.services._schedule", lambda *a, **k: None)
    pay(order)
    type(order).objects.filter(pk=order.pk).update(state=OrderState.PENDING)
    email = OutgoingEmail.objects.get(template="order_paid")
    assert delivery.deliver_email(email_id=email.pk) is False
    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED and "is not paid" in email.last_error
    assert mailoutbox == []


def _delivered(order) -> OutgoingEmail:
    email = OutgoingEmail.objects.filter(template="order_paid", customer=order.customer).get()
    delivery.deliver_email(email_id=email.pk)
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    return email


def test_a_withholding_agents_email_says_the_net_it_paid_and_what_it_withheld(
    django_capture_on_commit_callbacks,
):
    """It said "We received your payment of $ 1.011.500" when the agent transferred 945.064."""
    from decimal import Decimal

    from clientarea.withholdings.tests.helpers import make_agent, make_rules

    make_provider()
    demo.load(StringIO())
    from clientarea.lib.dates import local_today

    make_rules(local_today().year)
    company = make_customer(
        "compras@example.com",
        person_type="juridica",
        document_type="31",
        document_number="901234567",
        check_digit="7",
        preferred_language="en",
    )
    make_agent(company)
    order = services.create_manual_order(
        customer=company,
        description="Migración",
        unit_price=Decimal("850000"),
        notify=False,
    )
    register_manual_payment(
        details=ManualPaymentDetails(order=order, reference="TRF-1"), actor=None
    )
    email = _delivered(order)
    for body in (email.body_text, email.body_html):
        assert "$ 1.011.500" in body and "is paid" in body
        assert "Payment received: $ 945.064" in body
        assert "Withheld by you (withholding agent): $ 66.436" in body
        assert "We received your payment of $ 1.011.500" not in body


def test_an_order_paid_by_account_credit_says_so(order, settings):
    """Credit is not a payment received: the email said "We received your payment of …"."""
    from clientarea.billing import ledger

    settings.BILLING_AUTO_APPLY_CREDIT = True
    ledger.record_payment(
        customer_id=order.customer_id, amount=order.total, reference="SAL-000001-1", via="payu"
    )
    order.refresh_from_db()
    assert order.state == OrderState.PAID
    email = _delivered(order)
    assert f"Paid with your account credit: {format_cop(order.total)}" in email.body_text
    assert "Payment received:" not in email.body_text
    assert "We received your payment" not in email.body_text
