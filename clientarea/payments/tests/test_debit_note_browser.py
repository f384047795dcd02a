"""A debit note paid in a real browser against the PayU simulator: Billing lists it with its PDF,
Pay now takes the card, the note's order becomes paid and no invoice is issued for it."""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest

from clientarea.billing import debit_notes
from clientarea.billing.tests.test_debit_notes import accepted_invoice
from clientarea.einvoice.models import Invoice
from clientarea.payments.models import Payment
from clientarea.payments.tests.test_account_browser import alice, log_in  # noqa: F401 (fixture)
from clientarea.payments.tests.test_e2e_browser import pay_by_card, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_debit_note_is_paid_by_card_through_payu(page, live_site, alice):  # noqa: F811
    invoice = accepted_invoice(lambda execute: contextlib.nullcontext(), alice)
    note, order = debit_notes.issue_debit_note(
        invoice=invoice, concept="3", reason="Ajuste de precio", amount=Decimal("10000")
    )
    note.refresh_from_db()
    assert note.is_validated  # the worker rendered and kept it (store-only transmitter)
    invoices = Invoice.objects.count()
    log_in(page, live_site)
    assert page.inner_text("#account-due").strip() == "$ 11.900"
    row = page.locator(f"tr[data-number='{note.full_number}']")
    assert "PDF" in row.inner_text()
    row.locator("th a").click()
    page.wait_for_selector("#order-debit-note")
    page.click("#pay-now")
    page.click("#gateway-payu")
    pay_by_card(page, "4111111111111111")
    wait_for_status(page, "approved")
    # The note's own payment (the invoice's order was paid by a transfer staff registered)
    assert Payment.objects.get(gateway="payu").amount == Decimal("11900.00")
    order.refresh_from_db()
    assert (order.state, order.paid_via) == ("paid", "payu")
    assert Invoice.objects.count() == invoices  # the note is the DIAN document
    page.goto(live_site.url + "/clientarea/billing/")
    assert page.inner_text("#account-due").strip() == "$ 0"
