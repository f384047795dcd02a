"""What the customer and staff see while DIAN has not accepted an invoice (no DIAN needed here:
the states are set as the DIAN transmitter leaves them)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import formats, timezone, translation

from clientarea.billing import services as billing
from clientarea.einvoice import delivery
from clientarea.einvoice.models import Invoice, InvoiceStatus, TransmissionAttempt
from clientarea.notifications.models import OutgoingEmail
from clientarea.test import make_customer, make_staff

from .test_issue_on_payment import make_resolution, pay, setup  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def unvalidated(setup, django_capture_on_commit_callbacks):  # noqa: F811
    """A paid order whose invoice is signed and was sent, DIAN's answer still to come."""
    hosting, _ = setup
    make_resolution()
    customer = make_customer()
    order = billing.order_new_service(
        customer=customer, product=hosting, cycle="annual", label="valida.co"
    )
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
    invoice = Invoice.objects.get(order=order)
    Invoice.objects.filter(pk=invoice.pk).update(
        status=InvoiceStatus.SENT, transmitted_at=None, emailed_at=None
    )
    OutgoingEmail.objects.filter(template="invoice_issued").delete()
    invoice.refresh_from_db()
    return invoice


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("es", "validación de la DIAN"),
        ("en", "validated by DIAN"),
    ],
)
def test_the_customer_sees_being_validated_and_cannot_download_it_yet(
    client, unvalidated, language, text
):
    customer = unvalidated.customer
    customer.preferred_language = language
    customer.save(update_fields=["preferred_language"])
    client.force_login(customer.user)
    client.cookies["django_language"] = language
    headers = {"HTTP_ACCEPT_LANGUAGE": language}
    listing = client.get("/clientarea/invoices/", **headers).content.decode()
    assert unvalidated.full_number in listing and text in listing
    assert f"/clientarea/invoices/{unvalidated.full_number}/pdf/" not in listing
    order_page = client.get(
        reverse("billing:order", args=[unvalidated.order.number]), **headers
    ).content.decode()
    assert text in order_page and 'id="order-invoice-validating"' in order_page
    for kind in ("pdf", "xml", "attached"):
        url = f"/clientarea/invoices/{unvalidated.full_number}/{kind}/"
        assert client.get(url).status_code == 404


