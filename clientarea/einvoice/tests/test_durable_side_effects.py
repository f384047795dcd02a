"""Issue 11.3: a crash loses no side effect of a payment.

The paid transaction writes a durable record of every side effect (the issued
invoice, the email log rows, the provisioning outbox rows); the after-commit jobs
are only the fast path. These tests kill the process at the worst moments, between
commit and the jobs, and in the middle of a job, and check that the worker's sweeps
complete every invoice, email and provisioning event exactly once.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any, ClassVar

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from clientarea.billing import services as billing
from clientarea.einvoice import delivery
from clientarea.einvoice import services as einvoice_services
from clientarea.einvoice.models import Invoice, TransmissionAttempt
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution, pay, setup  # noqa: F401
from clientarea.einvoice.transmission import StoreOnlyTransmitter, TransmissionResult
from clientarea.notifications import delivery as email_delivery
from clientarea.notifications import services as email_services
from clientarea.notifications.models import EmailStatus, OutgoingEmail
from clientarea.subscriptions import provisioning
from clientarea.subscriptions import services as subscription_services
from clientarea.subscriptions.models import DeliveryStatus, ProvisioningDelivery
from clientarea.test import make_customer, make_staff

pytestmark = pytest.mark.django_db


class Killed(BaseException):
    """The process dies here: nothing after this line runs, no handler catches it."""


class RecordingProvisioner(provisioning.Provisioner):
    code = "recording"
    sent: ClassVar[list[dict[str, Any]]] = []

    def send(self, event: dict[str, Any]) -> None:
        RecordingProvisioner.sent.append(event)


RECORDING = f"{__name__}.RecordingProvisioner"


@pytest.fixture(autouse=True)
def recording_provisioner(settings):
    settings.PROVISIONERS = [RECORDING]
    RecordingProvisioner.sent = []


def paid_orders(hosting, django_capture_on_commit_callbacks, count: int):
    """Pay ``count`` new-service orders; the process dies right after each commit."""
    make_resolution()
    orders = []
    for i in range(count):
        customer = make_customer(document_number=f"10172345{i:02d}")
        order = billing.order_new_service(
            customer=customer, product=hosting, cycle="annual", label=f"c{i}.co"
        )
        with django_capture_on_commit_callbacks(execute=False):  # the jobs are never enqueued
            pay(order)
        orders.append(order)
    return orders


def sweep_everything(django_capture_on_commit_callbacks) -> None:
    """What the worker's periodic tasks do; their own after-commit jobs are lost too."""
    with django_capture_on_commit_callbacks(execute=False):
        delivery.process_pending_invoices()
        email_delivery.deliver_due_emails()
        provisioning.deliver_due_provisioning_events()


def assert_each_side_effect_happened_once(orders, mailoutbox) -> None:
    invoices = Invoice.objects.filter(order__in=orders)
    assert invoices.count() == len(orders)
    for invoice in invoices:
        assert invoice.rendered_at and invoice.emailed_at and invoice.transmitted_at
        assert invoice.lease_until is None
        assert TransmissionAttempt.objects.filter(invoice=invoice).count() == 1
        emails = OutgoingEmail.objects.filter(template="invoice_issued", customer=invoice.customer)
        assert [e.status for e in emails] == [EmailStatus.SENT]
        paid = OutgoingEmail.objects.filter(template="order_paid", customer=invoice.customer)
        assert [e.status for e in paid] == [EmailStatus.SENT]
    subjects = [m.subject for m in mailoutbox]
    for invoice in invoices:
        assert sum(invoice.full_number in s for s in subjects) == 1
    assert len(mailoutbox) == len(set(OutgoingEmail.objects.values_list("pk", flat=True)))
    orders_told = sorted(event["order"] for event in RecordingProvisioner.sent)
    assert orders_told == sorted(o.number for o in orders)
    assert set(ProvisioningDelivery.objects.values_list("status", flat=True)) == {
        DeliveryStatus.SENT
    }


def test_a_crash_between_commit_and_the_after_commit_jobs_loses_nothing(
    setup,  # noqa: F811
    django_capture_on_commit_callbacks,
    mailoutbox,
):
    hosting, _ = setup
    orders = paid_orders(hosting, django_capture_on_commit_callbacks, 4)
    # The payments are applied, and their side effects are recorded but not done.
    assert not Invoice.objects.exclude(rendered_at=None).exists()
    assert mailoutbox == [] and RecordingProvisioner.sent == []
    assert ProvisioningDelivery.objects.filter(status=DeliveryStatus.PENDING).count() == 4

    sweep_everything(django_capture_on_commit_callbacks)
    assert_each_side_effect_happened_once(orders, mailoutbox)
    # Sweeping again (another worker, the next minute) does nothing more.
    sweep_everything(django_capture_on_commit_callbacks)
    sweep_everything(django_capture_on_commit_callbacks)
    assert_each_side_effect_happened_once(orders, mailoutbox)


