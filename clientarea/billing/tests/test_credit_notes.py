"""Credit notes staff issue on a paid order's invoice: the note's total with IVA becomes the
customer's credit in the same transaction (or nothing, when staff say no money is owed back); the
statement names it, its email says where the money went, credit pays pending orders; refused
notes, the corrected-buyer-data reissue and refunds post nothing of it."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from decimal import Decimal
from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import translation

from clientarea.accounts.models import AuditEvent
from clientarea.billing import credit_notes, ledger, selectors, services
from clientarea.billing.models import LedgerEntry, LedgerKind, Order, OrderState
from clientarea.billing.tests.test_debit_notes import accepted_invoice
from clientarea.einvoice.models import Invoice, InvoiceStatus
from clientarea.einvoice.services import NoteRefused
from clientarea.notifications.models import OutgoingEmail
from clientarea.test import make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def ana():
    make_provider()
    return make_customer(
        "ana@example.com", first_name="Ana", last_name="Ruiz", document_number="1020304051"
    )


def credit(captured, invoice, *, destination="credit", line: str = "20000"):
    with captured(execute=True):
        return credit_notes.issue_credit_note(
            invoice=invoice,
            concept="1",
            reason="Servicio prestado en parte",
            destination=destination,
            lines={1: Decimal(line)},
        )


def movements(customer) -> list[tuple[str, Decimal, bool]]:
    return [
        (e.kind, e.amount, e.order_id is not None)
        for e in LedgerEntry.objects.filter(customer=customer).order_by("id")
    ]


def test_a_staff_credit_note_becomes_the_customers_credit_with_iva(
    django_capture_on_commit_callbacks, ana
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, ana)
    before = selectors.account_summary(ana)
    assert before.balance == 0 and before.credit == 0
    note, entry = credit(django_capture_on_commit_callbacks, invoice)
    assert note.total == Decimal("23800.00")  # 20 000 + IVA 19 %
    assert entry is not None and entry.reference == note.full_number
    assert movements(ana)[-3:] == [
        (LedgerKind.INVOICE_NOTE, Decimal("-23800.00"), True),
        (LedgerKind.NOTE_TO_CREDIT, Decimal("23800.00"), True),
        (LedgerKind.NOTE_TO_CREDIT, Decimal("-23800.00"), False),
    ]
    after = selectors.account_summary(ana)
    assert after.credit == Decimal("23800.00") and after.balance == Decimal("-23800.00")
    assert after.due == 0
    order = Order.objects.get(invoices=invoice)
    assert order.state == OrderState.PAID and selectors.order_balance_due(order) == 0
    assert AuditEvent.objects.filter(action="billing.credit_note_credited").exists()


def test_the_statement_and_billing_name_the_note(
    django_capture_on_commit_callbacks, ana, client: Client, tmp_path
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, ana)
    client.force_login(ana.user)
    assert "23.800" not in client.get(reverse("billing:orders")).content.decode()  # cached
    note, _entry = credit(django_capture_on_commit_callbacks, invoice)
    billing = client.get(reverse("billing:orders")).content.decode()
    assert "$ 23.800" in billing  # the credit available (the cached page was replaced)
    statement = client.get(reverse("billing:statement")).content.decode()
    assert "Credit note on an invoice" in statement and str(note.full_number) in statement
    assert "Credit note kept as credit" in statement
    csv = client.get(reverse("billing:statement") + "?format=csv").content.decode()
    assert "Credit note on an invoice" in csv and str(note.full_number) in csv
    if shutil.which("pdftotext"):
        pdf = tmp_path / "statement.pdf"
        pdf.write_bytes(client.get(reverse("billing:statement"), {"format": "pdf"}).content)
        text = subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert "Credit note on an invoice" in " ".join(text.split()), text
        assert str(note.full_number) in text
    detail = client.get(
        reverse("billing:order", args=[Order.objects.get(invoices=invoice).number])
    ).content.decode()
    assert str(note.full_number) in detail  # the order's movements
    staff = Client()
    staff.force_login(make_staff())
    admin = staff.get(reverse("admin:billing_ledgerentry_statement", args=[ana.pk]))
    assert admin.status_code == 200 and str(note.full_number) in admin.content.decode()


def test_refused_notes_write_nothing(django_capture_on_commit_callbacks, ana):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, ana)
    entries = LedgerEntry.objects.count()
    with pytest.raises(NoteRefused, match="exceeds"):  # more than is left (119 000)
        credit_notes.issue_credit_note(
            invoice=invoice, concept="1", reason="x", amount=Decimal("100001")
        )
    with pytest.raises(NoteRefused):
        credit(django_capture_on_commit_callbacks, invoice, destination="cash")
    with pytest.raises(NoteRefused):
        credit_notes.issue_credit_note(invoice=invoice, concept="9", reason="x")
    Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.SENT, transmitted_at=None)
    invoice.refresh_from_db()
    with pytest.raises(NoteRefused, match="not accepted"):
        credit(django_capture_on_commit_callbacks, invoice)
    assert LedgerEntry.objects.count() == entries
    assert not Invoice.objects.filter(kind="credit_note").exists()


def test_the_note_and_its_credit_are_all_or_nothing(django_capture_on_commit_callbacks, ana):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, ana)
    with (
        mock.patch.object(ledger, "post_invoice_credit_note", side_effect=RuntimeError("gone")),
        pytest.raises(RuntimeError),
    ):
        credit(django_capture_on_commit_callbacks, invoice)
    assert not Invoice.objects.filter(kind="credit_note").exists()


def test_no_money_owed_back_posts_nothing_and_is_audited(django_capture_on_commit_callbacks, ana):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, ana)
    entries = movements(ana)
    note, entry = credit(django_capture_on_commit_callbacks, invoice, destination="none")
    assert entry is None and note.total == Decimal("23800.00")
    assert movements(ana) == entries
    assert selectors.account_summary(ana).credit == 0
    event = AuditEvent.objects.get(action="billing.credit_note_not_credited")
    assert event.target == note.full_number
    email = OutgoingEmail.objects.get(template="note_issued")
    assert "crédito" not in email.body_text.split("Motivo")[1].split("CUDE")[0]
    assert credit_notes.credit_note_email_context(note) == {}


@pytest.mark.parametrize("auto_apply", [True, False])
def test_the_note_email_says_the_amount_was_added_to_the_credit(
    django_capture_on_commit_callbacks, ana, settings, auto_apply
):
    settings.BILLING_AUTO_APPLY_CREDIT = auto_apply
    invoice = accepted_invoice(django_capture_on_commit_callbacks, ana)
    note, _entry = credit(django_capture_on_commit_callbacks, invoice)
    email = OutgoingEmail.objects.get(template="note_issued")
    sentence = "El valor de esta nota crédito, $ 23.800, se abonó al saldo a favor de su cuenta."
    assert sentence in email.body_text and sentence in email.body_html  # the customer's language
    statement = reverse("billing:statement")
    assert statement in email.body_text and statement in email.body_html
    automatic = "a medida que se generan" in email.body_text
    assert automatic is auto_apply
    assert str(note.full_number) in email.body_text


def test_credit_from_the_note_pays_a_pending_order(
    django_capture_on_commit_callbacks, ana, settings
):
    settings.BILLING_AUTO_APPLY_CREDIT = True
    invoice = accepted_invoice(django_capture_on_commit_callbacks, ana)
    pending = services.create_manual_order(
        customer=ana, description="Dominio", unit_price=Decimal("16807"), notify=False
    )
    assert pending.state == OrderState.PENDING and pending.total == Decimal("20000")
    credit(django_capture_on_commit_callbacks, invoice)
    pending.refresh_from_db()
    assert pending.state == OrderState.PAID and pending.paid_via == "credit"
    assert selectors.credit_available(ana) == Decimal("3800.00")
    assert selectors.account_summary(ana).balance == Decimal("-3800.00")


def test_without_auto_apply_the_credit_waits(django_capture_on_commit_callbacks, ana, settings):
    settings.BILLING_AUTO_APPLY_CREDIT = False
    invoice = accepted_invoice(django_capture_on_commit_callbacks, ana)
    pending = services.create_manual_order(
        customer=ana, description="Dominio", unit_price=Decimal("16807"), notify=False
    )
    credit(django_capture_on_commit_callbacks, invoice)
    pending.refresh_from_db()
    assert pending.state == OrderState.PENDING
    assert selectors.credit_available(ana) == Decimal("23800.00")


def test_invoicing_again_with_corrected_buyer_data_posts_nothing(
    django_capture_on_commit_callbacks, ana, client: Client
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, ana)
    entries = movements(ana)
    client.force_login(make_staff())
    page = client.get(reverse("admin:einvoice_invoice_change", args=[invoice.pk])).content
    url = reverse("admin:einvoice_invoice_reissue", args=[invoice.pk])
    assert url.encode() in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"reason": "Apellido errado", "confirm": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    note = Invoice.objects.get(kind="credit_note", reference=invoice)
    assert note.total == invoice.total  # the whole invoice cancelled...
    assert movements(ana) == entries  # ...and nothing owed back: the order stays paid
    assert selectors.account_summary(ana).credit == 0
    assert credit_notes.credit_note_email_context(note) == {}


def test_staff_issue_a_credit_note_from_the_invoice_page(
    django_capture_on_commit_callbacks, ana, client: Client
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, ana)
    client.force_login(make_staff())
    page = client.get(reverse("admin:einvoice_invoice_change", args=[invoice.pk])).content
    url = reverse("admin:billing_order_credit-note", args=[invoice.order_id])
    assert url.encode() in page
    form = client.get(url)
    assert form.status_code == 200
    assert re.search(r'<input[^>]*value="credit"[^>]*checked', form.content.decode())
    assert b"Payments" in form.content and b"Refunds" in form.content  # the help text
    # A transfer staff registered is refunded from its payment too (it once had no Refund)
    help_text = form.content.decode()
    assert "through a gateway or by a transfer staff registered, use “Refund”" in help_text
    assert "has no “Refund” yet" not in help_text
    too_much = client.post(
        url,
        {
            "concept": "1",
            "reason": "x",
            "scope": "amount",
            "amount": "100001",
            "destination": "credit",
        },
    )
    assert too_much.status_code == 200 and b"exceeds" in too_much.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {
                "concept": "1",
                "reason": "Devolución",
                "scope": "lines",
                "line_1": "20000",
                "destination": "credit",
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == reverse("admin:einvoice_invoice_change", args=[invoice.pk])
    note = Invoice.objects.get(kind="credit_note", reference=invoice)
    assert note.issued_by == "carol@conexcol.example"
    assert LedgerEntry.objects.filter(
        kind=LedgerKind.INVOICE_NOTE, reference=note.full_number, amount=Decimal("-23800.00")
    ).exists()
    # The einvoice-only action is gone: one entry point for staff.
    with pytest.raises(NoReverseMatch):
        reverse("admin:einvoice_invoice_credit-note", args=[invoice.pk])


def test_staff_without_the_permissions_cannot_issue_credit_notes(
    django_capture_on_commit_callbacks, ana
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, ana)
    url = reverse("admin:billing_order_credit-note", args=[invoice.order_id])
    data = {"concept": "2", "reason": "x", "scope": "full", "destination": "credit"}
    for codenames in (["view_invoice", "view_order"], ["change_order", "view_invoice"]):
        viewer = make_customer(email=f"{codenames[0]}@conexcol.example")
        viewer.user.is_staff = True
        viewer.user.save()
        viewer.user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
        client = Client()
        client.force_login(viewer.user)
        assert client.post(url, data).status_code == 403
    assert not Invoice.objects.filter(kind="credit_note").exists()
    assert not LedgerEntry.objects.filter(kind=LedgerKind.INVOICE_NOTE).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_staff_credit_notes_credit_once_what_fits(
    django_capture_on_commit_callbacks, monkeypatch
):
    from clientarea.einvoice import jobs

    make_provider()
    customer = make_customer("ana@example.com", first_name="Ana")
    invoice = accepted_invoice(django_capture_on_commit_callbacks, customer)
    monkeypatch.setattr(jobs, "render_invoice_job", lambda invoice_id: None)
    barrier = threading.Barrier(4)
    refused, errors = [], []

    def issue():
        try:
            barrier.wait()
            credit_notes.issue_credit_note(
                invoice=invoice, concept="1", reason="x", amount=Decimal("60000")
            )
        except NoteRefused:
            refused.append(1)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=issue) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(refused) == 3
    assert selectors.credit_available(customer) == Decimal("71400.00")
    assert LedgerEntry.objects.filter(kind=LedgerKind.INVOICE_NOTE).count() == 1
