"""Credit and debit notes on invoices: limits, refusals, numbering, email, customer pages, admin."""

from __future__ import annotations

import io
import threading
import zipfile
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from clientarea.accounts.models import AuditEvent
from clientarea.billing import services as billing
from clientarea.billing.selectors import order_invoice
from clientarea.catalog.models import Product, ProductPrice
from clientarea.einvoice import builder, ubl
from clientarea.einvoice.models import DocumentKind, Invoice, InvoiceStatus, NoteNumbering
from clientarea.einvoice.selectors import invoice_balance
from clientarea.einvoice.services import (
    NoteRefused,
    issue_credit_note,
    issue_debit_note,
    reissue_with_corrected_buyer,
)
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.notifications.models import OutgoingEmail
from clientarea.test import make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """Service messages are asserted in English; pages are served in es-CO, the default."""
    with translation.override("en"):
        yield


def paid_invoice(django_capture_on_commit_callbacks, *, customer=None, price="100000") -> Invoice:
    """A paid order's invoice, signed and kept by the store-only transmitter (validated)."""
    if not Product.objects.filter(code="hosting").exists():
        make_provider()
        make_resolution()
        hosting = Product.objects.create(code="hosting", name="Hosting Pyme", kind="hosting")
        ProductPrice.objects.create(product=hosting, cycle="annual", price=Decimal(price))
    order = billing.order_new_service(
        customer=customer or make_customer(),
        product=Product.objects.get(code="hosting"),
        cycle="annual",
        label="cliente.co",
    )
    with django_capture_on_commit_callbacks(execute=True):
        billing.mark_order_paid(
            order_id=order.pk, paid_at=timezone.now(), via="payu", method="card", reference="tx"
        )
    invoice = Invoice.objects.get(order=order)
    assert invoice.is_validated
    return invoice


def credit(invoice, captured, **kwargs) -> Invoice:
    with captured(execute=True):
        note = issue_credit_note(
            invoice=invoice, concept=kwargs.pop("concept", "1"), reason="Devolución", **kwargs
        )
    note.refresh_from_db()
    return note


def test_a_full_credit_note_cancels_the_whole_invoice_and_is_emailed_once_validated(
    django_capture_on_commit_callbacks,
):
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    note = credit(invoice, django_capture_on_commit_callbacks, concept="2")
    assert note.kind == DocumentKind.CREDIT_NOTE and note.reference == invoice
    assert note.full_number == "NC1" and note.number == 1
    assert note.total == Decimal("119000.00")  # 100 000 + 19 % IVA
    assert invoice_balance(invoice) == Decimal("0.00")
    assert note.is_validated and note.rendered_at and note.emailed_at
    signed = bytes(note.xml_signed)
    assert b"<CreditNote" in signed and note.cufe.encode() in signed
    (email,) = OutgoingEmail.objects.filter(template="note_issued")
    assert email.subject.split(";")[2:4] == ["NC1", "91"]
    assert {a.filename[-4:] for a in email.attachments.all()} == {".zip", ".pdf"}
    assert AuditEvent.objects.filter(action="einvoice.credit_note_issued", target="NC1").exists()
    with pytest.raises(NoteRefused, match="exceeds what is left"):
        issue_credit_note(invoice=invoice, concept="1", reason="otra vez", amount=Decimal("1"))


def test_each_documents_email_zip_has_its_own_name(django_capture_on_commit_callbacks):
    """NC1 and ND1 (and an invoice numbered 1) once shared one ZIP and AttachedDocument name."""
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    note = credit(invoice, django_capture_on_commit_callbacks, amount=Decimal("1000"))
    with django_capture_on_commit_callbacks(execute=True):
        debit = issue_debit_note(invoice=invoice, concept="3", reason="Ajuste", amount=Decimal("1"))
    assert (note.full_number, debit.full_number) == ("NC1", "ND1")
    names = {}
    for document in (invoice, note, debit):
        (attachment,) = [
            a
            for email in OutgoingEmail.objects.filter(subject__contains=f";{document.full_number};")
            for a in email.attachments.all()
            if a.filename.endswith(".zip")
        ]
        with zipfile.ZipFile(io.BytesIO(bytes(attachment.content))) as archive:
            names[document.full_number] = (attachment.filename, *archive.namelist())
    zips = [zip_name for zip_name, *_ in names.values()]
    inner = [name for _, *entries in names.values() for name in entries]
    assert len(set(zips)) == 3 and len(set(inner)) == len(inner) == 3, names
    assert all(name.startswith("z") and name.endswith(".zip") for name in zips)
    assert all(name.startswith("ad") and name.endswith(".xml") for name in inner)


