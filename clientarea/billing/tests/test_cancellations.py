"""Cancellation requests: at the end of the period or now, withdrawn, completed by the billing run."""

from __future__ import annotations

import datetime as dt
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from clientarea.accounts.models import AuditEvent
from clientarea.billing import cancellations
from clientarea.billing.automation import run_billing
from clientarea.billing.models import Order, OrderState
from clientarea.billing.tests import make_active_service, make_product, make_renewal_order
from clientarea.lib.dates import local_today
from clientarea.notifications.models import OutgoingEmail
from clientarea.subscriptions import services as subscription_services
from clientarea.subscriptions.models import (
    CancellationReason,
    CancellationRequest,
    CancellationStatus,
    CancellationWhen,
    ServiceStatus,
)
from clientarea.test import make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana():
    make_provider()
    return make_customer("ana@example.com")


def _service(customer, code="hosting-pyme", label="ana.co"):
    # Started 20 days ago, monthly: due in about 10 days, inside the 15-day renewal window.
    return make_active_service(
        customer, make_product(code), label=label, start=local_today() - dt.timedelta(days=20)
    )


def _request(service, when=CancellationWhen.END_OF_PERIOD):
    return cancellations.request_cancellation(
        service=service,
        when=when,
        reason=CancellationReason.TOO_EXPENSIVE,
        comment="  Found a cheaper plan  ",
        actor=service.customer.user,
    )


def test_end_of_period_stops_renewals_and_cancels_the_pending_renewal(ana):
    service = _service(ana)
    renewal = make_renewal_order(service, issue_date=local_today())
    request = _request(service)
    assert request.status == CancellationStatus.PENDING
    assert request.effective_date == service.next_due_date
    assert request.comment == "Found a cheaper plan"
    renewal.refresh_from_db()
    assert renewal.state == OrderState.CANCELLED
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE  # it keeps working until the period ends
    run_billing(run_date=local_today())
    assert not Order.objects.filter(state=OrderState.PENDING, items__service=service).exists()
    assert OutgoingEmail.objects.filter(template="cancellation_requested").count() == 1
    assert AuditEvent.objects.filter(action="service.cancellation_requested").exists()


def test_withdrawing_lets_the_next_run_bill_the_service_again(ana):
    service = _service(ana)
    request = _request(service)
    cancellations.withdraw_cancellation(request=request, actor=ana.user)
    request.refresh_from_db()
    assert request.status == CancellationStatus.WITHDRAWN
    run_billing(run_date=local_today())
    assert Order.objects.filter(state=OrderState.PENDING, items__service=service).count() == 1
    assert OutgoingEmail.objects.filter(template="cancellation_withdrawn").count() == 1
    with pytest.raises(cancellations.CancellationError):
        cancellations.withdraw_cancellation(request=request, actor=ana.user)


def test_the_billing_run_ends_the_service_on_the_effective_date(ana):
    service = _service(ana)
    request = _request(service)
    run = run_billing(run_date=request.effective_date)
    service.refresh_from_db()
    request.refresh_from_db()
    assert service.status == ServiceStatus.TERMINATED
    assert request.status == CancellationStatus.DONE
    assert run.counts["cancellations_done"] == 1
    assert OutgoingEmail.objects.filter(template="cancellation_done").count() == 1


def test_now_ends_the_service_at_once(ana):
    service = _service(ana)
    request = _request(service, when=CancellationWhen.IMMEDIATE)
    service.refresh_from_db()
    assert request.status == CancellationStatus.DONE
    assert request.effective_date == local_today()
    assert service.status == ServiceStatus.TERMINATED


def test_an_order_that_also_bills_other_services_is_issued_again_without_it(ana):
    leaving = _service(ana, "hosting-pyme", "leaving.co")
    staying = _service(ana, "vps-basic", "staying.co")
    from clientarea.billing import services as billing

    lines = [
        billing.LineSpec(
            kind="renewal",
            description=str(s),
            unit_price=s.price,
            service=s,
            period_start=s.next_due_date,
        )
        for s in (leaving, staying)
    ]
    both = billing.create_order(customer=ana, lines=lines, notify=False)
    _request(leaving)
    both.refresh_from_db()
    assert both.state == OrderState.CANCELLED
    reissued = Order.objects.get(state=OrderState.PENDING, customer=ana)
    assert [item.service_id for item in reissued.items.all()] == [staying.pk]
    assert reissued.due_date == both.due_date
    assert reissued.total == staying.price + reissued.items.get().tax_amount


def test_a_service_cannot_be_cancelled_twice_or_after_it_ended(ana):
    service = _service(ana)
    _request(service)
    with pytest.raises(cancellations.CancellationError):
        _request(service)
    assert CancellationRequest.objects.count() == 1
    other = _service(ana, "vps-basic", "other.co")
    _request(other, when=CancellationWhen.IMMEDIATE)
    with pytest.raises(cancellations.CancellationError):
        _request(other)


