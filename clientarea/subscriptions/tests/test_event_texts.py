"""A service's history says why it changed in the reader's language, whatever the language of the
process that recorded it (the billing run, the worker, staff, the paid path): the row stores a
code and its values, and its English sentence for logs and older readers. What a person typed is
shown as typed; rows recorded before the codes keep their sentence (those that held one of the
old internal codes get it as their code)."""

from __future__ import annotations

import datetime as dt
from html import unescape

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import translation

from clientarea.billing import services as billing
from clientarea.billing.tests.test_billing_run import D, make_service, renew_and_get_order, run
from clientarea.billing.tests.test_billing_run import world as world  # a fixture
from clientarea.catalog.models import BillingCycle
from clientarea.subscriptions import selectors, services
from clientarea.subscriptions.event_texts import MESSAGES, ServiceText
from clientarea.subscriptions.models import Service, ServiceEvent, ServiceStatus, SuspensionReason
from clientarea.test import make_staff

pytestmark = pytest.mark.django_db


def back_office(client, service, language: str) -> str:
    client.cookies["django_language"] = language
    url = reverse("admin:subscriptions_service_change", args=[service.pk])
    response = client.get(url)
    assert response.status_code == 200
    return unescape(response.content.decode())


def portal(client, service, language: str) -> str:
    client.cookies["django_language"] = language
    response = client.get(reverse("subscriptions:detail", args=[service.pk]))
    assert response.status_code == 200
    return unescape(response.content.decode())


def test_a_service_suspended_and_terminated_in_english_reads_in_spanish(client, world):
    """The billing run, in English, suspends and then terminates an unpaid service: staff and the
    customer reading in Spanish get Spanish, readers in English get English."""
    with translation.override("en"):
        service = make_service(world.bob, world.hosting, due=D)
        order = renew_and_get_order(service, D - dt.timedelta(days=15))
        run(D + dt.timedelta(days=5))
        run(D + dt.timedelta(days=30))
    service.refresh_from_db()
    assert service.status == ServiceStatus.TERMINATED
    suspended = service.events.get(kind="suspended")
    assert suspended.reason == f"Order {order.number} not paid 5 days after due"  # logs
    spanish_suspension = f"Orden {order.number} sin pago 5 días después del vencimiento"
    spanish_termination = f"Sin pago 30 días después del vencimiento ({order.number})"

    client.force_login(make_staff())
    page = back_office(client, service, "es")
    assert spanish_suspension in page and spanish_termination in page
    assert "not paid 5 days" not in page and "Not paid 30 days" not in page
    page = back_office(client, service, "en")
    assert f"Order {order.number} not paid 5 days after due" in page
    assert f"Not paid 30 days after due ({order.number})" in page

    client.force_login(world.bob.user)
    page = portal(client, service, "es")
    assert spanish_suspension in page and spanish_termination in page
    assert "not paid 5 days" not in page


def test_a_service_cancelled_in_spanish_reads_in_english(client, world):
    """A new-service order cancelled by the billing run in Spanish cancels its pending service:
    the service's history holds the order's own reason (billing's code) nested, and an English
    reader reads both in English. A staff suspension from the list reads in each language too."""
    with translation.override("es"):
        order = billing.order_new_service(
            customer=world.alice, product=world.hosting, cycle=BillingCycle.MONTHLY, label="a.co"
        )
        run(order.issue_date + dt.timedelta(days=7))
    service = Service.objects.get(order_items__order=order)
    assert service.status == ServiceStatus.CANCELLED
    cancelled = service.events.get(kind="cancelled")
    assert cancelled.reason_code == "order_cancelled"
    assert cancelled.reason == f"Order {order.number} cancelled: Not paid 7 days after issue"

    client.force_login(make_staff())
    page = back_office(client, service, "en")
    assert f"Order {order.number} cancelled: Not paid 7 days after issue" in page
    assert "Sin pago" not in page and "anulada" not in page
    page = back_office(client, service, "es")
    assert f"Orden {order.number} anulada: Sin pago 7 días después de la emisión" in page

    client.force_login(world.alice.user)
    page = portal(client, service, "en")
    assert f"Order {order.number} cancelled: Not paid 7 days after issue" in page


