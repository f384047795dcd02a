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
