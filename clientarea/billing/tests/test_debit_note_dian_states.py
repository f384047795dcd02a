"""A debit note is collected only while it is a valid DIAN document: once DIAN validated it, or
while DIAN does not answer (contingency). While it is being sent, or after DIAN rejected it, its
order is "being validated by DIAN": no Pay now, not in a basket, not owed, no reminders; staff
resend it and once DIAN accepts it the order becomes pending with a whole payment term."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.urls import reverse

from clientarea.billing import automation, debit_notes, selectors
from clientarea.billing.models import Order, OrderEventKind, OrderState
from clientarea.billing.tests.test_debit_notes import _english, accepted_invoice, alice, issue
from clientarea.einvoice.dian.tests.test_roundtrip import SIMULATOR, paid_invoice
from clientarea.einvoice.models import Invoice, InvoiceStatus
from clientarea.einvoice.sandbox import faults
from clientarea.einvoice.services import render_and_send_invoice, resend_to_dian
from clientarea.einvoice.tests.test_note_alerts import RejectingTransmitter, SilentTransmitter
from clientarea.lib.dates import local_today
from clientarea.notifications.models import OutgoingEmail
from clientarea.payments import services as payments
from clientarea.payments.services import PaymentRefused
from clientarea.test import make_staff

pytestmark = pytest.mark.django_db
__all__ = ["_english", "alice"]  # fixtures
HERE = "clientarea.billing.tests.test_debit_note_dian_states"


def rejected_note(captured, customer, settings) -> tuple[Invoice, Order]:
    invoice = accepted_invoice(captured, customer)
    settings.EINVOICE_TRANSMITTER = f"{HERE}.Rejecting"
    note, order = issue(captured, invoice)
    assert note.status == InvoiceStatus.REJECTED
    return note, order


class Rejecting(RejectingTransmitter):
    pass


class Silent(SilentTransmitter):
    pass


def test_a_rejected_debit_note_cannot_be_paid_nor_is_owed(
    django_capture_on_commit_callbacks, alice, settings, client
):
    _note, order = rejected_note(django_capture_on_commit_callbacks, alice, settings)
    assert order.state == OrderState.VALIDATING
    assert selectors.account_summary(alice) == selectors.AccountSummary(
        balance=Decimal(0), due=Decimal(0), credit=Decimal(0)
    )
    assert selectors.balance_and_overdue(alice, today=order.due_date + dt.timedelta(days=30)) == (
        selectors.Balance(due=Decimal(0), overdue=Decimal(0), overdue_count=0)
    )
    assert selectors.pending_orders_with_due(alice) == []
    with pytest.raises(PaymentRefused):
        payments.start_payment(order=order, customer=alice, gateway_code="payu")
    with pytest.raises(PaymentRefused):
        payments.start_orders_payment(orders=[order], customer=alice, gateway_code="payu")
    rules = automation.Rules.from_settings(order.due_date + dt.timedelta(days=60))
    assert not automation.actionable_orders(rules).filter(pk=order.pk).exists()
    client.force_login(alice.user)
    page = client.get(reverse("billing:order", kwargs={"number": order.number})).content.decode()
    assert 'id="order-validating"' in page and 'id="pay-now"' not in page
    assert "DIAN is validating this debit note" in page
    listing = client.get(reverse("billing:orders")).content.decode()
    assert f'value="{order.number}"' not in listing  # no box to tick in "pay selected"
    # Never payable, so never held: it waits for DIAN from the start.
    assert list(order.events.values_list("kind", flat=True)) == [OrderEventKind.CREATED]
    assert not OutgoingEmail.objects.filter(template="note_issued").exists()


def test_once_dian_accepts_the_resent_note_it_is_payable_with_a_whole_term(
    django_capture_on_commit_callbacks, alice, settings, client
):
    note, order = rejected_note(django_capture_on_commit_callbacks, alice, settings)
    Order.objects.filter(pk=order.pk).update(due_date=local_today() - dt.timedelta(days=20))
    settings.EINVOICE_TRANSMITTER = "clientarea.einvoice.transmission.StoreOnlyTransmitter"
    # Staff find it in the DIAN queue and send it again from its page (which was a 500 for a
    # rejected note: its "Send to DIAN again" link named a URL the notes' admin did not have).
    client.force_login(make_staff())
    queue = client.get(reverse("admin:einvoice_note_changelist") + "?dian=rejected")
    assert note.full_number in queue.content.decode()
    page = client.get(reverse("admin:einvoice_note_change", args=[note.pk]))
    assert page.status_code == 200 and 'id="invoice-resend"' in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:einvoice_note_resend", args=[note.pk]))
    order.refresh_from_db()
    assert order.state == OrderState.PENDING
    assert order.due_date == local_today() + dt.timedelta(days=settings.BILLING_ORDER_DUE_DAYS)
    assert selectors.account_summary(alice).due == order.total
    last = order.events.last()
    assert last is not None and last.kind == OrderEventKind.DIAN_VALIDATED
    email = OutgoingEmail.objects.get(template="note_issued")
    assert reverse("billing:order", kwargs={"number": order.number}) in email.body_text
    payment, _action = payments.start_payment(order=order, customer=alice, gateway_code="payu")
    assert payment.amount == order.total


def test_a_note_in_contingency_is_payable(django_capture_on_commit_callbacks, alice, settings):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, alice)
    settings.EINVOICE_TRANSMITTER = f"{HERE}.Silent"
    note, order = issue(django_capture_on_commit_callbacks, invoice)
    assert order.state == OrderState.VALIDATING  # sent, DIAN has not answered yet
    for _ in range(3):
        Invoice.objects.filter(pk=note.pk).update(lease_until=None)
        with django_capture_on_commit_callbacks(execute=True):
            render_and_send_invoice(invoice_id=note.pk)
    note.refresh_from_db()
    order.refresh_from_db()
    assert note.status == InvoiceStatus.CONTINGENCY
    assert order.state == OrderState.PENDING
    # DIAN answers at last, and rejects it: nothing more is collected until it is fixed.
    settings.EINVOICE_TRANSMITTER = f"{HERE}.Rejecting"
    Invoice.objects.filter(pk=note.pk).update(lease_until=None)
    render_and_send_invoice(invoice_id=note.pk)
    order.refresh_from_db()
    assert order.state == OrderState.VALIDATING
    last = order.events.last()
    assert last is not None and last.kind == OrderEventKind.DIAN_HELD
    assert selectors.account_summary(alice).due == 0


@pytest.mark.skipif(
    not django_apps.is_installed(SIMULATOR), reason="the local DIAN simulator is not installed"
)
@pytest.mark.django_db(transaction=True)
def test_the_dian_simulator_rejects_the_note_then_accepts_it_resent(
    live_server, settings, django_capture_on_commit_callbacks
):
    """Over HTTP with the local DIAN simulator armed to reject the next document."""
    call_command("dian_sandbox_seed")
    settings.EINVOICE_TRANSMITTER = "clientarea.einvoice.dian.transmitter.DianTransmitter"
    settings.DIAN_SANDBOX = True
    settings.DIAN_WS_URL = ""
    settings.DIAN_WS_TIMEOUT = 10
    settings.SITE_URL = live_server.url
    invoice = paid_invoice(django_capture_on_commit_callbacks)
    faults.arm_fault(kind="reject_next")
    with django_capture_on_commit_callbacks(execute=True):
        note, order = debit_notes.issue_debit_note(
            invoice=invoice, concept="1", reason="Intereses de mora", amount=Decimal("2000")
        )
    note.refresh_from_db()
    order.refresh_from_db()
    assert (note.status, order.state) == (InvoiceStatus.REJECTED, OrderState.VALIDATING)
    assert selectors.account_summary(order.customer).due == 0
    with django_capture_on_commit_callbacks(execute=True):
        resend_to_dian(invoice_id=note.pk)
    note.refresh_from_db()
    order.refresh_from_db()
    assert (note.status, order.state) == (InvoiceStatus.ACCEPTED, OrderState.PENDING)
    assert selectors.account_summary(order.customer).due == order.total
    assert OutgoingEmail.objects.filter(template="note_issued").count() == 1


def _pdf_text(content: bytes, tmp_path) -> str:
    import subprocess

    path = tmp_path / "statement.pdf"
    path.write_bytes(content)
    return subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_the_statement_lists_a_held_note_as_a_memo_outside_every_balance(
    django_capture_on_commit_callbacks, alice, settings, client, tmp_path
):
    """The statement (page, CSV, PDF, back office) listed the charge of a debit note DIAN had
    rejected as a debit and closed at $ 11.900 owed, while Billing, the back office's customer
    page and the reports said nothing was owed. It is listed as a memo line, neither debit nor
    credit, the closing balance is the account's, and the reports' balances leave it out."""
    import csv as csv_module
    import io

    from clientarea.reports import selectors as reports

    note, order = rejected_note(django_capture_on_commit_callbacks, alice, settings)
    assert order.total == Decimal("11900.00")
    today = local_today()
    statement = selectors.account_statement(alice, start=today.replace(day=1), end=today)
    assert statement.closing == selectors.account_summary(alice).balance == Decimal(0)
    (held,) = [line for line in statement.lines if line.entry.order_id == order.pk]
    assert held.held and (held.debit, held.credit, held.balance) == (0, 0, statement.closing)
    assert held.held_amount == Decimal("11900.00") and statement.held == Decimal("11900.00")
    assert statement.debits == statement.credits  # the paid invoice's order, paid
    assert not reports.balances().filter(pk=alice.pk).exists()
    assert not reports.receivables().filter(pk=alice.pk).exists()

    client.force_login(alice.user)
    page = client.get(reverse("billing:statement")).content.decode()
    row = page.split('<tr class="held">', 1)[1].split("</tr>", 1)[0]
    assert "Not owed while DIAN validates the debit note: $ 11.900,00" in row
    assert note.full_number in row
    assert 'data-label="Debit"></td>' in row and 'data-label="Balance">$ 0</td>' in row
    closing = page.split('id="statement-closing"', 1)[1].split("</tr>", 1)[0]
    assert "<strong>$ 0</strong>" in closing
    assert "Not in the balance: $ 11.900,00 of debit notes DIAN is validating" in page

    csv = client.get(reverse("billing:statement"), {"format": "csv"}).content.decode()
    rows = list(csv_module.reader(io.StringIO(csv.lstrip("\ufeff"))))
    assert rows[0][-1] == "Not in the balance"
    (memo,) = [r for r in rows if str(note.full_number) in ",".join(r)]
    assert memo[5:] == ["", "", "0.00", "11900.00"]  # no debit, no credit, balance unchanged
    assert rows[-1][0:2] == [today.isoformat(), "Closing balance"]
    assert rows[-1][-2:] == ["0.00", "11900.00"]

    pdf = client.get(reverse("billing:statement"), {"format": "pdf"})
    text = " ".join(_pdf_text(pdf.content, tmp_path).split())
    assert "Not owed while DIAN validates the debit note: $ 11.900,00" in text
    assert "Not in the balance: $ 11.900,00 of debit notes DIAN is validating" in text

    client.force_login(make_staff())
    staff = client.get(reverse("admin:billing_ledgerentry_statement", args=[alice.pk]))
    body = staff.content.decode()
    assert 'id="account-balance">$ 0<' in body
    assert "Not owed while DIAN validates the debit note: $ 11.900,00" in body
    closing = body.split("Closing balance", 1)[1].split("</tr>", 1)[0]
    assert "<strong>$ 0</strong>" in closing

    # Once DIAN accepts it, the charge is owed where it was posted: a debit in every balance.
    Invoice.objects.filter(pk=note.pk).update(status=InvoiceStatus.ACCEPTED)
    Order.objects.filter(pk=order.pk).update(state=OrderState.PENDING)
    statement = selectors.account_statement(alice, start=today.replace(day=1), end=today)
    assert statement.closing == selectors.account_summary(alice).balance == order.total
    assert statement.held == 0 and not any(line.held for line in statement.lines)
    owing = {customer.pk: customer for customer in reports.balances()}
    assert owing[alice.pk].balance == order.total  # type: ignore[attr-defined]
