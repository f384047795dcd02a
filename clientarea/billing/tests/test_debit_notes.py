"""Debit notes owed on the customer's account: issuing one posts its total to the ledger in the
same transaction; its order is paid like any order but issues no invoice; Billing, the order page,
the statement and the note's email show it; the data migration moves existing notes onto the
ledger and back."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from decimal import Decimal
from unittest import mock

import pytest
from django.apps import apps as django_apps
from django.conf import settings as django_settings
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import translation

from clientarea.billing import automation, debit_notes, ledger, selectors, services
from clientarea.billing.models import ItemKind, LedgerEntry, LedgerKind, Order, OrderState
from clientarea.einvoice import delivery
from clientarea.einvoice.models import Invoice, NumberingResolution
from clientarea.einvoice.services import NoteRefused
from clientarea.einvoice.services import issue_debit_note as einvoice_issue_debit_note
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.notifications.models import OutgoingEmail
from clientarea.payments.services import ManualPaymentDetails, register_manual_payment
from clientarea.test import make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def alice():
    make_provider()
    return make_customer(
        "alice@example.com", first_name="Alice", last_name="Gómez", document_number="1020304050"
    )


def accepted_invoice(captured, customer, *, price: str = "100000") -> Invoice:
    """A paid order's invoice, signed and kept by the store-only transmitter (validated)."""
    if not NumberingResolution.objects.exists():
        make_resolution()
    order = services.create_manual_order(
        customer=customer, description="Hosting Pyme", unit_price=Decimal(price), notify=False
    )
    with captured(execute=True):
        register_manual_payment(
            details=ManualPaymentDetails(order=order, reference="TRX-1"), actor=None
        )
    invoice = Invoice.objects.get(order=order)
    assert invoice.is_validated
    return invoice


def issue(captured, invoice, amount: str = "10000") -> tuple[Invoice, Order]:
    with captured(execute=True):
        note, order = debit_notes.issue_debit_note(
            invoice=invoice, concept="3", reason="Ajuste de precio", amount=Decimal(amount)
        )
    note.refresh_from_db()
    order.refresh_from_db()
    return note, order


def test_a_debit_note_is_owed_on_the_ledger_for_its_total_with_iva(
    django_capture_on_commit_callbacks, alice
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, alice)
    before = selectors.account_summary(alice)
    note, order = issue(django_capture_on_commit_callbacks, invoice, amount="1234.56")
    assert note.total == Decimal("1469.13")  # 1 234,56 + IVA 234,57: no rounding on notes
    assert order.debit_note_id == note.pk and order.number == note.full_number
    assert (order.state, order.total, order.rounding) == ("pending", note.total, Decimal("0"))
    assert (order.subtotal, order.tax_total) == (Decimal("1234.56"), Decimal("234.57"))
    assert [item.kind for item in order.items.all()] == [ItemKind.DEBIT_NOTE]
    assert not order.items.filter(service__isnull=False).exists()
    charge = LedgerEntry.objects.get(order=order)
    assert (charge.kind, charge.amount) == (LedgerKind.DEBIT_NOTE, Decimal("1469.13"))
    after = selectors.account_summary(alice)
    assert after.due == before.due + note.total
    assert after.balance == before.balance + note.total
    # No "order created" email: the note's own email says what is due.
    assert not OutgoingEmail.objects.filter(template="order_created").exists()


def test_a_refused_note_writes_nothing_on_the_ledger(django_capture_on_commit_callbacks, alice):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, alice)
    entries = LedgerEntry.objects.count()
    with pytest.raises(NoteRefused):
        debit_notes.issue_debit_note(
            invoice=invoice, concept="3", reason="Ajuste de precio"
        )  # no amount
    with pytest.raises(NoteRefused):
        debit_notes.issue_debit_note(
            invoice=invoice, concept="9", reason="Mora", amount=Decimal("10")
        )
    assert LedgerEntry.objects.count() == entries
    assert not Order.objects.filter(debit_note__isnull=False).exists()
    assert not Invoice.objects.filter(kind="debit_note").exists()


def test_the_note_and_its_charge_are_all_or_nothing(django_capture_on_commit_callbacks, alice):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, alice)
    with (
        mock.patch.object(
            ledger, "post_order_charges", side_effect=RuntimeError("the database went away")
        ),
        pytest.raises(RuntimeError),
    ):
        debit_notes.issue_debit_note(
            invoice=invoice, concept="3", reason="Ajuste de precio", amount=Decimal("10000")
        )
    assert not Invoice.objects.filter(kind="debit_note").exists()
    assert not Order.objects.filter(debit_note__isnull=False).exists()


