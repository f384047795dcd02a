"""Credit notes staff issue on a paid order's invoice, posted to the customer's account.

Invoices are issued only for paid orders, so a credit note on one means the provider owes the
customer its total (IVA included). ``issue_credit_note`` is the one way staff issue one: in one
transaction, under the customer's row lock, it issues the note
(``einvoice.services.issue_credit_note``: number, CUDE, document; signing, DIAN and the email run
after commit) and, by default, posts it to the ledger as the downgrade credits do
(``ledger.post_invoice_credit_note``: the note − on the order, the same amount moved to the
customer's credit), then applies the credit to pending orders with ``BILLING_AUTO_APPLY_CREDIT``.
A refused note (``NoteRefused``) writes neither.

Staff may instead say that no money is owed back (the customer is not owed the amount, e.g. the
invoice is cancelled because it is wrong and the order is billed again by hand): the note is then
a DIAN document only, and the decision is audited. Other credit notes do not come here: a refund
(``payments``) records its own note and the money returned (``ledger.record_order_refund``), a
downgrade its own (``billing.change_notes``), and *Invoice again with corrected buyer data*
(``einvoice.services.reissue_with_corrected_buyer``) cancels an invoice and reissues it for the
same paid order, which owes nothing back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from clientarea.accounts.audit import record
from clientarea.billing import ledger
from clientarea.billing.models import CreditNoteDestination, LedgerEntry, LedgerKind
from clientarea.einvoice import services as einvoice_services
from clientarea.einvoice.models import DocumentKind, Invoice
from clientarea.lib.money import ZERO

__all__ = ["credit_note_email_context", "issue_credit_note"]

logger = logging.getLogger(__name__)


@transaction.atomic
def issue_credit_note(
    *,
    invoice: Invoice,
    concept: str,
    reason: str,
    destination: str = CreditNoteDestination.CREDIT,
    actor=None,
    lines: Mapping[int, Decimal] | None = None,
    amount: Decimal | None = None,
) -> tuple[Invoice, LedgerEntry | None]:
    """Issue a credit note on ``invoice`` and, unless ``destination`` says no money is owed back,
    make its total (IVA included) the customer's credit, less what a withholding agent withheld
    on the credited part (it recovers that from DIAN: ``ledger.withholding_reversal``), both or
    neither. Returns the note and its
    ledger movement (None when nothing is owed back). Raises ``einvoice.services.NoteRefused``
    (nothing written)."""
    if destination not in CreditNoteDestination.values:
        raise einvoice_services.NoteRefused(_("Choose what happens to the note's money."))
    if invoice.customer_id is None:
        raise einvoice_services.NoteRefused(_("Only a customer's invoice can have a credit note."))
    customer = ledger.lock_customer(customer_id=invoice.customer_id)
    note = einvoice_services.issue_credit_note(
        invoice=invoice, concept=concept, reason=reason, actor=actor, lines=lines, amount=amount
    )
    if destination == CreditNoteDestination.NONE:
        record(
            action="billing.credit_note_not_credited",
            actor=actor,
            customer=customer,
            target=note.full_number or "",
            changes={"invoice": invoice.full_number or "", "total": str(note.total)},
        )
        logger.info("credit note %s: no money owed back (by %s)", note.full_number, actor)
        return note, None
    # What a withholding agent withheld on the credited part is not owed back: it recovers it
    # from DIAN (DUR 1625/2016 art. 1.2.4.17). Computed before the note is posted.
    withheld = ledger.withholding_reversal(order=invoice.order, amount=note.total)
    credit = note.total - withheld
    entry = ledger.post_invoice_credit_note(
        customer_id=customer.pk,
        order=invoice.order,
        amount=note.total,
        note=note.full_number or "",
        memo=note.reason,
        actor=actor,
    )
    record(
        action="billing.credit_note_credited",
        actor=actor,
        customer=customer,
        target=note.full_number or "",
        changes={
            "invoice": invoice.full_number or "",
            "total": str(note.total),
            "withheld": str(withheld),
            "credit": str(credit),
        },
    )
    logger.info(
        "credit note %s: %s added to customer %s's credit (total %s, withheld %s)",
        note.full_number,
        credit,
        customer.pk,
        note.total,
        withheld,
    )
    if settings.BILLING_AUTO_APPLY_CREDIT:
        ledger.apply_credit(customer_id=customer.pk, actor=actor)
    return note, entry


def credit_note_email_context(note: Invoice) -> dict[str, Any]:
    """For a credit note's email (``einvoice.services.add_note_email_source``, registered by
    ``BillingConfig.ready``): whether its total was added to the customer's credit, and where the
    customer sees it (Billing and the statement of account)."""
    if note.kind != DocumentKind.CREDIT_NOTE or not note.full_number:
        return {}
    entries = list(
        LedgerEntry.objects.filter(
            customer_id=note.customer_id,
            kind__in=(
                LedgerKind.INVOICE_NOTE,
                LedgerKind.WITHHOLDING_REVERSED,
                LedgerKind.NOTE_TO_CREDIT,
            ),
            reference=note.full_number,
        )
    )
    if not any(e.kind == LedgerKind.INVOICE_NOTE for e in entries):
        return {}
    return {
        "note_credited": True,
        # The credit is the note's total less what a withholding agent withheld on it.
        "credited": sum((e.amount for e in entries if e.kind == LedgerKind.NOTE_TO_CREDIT), ZERO),
        "withheld": sum(
            (e.amount for e in entries if e.kind == LedgerKind.WITHHOLDING_REVERSED), ZERO
        ),
        "auto_apply": settings.BILLING_AUTO_APPLY_CREDIT,
        "statement_url": settings.SITE_URL + reverse("billing:statement"),
    }