def test_withdrawing_on_the_effective_day_is_refused(ana):
    service = _service(ana)
    request = _request(service)
    CancellationRequest.objects.filter(pk=request.pk).update(effective_date=local_today())
    with pytest.raises(cancellations.CancellationError):
        cancellations.withdraw_cancellation(request=request, actor=ana.user)


# --- The pages -------------------------------------------------------------------------------


def test_the_customer_requests_and_withdraws_from_the_service_page(client, ana):
    service = _service(ana)
    client.force_login(ana.user)
    detail = reverse("subscriptions:detail", args=[service.pk])
    assert 'id="request-cancellation"' in client.get(detail).content.decode()
    url = reverse("subscriptions:cancel", args=[service.pk])
    missing = client.post(url, {"when": "end_of_period"})
    assert missing.status_code == 200 and missing.context["form"].errors.keys() == {
        "reason",
        "confirm",
    }
    done = client.post(
        url, {"when": "end_of_period", "reason": "moving", "comment": "", "confirm": "on"}
    )
    assert done.status_code == 302
    page = client.get(detail).content.decode()
    assert 'id="cancellation-pending"' in page and 'id="request-cancellation"' not in page
    client.post(reverse("subscriptions:withdraw_cancellation", args=[service.pk]))
    assert CancellationRequest.objects.get().status == CancellationStatus.WITHDRAWN


def test_another_customers_service_is_not_found(client, ana):
    service = _service(ana)
    bob = make_customer("bob@example.com", document_number="99887766")
    client.force_login(bob.user)
    url = reverse("subscriptions:cancel", args=[service.pk])
    assert client.get(url).status_code == 404
    assert (
        client.post(url, {"when": "immediate", "reason": "moving", "confirm": "on"}).status_code
        == 404
    )
    assert not CancellationRequest.objects.exists()


def test_staff_see_the_queue(admin_client, ana):
    _request(_service(ana))
    page = admin_client.get("/admin/subscriptions/cancellationrequest/?status=pending")
    assert page.status_code == 200
    assert "ana.co" in page.content.decode()
    request = CancellationRequest.objects.get()
    page = admin_client.get(f"/admin/subscriptions/cancellationrequest/{request.pk}/change/")
    html = page.content.decode()  # read-only: a view, without Save
    assert 'name="_save"' not in html and "<h1>Ver solicitud de cancelación</h1>" in html


def _history(client, url: str, language: str) -> str:
    client.cookies["django_language"] = language
    response = client.get(url)
    assert response.status_code == 200
    return unescape(response.content.decode())


def test_a_reason_reads_in_each_readers_language_and_the_comment_as_the_customers_words(
    client, ana
):
    """A customer cancels now from the service page, in Spanish, with a reason from the list and
    a comment: the history reads the reason in the reader's language (English here), and the
    comment as typed, said to be the customer's words; staff see both in the back office."""
    service = _service(ana)
    client.force_login(ana.user)
    client.cookies["django_language"] = "es"
    comment = "Encontramos un plan más barato, gracias por todo."
    response = client.post(
        reverse("subscriptions:cancel", args=[service.pk]),
        {"when": "immediate", "reason": "too_expensive", "comment": comment, "confirm": "on"},
    )
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.status == ServiceStatus.TERMINATED
    event = service.events.get(kind="terminated")
    assert (event.reason_code, event.reason_values) == (
        "customer_cancellation_comment",
        {"why": "too_expensive", "comment": comment},
    )

    detail = reverse("subscriptions:detail", args=[service.pk])
    english = _history(client, detail, "en")
    assert (
        "Cancelled at the customer's request (It is too expensive). "
        f"In the customer's words: “{comment}”"
    ) in english
    spanish = _history(client, detail, "es")
    assert "It is too expensive" not in spanish and f"“{comment}”" in spanish
    assert f"(Es muy costoso). En palabras del cliente: “{comment}”" in spanish

    staff = make_staff()
    client.force_login(staff)
    page = _history(client, reverse("admin:subscriptions_service_change", args=[service.pk]), "en")
    assert "(It is too expensive). In the customer's words: “Encontramos" in page
    queue = _history(client, "/admin/subscriptions/cancellationrequest/", "en")
    assert "It is too expensive" in queue and comment in queue


def test_without_a_comment_the_history_says_only_the_reason(client, ana):
    service = _service(ana)
    cancellations.request_cancellation(
        service=service,
        when=CancellationWhen.IMMEDIATE,
        reason=CancellationReason.MOVING,
        actor=ana.user,
    )
    event = service.events.get(kind="terminated")
    assert event.reason_code == "customer_cancellation"
    assert event.reason == "Cancelled at the customer's request (I am moving to another provider)"