def test_paying_the_note_settles_it_without_an_invoice(django_capture_on_commit_callbacks, alice):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, alice)
    _note, order = issue(django_capture_on_commit_callbacks, invoice)
    invoices = Invoice.objects.count()
    # A partial payment first (staff), then the rest.
    after = register_manual_payment(
        details=ManualPaymentDetails(order=order, reference="TRX-2", amount=Decimal("5000")),
        actor=make_staff(),
    ).order
    assert after.state == OrderState.PENDING
    assert selectors.order_balance_due(after) == Decimal("6900.00")
    with django_capture_on_commit_callbacks(execute=True):
        after = register_manual_payment(
            details=ManualPaymentDetails(order=order, reference="TRX-3"), actor=None
        ).order
    assert after.state == OrderState.PAID
    assert selectors.order_balance_due(after) == 0
    assert Invoice.objects.count() == invoices  # the note is the DIAN document
    paid = OutgoingEmail.objects.filter(template="order_paid").order_by("-id").first()
    # The customer's language (es-co): "the note itself is the electronic document".
    assert paid is not None and "no se emite factura" in paid.body_text
    assert selectors.account_summary(alice).due == 0


def test_credit_pays_a_new_debit_note(django_capture_on_commit_callbacks, alice, settings):
    settings.BILLING_AUTO_APPLY_CREDIT = True
    invoice = accepted_invoice(django_capture_on_commit_callbacks, alice)
    ledger.record_payment(
        customer_id=alice.pk, amount=Decimal("20000"), reference="SAL-1", via="manual"
    )
    invoices = Invoice.objects.count()
    _note, order = issue(django_capture_on_commit_callbacks, invoice)
    assert order.state == OrderState.PAID and order.paid_via == "credit"
    assert selectors.credit_available(alice) == Decimal("8100.00")
    assert Invoice.objects.count() == invoices + 1  # the note only


def test_an_agent_withholds_nothing_from_a_debit_note(django_capture_on_commit_callbacks, alice):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, alice)
    _note, order = issue(django_capture_on_commit_callbacks, invoice)
    with mock.patch(
        "clientarea.withholdings.selectors.approved_agent", side_effect=AssertionError("asked")
    ):
        assert selectors.withholding_to_post(order) == 0
        assert selectors.amount_to_charge([order]) == order.total


def test_an_order_that_collects_a_debit_note_cannot_be_cancelled(
    django_capture_on_commit_callbacks, alice
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, alice)
    _note, order = issue(django_capture_on_commit_callbacks, invoice)
    with pytest.raises(services.OrderStateError, match="credit note"):
        services.cancel_order(order=order, reason="no")
    order.refresh_from_db()
    assert order.state == OrderState.PENDING


def test_the_note_email_says_it_is_due_and_links_to_pay_it(
    django_capture_on_commit_callbacks, alice
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, alice)
    note, order = issue(django_capture_on_commit_callbacks, invoice)
    email = OutgoingEmail.objects.get(template="note_issued")
    pay_url = reverse("billing:order", kwargs={"number": order.number})
    assert pay_url in email.body_text and pay_url in email.body_html
    assert "queda pendiente en su cuenta" in email.body_text  # the customer's language
    assert str(note.full_number) in email.body_text


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "es-co",
            ("Recordatorio: la nota débito", "La nota débito", "Vencida: nota débito", "por"),
        ),
        ("en", ("Reminder: debit note", "Debit note", "Overdue: debit note", "for")),
    ],
)
def test_the_billing_run_reminds_of_a_debit_note_by_its_name_and_number(
    django_capture_on_commit_callbacks, alice, language, words
):
    alice.preferred_language = language
    alice.save(update_fields=["preferred_language"])
    invoice = accepted_invoice(django_capture_on_commit_callbacks, alice)
    note, order = issue(django_capture_on_commit_callbacks, invoice)
    days = [
        order.due_date - dt.timedelta(days=django_settings.BILLING_REMINDER_DAYS_BEFORE),
        order.due_date,
        order.due_date + dt.timedelta(days=1),
    ]
    for day in days:
        automation.run_billing(run_date=day)
    emails = OutgoingEmail.objects.filter(
        template__in=["order_reminder", "order_due_today", "order_overdue"]
    ).order_by("pk")
    assert [e.template for e in emails] == ["order_reminder", "order_due_today", "order_overdue"]
    reminder_subject, note_named, overdue_subject, word_for = words
    reminder, due_today, overdue = emails
    assert reminder.subject.startswith(f"{reminder_subject} {note.full_number} {word_for} ")
    assert due_today.subject.startswith(f"{note_named} {note.full_number} {word_for} ")
    assert overdue.subject.startswith(f"{overdue_subject} {note.full_number} {word_for} ")
    for email in emails:
        # The opening sentence (the order's lines say "Debit note ND1 on invoice ..." anyway).
        sentence = f"{note_named} {note.full_number} {word_for} $ 11.900"
        assert sentence in email.body_text and sentence in email.body_html
        for text in (email.subject, email.body_text, email.body_html):
            assert "service order" not in text.lower() and "orden de servicio" not in text.lower()