def test_staff_actions_and_what_staff_typed(client, world):
    """The list's actions store a code (in words for each reader); a typed reason is shown as
    typed; a plan change names the cycles in the reader's words."""
    staff = make_staff()
    client.force_login(staff)
    with translation.override("es"):
        service = make_service(world.alice, world.hosting, due=D)
        client.cookies["django_language"] = "es"
        client.post(
            reverse("admin:subscriptions_service_changelist"),
            {"action": "suspend_services", "_selected_action": [service.pk]},
        )
        service.refresh_from_db()
        services.unsuspend_service(service=service, actor=staff, reason="llamó a soporte")
        services.record_event(
            service,
            kind="plan_changed",
            reason=ServiceText(
                "plan_changed",
                {
                    "old_plan": "Hosting Pyme",
                    "old_cycle": BillingCycle.MONTHLY,
                    "new_plan": "Hosting Pro",
                    "new_cycle": BillingCycle.ANNUAL,
                },
            ),
        )
    assert service.events.get(kind="suspended").reason_code == "staff"
    page = back_office(client, service, "en")
    assert "by our support team" in page and "llamó a soporte" in page
    assert "Hosting Pyme (Monthly) → Hosting Pro (Annual)" in page
    page = back_office(client, service, "es")
    assert "por nuestro equipo de soporte" in page and "llamó a soporte" in page
    assert "Hosting Pyme (Mensual) → Hosting Pro (Anual)" in page


def test_a_change_names_the_current_product_in_the_readers_language(client, world):
    """A plan or billing-cycle change keeps the products' names as saved (Spanish): the one that
    is the service's product now reads in English for an English reader (its English name); a
    product it no longer is stays as saved."""
    world.hosting.name_en = "SME Hosting"
    world.hosting.save(update_fields=["name_en"])
    with translation.override("es"):
        service = make_service(world.alice, world.hosting, due=D)
        services.record_event(
            service,
            kind="plan_changed",
            reason=ServiceText(
                "plan_changed",
                {
                    "old_plan": "Hosting Básico",
                    "old_cycle": BillingCycle.MONTHLY,
                    "new_plan": "Hosting Pyme",
                    "new_cycle": BillingCycle.MONTHLY,
                },
            ),
        )
        services.record_event(
            service,
            kind="cycle_changed",
            reason=ServiceText(
                "cycle_changed",
                {
                    "plan": "Hosting Pyme",
                    "old_cycle": BillingCycle.MONTHLY,
                    "new_cycle": BillingCycle.ANNUAL,
                },
            ),
        )
    client.force_login(make_staff())
    page = back_office(client, service, "en")
    assert "Hosting Básico (Monthly) → SME Hosting (Monthly)" in page
    assert "SME Hosting: billing cycle Monthly → Annual" in page
    page = back_office(client, service, "es")
    assert "Hosting Básico (Mensual) → Hosting Pyme (Mensual)" in page
    client.force_login(world.alice.user)
    assert "SME Hosting: billing cycle Monthly → Annual" in portal(client, service, "en")


def test_rows_recorded_before_the_codes(client, world):
    """Rows that held an internal code get it as their code (the data migration), and read in
    each language; sentences written before stay as they were written."""
    service = make_service(world.alice, world.hosting, due=D)
    services.suspend_service(service=service, reason=SuspensionReason.MANUAL)
    ServiceEvent.objects.filter(service=service).update(reason_code="", reason_values={})
    ServiceEvent.objects.filter(service=service, kind="suspended").update(reason="manual")
    old = ServiceEvent.objects.create(
        service=service, kind="terminated", reason="Orden ODS-000009 anulada: por mora"
    )
    migration = __import__(
        "clientarea.subscriptions.migrations.0009_service_event_reason_code",
        fromlist=["codes_forward"],
    )
    migration.codes_forward(apps, None)

    suspended = service.events.get(kind="suspended")
    assert (suspended.reason_code, suspended.reason) == ("manual", "by our support team")
    old.refresh_from_db()
    assert (old.reason_code, old.reason) == ("", "Orden ODS-000009 anulada: por mora")
    with translation.override("es"):
        assert selectors.event_reason(suspended) == "por nuestro equipo de soporte"
        assert selectors.event_reason(old) == "Orden ODS-000009 anulada: por mora"
    with translation.override("en"):
        assert selectors.event_reason(old) == "Orden ODS-000009 anulada: por mora"
    # A code this version no longer knows: the stored sentence.
    ServiceEvent.objects.filter(pk=old.pk).update(reason_code="gone")
    old.refresh_from_db()
    assert selectors.event_reason(old) == "Orden ODS-000009 anulada: por mora"


def test_every_code_has_words_in_both_languages():
    values = {
        "number": "ODS-000001",
        "days": 5,
        "reason": "a typed reason",
        "why": "too_expensive",
        "amount": "$ 10.000,00",
        "old_plan": "A",
        "old_cycle": "monthly",
        "new_plan": "B",
        "new_cycle": "annual",
        "plan": "A",
        "comment": "typed by the customer",
        "cause": "customer_request",
        "note": "typed by staff",
    }
    for code in MESSAGES:
        with translation.override("es"):
            spanish = ServiceText(code, values).text()
        english = ServiceText(code, values).english()
        assert spanish and english and spanish != english, code
    with pytest.raises(ValueError):
        ServiceText("no such code")
