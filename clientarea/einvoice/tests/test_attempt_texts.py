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