def expire_leases() -> None:
    past = timezone.now() - dt.timedelta(seconds=1)
    Invoice.objects.exclude(lease_until=None).update(lease_until=past)
    OutgoingEmail.objects.filter(status=EmailStatus.SENDING).update(next_attempt_at=past)
    ProvisioningDelivery.objects.filter(status=DeliveryStatus.SENDING).update(next_attempt_at=past)


def test_workers_killed_mid_job_leave_leases_that_the_sweep_takes_over(
    setup,  # noqa: F811
    django_capture_on_commit_callbacks,
    mailoutbox,
    monkeypatch,
):
    hosting, _ = setup
    orders = paid_orders(hosting, django_capture_on_commit_callbacks, 3)
    first, second, third = Invoice.objects.filter(order__in=orders).order_by("id")

    def killed(*args, **kwargs):
        raise Killed

    # Worker 1 dies while transmitting the first invoice (already rendered and its email queued).
    with monkeypatch.context() as m:
        m.setattr(StoreOnlyTransmitter, "transmit", killed)
        with pytest.raises(Killed), django_capture_on_commit_callbacks(execute=False):
            delivery.render_and_send_invoice(invoice_id=first.pk)
    # Worker 2 dies while rendering the second one.
    with monkeypatch.context() as m:
        m.setattr(delivery.pdf, "render_invoice_pdf", killed)
        with pytest.raises(Killed):
            delivery.render_and_send_invoice(invoice_id=second.pk)
    # Worker 3 dies while handing an email to the mail server.
    email = OutgoingEmail.objects.filter(template="order_paid").order_by("id").first()
    assert email is not None
    with monkeypatch.context() as m:
        m.setattr("django.core.mail.EmailMultiAlternatives.send", killed)
        with pytest.raises(Killed):
            email_delivery.deliver_email(email_id=email.pk)
    # Worker 4 dies while calling the provisioning panel.
    row = ProvisioningDelivery.objects.order_by("id").first()
    assert row is not None
    with monkeypatch.context() as m:
        m.setattr(RecordingProvisioner, "send", killed)
        with pytest.raises(Killed):
            provisioning.deliver_provisioning_event(delivery_id=row.pk)

    # While the leases are live, nobody else touches that work (the worker may still be alive).
    sweep_everything(django_capture_on_commit_callbacks)
    for invoice in (first, second):
        invoice.refresh_from_db()
        assert invoice.lease_until and not invoice.transmitted_at
    assert OutgoingEmail.objects.get(pk=email.pk).status == EmailStatus.SENDING
    assert ProvisioningDelivery.objects.get(pk=row.pk).status == DeliveryStatus.SENDING
    third.refresh_from_db()
    assert third.transmitted_at  # unclaimed work is done at once

    # Once they expire, the sweep finishes everything, once.
    expire_leases()
    sweep_everything(django_capture_on_commit_callbacks)
    sweep_everything(django_capture_on_commit_callbacks)
    assert_each_side_effect_happened_once(orders, mailoutbox)
    assert OutgoingEmail.objects.get(pk=email.pk).attempts == 2


def test_an_email_whose_worker_died_on_its_last_attempt_is_reported_failed(
    settings, mailoutbox, monkeypatch
):
    settings.EMAIL_MAX_ATTEMPTS = 1
    customer = make_customer()
    email = OutgoingEmail.objects.create(
        customer=customer, to_email="a@b.example", subject="s", template="t", language="es",
        body_text="x",
    )  # fmt: skip
    assert email_delivery.claim_email(email_id=email.pk)  # and the worker dies
    expire_leases()
    assert email_delivery.deliver_due_emails() == 0
    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED and "lease expired" in email.last_error
    assert mailoutbox == []


