"""A payment's own emails ("several orders paid", "partial payment received", "credit added"):
recorded in the paid transaction with the ids they describe and the amounts of that moment, and
rendered by the worker when it delivers them, with the same text the transaction used to render.

``payment_emails.json`` holds the subject and bodies these emails had when they were rendered
inside the transaction, for the payment of :func:`one_payment_does_all_three`, in both languages.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from clientarea.billing import ledger, selectors, services
from clientarea.billing.models import Order, OrderState
from clientarea.billing.tests import (
    make_active_service,
    make_order,
    make_product,
    make_renewal_order,
)
from clientarea.notifications import services as notifications
from clientarea.notifications.editable import EDITABLE
from clientarea.notifications.models import EmailStatus, OutgoingEmail
from clientarea.notifications.tests.deferred import deliver, rendered
from clientarea.payments.services import ManualPaymentDetails, register_manual_payment
from clientarea.reports.email_samples import sample_context
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db

TEMPLATES = ("orders_paid", "payment_partial", "credit_added")
EAGER = json.loads((Path(__file__).parent / "payment_emails.json").read_text(encoding="utf-8"))
BUILDERS = {
    "orders_paid": ledger.orders_paid_email_context,
    "payment_partial": ledger.payment_partial_email_context,
    "credit_added": ledger.credit_added_email_context,
}


def one_payment_does_all_three(language: str):
    """Pays two orders, part of a third, and leaves 20.000,50 of credit (applied at once to the
    third: ``BILLING_AUTO_APPLY_CREDIT``)."""
    make_provider()
    alice = make_customer(
        "alice@example.com",
        first_name="Alice",
        last_name="Pérez & Cía",
        preferred_language=language,
    )
    first, second, third = (make_order(alice, price="100000") for _ in range(3))
    ledger.record_payment(
        customer_id=alice.pk,
        amount=Decimal("288000.50"),
        allocations=[
            ledger.Allocation(order_id=first.pk),
            ledger.Allocation(order_id=second.pk),
            ledger.Allocation(order_id=third.pk, amount=Decimal("30000")),
        ],
        reference="transfer <77> & co",
        via="manual",
        method="transfer",
    )
    return alice, (first, second, third)


def emails() -> dict[str, OutgoingEmail]:
    found = {e.template: e for e in OutgoingEmail.objects.filter(template__in=TEMPLATES)}
    assert set(found) == set(TEMPLATES)
    return found


@pytest.mark.parametrize("language", ["es-co", "en"])
def test_recorded_unrendered_with_the_amounts_as_exact_text_then_rendered_as_before(
    language, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        alice, (first, second, third) = one_payment_does_all_three(language)
    recorded = emails()
    for email in recorded.values():
        assert (email.subject, email.body_text, email.body_html) == ("", "", "")
        assert email.language == language
    moment = {"customer": alice.pk, "amount": "288000.50", "reference": "transfer <77> & co"}
    assert recorded["orders_paid"].render_refs == {**moment, "orders": [first.pk, second.pk]}
    assert recorded["payment_partial"].render_refs == {
        **moment,
        "order": third.pk,
        "took": "30000.00",
        "left": "89000.00",
    }
    assert recorded["credit_added"].render_refs == {
        **moment,
        "credited": "20000.50",
        "credit": "20000.50",
        "auto_apply": True,
    }
    for callback in callbacks:
        callback()
    for template, email in emails().items():
        assert email.status == EmailStatus.SENT and email.render_refs is None
        assert rendered(email) == EAGER[language][template], template
    sent = [m.subject for m in mailoutbox if m.to == ["alice@example.com"]]
    assert sorted(sent) == sorted(EAGER[language][t]["subject"] for t in TEMPLATES)


@pytest.mark.parametrize("language", ["es-co", "en"])
def test_a_later_payment_does_not_change_what_they_say(language, no_delivery_job):
    alice, (_first, _second, third) = one_payment_does_all_three(language)
    waiting = emails()
    # Before the worker renders them, another payment lands on the same order and account:
    # 10.000 more on the third order and 5.000 more of credit (applied to it at once).
    ledger.record_payment(
        customer_id=alice.pk,
        amount=Decimal("15000"),
        allocations=[ledger.Allocation(order_id=third.pk, amount=Decimal("10000"))],
        reference="transfer-2",
        via="manual",
    )
    assert selectors.order_balance_due(third) == Decimal(
        "54000.00"
    )  # whole pesos: 0,50 stays credit
    for template, email in waiting.items():
        assert email.render_refs is not None  # not rendered yet
        assert rendered(deliver(email)) == EAGER[language][template], template
    # The later payment's own emails say what it did.
    later = OutgoingEmail.objects.filter(template__in=TEMPLATES).exclude(
        pk__in=[e.pk for e in waiting.values()]
    )
    texts = {e.template: deliver(e).body_text for e in later}
    assert set(texts) == {"payment_partial", "credit_added"}
    assert (
        "59.000" in texts["payment_partial"]
    )  # 89.000 − 20.000 of credit (its 0,50 kept) − 10.000
    assert "5.000" in texts["credit_added"]


def test_the_partial_payment_still_goes_out_once_the_order_is_paid(no_delivery_job):
    _alice, (_first, _second, third) = one_payment_does_all_three("en")
    partial = emails()["payment_partial"]
    register_manual_payment(
        details=ManualPaymentDetails(order=third, reference="TRX-9"), actor=None
    )  # the rest
    assert Order.objects.get(pk=third.pk).state == OrderState.PAID
    assert rendered(deliver(partial)) == EAGER["en"]["payment_partial"]
    assert partial.status == EmailStatus.SENT


def test_an_order_no_longer_paid_or_a_cancelled_one_fails_its_email(no_delivery_job, mailoutbox):
    _alice, (first, _second, third) = one_payment_does_all_three("en")
    waiting = emails()
    # Cannot happen through the services (paid is final): the email refuses to claim it.
    Order.objects.filter(pk=first.pk).update(state=OrderState.PENDING)
    services.cancel_order(order=third, reason="Customer asked", notify=False)
    several, partial = deliver(waiting["orders_paid"]), deliver(waiting["payment_partial"])
    assert several.status == EmailStatus.FAILED
    assert f"order {first.number} is not paid" in several.last_error
    assert partial.status == EmailStatus.FAILED
    assert f"order {third.number} was cancelled" in partial.last_error
    assert several.body_text == partial.body_text == ""
    # The credit it added is still true: that email goes out.
    assert deliver(waiting["credit_added"]).status == EmailStatus.SENT
    sent = [m.subject for m in mailoutbox if m.to == ["alice@example.com"]]
    assert sent == [EAGER["en"]["credit_added"]["subject"]]


def test_what_is_gone_raises_context_gone():
    _alice, (first, _second, _third) = one_payment_does_all_three("en")
    bob = make_customer("bob@example.com")
    refs = {e.template: dict(e.render_refs or {}) for e in emails().values()}
    for template, builder in BUILDERS.items():
        with pytest.raises(notifications.ContextGone, match="customer"):
            builder({**refs[template], "customer": 10**9})
    gone: dict[str, dict[str, Any]] = {
        "orders_paid": {"orders": [first.pk, 10**9]},
        "payment_partial": {"order": 10**9},
    }
    for template, change in gone.items():
        with pytest.raises(notifications.ContextGone, match="no longer exists"):
            BUILDERS[template]({**refs[template], **change})
    # Another customer's id with these orders: not theirs to be told about.
    for template in gone:
        with pytest.raises(notifications.ContextGone, match="no longer exists"):
            BUILDERS[template]({**refs[template], "customer": bob.pk})


@pytest.mark.parametrize("template", [*TEMPLATES, "order_paid"])
def test_the_editor_shows_the_variables_the_worker_renders_with(template):
    """What staff preview and validate an edited template against (the sample, with exactly the
    variables the editor lists) has the shape of what the worker renders it with: the same names,
    and the amounts as numbers (an amount left as text would print unlocalized)."""
    _alice, (first, _second, _third) = one_payment_does_all_three("es-co")
    if template == "order_paid":
        refs = {"order": first.pk}
        builder = services.order_paid_email_context
    else:
        refs = dict(emails()[template].render_refs or {})
        builder = BUILDERS[template]
    context = builder(refs)
    sample = sample_context(template)
    assert set(context) == set(sample) == set(EDITABLE[template].variables)
    for name, value in sample.items():
        if isinstance(value, (Decimal, str, bool, list)):
            assert type(context[name]) is type(value), (name, context[name])


#: The paid emails' promise that the services are active or renewed, as each language words it.
SERVICES_PROMISE = {"es-co": "Sus servicios", "en": "Your services are active or renewed"}
#: What every paid email says instead when the orders bill no service.
INVOICE_ONLY = {
    "es-co": ("Su factura electrónica le llegará", "La factura electrónica de cada orden"),
    "en": ("Your electronic invoice arrives", "Each order's electronic invoice arrives"),
}


@pytest.mark.parametrize("language", ["es-co", "en"])
def test_paid_emails_promise_active_services_only_when_an_order_bills_one(
    language, django_capture_on_commit_callbacks
):
    """A custom order (a migration, say) bills no service: its "payment received" email, and the
    "several orders paid" one of a payment that paid only such orders, do not say the services
    are active or renewed; they still say the invoice follows."""
    make_provider()
    alice = make_customer("alice@example.com", preferred_language=language)
    renewal, other_renewal = (
        make_renewal_order(make_active_service(alice, make_product(code)))
        for code in ("hosting-pyme", "vps-1")
    )
    custom, other_custom, third_custom, fourth_custom = (make_order(alice) for _ in range(4))

    def pay(*orders: Order, reference: str) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            ledger.record_payment(
                customer_id=alice.pk,
                amount=sum((o.total for o in orders), Decimal("0")),
                allocations=[ledger.Allocation(order_id=o.pk) for o in orders],
                reference=reference,
                via="manual",
            )

    # One order paid alone: "payment received"; several in one payment: "several orders paid".
    pay(custom, reference="one-custom")
    pay(renewal, reference="one-renewal")
    pay(other_custom, third_custom, reference="only-custom")
    pay(other_renewal, fourth_custom, reference="with-a-renewal")
    paid = OutgoingEmail.objects.filter(template="order_paid")
    several = OutgoingEmail.objects.filter(template="orders_paid")
    sent = {
        "one-custom": paid.get(body_text__contains=custom.number),
        "one-renewal": paid.get(body_text__contains=renewal.number),
        "only-custom": several.get(body_text__contains="(only-custom)"),
        "with-a-renewal": several.get(body_text__contains="(with-a-renewal)"),
    }
    bills_a_service = {"one-renewal", "with-a-renewal"}
    promise = SERVICES_PROMISE[language]
    for key, email in sent.items():
        assert email.status == EmailStatus.SENT, key
        invoice_only = INVOICE_ONLY[language][email.template == "orders_paid"]
        for body in (email.body_text, email.body_html):
            assert (promise in body) == (key in bills_a_service), (key, body)
            assert invoice_only in body or key in bills_a_service, (key, body)
