"""Staff alerts about a document DIAN rejected or did not answer name the document as what it
is: an invoice, a credit note or a debit note (with the invoice it corrects), in es and en."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clientarea.einvoice import delivery
from clientarea.einvoice.models import InvoiceStatus
from clientarea.einvoice.services import issue_credit_note, issue_debit_note
from clientarea.einvoice.tests.test_notes import paid_invoice
from clientarea.einvoice.transmission import TransmissionResult, Transmitter
from clientarea.notifications.models import OutgoingEmail

pytestmark = pytest.mark.django_db


class RejectingTransmitter(Transmitter):
    def transmit(self, invoice) -> TransmissionResult:
        return TransmissionResult(
            status=InvoiceStatus.REJECTED,
            message="Documento con errores en campos mandatorios.",
            errors=("Regla: CBG01, Rechazo: La factura referenciada no existe.",),
        )


class SilentTransmitter(Transmitter):
    def transmit(self, invoice) -> TransmissionResult:
        return TransmissionResult(
            status=InvoiceStatus.SENT, message="DIAN did not answer", retryable=True
        )


def notes(captured):
    invoice = paid_invoice(captured)
    with captured(execute=True):
        credit = issue_credit_note(
            invoice=invoice, concept="1", reason="Devolución", amount=Decimal("10000")
        )
        debit = issue_debit_note(
            invoice=invoice, concept="1", reason="Intereses", amount=Decimal("2000")
        )
    return invoice, credit, debit


def alert(template: str, number: str | None) -> OutgoingEmail:
    assert number
    return OutgoingEmail.objects.get(template=template, subject__contains=number)


@pytest.mark.parametrize(("language", "words"), [
    ("es", {"credit_note": ("la nota crédito", "de la factura", "La nota conserva su número"),
            "debit_note": ("la nota débito", "de la factura", "La nota conserva su número")}),
    ("en", {"credit_note": ("credit note", "on invoice", "The note keeps its number"),
            "debit_note": ("debit note", "on invoice", "The note keeps its number")}),
])  # fmt: skip
def test_a_rejected_note_is_named_as_a_note_with_its_invoice(
    settings, django_capture_on_commit_callbacks, language, words
):
    settings.LANGUAGE_CODE = language
    invoice, credit, debit = notes(django_capture_on_commit_callbacks)
    settings.EINVOICE_TRANSMITTER = f"{__name__}.RejectingTransmitter"
    for note in (credit, debit):
        delivery.transmit_invoice(invoice=note)
        email = alert("staff_invoice_rejected", note.full_number)
        kind, of_invoice, keeps = words[note.kind]
        assert kind in email.subject and kind in email.body_text
        assert f"{of_invoice} {invoice.full_number}" in email.body_text
        assert keeps in email.body_text and keeps in email.body_html
        assert "invoice" + " " + note.full_number not in email.body_text
        assert "factura " + note.full_number not in email.body_text


def test_a_rejected_invoice_is_still_named_an_invoice(settings, django_capture_on_commit_callbacks):
    settings.LANGUAGE_CODE = "en"
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    settings.EINVOICE_TRANSMITTER = f"{__name__}.RejectingTransmitter"
    delivery.transmit_invoice(invoice=invoice)
    assert invoice.order is not None
    email = alert("staff_invoice_rejected", invoice.full_number)
    assert email.subject == f"Action needed: DIAN rejected invoice {invoice.full_number}"
    assert f"electronic invoice {invoice.full_number} (order {invoice.order.number})" in (
        email.body_text
    )
    assert "The invoice keeps its number" in email.body_text


def test_a_note_in_contingency_is_named_as_a_note(settings, django_capture_on_commit_callbacks):
    settings.LANGUAGE_CODE = "es"
    invoice, credit, _debit = notes(django_capture_on_commit_callbacks)
    settings.EINVOICE_TRANSMITTER = f"{__name__}.SilentTransmitter"
    for _try in range(delivery.TRIES_BEFORE_CONTINGENCY):
        delivery.transmit_invoice(invoice=credit)
    credit.refresh_from_db()
    assert credit.status == InvoiceStatus.CONTINGENCY
    email = alert("staff_invoice_contingency", credit.full_number)
    assert email.subject == (
        f"La DIAN no responde: la nota crédito {credit.full_number} está en contingencia"
    )
    assert f"nota crédito {credit.full_number} (de la factura {invoice.full_number})" in (
        email.body_text
    )
    assert "La nota está en contingencia" in email.body_html