def test_billing_shows_the_note_with_its_files_and_the_statement_lists_it(
    django_capture_on_commit_callbacks, alice, client: Client
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, alice)
    note, order = issue(django_capture_on_commit_callbacks, invoice)
    assert note.is_validated and note.rendered_at
    client.force_login(alice.user)
    html = client.get(reverse("billing:orders")).content.decode()
    assert f'data-number="{note.full_number}"' in html
    assert f'value="{note.full_number}"' in html  # selectable to pay with other orders
    assert reverse("einvoice:download", args=[note.full_number, "pdf"]) in html
    row = html[html.index(f'data-number="{note.full_number}"') :]
    row = row[: row.index("</tr>")]
    named = [f"{note.full_number} on invoice", f"{note.full_number} sobre la factura"]
    assert sum(row.count(text) for text in named) == 1  # named once, not again in its line
    detail = client.get(reverse("billing:order", args=[order.number])).content.decode()
    assert 'id="order-debit-note"' in detail and 'id="pay-now"' in detail
    statement = client.get(reverse("billing:statement")).content.decode()
    assert "Debit note" in statement and str(note.full_number) in statement
    csv = client.get(reverse("billing:statement") + "?format=csv").content.decode()
    assert str(note.full_number) in csv and "Debit note" in csv


def test_the_billing_page_shows_the_files_once_dian_accepts_the_note(
    django_capture_on_commit_callbacks, alice, client: Client
):
    """The page is cached per account stamp: DIAN accepting a note changes the stamp."""
    invoice = accepted_invoice(django_capture_on_commit_callbacks, alice)
    with django_capture_on_commit_callbacks(execute=False):  # not rendered nor sent yet
        note, _order = debit_notes.issue_debit_note(
            invoice=invoice, concept="3", reason="Ajuste de precio", amount=Decimal("10000")
        )
    client.force_login(alice.user)
    pdf = reverse("einvoice:download", args=[note.full_number, "pdf"])
    html = client.get(reverse("billing:orders")).content.decode()
    assert f'data-number="{note.full_number}"' in html and pdf not in html
    delivery.render_and_send_invoice(invoice_id=note.pk)
    assert pdf in client.get(reverse("billing:orders")).content.decode()


def test_another_customers_debit_note_is_a_404(
    django_capture_on_commit_callbacks, alice, client: Client
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, alice)
    _note, order = issue(django_capture_on_commit_callbacks, invoice)
    bob = make_customer("bob@example.com", first_name="Bob")
    client.force_login(bob.user)
    assert client.get(reverse("billing:order", args=[order.number])).status_code == 404
    assert order.number not in client.get(reverse("billing:orders")).content.decode()


def test_staff_issue_a_debit_note_from_the_invoice_page(
    django_capture_on_commit_callbacks, alice, client: Client
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, alice)
    client.force_login(make_staff())
    page = client.get(reverse("admin:einvoice_invoice_change", args=[invoice.pk])).content
    url = reverse("admin:billing_order_debit-note", args=[invoice.order_id])
    assert url.encode() in page
    assert client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {"concept": "3", "reason": "Ajuste de precio", "scope": "amount", "amount": "10000"},
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    order = Order.objects.get(debit_note__isnull=False)
    assert order.total == Decimal("11900.00")
    assert LedgerEntry.objects.filter(order=order, kind=LedgerKind.DEBIT_NOTE).exists()
    admin_page = client.get(reverse("admin:billing_order_change", args=[order.pk]))
    assert admin_page.status_code == 200 and order.number.encode() in admin_page.content
    # The einvoice-only action is gone: one entry point for staff.
    with pytest.raises(NoReverseMatch):
        reverse("admin:einvoice_invoice_debit-note", args=[invoice.pk])