def test_partial_credit_by_amount_and_by_line_never_beyond_what_is_left(
    django_capture_on_commit_callbacks,
):
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    first = credit(invoice, django_capture_on_commit_callbacks, amount=Decimal("40000"))
    assert first.total == Decimal("47600.00")
    second = credit(invoice, django_capture_on_commit_callbacks, lines={1: Decimal("50000")})
    assert second.full_number == "NC2"
    assert invoice_balance(invoice) == Decimal("11900.00")
    with pytest.raises(NoteRefused, match="exceeds what is left"):
        issue_credit_note(invoice=invoice, concept="1", reason="x", amount=Decimal("10000.01"))
    with pytest.raises(NoteRefused, match="at most"):
        issue_credit_note(invoice=invoice, concept="1", reason="x", lines={1: Decimal("100001")})
    # A debit note adds to what is left, so more can then be credited.
    with django_capture_on_commit_callbacks(execute=True):
        debit = issue_debit_note(
            invoice=invoice, concept="3", reason="Ajuste de precio", amount=Decimal("5000")
        )
    assert debit.full_number == "ND1" and debit.total == Decimal("5950.00")
    assert invoice_balance(invoice) == Decimal("17850.00")
    credit(invoice, django_capture_on_commit_callbacks, amount=Decimal("15000"))
    assert invoice_balance(invoice) == Decimal("0.00")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"amount": Decimal("0")}, "positive"),
        ({"amount": Decimal("-5")}, "positive"),
        ({"amount": Decimal("1.005")}, "2 decimals"),
        ({"lines": {1: Decimal("0")}}, "at least one line"),
        ({"lines": {9: Decimal("10")}}, "no line 9"),
        ({"lines": {1: Decimal("1")}, "amount": Decimal("1")}, "not both"),
        ({"amount": Decimal("1"), "concept": "7"}, "concepts"),
        ({"amount": Decimal("1"), "reason": "  "}, "why"),
    ],
)
def test_bad_input_is_refused_and_consumes_no_number(
    django_capture_on_commit_callbacks, arguments, message
):
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    arguments = {"concept": "1", "reason": "Ajuste", **arguments}
    with pytest.raises(NoteRefused, match=message):
        issue_credit_note(invoice=invoice, **arguments)
    assert not Invoice.objects.filter(kind=DocumentKind.CREDIT_NOTE).exists()
    assert credit(invoice, django_capture_on_commit_callbacks, amount=Decimal("1")).number == 1


def test_a_debit_note_needs_an_amount_and_a_debit_concept(django_capture_on_commit_callbacks):
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    with pytest.raises(NoteRefused, match="debit note adds"):
        issue_debit_note(invoice=invoice, concept="3", reason="Ajuste")
    with pytest.raises(NoteRefused, match="concepts"):
        issue_debit_note(invoice=invoice, concept="5", reason="x", amount=Decimal("10"))


@pytest.mark.parametrize(
    "state",
    [
        {"status": InvoiceStatus.REJECTED},
        {"status": InvoiceStatus.SENT, "transmitted_at": None},
        {"status": InvoiceStatus.CONTINGENCY, "transmitted_at": None},
    ],
)
def test_a_note_on_an_invoice_dian_has_not_accepted_is_refused(
    django_capture_on_commit_callbacks, state
):
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    Invoice.objects.filter(pk=invoice.pk).update(**state)
    with pytest.raises(NoteRefused, match="not accepted by DIAN"):
        issue_credit_note(invoice=invoice, concept="2", reason="Anulación")
    with pytest.raises(NoteRefused, match="not accepted by DIAN"):
        issue_debit_note(invoice=invoice, concept="3", reason="Ajuste", amount=Decimal("10"))
    assert not NoteNumbering.objects.filter(next_number__gt=1).exists()


def test_no_note_on_a_note(django_capture_on_commit_callbacks):
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    note = credit(invoice, django_capture_on_commit_callbacks, amount=Decimal("100"))
    with pytest.raises(NoteRefused, match="on invoices"):
        issue_credit_note(invoice=note, concept="1", reason="x", amount=Decimal("1"))


def test_the_note_prefix_comes_from_the_numbering_staff_configure(
    django_capture_on_commit_callbacks,
):
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    NoteNumbering.objects.create(kind=DocumentKind.CREDIT_NOTE, prefix="NCR", next_number=500)
    note = credit(invoice, django_capture_on_commit_callbacks, amount=Decimal("100"))
    assert note.full_number == "NCR500"
    doc = builder.document_from_json(note.document)
    assert doc.full_id == "NCR500" and ubl.expected_cufe(doc) == note.cufe
    assert NoteNumbering.objects.get(kind=DocumentKind.CREDIT_NOTE).next_number == 501


