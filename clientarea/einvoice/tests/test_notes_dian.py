"""Credit and debit notes through the whole pipeline with the local DIAN simulator, over HTTP.

Accepted: the note's AttachedDocument embeds DIAN's ApplicationResponse for its CUDE and the
customer is emailed (type 91/92 in the subject). Rejected (its invoice unknown to DIAN): staff are
alerted, nothing reaches the customer.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone

from clientarea.einvoice import validation
from clientarea.einvoice.dian.tests.test_lifecycle import email_zip_attached_document
from clientarea.einvoice.dian.tests.test_roundtrip import SIMULATOR, paid_invoice, response_code
from clientarea.einvoice.models import Invoice, InvoiceStatus
from clientarea.einvoice.services import issue_credit_note, issue_debit_note
from clientarea.notifications.models import OutgoingEmail

pytestmark = [
    pytest.mark.skipif(
        not apps.is_installed(SIMULATOR), reason="the local DIAN simulator is not installed"
    ),
    pytest.mark.django_db(transaction=True),
]
DIAN = "clientarea.einvoice.dian.transmitter.DianTransmitter"


@pytest.fixture
def dian_site(live_server, settings):
    call_command("dian_sandbox_seed")
    settings.EINVOICE_TRANSMITTER = DIAN
    settings.DIAN_SANDBOX = True
    settings.DIAN_WS_URL = ""
    settings.DIAN_WS_TIMEOUT = 10
    settings.SITE_URL = live_server.url
    return live_server


def test_credit_and_debit_notes_are_accepted_by_dian_then_emailed(
    dian_site, django_capture_on_commit_callbacks
):
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.ACCEPTED
    with django_capture_on_commit_callbacks(execute=True):
        credit = issue_credit_note(
            invoice=invoice, concept="1", reason="Servicio no prestado", amount=Decimal("10000")
        )
    with django_capture_on_commit_callbacks(execute=True):
        debit = issue_debit_note(
            invoice=invoice, concept="1", reason="Intereses de mora", amount=Decimal("2000")
        )
    for note, type_code in ((credit, "91"), (debit, "92")):
        note.refresh_from_db()
        attempt = note.transmissions.get()
        assert note.status == InvoiceStatus.ACCEPTED, (attempt.message, attempt.rule_messages)
        assert attempt.document_key.lower() == note.cufe.lower()
        assert response_code(bytes(note.application_response)) == ("02", note.cufe)
        (exchange,) = attempt.exchanges.all()
        assert f"n{'c' if type_code == '91' else 'd'}".encode() in bytes(exchange.request)
        (email,) = OutgoingEmail.objects.filter(
            template="note_issued", subject__contains=f"{note.full_number}"
        )
        assert email.subject.split(";")[3] == type_code
        attached = email_zip_attached_document(email)
        assert validation.validate_attached_document(attached) == []
        assert response_code(validation.embedded_application_response(attached)) == (
            "02",
            note.cufe,
        )


def test_interest_without_iva_owed_on_credit_is_accepted_by_dian(
    dian_site, django_capture_on_commit_callbacks
):
    """Late-payment interest, issued from the back office's path (billing): one line outside
    IVA (no TaxTotal at all), a credit sale due with its order (PaymentMeans 2, PaymentDueDate)."""
    from lxml import etree

    from clientarea.billing import debit_notes
    from clientarea.einvoice.ubl import NS

    invoice = paid_invoice(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        note, order = debit_notes.issue_debit_note(
            invoice=invoice, concept="1", reason="Pago tardío", amount=Decimal("2500")
        )
    note.refresh_from_db()
    attempt = note.transmissions.get()
    assert note.status == InvoiceStatus.ACCEPTED, (attempt.message, attempt.rule_messages)
    assert attempt.document_key.lower() == note.cufe.lower()
    root = etree.fromstring(bytes(note.xml_signed))
    assert root.find("cac:TaxTotal", NS) is None and note.total == Decimal("2500.00")
    assert root.findtext("cac:PaymentMeans/cbc:PaymentDueDate", namespaces=NS) == str(
        order.due_date
    )
    assert validation.validate_invoice(root) == []


def test_a_note_dian_rejects_never_reaches_the_customer_and_staff_are_alerted(
    dian_site, django_capture_on_commit_callbacks, settings
):
    # The invoice is kept locally only (store-only), so DIAN does not know its CUFE.
    settings.EINVOICE_TRANSMITTER = "clientarea.einvoice.transmission.StoreOnlyTransmitter"
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    settings.EINVOICE_TRANSMITTER = DIAN
    with django_capture_on_commit_callbacks(execute=True):
        note = issue_credit_note(invoice=invoice, concept="2", reason="Anulación")
    note = Invoice.objects.get(pk=note.pk)
    assert note.status == InvoiceStatus.REJECTED
    attempt = note.transmissions.get()
    assert any(m["rule"] == "CBG01" for m in attempt.rule_messages), attempt.rule_messages
    assert not note.emailed_at
    assert not OutgoingEmail.objects.filter(template="note_issued").exists()
    (alert,) = OutgoingEmail.objects.filter(template="staff_invoice_rejected")
    assert f"/admin/einvoice/note/{note.pk}/change/" in alert.body_text
    assert note.issued_at is not None and timezone.now() >= note.issued_at


def test_a_whole_credit_note_on_an_invoice_with_a_rounding_line_gets_no_notification(
    dian_site, django_capture_on_commit_callbacks
):
    """45.990 + 19 % IVA is 54.728,10, paid as 54.728 (PayableRoundingAmount −0,10). Annulling it
    credits its value, 54.728,10 (notes carry no rounding): that is all that is left of the
    invoice, so DIAN has nothing to notify. The simulator compared the note with the invoice's
    PayableAmount (after the rounding) and notified CBG03 "supera el saldo"."""
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.ACCEPTED
    assert invoice.total == Decimal("54728.00")  # the order's rounding to whole pesos
    with django_capture_on_commit_callbacks(execute=True):
        note = issue_credit_note(invoice=invoice, concept="2", reason="Anulación de la factura")
    note.refresh_from_db()
    attempt = note.transmissions.get()
    assert note.total == Decimal("54728.10")
    assert note.status == InvoiceStatus.ACCEPTED, (attempt.message, attempt.rule_messages)
    assert attempt.rule_messages == []