def test_an_orders_page_links_to_its_invoice_and_the_notes_on_it(
    django_capture_on_commit_callbacks, alice, client: Client
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, alice)
    note, note_order = issue(django_capture_on_commit_callbacks, invoice)
    client.force_login(make_staff())
    page = client.get(reverse("admin:billing_order_change", args=[invoice.order_id]))
    html = page.content.decode()
    assert reverse("admin:einvoice_invoice_change", args=[invoice.pk]) in html
    assert f"Invoice {invoice.full_number}" in html
    assert reverse("admin:einvoice_note_change", args=[note.pk]) in html
    assert f"Debit note {note.full_number}" in html
    # The debit note's own order (owed on the account) links to the note too.
    own = client.get(reverse("admin:billing_order_change", args=[note_order.pk])).content.decode()
    assert reverse("admin:einvoice_note_change", args=[note.pk]) in own


def test_the_data_migration_moves_existing_notes_onto_the_ledger_and_back(
    django_capture_on_commit_callbacks, alice
):
    migration = __import__(
        "clientarea.billing.migrations.0016_debit_notes_on_the_ledger", fromlist=["forward"]
    )
    invoice = accepted_invoice(django_capture_on_commit_callbacks, alice)
    with django_capture_on_commit_callbacks(execute=True):
        # A note issued before notes were owed: the DIAN document only.
        old = einvoice_issue_debit_note(
            invoice=invoice, concept="3", reason="Ajuste de precio", amount=Decimal("1234.56")
        )
    due_before = selectors.account_summary(alice).due
    migration.forward(django_apps, None)
    order = Order.objects.get(debit_note=old)
    assert (order.number, order.total, order.state) == (old.full_number, old.total, "pending")
    assert LedgerEntry.objects.get(order=order).kind == LedgerKind.DEBIT_NOTE
    assert selectors.account_summary(alice).due == due_before + old.total
    migration.forward(django_apps, None)  # once only
    assert Order.objects.filter(debit_note=old).count() == 1
    migration.backward(django_apps, None)
    assert not Order.objects.filter(debit_note__isnull=False).exists()
    assert selectors.account_summary(alice).due == due_before
    # Once something was paid on a note, going back refuses and removes nothing.
    migration.forward(django_apps, None)
    order = Order.objects.get(debit_note=old)
    register_manual_payment(
        details=ManualPaymentDetails(order=order, reference="TRX-9", amount=Decimal("100")),
        actor=None,
    )
    with pytest.raises(RuntimeError, match="Nothing was removed"):
        migration.backward(django_apps, None)
    assert Order.objects.filter(debit_note=old).exists()


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext not installed")
def test_the_notes_pdf_names_the_order_that_collects_it_and_the_invoice_it_corrects(
    django_capture_on_commit_callbacks, alice, tmp_path
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, alice)
    note, order = issue(django_capture_on_commit_callbacks, invoice)
    path = tmp_path / "note.pdf"
    path.write_bytes(bytes(note.pdf))
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert invoice.order is not None and invoice.full_number
    assert invoice.order.number not in text  # not the order the invoice was paid with
    order_row = next(line for line in text.splitlines() if "Orden de servicio" in line)
    assert order.number in order_row  # the order the customer pays for the note
    assert invoice.full_number in text  # the invoice it corrects
    # Its XML says the same: OrderReference is the order, BillingReference the invoice.
    xml = bytes(note.xml_signed).decode()
    assert f"<cac:OrderReference><cbc:ID>{order.number}</cbc:ID>" in xml
    assert f"<cbc:ID>{invoice.full_number}</cbc:ID>" in xml


def test_document_pages_are_titled_as_views_and_keep_their_actions(
    django_capture_on_commit_callbacks, alice, client: Client
):
    """Nothing on an invoice's or a note's page is editable: titled by the document, not
    "Change invoice", without Save buttons; the buttons that act on it stay."""
    invoice = accepted_invoice(django_capture_on_commit_callbacks, alice)
    note, _order = issue(django_capture_on_commit_callbacks, invoice)
    client.force_login(make_staff())
    page = client.get(reverse("admin:einvoice_invoice_change", args=[invoice.pk])).content.decode()
    assert f"<h1>Invoice {invoice.full_number}</h1>" in page
    assert "Change" not in page.split("<title>")[1].split("</title>")[0]
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert 'id="invoice-debit-note"' in page and 'id="invoice-credit-note"' in page
    page = client.get(reverse("admin:einvoice_note_change", args=[note.pk])).content.decode()
    assert f"<h1>Debit note {note.full_number}</h1>" in page
    assert "Change" not in page.split("<title>")[1].split("</title>")[0]
    assert 'name="_save"' not in page