def test_wrong_buyer_data_full_credit_note_then_a_new_invoice_for_the_same_order(
    django_capture_on_commit_callbacks,
):
    customer = make_customer(email="comprador@example.com")
    invoice = paid_invoice(django_capture_on_commit_callbacks, customer=customer)
    customer.last_name = "Corregido"
    customer.save()
    with django_capture_on_commit_callbacks(execute=True):
        new = reissue_with_corrected_buyer(invoice=invoice, reason="Apellido errado")
    invoice.refresh_from_db()
    assert invoice.superseded_at is not None
    (note,) = invoice.notes.all()
    assert note.concept == "2" and note.total == Decimal("119000.00")
    new.refresh_from_db()
    assert new.replaces == invoice and new.order == invoice.order
    assert new.full_number != invoice.full_number and new.is_validated
    assert "Corregido" in new.document["customer"]["legal_name"]
    assert new.order is not None and new.order.state == "paid"
    assert order_invoice(new.order) == new
    with pytest.raises(NoteRefused, match="already replaced"):
        reissue_with_corrected_buyer(invoice=invoice, reason="otra vez")


def test_the_customer_sees_notes_under_the_invoice_and_only_the_owner_downloads_them(
    django_capture_on_commit_callbacks,
):
    owner = make_customer(email="duena@example.com")
    invoice = paid_invoice(django_capture_on_commit_callbacks, customer=owner)
    note = credit(invoice, django_capture_on_commit_callbacks, amount=Decimal("10000"))
    client = Client()
    client.force_login(owner.user)
    page = client.get(reverse("einvoice:list")).content.decode()
    assert f"{note.full_number}" in page and f"{invoice.full_number}" in page
    pdf_url = reverse("einvoice:download", args=[note.full_number, "pdf"])
    assert pdf_url in page
    response = client.get(pdf_url)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    xml = client.get(reverse("einvoice:download", args=[note.full_number, "xml"]))
    assert xml.status_code == 200 and b"CreditNote" in xml.content

    # A note ("nota", feminine) that DIAN accepted reads "Aceptada", like an invoice, in Spanish.
    spanish = client.get(reverse("einvoice:list"), HTTP_ACCEPT_LANGUAGE="es-co").content.decode()
    row = spanish.split(f'<strong class="docnum">{note.full_number}</strong>', 1)[1].split(
        "</tr>", 1
    )[0]
    assert 'data-label="DIAN">Aceptada<' in row

    stranger = Client()
    stranger.force_login(make_customer(email="otro@example.com").user)
    assert stranger.get(pdf_url).status_code == 404

    Invoice.objects.filter(pk=note.pk).update(status=InvoiceStatus.SENT, transmitted_at=None)
    assert client.get(pdf_url).status_code == 404  # not accepted by DIAN yet: never handed out
    page = client.get(reverse("einvoice:list")).content.decode()
    assert f"{note.full_number}" in page and pdf_url not in page


def test_staff_issue_a_partial_credit_note_from_the_invoice_page(
    django_capture_on_commit_callbacks,
):
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    client = Client()
    client.force_login(make_staff())
    change = reverse("admin:einvoice_invoice_change", args=[invoice.pk])
    page = client.get(change).content.decode()
    # The button leads to the billing admin: the note's total becomes the customer's credit.
    url = reverse("admin:billing_order_credit-note", args=[invoice.order_id])
    assert url in page
    too_much = client.post(
        url,
        {
            "concept": "1",
            "reason": "Devolución",
            "scope": "amount",
            "amount": "100001",
            "destination": "credit",
        },
    )
    assert too_much.status_code == 200
    assert "supera el saldo" in too_much.content.decode()  # es-CO, the default language
    missing = client.post(url, {"concept": "", "reason": "", "scope": "amount"})
    assert missing.status_code == 200 and not Invoice.objects.filter(reference=invoice).exists()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            url,
            {
                "concept": "1",
                "reason": "Devolución",
                "scope": "lines",
                "line_1": "20000",
                "destination": "credit",
            },
        )
    assert done.status_code == 302
    note = Invoice.objects.get(reference=invoice)
    assert note.total == Decimal("23800.00") and note.issued_by == "carol@conexcol.example"
    assert f"{note.full_number}" in client.get(change).content.decode()
    notes_list = client.get(reverse("admin:einvoice_note_changelist")).content.decode()
    assert f"{note.full_number}" in notes_list
    assert '<span class="cell-detail">1 · Devolución parcial' in notes_list  # not "1"
    assert client.get(reverse("admin:einvoice_note_change", args=[note.pk])).status_code == 200