def test_a_failing_panel_is_retried_and_a_permanent_refusal_is_not(
    django_capture_on_commit_callbacks, monkeypatch
):
    calls = []

    def flaky(self, event):
        calls.append(event)
        if len(calls) == 1:
            raise provisioning.ProvisioningError("HTTP 503")
        if len(calls) == 3:
            raise provisioning.ProvisioningError("HTTP 400", permanent=True)

    monkeypatch.setattr(RecordingProvisioner, "send", flaky)
    notify_services_changed = subscription_services.notify_services_changed
    with django_capture_on_commit_callbacks(execute=True):
        notify_services_changed(service_ids=[], event="services.changed", order_number="ODS-1")
    row = ProvisioningDelivery.objects.get()
    assert row.status == DeliveryStatus.PENDING and "503" in row.last_error
    assert provisioning.deliver_due_provisioning_events() == 0  # not due yet (backoff)
    ProvisioningDelivery.objects.update(next_attempt_at=timezone.now())
    assert provisioning.deliver_due_provisioning_events() == 1
    row.refresh_from_db()
    assert row.status == DeliveryStatus.SENT and row.attempts == 2

    with django_capture_on_commit_callbacks(execute=True):
        notify_services_changed(service_ids=[], event="services.changed")
    refused = ProvisioningDelivery.objects.exclude(pk=row.pk).get()
    assert refused.status == DeliveryStatus.FAILED and refused.attempts == 1
    ProvisioningDelivery.objects.update(next_attempt_at=timezone.now())
    assert provisioning.deliver_due_provisioning_events() == 0 and len(calls) == 3


def test_staff_resend_renders_an_invoice_whose_rendering_never_ran(
    setup,  # noqa: F811
    client,
    django_capture_on_commit_callbacks,
    mailoutbox,
):
    hosting, _ = setup
    (order,) = paid_orders(hosting, django_capture_on_commit_callbacks, 1)
    invoice = Invoice.objects.get(order=order)
    assert not invoice.rendered_at
    client.force_login(make_staff())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:einvoice_invoice_changelist"),
            {"action": "resend_email", "_selected_action": [invoice.pk]},
            follow=True,
        )
    assert response.status_code == 200
    assert [m.level_tag for m in response.context["messages"]] == ["info"]  # no error
    invoice.refresh_from_db()
    assert invoice.rendered_at and invoice.emailed_at and bytes(invoice.pdf).startswith(b"%PDF")
    # The worker's sweep transmits it and does not email it a second time.
    sweep_everything(django_capture_on_commit_callbacks)
    assert_each_side_effect_happened_once([order], mailoutbox)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_many_workers_sweeping_at_once_do_each_side_effect_once(setup, monkeypatch, mailoutbox):  # noqa: F811
    """Real concurrency (PostgreSQL): four workers run every sweep at the same moment."""
    for module in (einvoice_services, email_services, subscription_services):
        monkeypatch.setattr(module, "_schedule", lambda *a, **k: None, raising=False)
    monkeypatch.setattr(einvoice_services, "_schedule_render", lambda *a, **k: None)
    hosting, _ = setup
    make_resolution()
    orders = []
    for i in range(6):
        customer = make_customer(document_number=f"10172346{i:02d}")
        order = billing.order_new_service(
            customer=customer, product=hosting, cycle="annual", label=f"w{i}.co"
        )
        pay(order)  # committed; every after-commit job is lost
        orders.append(order)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            for _ in range(2):
                delivery.process_pending_invoices()
                email_delivery.deliver_due_emails()
                provisioning.deliver_due_provisioning_events()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert_each_side_effect_happened_once(orders, mailoutbox)


class DianUnavailable(StoreOnlyTransmitter):
    answers: ClassVar[list[bool]] = []

    def transmit(self, invoice):
        retry = DianUnavailable.answers.pop(0)
        return TransmissionResult(
            status="sent", message="HTTP 503" if retry else "", retryable=retry
        )


def test_a_transmission_to_retry_waits_for_the_lease_not_the_next_sweep(
    setup,  # noqa: F811
    settings,
    django_capture_on_commit_callbacks,
):
    settings.EINVOICE_TRANSMITTER = f"{__name__}.DianUnavailable"
    DianUnavailable.answers = [True, False]
    hosting, _ = setup
    (order,) = paid_orders(hosting, django_capture_on_commit_callbacks, 1)
    sweep_everything(django_capture_on_commit_callbacks)
    sweep_everything(django_capture_on_commit_callbacks)  # the next minute: not tried again yet
    invoice = Invoice.objects.get(order=order)
    assert invoice.transmitted_at is None and invoice.lease_until
    assert TransmissionAttempt.objects.filter(invoice=invoice).count() == 1
    expire_leases()
    sweep_everything(django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    assert invoice.transmitted_at and invoice.lease_until is None
    assert [a.retryable for a in invoice.transmissions.all()] == [True, False]
