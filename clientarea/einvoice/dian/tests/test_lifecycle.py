"""The invoice's DIAN lifecycle through the whole pipeline, over real HTTP with the simulator.

Pay an order → the worker signs, sends to the simulator (``DianTransmitter``, configured by
settings only) and records each attempt → accepted: the email goes out with the AttachedDocument
embedding DIAN's ApplicationResponse; rejected: staff alerted once, nothing to the customer, resent
with the same number; DIAN down: retried by the sweep, contingency after repeated failures.
"""

from __future__ import annotations

import datetime as dt
import io
import time
import zipfile
from html import unescape

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from huey.contrib.djhuey import HUEY
from lxml import etree

from clientarea.einvoice import delivery, jobs, services, validation
from clientarea.einvoice.models import Invoice, InvoiceStatus
from clientarea.notifications.models import OutgoingEmail
from clientarea.test import make_staff

from .test_roundtrip import SIMULATOR, arm, paid_invoice, response_code

pytestmark = [
    pytest.mark.skipif(
        not __import__("django.apps", fromlist=["apps"]).apps.is_installed(SIMULATOR),
        reason="the local DIAN simulator is not installed",
    ),
    pytest.mark.django_db(transaction=True),
]
DIAN = "clientarea.einvoice.dian.transmitter.DianTransmitter"
AD_DESCRIPTION = (
    "{*}ParentDocumentLineReference/{*}DocumentReference/{*}Attachment"
    "/{*}ExternalReference/{*}Description"
)


@pytest.fixture
def dian_site(live_server, settings):
    """Configuration only: the DIAN transmitter, the simulator at SITE_URL."""
    call_command("dian_sandbox_seed")
    settings.EINVOICE_TRANSMITTER = DIAN
    settings.DIAN_SANDBOX = True
    settings.DIAN_WS_URL = ""
    settings.DIAN_WS_TIMEOUT = 10
    settings.SITE_URL = live_server.url
    return live_server


def invoice_emails(invoice: Invoice):
    return OutgoingEmail.objects.filter(template="invoice_issued", customer=invoice.customer)


def email_zip_attached_document(email: OutgoingEmail) -> bytes:
    (zipped,) = [a for a in email.attachments.all() if a.filename.endswith(".zip")]
    with zipfile.ZipFile(io.BytesIO(bytes(zipped.content))) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".xml")]
        return archive.read(name)


def expire_lease(invoice: Invoice) -> None:
    Invoice.objects.filter(pk=invoice.pk).update(lease_until=timezone.now())


def sweep(django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        delivery.process_pending_invoices()


def test_accepted_then_emailed_with_dians_application_response_inside(
    dian_site, django_capture_on_commit_callbacks
):
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.ACCEPTED and invoice.accepted_at
    assert response_code(bytes(invoice.application_response)) == ("02", invoice.cufe)
    attempt = invoice.transmissions.get()
    assert attempt.document_key.lower() == invoice.cufe.lower()
    (exchange,) = attempt.exchanges.all()
    assert exchange.operation == "SendBillSync" and exchange.http_status == 200
    assert b"SendBillSync" in bytes(exchange.request) and b"PRIVATE KEY" not in bytes(
        exchange.request
    )
    assert b"SendBillSyncResponse" in bytes(exchange.response)

    (email,) = invoice_emails(invoice)
    attached = email_zip_attached_document(email)
    assert validation.validate_attached_document(attached) == []
    embedded = validation.embedded_application_response(attached)
    assert response_code(embedded) == ("02", invoice.cufe)
    assert embedded == bytes(invoice.application_response)
    root = etree.fromstring(attached)
    assert root.findtext("{*}ParentDocumentLineReference/{*}DocumentReference/{*}UUID") == (
        invoice.cufe
    )
    assert (
        root.findtext(
            "{*}ParentDocumentLineReference/{*}DocumentReference/{*}ResultOfVerification"
            "/{*}ValidationResultCode"
        )
        == "02"
    )


def test_rejected_never_reaches_the_customer_staff_alerted_once_then_resent_same_number(
    dian_site, django_capture_on_commit_callbacks
):
    client = Client()  # (this package's ``client`` fixture is the DIAN client)
    arm(dian_site, "reject_next")
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    number, cufe = invoice.full_number, invoice.cufe
    assert invoice.status == InvoiceStatus.REJECTED and not invoice.emailed_at
    attempt = invoice.transmissions.get()
    assert [m["rule"] for m in attempt.rule_messages] == ["FAD06"]
    assert attempt.rule_messages[0]["kind"] == "rejection"
    assert not invoice_emails(invoice).exists()
    assert OutgoingEmail.objects.filter(template="staff_invoice_rejected").count() == 1
    # The sweep has nothing to do with it: never emailed, never a second alert.
    sweep(django_capture_on_commit_callbacks)
    assert not invoice_emails(invoice).exists()
    assert OutgoingEmail.objects.filter(template="staff_invoice_rejected").count() == 1
    # Staff see the rule in plain words, and resend it from the back office.
    client.force_login(make_staff())
    page = client.get(reverse("admin:einvoice_invoice_change", args=[invoice.pk]))
    assert "FAD06" in page.content.decode() and "CUFE" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:einvoice_invoice_changelist"),
            {"action": "resend_to_dian", "_selected_action": [invoice.pk]},
            follow=True,
        )
    assert response.status_code == 200
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.ACCEPTED
    assert (invoice.full_number, invoice.cufe) == (number, cufe)
    assert Invoice.objects.count() == 1
    assert [a.status for a in invoice.transmissions.all()] == ["rejected", "accepted"]
    (email,) = invoice_emails(invoice)
    assert response_code(validation.embedded_application_response(email_zip_attached_document(email)))[0] == "02"  # fmt: skip


