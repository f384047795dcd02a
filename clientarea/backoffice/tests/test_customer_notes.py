"""The customer page lists the customer's credit and debit notes beside the invoices: number,
kind, the invoice corrected, amount, DIAN state, and the PDF and XML to download."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clientarea.backoffice.tests import staff_with
from clientarea.einvoice.services import issue_credit_note, issue_debit_note
from clientarea.einvoice.tests.test_notes import paid_invoice
from clientarea.test import make_customer, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def page(client, customer) -> str:
    response = client.get(reverse("backoffice:customer", args=[customer.pk]))
    assert response.status_code == 200
    return response.content.decode()


def with_notes(captured, customer, n: int = 1):
    invoice = paid_invoice(captured, customer=customer)
    notes = []
    with captured(execute=True):
        for _ in range(n):
            notes.append(
                issue_credit_note(
                    invoice=invoice, concept="1", reason="Devolución", amount=Decimal("1000")
                )
            )
        notes.append(
            issue_debit_note(
                invoice=invoice, concept="1", reason="Intereses", amount=Decimal("500")
            )
        )
    for note in notes:
        note.refresh_from_db()
    return invoice, notes


def test_notes_are_listed_with_their_invoice_state_and_files(
    client, django_capture_on_commit_callbacks
):
    alice = make_customer("alice@example.com")
    invoice, (credit, debit) = with_notes(django_capture_on_commit_callbacks, alice)
    client.force_login(make_staff())
    html = page(client, alice)
    section = html.split('id="notes-dian"', 1)[1].split("</section>", 1)[0]
    for note, kind, amount in ((credit, "Credit note", "$ 1.190"), (debit, "Debit note", "$ 500")):
        assert note.full_number in section
        assert kind in section
        assert amount in section
        assert reverse("admin:einvoice_note_change", args=[note.pk]) in section
        for kind_code in ("pdf", "xml"):
            url = reverse("admin:einvoice_invoice_download", args=[note.pk, kind_code])
            assert url in section
            download = client.get(url)
            assert download.status_code == 200
            assert note.full_number in download["Content-Disposition"]
    assert invoice.full_number in section  # the invoice each note corrects
    assert str(credit.get_status_display()) in section
    # The invoices section lists the invoice alone, with its own files.
    invoices = html.split('id="invoices"', 1)[1].split("</section>", 1)[0]
    assert invoice.full_number in invoices and credit.full_number not in invoices
    assert reverse("admin:einvoice_invoice_download", args=[invoice.pk, "pdf"]) in invoices


def test_staff_who_may_not_see_invoices_get_no_download_links(
    client, django_capture_on_commit_callbacks
):
    alice = make_customer("alice@example.com")
    _invoice, (credit, _debit) = with_notes(django_capture_on_commit_callbacks, alice)
    client.force_login(staff_with("support@conexcol.example", "accounts.view_customer"))
    html = page(client, alice)
    assert credit.full_number in html
    url = reverse("admin:einvoice_invoice_download", args=[credit.pk, "pdf"])
    assert url not in html
    assert client.get(url).status_code in (302, 403)


def test_a_customer_without_notes_says_so(client):
    alice = make_customer("alice@example.com")
    client.force_login(make_staff())
    assert "No credit or debit notes." in page(client, alice)


def test_the_notes_cost_the_same_queries_whatever_their_number(
    client, django_capture_on_commit_callbacks
):
    alice = make_customer("alice@example.com")
    bob = make_customer("bob@example.com")
    with_notes(django_capture_on_commit_callbacks, alice, n=1)
    with_notes(django_capture_on_commit_callbacks, bob, n=6)
    client.force_login(make_staff())
    page(client, alice)  # the site data (provider, help links) is read once, then kept
    counts = []
    for customer in (alice, bob):
        with CaptureQueriesContext(connection) as queries:
            page(client, customer)
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
