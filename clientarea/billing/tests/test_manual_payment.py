"""Staff register a bank transfer larger than the order owes: the order is paid and the excess
becomes the customer's credit, once staff confirmed the split (the form's warning step)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from clientarea.accounts.models import AuditEvent
from clientarea.billing import selectors, services
from clientarea.billing.models import LedgerEntry, LedgerKind, Order, OrderEvent, OrderState
from clientarea.billing.tests import aware, make_order
from clientarea.notifications.models import OutgoingEmail
from clientarea.notifications.tests.deferred import deliver
from clientarea.payments.services import ManualPaymentDetails, register_manual_payment
from clientarea.test import make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def carol():
    make_provider()
    return make_staff()


@pytest.fixture
def alice(carol):
    return make_customer("alice@example.com", first_name="Alice", preferred_language="en")


@pytest.fixture
def order(alice):
    return make_order(alice)  # 100.000 + IVA = 119.000


def pay(order, carol, amount: str, **kwargs):
    return register_manual_payment(
        details=ManualPaymentDetails(
            order=order, reference="Bancolombia 991", amount=Decimal(amount), **kwargs
        ),
        actor=carol,
    ).order


def nothing_written(order: Order) -> None:
    order.refresh_from_db()
    assert order.state == OrderState.PENDING
    assert not LedgerEntry.objects.exclude(kind=LedgerKind.ORDER).exists()
    assert not OrderEvent.objects.filter(kind="paid").exists()
    assert not AuditEvent.objects.filter(action="billing.manual_payment").exists()
    assert not OutgoingEmail.objects.exists()


def test_an_excess_is_refused_until_staff_confirm_it_and_nothing_is_written(order, carol):
    with pytest.raises(services.ExcessNotConfirmed) as refused:
        pay(order, carol, "130000")
    split = refused.value.split
    assert (split.received, split.pays, split.withheld, split.excess) == (
        Decimal("130000.00"),
        Decimal("119000.00"),
        Decimal("0"),
        Decimal("11000.00"),
    )
    assert "$ 119.000 pagan la orden y $ 11.000 quedarán como saldo a favor" in str(refused.value)
    # A confirmation of another excess (the amount was changed on the warning step) is no
    # confirmation of this one.
    with pytest.raises(services.ExcessNotConfirmed):
        pay(order, carol, "130000", confirmed_excess=Decimal("1000"))
    nothing_written(order)


@pytest.mark.parametrize("auto_apply", [True, False])
def test_a_confirmed_excess_pays_the_order_and_becomes_credit(
    order, alice, carol, settings, auto_apply
):
    settings.BILLING_AUTO_APPLY_CREDIT = auto_apply
    pay(order, carol, "130000", confirmed_excess=Decimal("11000"))
    order.refresh_from_db()
    assert (order.state, order.paid_via) == (OrderState.PAID, "manual")
    # The ledger's own overpayment path: the order's payment, the rest as credit.
    movements = sorted(
        (e.kind, e.order_id, e.amount) for e in LedgerEntry.objects.exclude(kind=LedgerKind.ORDER)
    )
    assert movements == [
        (LedgerKind.CREDIT, None, Decimal("-11000.00")),
        (LedgerKind.PAYMENT, order.pk, Decimal("-119000.00")),
    ]
    assert selectors.credit_available(alice) == Decimal("11000.00")
    event = OrderEvent.objects.get(order=order, kind="paid")
    assert event.data["credited"] == "11000.00"
    assert "$ 11.000 del pago quedaron como saldo a favor del cliente" in (
        selectors.event_details_for_staff(event)
    )
    [audit] = AuditEvent.objects.filter(action="billing.manual_payment")
    assert audit.actor == carol
    assert {
        k: audit.changes[k] for k in ("amount", "paid_to_order", "credited", "withholding")
    } == {
        "amount": "130000.00",
        "paid_to_order": "119000.00",
        "credited": "11000.00",
        "withholding": "none",
    }
    # The "payment received" email states the split; "credit added" comes with it.
    email = OutgoingEmail.objects.get(template="order_paid")
    assert email.render_refs == {"order": order.pk, "credited": "11000.00"}
    body = deliver(email).body_text
    assert "Payment received: $ 119.000" in body
    assert "The rest of your payment, kept as your account credit: $ 11.000" in body
    assert OutgoingEmail.objects.filter(template="credit_added").count() == 1


def test_the_excess_pays_other_pending_orders_when_credit_is_applied_automatically(
    client, order, alice, carol, settings
):
    settings.BILLING_AUTO_APPLY_CREDIT = True
    other = make_order(alice, price="5000")  # 5.950
    client.cookies["django_language"] = "en"
    client.force_login(carol)
    done = client.post(
        reverse("admin:billing_order_pay", args=[order.pk]),
        {"reference": "Bancolombia 991", "paid_at": "2026-02-12T09:30", "method": "transfer",
         "amount": "130000", "confirmed_excess": "11000.00"},
        follow=True,
    )  # fmt: skip
    [message] = [str(m) for m in done.context["messages"]]
    assert (
        "$ 11.000 was kept as the customer's credit and applied at once to their other "
        "pending orders (credit available now: $ 5.050)." in message
    )
    other.refresh_from_db()
    assert (other.state, other.paid_via) == (OrderState.PAID, "credit")
    assert selectors.credit_available(alice) == Decimal("5050.00")
    audit = AuditEvent.objects.get(action="billing.manual_payment")
    assert (audit.changes["credit_applied"], audit.changes["orders_paid"]) == (
        "5950.00",
        [order.number, other.number],
    )


def test_staff_see_the_split_before_it_is_saved(client, order, alice, carol):
    client.cookies["django_language"] = "en"
    client.force_login(carol)
    url = reverse("admin:billing_order_pay", args=[order.pk])
    data = {
        "reference": "Bancolombia 991",
        "paid_at": "2026-02-12T09:30",
        "method": "transfer",
        "amount": "130000",
    }
    warning = client.post(url, data)
    page = warning.content.decode()
    assert warning.status_code == 200
    assert (
        "$ 130.000 is more than order ODS-000001 owes: $ 119.000 pays the order and "
        "$ 11.000 will be kept as the customer&#x27;s credit." in page
    )
    assert re.search(r'<input type="hidden" name="confirmed_excess" value="11000.00"', page)
    assert 'value="Register it and keep $ 11.000 as credit"' in page
    nothing_written(order)
    # Confirmed: the same form with the excess the warning showed.
    done = client.post(url, {**data, "confirmed_excess": "11000.00"}, follow=True)
    [message] = [str(m) for m in done.context["messages"]]
    assert "$ 11.000 was kept as the customer's credit (credit available now: $ 11.000)" in (
        message
    )
    order.refresh_from_db()
    assert order.state == OrderState.PAID
    assert selectors.credit_available(alice) == Decimal("11000.00")
    history = client.get(reverse("admin:billing_order_change", args=[order.pk])).content.decode()
    assert "$ 11.000 of the payment kept as the customer&#x27;s credit" in history


def test_a_billing_run_started_from_the_back_office_is_audited_with_who_started_it(client, carol):
    client.force_login(carol)
    client.post(reverse("admin:billing_billingrun_run_now"), {"dry_run": "1"})
    [event] = AuditEvent.objects.filter(action="billing.run_requested")
    assert event.actor == carol
    assert event.changes == {"dry_run": True, "triggered_by": "staff:carol@conexcol.example"}


def test_staff_read_the_paid_services_by_their_names_in_the_orders_history(alice, carol):
    """The history said "servicios 12 activados o renovados": an id in the middle of a sentence."""
    from clientarea.payments.tests.helpers import make_renewal_order

    order, service = make_renewal_order(alice)
    service.label = "tiendaandina.com.co"
    service.save(update_fields=["label"])
    register_manual_payment(
        details=ManualPaymentDetails(order=order, reference="TRX-9"), actor=carol
    )
    event = OrderEvent.objects.get(order=order, kind="paid")
    with translation.override("es"):
        details = selectors.event_details_for_staff(event)
    assert f"servicios activados o renovados: tiendaandina.com.co (#{service.pk})" in details


@pytest.mark.parametrize(
    ("language", "help_words"),
    [
        ("es-co", "en día/mes/año y hora de 24 horas, p. ej. 04/12/2026 09:30"),
        ("en", "day/month/year and 24-hour time, e.g. 04/12/2026 09:30"),
    ],
)
def test_the_payment_date_is_typed_day_first_in_either_language(
    client, order, carol, language, help_words
):
    """The date box is text in the page's format, not the browser's: "04/02/2026" is 4 February
    on a Spanish page and on an English one (an English browser's date box read it as 2 April)."""
    client.cookies["django_language"] = language
    client.force_login(carol)
    url = reverse("admin:billing_order_pay", args=[order.pk])
    form = client.get(url).content.decode()
    assert re.search(r'<input type="text" name="paid_at" value="\d\d/\d\d/\d{4} \d\d:\d\d"', form)
    assert help_words in form
    client.post(url, {"reference": "Bancolombia 4402", "paid_at": "04/02/2026 09:30",
                      "method": "transfer"})  # fmt: skip
    order.refresh_from_db()
    assert order.state == OrderState.PAID
    assert order.paid_at == aware(2026, 2, 4, 9) + dt.timedelta(minutes=30)