def test_a_rejected_invoice_is_not_emailed_by_the_sweep(
    unvalidated, django_capture_on_commit_callbacks
):
    Invoice.objects.filter(pk=unvalidated.pk).update(
        status=InvoiceStatus.REJECTED, transmitted_at=timezone.now(), lease_until=None
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.process_pending_invoices() == {"done": 0, "failed": 0}
    assert not OutgoingEmail.objects.filter(template="invoice_issued").exists()


def test_the_back_office_queue_shows_what_dian_has_not_accepted_with_its_age(client, unvalidated):
    Invoice.objects.filter(pk=unvalidated.pk).update(
        status=InvoiceStatus.REJECTED,
        transmitted_at=timezone.now(),
        issued_at=timezone.now() - dt.timedelta(hours=3),
    )
    TransmissionAttempt.objects.create(
        invoice=unvalidated,
        transmitter="clientarea.einvoice.dian.transmitter.DianTransmitter",
        status=InvoiceStatus.REJECTED,
        message="99 Validación contiene errores en campos mandatorios.",
        rule_messages=[{"rule": "FAB27b", "kind": "rejection", "text": "Huella no corresponde…"}],
    )
    client.force_login(make_staff())
    queue = client.get(
        reverse("admin:einvoice_invoice_changelist") + "?dian=pending"
    ).content.decode()
    assert unvalidated.full_number in queue and ("3\xa0hora" in queue or "3\xa0hour" in queue)
    # The queue's choices agree with the documents (Spanish by default): "Rechazado" did not.
    assert "Aún no aceptadas" in queue and ">Rechazadas<" in queue and ">Rechazado<" not in queue
    detail = client.get(
        reverse("admin:einvoice_invoice_change", args=[unvalidated.pk])
    ).content.decode()
    assert "FAB27b" in detail and "EINVOICE_SOFTWARE_PIN" in detail  # in plain words
    assert reverse("admin:einvoice_invoice_download", args=[unvalidated.pk, "xml"]) in detail


def test_staff_read_the_invoice_in_spanish_with_its_amount_and_payment_means_in_words(
    client, unvalidated
):
    """The resolution was labelled "resolution" (untranslated), the total "142800,00" and the
    payment means "48", DIAN's bare code."""
    client.force_login(make_staff())
    client.cookies["django_language"] = "es-co"
    detail = client.get(
        reverse("admin:einvoice_invoice_change", args=[unvalidated.pk])
    ).content.decode()
    assert "Resolución de numeración:" in detail and "Resolution:" not in detail
    assert "Tarjeta crédito (48)" in detail
    total = f"{unvalidated.total:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    assert f"$ {total}" in detail
    listing = client.get(reverse("admin:einvoice_invoice_changelist")).content.decode()
    assert "Por resolución de numeración" in listing and f"$ {total}" in listing


def test_staff_read_whether_dian_rejected_or_only_notified_in_spanish(client, unvalidated):
    """A rejected invoice's page said "FAB27b (rejection): …" in the Spanish back office."""
    Invoice.objects.filter(pk=unvalidated.pk).update(status=InvoiceStatus.REJECTED)
    TransmissionAttempt.objects.create(
        invoice=unvalidated,
        transmitter="clientarea.einvoice.dian.transmitter.DianTransmitter",
        status=InvoiceStatus.REJECTED,
        message="99 Validación contiene errores en campos mandatorios.",
        rule_messages=[
            {"rule": "FAB27b", "kind": "rejection", "text": "Huella no corresponde…"},
            {"rule": "FAJ44b", "kind": "notification", "text": "Nombre informado no corresponde…"},
        ],
    )
    client.force_login(make_staff())
    client.cookies["django_language"] = "es-co"
    detail = client.get(
        reverse("admin:einvoice_invoice_change", args=[unvalidated.pk])
    ).content.decode()
    assert "<strong>FAB27b</strong> (rechazo)" in detail
    assert "<strong>FAJ44b</strong> (notificación)" in detail
    assert "(rejection)" not in detail and "(notification)" not in detail


@pytest.mark.parametrize(
    ("code", "language", "shown"),
    [
        # A manual bank transfer (builder: "transfer" → 45) read "45" alone.
        ("45", "es-co", "Transferencia crédito bancaria (45)"),
        ("45", "en", "Bank credit transfer (45)"),
        # A code no invoice of ours uses by default: DIAN's own name, from its MediosPago list.
        ("20", "en", "Cheque (20)"),
    ],
)
def test_every_payment_means_code_is_shown_with_its_dian_name(
    client, unvalidated, code, language, shown
):
    Invoice.objects.filter(pk=unvalidated.pk).update(payment_means_code=code)
    client.force_login(make_staff())
    client.cookies["django_language"] = language
    detail = client.get(
        reverse("admin:einvoice_invoice_change", args=[unvalidated.pk])
    ).content.decode()
    assert shown in detail


def test_a_rejected_invoice_is_sent_again_from_its_own_page_and_audited(
    client, unvalidated, django_capture_on_commit_callbacks
):
    """The staff alert says "use Send to DIAN again": the invoice's page has that button (it was
    only a list action, and the page offered Save buttons on a DIAN document instead)."""
    from clientarea.accounts.models import AuditEvent

    Invoice.objects.filter(pk=unvalidated.pk).update(
        status=InvoiceStatus.REJECTED, transmitted_at=timezone.now(), lease_until=None
    )
    staff = make_staff()
    client.force_login(staff)
    client.cookies["django_language"] = "en"
    change = reverse("admin:einvoice_invoice_change", args=[unvalidated.pk])
    resend = reverse("admin:einvoice_invoice_resend", args=[unvalidated.pk])
    page = client.get(change).content.decode()
    assert f'href="{resend}"' in page and "Send to DIAN again" in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    confirm = client.get(resend).content.decode()
    assert "keeps its number" in confirm and unvalidated.full_number in confirm
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(resend)
    assert response.status_code == 302 and response["Location"] == change
    unvalidated.refresh_from_db()
    assert unvalidated.status == InvoiceStatus.ISSUED  # queued for signing and sending again
    event = AuditEvent.objects.get(action="einvoice.resent_to_dian")
    assert (event.actor, event.target, event.changes) == (
        staff,
        unvalidated.full_number,
        {"status_before": "rejected"},
    )
    # An accepted document has no such button, and the action refuses it.
    Invoice.objects.filter(pk=unvalidated.pk).update(status=InvoiceStatus.ACCEPTED)
    assert f'href="{resend}"' not in client.get(change).content.decode()
    client.post(resend)
    unvalidated.refresh_from_db()
    assert unvalidated.status == InvoiceStatus.ACCEPTED


def test_resending_a_document_in_contingency_does_not_ask_to_fix_a_cause(client, unvalidated):
    """DIAN gave no cause for a document in contingency (it did not answer): the confirmation
    asked staff to fix "the cause DIAN gave" (certificate, software…), which is not there."""
    since = timezone.now() - dt.timedelta(hours=2)
    Invoice.objects.filter(pk=unvalidated.pk).update(
        status=InvoiceStatus.CONTINGENCY, contingency_since=since, lease_until=None
    )
    client.force_login(make_staff())
    client.cookies["django_language"] = "en"
    resend = reverse("admin:einvoice_invoice_resend", args=[unvalidated.pk])
    confirm = client.get(resend).content.decode()
    assert "keeps its number" in confirm and "DIAN did not answer" in confirm
    assert "nothing to fix" in confirm and "every 30 minutes" in confirm
    assert "Fix the cause DIAN gave first" not in confirm
    with translation.override("en"):
        shown = formats.date_format(timezone.localtime(since), "SHORT_DATETIME_FORMAT")
    assert f"(since {shown})" in confirm
    client.cookies["django_language"] = "es"
    assert "no hay nada que corregir" in client.get(resend).content.decode()


def test_transmission_attempts_are_read_only_on_the_invoice_page(client, unvalidated):
    """The page carried "Agregar Intento de transmisión adicional" (the admin's inline script's
    link, with a "Delete?" column): DIAN exchanges are records, shown and never added here."""
    TransmissionAttempt.objects.create(
        invoice=unvalidated,
        transmitter="clientarea.einvoice.dian.transmitter.DianTransmitter",
        status=InvoiceStatus.REJECTED,
        message="99 Validación contiene errores en campos mandatorios.",
    )
    client.force_login(make_staff())
    client.cookies["django_language"] = "es-co"
    detail = client.get(
        reverse("admin:einvoice_invoice_change", args=[unvalidated.pk])
    ).content.decode()
    assert "Intentos de transmisión" in detail and "99 Validación contiene errores" in detail
    assert "adicional" not in detail and "js-inline-admin-formset" not in detail
    assert "¿Eliminar?" not in detail and 'name="transmissions-0-DELETE"' not in detail


def test_an_attempts_document_key_is_shortened_with_the_whole_key_on_hover(client, unvalidated):
    """The whole CUFE (96 characters) in a narrow column wrapped a character per line."""
    key = "a695fe9dec33" + "0" * 84
    TransmissionAttempt.objects.create(
        invoice=unvalidated,
        transmitter="clientarea.einvoice.dian.transmitter.DianTransmitter",
        status=InvoiceStatus.ACCEPTED,
        message="00 Procesado Correctamente.",
        document_key=key,
    )
    client.force_login(make_staff())
    detail = client.get(
        reverse("admin:einvoice_invoice_change", args=[unvalidated.pk])
    ).content.decode()
    assert f'<span title="{key}">a695fe9dec33…</span>' in detail


def test_the_back_office_queue_lists_the_oldest_document_first(
    client,
    setup,  # noqa: F811 (fixture)
    unvalidated,
    django_capture_on_commit_callbacks,
):
    """The queue's filter ordered by age, but the admin's newest-first ordering overrode it."""
    hosting, _ = setup
    order = billing.order_new_service(
        customer=make_customer(), product=hosting, cycle="annual", label="otra.co"
    )
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
    newer = Invoice.objects.get(order=order)
    Invoice.objects.filter(pk=newer.pk).update(status=InvoiceStatus.SENT, transmitted_at=None)
    assert newer.issued_at is not None
    Invoice.objects.filter(pk=unvalidated.pk).update(
        issued_at=newer.issued_at - dt.timedelta(days=2)
    )
    client.force_login(make_staff())
    changelist = reverse("admin:einvoice_invoice_changelist")
    queue = client.get(changelist + "?dian=pending").content.decode()
    assert queue.index(unvalidated.full_number) < queue.index(newer.full_number)
    Invoice.objects.filter(pk__in=[unvalidated.pk, newer.pk]).update(status=InvoiceStatus.REJECTED)
    queue = client.get(changelist + "?dian=rejected").content.decode()
    assert queue.index(unvalidated.full_number) < queue.index(newer.full_number)
    everything = client.get(changelist).content.decode()
    assert everything.index(newer.full_number) < everything.index(unvalidated.full_number)


@pytest.mark.parametrize("language", ["es-co", "en"])
def test_an_accepted_answer_reads_alone_without_a_dash_under_it(client, unvalidated, language):
    """An accepted invoice's "DIAN's last answer, in plain words" showed DIAN's message with a
    stray "—" under it (the empty list of rule notes)."""
    Invoice.objects.filter(pk=unvalidated.pk).update(status=InvoiceStatus.ACCEPTED)
    TransmissionAttempt.objects.create(
        invoice=unvalidated,
        transmitter="clientarea.einvoice.dian.transmitter.DianTransmitter",
        status=InvoiceStatus.ACCEPTED,
        message="Procesado Correctamente.",
        rule_messages=[],
    )
    client.force_login(make_staff())
    client.cookies["django_language"] = language
    detail = client.get(
        reverse("admin:einvoice_invoice_change", args=[unvalidated.pk])
    ).content.decode()
    field = detail.split("field-last_rules")[1].split('<div class="readonly">')[1]
    answer = field.split("</div>")[0]
    assert "Procesado Correctamente." in answer
    assert "—" not in answer
