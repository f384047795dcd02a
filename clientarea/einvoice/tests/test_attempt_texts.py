"""What we say about a transmission to DIAN reads in the staff member's language, whatever the
worker's; DIAN's own answer stays as DIAN wrote it (Spanish), and an attempt recorded before the
codes keeps its sentence."""

from __future__ import annotations

from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse
from django.utils import translation

from clientarea.einvoice.models import TransmissionAttempt
from clientarea.einvoice.services import issue_debit_note
from clientarea.einvoice.tests.test_notes import paid_invoice
from clientarea.test import make_staff

pytestmark = pytest.mark.django_db
REJECTING = "clientarea.einvoice.tests.test_note_alerts.RejectingTransmitter"


def page(client, invoice, language: str, model: str = "invoice") -> str:
    client.cookies["django_language"] = language
    url = reverse(f"admin:einvoice_{model}_change", args=[invoice.pk])
    return unescape(client.get(url).content.decode())


def test_our_words_in_the_readers_language_and_dians_as_dian_wrote_them(
    client, settings, django_capture_on_commit_callbacks
):
    with translation.override("en"):  # the worker's language
        invoice = paid_invoice(django_capture_on_commit_callbacks)
        settings.EINVOICE_TRANSMITTER = REJECTING
        with django_capture_on_commit_callbacks(execute=True):
            note = issue_debit_note(
                invoice=invoice, concept="1", reason="Intereses", amount=Decimal("2000")
            )
    attempt = TransmissionAttempt.objects.get(invoice=invoice)
    assert attempt.message == "stored only (no DIAN transmitter configured)"  # logs, searches
    client.force_login(make_staff())
    assert "solo guardada (no hay transmisor a la DIAN configurado)" in page(client, invoice, "es")
    assert "stored only (no DIAN transmitter configured)" in page(client, invoice, "en")
    rejected = page(client, note, "es", model="note")
    assert "Documento con errores en campos mandatorios." in rejected  # DIAN's words
    assert "CBG01" in rejected and "(rechazo)" in rejected and "(rejection)" not in rejected
    # An attempt recorded before the codes keeps its sentence.
    TransmissionAttempt.objects.filter(pk=attempt.pk).update(message_code="", message="old words")
    assert "old words" in page(client, invoice, "es")


def test_attempts_recorded_with_the_clients_text_inside_our_words_are_split(
    client, settings, django_capture_on_commit_callbacks
):
    """Migration 0009: where the stored sentence is exactly what the old code wrote, the client's
    English text becomes the technical detail and the attempt gets the code of what happened;
    anything else is left as it was."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("clientarea.einvoice.migrations.0009_transmission_detail")
    with translation.override("en"):
        invoice = paid_invoice(django_capture_on_commit_callbacks)
    not_soap = "SendBillSync: HTTP 503, not a SOAP answer (the answer is not a SOAP 1.2 envelope)"
    refused = "SOAP fault s:Client: Certificado se encuentra revocado."
    old = [
        ("unavailable", f"DIAN is not available ({not_soap}); the invoice will be sent again."),
        (
            "refused_request",
            f"DIAN refused the request ({refused}); it is not sent again until this is fixed.",
        ),
        (
            "unavailable",
            "DIAN is not available (SendBillSync: [Errno 111] refused); the invoice"
            " will be sent again.",
        ),
        ("unavailable", "edited by hand"),  # not what the code wrote: left alone
    ]
    errors = [not_soap, refused, "SendBillSync: [Errno 111] refused", not_soap]
    rows = [
        TransmissionAttempt.objects.create(
            invoice=invoice,
            transmitter="x",
            status="sent",
            message=message,
            message_code=code,
            message_values={"error": error},
            retryable=True,
        )
        for (code, message), error in zip(old, errors, strict=True)
    ]
    migration.split_detail(apps, None)
    http_503, fault, other, edited = (TransmissionAttempt.objects.get(pk=r.pk) for r in rows)
    assert (http_503.message_code, http_503.message_values, http_503.detail) == (
        "unavailable_http",
        {"status": "503"},
        not_soap,
    )
    assert (fault.message_code, fault.message_values, fault.detail) == (
        "refused_fault",
        {"reason": "Certificado se encuentra revocado."},
        refused,
    )
    assert (other.message_code, other.message_values) == ("unavailable", {})
    assert other.detail == "SendBillSync: [Errno 111] refused"
    assert (edited.message_code, edited.message_values, edited.detail) == (
        "unavailable",
        {"error": not_soap},
        "",
    )
    with translation.override("es"):
        assert http_503.message_text == (
            "La DIAN respondió con el error HTTP 503 y sin una respuesta legible; el documento "
            "se enviará de nuevo."
        )
        assert other.message_text == "La DIAN no está disponible; el documento se enviará de nuevo."
    client.force_login(make_staff())
    es = page(client, invoice, "es")
    assert f"Detalle técnico: <code>{not_soap}</code>" in es
    assert "(SendBillSync" not in es


def test_attempts_recorded_before_the_codes_read_in_the_readers_language(
    client, django_capture_on_commit_callbacks
):
    """Attempts recorded before migration 0008 have the sentence the code wrote then in
    ``message`` (English, or Spanish through gettext) and no code: a Spanish reader read English.
    The sentence is read back as its code (the client's text inside it as the technical
    detail); DIAN's answer, or anything else, is shown as written and labelled so."""
    with translation.override("en"):
        invoice = paid_invoice(django_capture_on_commit_callbacks)
    TransmissionAttempt.objects.filter(invoice=invoice).delete()
    error = "SendBillSync: [Errno 111] Connection refused"
    old = [
        f"DIAN is not available ({error}); the invoice will be sent again.",
        "DIAN did not answer within 30 seconds and does not know the invoice yet; it will be "
        "sent again.",
        "La DIAN no respondió en 30 segundos y aún no conoce la factura; se enviará de nuevo.",
        "Procesado Correctamente. (accepted, but DIAN sent no ApplicationResponse; asking again)",
        "Documento con errores en campos mandatorios.",
    ]
    rows = [
        TransmissionAttempt.objects.create(
            invoice=invoice, transmitter="x", status="sent", message=message, retryable=True
        )
        for message in old
    ]
    unavailable, timeout, spanish, no_answer, dian = rows
    with translation.override("es"):
        assert unavailable.message_text == (
            "La DIAN no está disponible; el documento se enviará de nuevo."
        )
        assert unavailable.detail_text == error
        assert timeout.message_text.startswith("La DIAN no respondió en 30 segundos")
        assert no_answer.message_text.startswith("Procesado Correctamente. (aceptada")
        assert dian.message_text == "Documento con errores en campos mandatorios."
    with translation.override("en"):
        assert spanish.message_text == timeout.message_text
        assert spanish.message_text.startswith("DIAN did not answer within 30 seconds")
    assert [r.as_written for r in rows] == [False, False, False, False, True]
    client.force_login(make_staff())
    es = page(client, invoice, "es")
    assert "DIAN is not available" not in es and "does not know the invoice" not in es
    assert "asking again" not in es
    assert f"Detalle técnico: <code>{error}</code>" in es
    assert "Documento con errores en campos mandatorios.<br>" in es
    assert "tal como lo escribió la DIAN o nuestro cliente de la DIAN, sin traducir" in es
    en = page(client, invoice, "en")
    assert "La DIAN no respondió" not in en
    assert "as DIAN or our DIAN client wrote it, not translated" in en