def test_dian_down_is_retried_by_the_sweep_then_accepted(
    dian_site, django_capture_on_commit_callbacks
):
    arm(dian_site, "http_503")
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.SENT and not invoice.transmitted_at
    assert invoice.lease_until and invoice.lease_until > timezone.now()  # next try, not at once
    assert not invoice_emails(invoice).exists()
    sweep(django_capture_on_commit_callbacks)  # the next try is not due yet
    assert invoice.transmissions.count() == 1
    expire_lease(invoice)
    sweep(django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.ACCEPTED and invoice.lease_until is None
    assert [a.retryable for a in invoice.transmissions.all()] == [True, False]
    assert invoice_emails(invoice).count() == 1


def test_dian_down_is_retried_20_seconds_later_by_a_job_scheduled_for_then(
    dian_site, django_capture_on_commit_callbacks
):
    """DIAN's retry rule (§2.6: twice more, 20 s apart): the invoice's job is scheduled for the
    moment its lease expires, not left to the next once-a-minute sweep."""
    HUEY.storage.flush_all()
    arm(dian_site, "http_503")
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    attempt = invoice.transmissions.get()
    assert invoice.lease_until is not None
    assert invoice.lease_until - attempt.created_at < delivery.RETRY_DELAY + dt.timedelta(seconds=5)
    with translation.override("es"):  # not "Enviada a la DIAN": it was not answered
        assert invoice.dian_state == "Aún sin respuesta de la DIAN: se enviará de nuevo"
    far_future = dt.datetime(2999, 1, 1)
    (job,) = HUEY.read_schedule(far_future)
    assert isinstance(job, jobs.render_invoice_job.task_class) and job.args == (invoice.pk,)
    due = job.eta.replace(tzinfo=dt.UTC)
    assert abs(due - invoice.lease_until) < dt.timedelta(seconds=1)
    expire_lease(invoice)  # the job's moment has come
    with django_capture_on_commit_callbacks(execute=True):
        HUEY.execute(job, timestamp=far_future)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.ACCEPTED and invoice_emails(invoice).count() == 1
    assert HUEY.read_schedule(far_future) == []  # nothing more to retry


def test_a_timeout_then_the_sweep_resend_is_idempotent(
    dian_site, settings, django_capture_on_commit_callbacks
):
    settings.DIAN_WS_TIMEOUT = 1
    arm(dian_site, "timeout", seconds="3")
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    first = invoice.transmissions.get()
    assert first.retryable
    assert [e.operation for e in first.exchanges.all()] == ["SendBillSync", "GetStatus"]
    expire_lease(invoice)
    sweep(django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.ACCEPTED
    assert invoice_emails(invoice).count() == 1


def test_contingency_after_repeated_failures_staff_alerted_once_then_recovered(
    dian_site, django_capture_on_commit_callbacks
):
    arm(dian_site, "http_500", times="4")
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    for _ in range(delivery.TRIES_BEFORE_CONTINGENCY):
        expire_lease(invoice)
        sweep(django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.CONTINGENCY and invoice.contingency_since
    # Unavailable since the first failed try, not since the third (which declared contingency)
    first_try = invoice.transmissions.order_by("created_at", "id").first()
    assert first_try is not None and invoice.contingency_since == first_try.created_at
    assert invoice.transmissions.count() == delivery.TRIES_BEFORE_CONTINGENCY + 1
    # Next try in 30 minutes, not 20 seconds.
    assert invoice.lease_until is not None
    assert invoice.lease_until > timezone.now() + delivery.CONTINGENCY_RETRY / 2
    assert OutgoingEmail.objects.filter(template="staff_invoice_contingency").count() == 1
    assert not invoice_emails(invoice).exists()
    assert_staff_read_it_in_their_words(invoice)
    expire_lease(invoice)
    sweep(django_capture_on_commit_callbacks)  # DIAN is back
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.ACCEPTED and invoice.contingency_since is None
    assert OutgoingEmail.objects.filter(template="staff_invoice_contingency").count() == 1
    assert invoice_emails(invoice).count() == 1


def assert_staff_read_it_in_their_words(invoice: Invoice) -> None:
    """The contingency alert and the document's page: our words in the reader's language, the
    client's English text apart, labelled as the technical detail; a try DIAN did not answer is
    not "Sent to DIAN", and the lease reads as the next try."""
    alert = OutgoingEmail.objects.get(template="staff_invoice_contingency")
    assert alert.language.startswith("es")
    assert "La DIAN respondió con el error HTTP 500 y sin una respuesta legible" in alert.body_text
    assert "Detalle técnico: SendBillSync: HTTP 500, not a SOAP answer" in alert.body_text
    assert "(SendBillSync" not in alert.body_text and "Detalle técnico" in alert.body_html
    client = Client()
    client.force_login(make_staff())
    url = reverse("admin:einvoice_invoice_change", args=[invoice.pk])
    for language, words, detail, not_answered, next_try, sent in (
        (
            "es",
            "La DIAN respondió con el error HTTP 500 y sin una respuesta legible",
            "Detalle técnico",
            "Sin respuesta: se enviará de nuevo",
            "Próximo envío automático a la DIAN",
            "Enviada a la DIAN",
        ),
        (
            "en",
            "DIAN answered with HTTP error 500 and no readable answer",
            "Technical detail",
            "Not answered: to be sent again",
            "Next automatic try to DIAN",
            "Sent to DIAN",
        ),
    ):
        client.cookies["django_language"] = language
        page = unescape(client.get(url).content.decode())
        assert words in page and f"{detail}: <code>SendBillSync: HTTP 500" in page
        assert page.count(not_answered) == delivery.TRIES_BEFORE_CONTINGENCY + 1
        assert sent not in page.split('id="transmissions-group"')[-1]
        assert next_try in page
        assert "worker lease" not in page.lower() and "arrendamiento" not in page.lower()


def test_staff_cannot_email_an_invoice_dian_has_not_accepted(
    dian_site, django_capture_on_commit_callbacks
):
    arm(dian_site, "reject_next")
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    with pytest.raises(services.InvoiceWaiting, match="DIAN"):
        services.resend_invoice_email(invoice=invoice)
    assert not invoice_emails(invoice).exists()


def test_staff_email_again_waits_for_dian_only_the_interactive_timeout(
    dian_site, settings, django_capture_on_commit_callbacks
):
    """ "Email the document again" on a document DIAN never answered for sends it first, inside
    the web request: DIAN gets DIAN_WS_INTERACTIVE_TIMEOUT, not the worker's DIAN_WS_TIMEOUT."""
    arm(dian_site, "http_503")
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.SENT and not invoice.transmitted_at
    settings.DIAN_WS_TIMEOUT = 30  # the worker's: the page must not wait for it
    settings.DIAN_WS_INTERACTIVE_TIMEOUT = 1
    arm(dian_site, "timeout", seconds="6")  # DIAN holds the connection, then drops it
    client = Client()  # (this package's ``client`` fixture is the DIAN client)
    client.force_login(make_staff())
    client.cookies["django_language"] = "en"
    changelist = reverse("admin:einvoice_invoice_changelist")
    started = time.monotonic()
    answer = client.post(changelist, {"action": "resend_email", "_selected_action": [invoice.pk]})
    waited = time.monotonic() - started
    assert answer.status_code == 302
    # SendBillSync waits 1 s, then GetStatus answers at once (the fault is used up).
    assert waited < 4.5, f"the page waited {waited:.1f} s for DIAN"
    page = client.get(answer["Location"])
    errors = [str(m) for m in page.context["messages"] if m.level_tag == "error"]
    assert len(errors) == 1 and "DIAN has not accepted the invoice" in errors[0]
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.SENT and not invoice.emailed_at
    attempt = invoice.transmissions.order_by("-created_at", "-id").first()
    assert attempt is not None and attempt.retryable
    assert (attempt.message_code, attempt.message_values) == ("timeout_unknown", {"seconds": "1"})
    assert [e.operation for e in attempt.exchanges.all()] == ["SendBillSync", "GetStatus"]
    assert not invoice_emails(invoice).exists()


def test_accepted_with_notifications_keeps_and_shows_them(
    dian_site, django_capture_on_commit_callbacks
):
    arm(dian_site, "notify_next", rule_code="FAJ44b", rule_text="NIT no coincide con el RUT.")
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.ACCEPTED
    (attempt,) = invoice.transmissions.all()
    notices = [m for m in attempt.rule_messages if m["kind"] == "notification"]
    assert [m["rule"] for m in notices] == ["FAJ44b"]
    assert invoice_emails(invoice).count() == 1  # a notification does not hold the invoice back
    client = Client()
    client.force_login(make_staff())
    page = client.get(reverse("admin:einvoice_invoice_change", args=[invoice.pk])).content.decode()
    assert "FAJ44b" in page and "RUT" in page
    assert reverse("admin:einvoice_invoice_download", args=[invoice.pk, "ar"]) in page
    ar = client.get(reverse("admin:einvoice_invoice_download", args=[invoice.pk, "ar"]))
    assert response_code(ar.content) == ("02", invoice.cufe)
    exchange = attempt.exchanges.get()
    raw = client.get(
        reverse("admin:einvoice_invoice_exchange", args=[invoice.pk, exchange.pk, "response"])
    )
    assert raw.content == bytes(exchange.response)
    # Every download is named by the document (they were "SendBillSync-3-response.xml", "ar-8.xml")
    number = invoice.full_number
    assert raw["Content-Disposition"] == (
        f'attachment; filename="{number}.SendBillSync-{exchange.pk}-response.xml"'
    )
    attempt_ar = client.get(
        reverse("admin:einvoice_invoice_attempt_ar", args=[invoice.pk, attempt.pk])
    )
    assert attempt_ar.content == bytes(attempt.application_response)
    assert attempt_ar["Content-Disposition"] == (
        f'attachment; filename="{number}.application-response-{attempt.pk}.xml"'
    )


def test_each_document_is_signed_once_and_the_email_reads_no_customer_again(
    dian_site, django_capture_on_commit_callbacks, monkeypatch
):
    """Issue 18: the invoice and its AttachedDocument are signed once each (the container kept at
    rendering is unsigned: the signed one is built with DIAN's answer), and the email uses the
    customer and user read with the invoice (no refresh_from_db() that drops them)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from clientarea.einvoice import attached, signing

    signed: list[str] = []
    real_sign = signing.sign_invoice

    def counting_sign(xml_root, key, cert):
        result = real_sign(xml_root, key, cert)
        signed.append(etree.fromstring(result).tag.rsplit("}", 1)[-1])
        return result

    monkeypatch.setattr(signing, "sign_invoice", counting_sign)
    monkeypatch.setattr(attached, "sign_invoice", counting_sign)
    with CaptureQueriesContext(connection) as queries:
        invoice = paid_invoice(django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.ACCEPTED
    assert sorted(signed) == ["AttachedDocument", "Invoice"]
    assert signing.verify_invoice_signature(bytes(invoice.attached_document))
    (email,) = invoice_emails(invoice)
    assert validation.embedded_application_response(email_zip_attached_document(email)) == bytes(
        invoice.application_response
    )
    users_read = [q for q in queries.captured_queries if 'FROM "accounts_user"' in q["sql"]]
    customers_read = [q for q in queries.captured_queries if 'FROM "accounts_customer"' in q["sql"]]
    # Paying reads the customer with its user once (the order's lock); the worker once, with the
    # invoice; nothing more for the email.
    assert len(users_read) == 0, [q["sql"][:100] for q in users_read]
    assert len(customers_read) <= 3, [q["sql"][:100] for q in customers_read]


def test_the_worker_builds_each_document_from_its_snapshot_once(
    dian_site, django_capture_on_commit_callbacks, monkeypatch
):
    """One worker job builds the invoice's document from its JSON snapshot once, for every step:
    the DIAN transmitter takes the one the worker built (it used to build its own again)."""
    from clientarea.einvoice import builder

    built: list[str] = []
    real = builder.document_from_json

    def counting(data):
        doc = real(data)
        built.append(doc.full_id)
        return doc

    monkeypatch.setattr(builder, "document_from_json", counting)
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.ACCEPTED and invoice.emailed_at
    assert response_code(bytes(invoice.application_response)) == ("02", invoice.cufe)
    assert built == [invoice.full_number]