def test_a_service_being_cancelled_does_not_promise_a_renewal_order(client, ana):
    # The service page said "Its renewal order will appear here and in Billing." under a
    # cancellation request for the end of the period: that service is not renewed.
    service = _service(ana)
    client.cookies["django_language"] = "en"
    client.force_login(ana.user)
    detail = reverse("subscriptions:detail", args=[service.pk])
    promise = "Its renewal order will appear here and in Billing."
    assert promise in unescape(client.get(detail).content.decode())
    _request(service)
    page = unescape(client.get(detail).content.decode())
    assert "No service orders have billed this service yet." in page
    assert promise not in page


@pytest.mark.parametrize("when", [CancellationWhen.END_OF_PERIOD, CancellationWhen.IMMEDIATE])
def test_a_suspended_service_cancelled_keeps_the_real_time_and_reason_in_its_history(
    client, ana, when
):
    """An overdue, suspended service: whatever the customer chose, nothing is left of its paid
    period, so it ends at once. Its history records the termination at the moment it happened,
    after the suspension, with the reason; the staff queue says it ended at once, not "Now"."""
    service = make_active_service(
        ana, make_product("hosting-pyme"), label="ana.co", start=local_today() - dt.timedelta(40)
    )
    subscription_services.suspend_service(service=service, reason="overdue")
    before = timezone.now()
    request = _request(service, when=when)
    service.refresh_from_db()
    assert service.status == ServiceStatus.TERMINATED
    assert (request.status, request.when) == ("done", CancellationWhen.IMMEDIATE)
    assert request.effective_date == local_today()
    ended = service.events.get(kind="terminated")
    assert (ended.from_status, ended.to_status) == ("suspended", "terminated")
    assert before <= ended.created_at <= timezone.now()
    assert ended.reason_code == "customer_cancellation_comment"
    assert ended.reason_values == {"why": "too_expensive", "comment": "Found a cheaper plan"}

    client.force_login(ana.user)
    page = _history(client, reverse("subscriptions:detail", args=[service.pk]), "es")
    rows = page.split('class="table history"')[1].split("<tr>")
    first = rows[2]  # newest first: the termination, then the suspension
    moment = timezone.localtime(ended.created_at)
    assert f'datetime="{moment.isoformat()}"' in first
    assert "Dado de baja" in first and "Ahora" not in first
    assert "(Es muy costoso). En palabras del cliente: “Found a cheaper plan”" in first
    assert "Suspendido" in rows[3]

    client.force_login(make_staff())
    queue = _history(client, "/admin/subscriptions/cancellationrequest/", "es")
    assert "De inmediato, al solicitarla" in queue and ">Ahora<" not in queue
    detail = _history(
        client, f"/admin/subscriptions/cancellationrequest/{request.pk}/change/", "es"
    )
    assert "De inmediato, al solicitarla" in detail and ">Ahora<" not in detail


def test_the_cancel_form_of_an_overdue_suspended_service_says_it_ends_at_once(client, ana):
    """Suspended for non-payment, its paid period is over: cancelling ends it at once (above).
    The form said "Paid until … keeps working until then" and offered the end of the period;
    it now says what happens: it ends when sent, its unpaid order is cancelled, and no choice."""
    service = make_active_service(
        ana, make_product("hosting-pyme"), label="ana.co", start=local_today() - dt.timedelta(40)
    )
    renewal = make_renewal_order(service, issue_date=local_today() - dt.timedelta(15))
    subscription_services.suspend_service(service=service, reason="overdue")
    client.force_login(ana.user)
    url = reverse("subscriptions:cancel", args=[service.pk])
    ended = service.next_due_date
    assert ended is not None and ended < local_today()

    english = _history(client, url, "en")
    assert "Paid until" not in english and "keeps working until then" not in english
    assert 'name="when"' not in english
    assert (
        f"Its paid period ended on {ended.day} {ended:%B} {ended.year}, so the service ends as "
        "soon as you send this request"
    ) in english
    assert "you owe nothing for this service" in english
    assert "end as soon as I send this request" in english

    spanish = _history(client, url, "es")
    assert "Pagado hasta" not in spanish and 'name="when"' not in spanish
    assert "el servicio termina apenas envíe esta solicitud" in spanish
    assert "no debe nada por este servicio" in spanish

    response = client.post(url, {"reason": "too_expensive", "confirm": "on"})
    assert response.status_code == 302
    service.refresh_from_db()
    renewal.refresh_from_db()
    assert service.status == ServiceStatus.TERMINATED
    assert renewal.state == OrderState.CANCELLED
    assert CancellationRequest.objects.get().when == CancellationWhen.IMMEDIATE


def test_a_service_suspended_inside_its_paid_period_still_offers_the_end_of_it(client, ana):
    """Suspended by staff while paid ahead: the end of the period is still a real choice."""
    service = _service(ana)
    subscription_services.suspend_service(service=service, reason="manual")
    client.force_login(ana.user)
    page = _history(client, reverse("subscriptions:cancel", args=[service.pk]), "en")
    assert "Paid until" in page and 'name="when"' in page
    assert 'id="ends-at-once"' not in page