def test_staff_without_the_change_permission_cannot_issue_notes(
    django_capture_on_commit_callbacks,
):
    from django.contrib.auth.models import Permission

    invoice = paid_invoice(django_capture_on_commit_callbacks)
    viewer = make_customer(email="viewer@conexcol.example")
    viewer.user.is_staff = True
    viewer.user.save()
    viewer.user.user_permissions.add(Permission.objects.get(codename="view_invoice"))
    client = Client()
    client.force_login(viewer.user)
    url = reverse("admin:billing_order_credit-note", args=[invoice.order_id])
    response = client.post(
        url, {"concept": "2", "reason": "x", "scope": "full", "destination": "credit"}
    )
    assert response.status_code == 403
    assert not Invoice.objects.filter(reference=invoice).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_credit_notes_never_exceed_the_invoice_and_numbers_have_no_gaps(
    django_capture_on_commit_callbacks, monkeypatch
):
    from clientarea.einvoice import jobs

    invoices = [paid_invoice(django_capture_on_commit_callbacks) for _ in range(3)]
    monkeypatch.setattr(jobs, "render_invoice_job", lambda invoice_id: None)  # numbering only
    # 4 notes of 60 % on each invoice at once: exactly one per invoice fits.
    attempts = [invoice for invoice in invoices for _ in range(4)]
    barrier = threading.Barrier(len(attempts))
    refused, errors = [], []

    def issue(invoice):
        try:
            barrier.wait()
            issue_credit_note(invoice=invoice, concept="1", reason="x", amount=Decimal("60000"))
        except NoteRefused:
            refused.append(invoice.pk)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=issue, args=(invoice,)) for invoice in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(refused) == 9
    for invoice in invoices:
        assert invoice.notes.count() == 1 and invoice_balance(invoice) == Decimal("47600.00")
    numbers = sorted(
        n for n in Invoice.objects.filter(kind="credit_note").values_list("number", flat=True) if n
    )
    assert numbers == [1, 2, 3]
    assert NoteNumbering.objects.get(kind="credit_note").next_number == 4


def test_a_note_whose_job_was_lost_is_completed_by_the_sweep(
    django_capture_on_commit_callbacks, monkeypatch
):
    from clientarea.einvoice import delivery, jobs

    invoice = paid_invoice(django_capture_on_commit_callbacks)
    with monkeypatch.context() as patched:
        patched.setattr(jobs, "render_invoice_job", lambda invoice_id: None)  # the job is lost
        note = credit(invoice, django_capture_on_commit_callbacks, amount=Decimal("1000"))
    assert not note.rendered_at and not note.emailed_at
    with django_capture_on_commit_callbacks(execute=True):
        delivery.process_pending_invoices()
    note.refresh_from_db()
    assert note.rendered_at and note.transmitted_at and note.emailed_at
    assert OutgoingEmail.objects.filter(template="note_issued").count() == 1


def test_the_balance_of_an_invoice_with_a_rounding_line_is_its_payable_total(
    django_capture_on_commit_callbacks,
):
    """240.001 + 19 % IVA is 285.601,19, paid as 285.601 (PayableRoundingAmount −0,19): the
    back office showed a balance of $ 285.601,19 against a total of $ 285.601."""
    invoice = paid_invoice(django_capture_on_commit_callbacks, price="240001")
    assert invoice.order is not None and invoice.order.total == Decimal("285601.00")
    assert invoice_balance(invoice) == Decimal("285601.00")
    # A note credits the invoice's value, IVA included (notes carry no rounding); what is left is
    # said in whole pesos the same way.
    first = credit(invoice, django_capture_on_commit_callbacks, amount=Decimal("100000"))
    assert first.total == Decimal("119000.00")
    assert invoice_balance(invoice) == Decimal("166601.00")
    with pytest.raises(NoteRefused, match=r"exceeds what is left of invoice .* \(\$ 166\.601,19"):
        issue_credit_note(invoice=invoice, concept="1", reason="x", amount=Decimal("140002"))
    # The rest of the invoice's value (166.601,19) can still be credited: nothing is left.
    credit(invoice, django_capture_on_commit_callbacks, lines={1: Decimal("140001")})
    assert invoice_balance(invoice) == Decimal("0.00")


def test_a_whole_credit_note_on_an_invoice_with_a_rounding_line_leaves_nothing(
    django_capture_on_commit_callbacks,
):
    invoice = paid_invoice(django_capture_on_commit_callbacks, price="240001")
    note = credit(invoice, django_capture_on_commit_callbacks, concept="2")
    assert note.total == Decimal("285601.19")
    assert invoice_balance(invoice) == Decimal("0.00")
