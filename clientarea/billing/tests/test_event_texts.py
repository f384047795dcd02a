"""An order's history says why it was issued or cancelled in the reader's language, whatever the
language of the process that recorded it (the worker, the billing run, a customer's request):
the event stores a code and its values, and its English sentence for logs and older readers.
What a person typed is shown as typed; events recorded before the codes keep their sentence."""

from __future__ import annotations

import datetime as dt
from html import unescape

import pytest
from django.urls import reverse
from django.utils import translation

from clientarea.billing import services
from clientarea.billing.models import OrderEvent, OrderEventKind, OrderState
from clientarea.billing.tests.test_billing_run import run, world
from clientarea.catalog.models import BillingCycle
from clientarea.test import make_staff

pytestmark = pytest.mark.django_db
__all__ = ["world"]  # a fixture


def admin_page(client, order, language: str) -> str:
    client.cookies["django_language"] = language
    url = reverse("admin:billing_order_change", args=[order.pk])
    return unescape(client.get(url).content.decode())


def test_the_billing_runs_cancellation_and_the_new_order_read_in_the_readers_language(
    client, world
):
    """The billing run (its worker in Spanish) cancels an unpaid new-service order: staff read
    why in English or Spanish, and so does the customer on the order's page."""
    with translation.override("es"):  # the worker's language
        order = services.order_new_service(
            customer=world.alice, product=world.hosting, cycle=BillingCycle.MONTHLY, label="a.co"
        )
        run(order.issue_date + dt.timedelta(days=7))
    order.refresh_from_db()
    assert order.state == OrderState.CANCELLED
    event = OrderEvent.objects.get(order=order, kind=OrderEventKind.CANCELLED)
    assert event.message == "Not paid 7 days after issue"  # logs and searches
    client.force_login(make_staff())
    english, spanish = admin_page(client, order, "en"), admin_page(client, order, "es")
    assert "Not paid 7 days after issue" in english and "new service" in english
    assert "Sin pago 7 días después de la emisión" in spanish and "servicio nuevo" in spanish
    client.force_login(world.alice.user)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("billing:order", kwargs={"number": order.number})).content.decode()
    assert "Not paid 7 days after issue" in unescape(page)


def test_reminders_in_words_and_older_events_as_they_were_stored(client, world):
    order = services.order_new_service(
        customer=world.alice, product=world.hosting, cycle=BillingCycle.MONTHLY, label="b.co"
    )
    OrderEvent.objects.create(order=order, kind=OrderEventKind.REMINDER, message="overdue-2")
    OrderEvent.objects.filter(order=order, kind=OrderEventKind.CREATED).update(
        message="renewal (billing run)", data={}
    )  # recorded before the codes
    client.force_login(make_staff())
    page = admin_page(client, order, "es")
    assert "aviso de mora 2" in page and "overdue-2" not in page
    assert "renewal (billing run)" in page


def test_every_code_has_words_in_both_languages():
    from clientarea.billing.event_texts import MESSAGES, EventText

    values = {"days": 5, "n": "ODS-000001", "number": "ND1"}
    for code in MESSAGES:
        with translation.override("es"):
            spanish = EventText(code, values).text()
        english = EventText(code, values).english()
        assert spanish and english and spanish != english, code
