"""Issue credit notes and debit notes on invoices (``dian-webservice.md`` §4).

The public API other apps call (refunds, cancellations, late-payment charges) and the back office
uses:

- ``issue_credit_note(*, invoice, concept, reason, actor, lines=None, amount=None)``
- ``issue_debit_note(*, invoice, concept, reason, actor, lines=None, amount=None,
  description="", payment_due=None)`` (interest, concept 1: one ``amount`` outside IVA)

``lines`` maps invoice line numbers (from 1) to an amount before IVA; ``amount`` is an amount
before IVA spread over the invoice's lines; neither means the whole invoice again. Both raise
``NoteRefused`` (with a message for a person) and write nothing when the note cannot be issued.

In one transaction, under a lock on the invoice (so concurrent notes on one invoice are checked
one after the other against what is left of it) and on the note numbering of the kind (so
numbers are gap-free and never reused), the note gets its number, CUDE and document snapshot;
signing, the PDF, the transmission to DIAN and the email after DIAN accepts it run after commit in
the worker, exactly as for invoices (``delivery``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from clientarea.accounts import audit
from clientarea.einvoice import builder, jobs, notelines, ubl
from clientarea.einvoice.models import (
    DOCUMENT_TYPE_CODES,
    CreditNoteConcept,
    DebitNoteConcept,
    DocumentKind,
    Invoice,
    InvoiceStatus,
    NoteNumbering,
)
from clientarea.einvoice.selectors import invoice_balance, invoice_value_left
from clientarea.lib.money import ZERO, format_cop, quantize

logger = logging.getLogger(__name__)

__all__ = [
    "NoteRefused",
    "invoice_balance",
    "issue_credit_note",
    "issue_debit_note",
    "issue_refund_credit_note",
]

DEFAULT_PREFIXES = {DocumentKind.CREDIT_NOTE: "NC", DocumentKind.DEBIT_NOTE: "ND"}


class NoteRefused(Exception):
    """The note cannot be issued; the message says why, for a person."""


def _next_number(kind: str) -> tuple[NoteNumbering, int]:
    """Lock the numbering of ``kind`` (created with the configured prefix the first time)."""
    NoteNumbering.objects.get_or_create(
        kind=kind, defaults={"prefix": _configured_prefix(kind), "next_number": 1}
    )
    numbering = NoteNumbering.objects.select_for_update().get(kind=kind)
    return numbering, numbering.next_number


def _configured_prefix(kind: str) -> str:
    if kind == DocumentKind.CREDIT_NOTE:
        return settings.EINVOICE_CREDIT_NOTE_PREFIX or DEFAULT_PREFIXES[DocumentKind.CREDIT_NOTE]
    return settings.EINVOICE_DEBIT_NOTE_PREFIX or DEFAULT_PREFIXES[DocumentKind.DEBIT_NOTE]


def _interest_description(description: str) -> str:
    description = " ".join((description or "").split())[:300]
    if description:
        return description
    with translation.override(settings.LANGUAGE_CODE):  # a DIAN document: the site's language
        return _("Late-payment interest")


def _lines(
    doc,
    kind: str,
    lines: Mapping[int, Decimal] | None,
    amount: Decimal | None,
    *,
    concept: str = "",
    description: str = "",
):
    if lines is not None and amount is not None:
        raise NoteRefused(_("Give amounts by line or one amount, not both."))
    if kind == DocumentKind.DEBIT_NOTE and concept == DebitNoteConcept.INTEREST:
        # Moratory interest is not part of IVA's base: one line of its own, without IVA.
        if lines is not None or amount is None:
            raise NoteRefused(
                _("Late-payment interest is one amount, without IVA: give it as an amount.")
            )
        try:
            return notelines.interest(amount, description=_interest_description(description))
        except notelines.BadNoteLines as exc:
            raise NoteRefused(str(exc)) from exc
    try:
        if lines is not None:
            return notelines.by_line(
                doc.lines, lines, at_most_the_line=kind == DocumentKind.CREDIT_NOTE
            )
        if amount is not None:
            return notelines.by_amount(doc.lines, amount)
    except notelines.BadNoteLines as exc:
        raise NoteRefused(str(exc)) from exc
    if kind == DocumentKind.DEBIT_NOTE:
        raise NoteRefused(_("Give the amount the debit note adds, by line or in total."))
    return notelines.full(doc.lines)


def _refuse_unless_noteable(invoice: Invoice) -> None:
    if invoice.kind != DocumentKind.INVOICE:
        raise NoteRefused(_("Notes are issued on invoices, not on other notes."))
    if not invoice.is_validated:
        raise NoteRefused(
            _(
                "Invoice %(number)s is not accepted by DIAN (%(state)s): a credit or debit note "
                "can only correct an invoice DIAN has accepted."
            )
            % {"number": invoice.full_number or invoice.pk, "state": invoice.dian_state}
        )


def _issue_note(
    *,
    kind: str,
    invoice: Invoice,
    concept: str,
    reason: str,
    actor,
    lines: Mapping[int, Decimal] | None,
    amount: Decimal | None,
    description: str = "",
    payment_due=None,
) -> Invoice:
    concepts = CreditNoteConcept if kind == DocumentKind.CREDIT_NOTE else DebitNoteConcept
    if concept not in concepts.values:
        raise NoteRefused(_("Choose one of DIAN's concepts for this kind of note."))
    reason = (reason or "").strip()
    if not reason:
        raise NoteRefused(_("Say why the note is issued."))
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        _refuse_unless_noteable(invoice)
        doc = builder.document_from_json(invoice.document)
        note_lines = _lines(doc, kind, lines, amount, concept=concept, description=description)
        total = notelines.total(note_lines)
        if total <= 0:
            raise NoteRefused(_("The note must be for a positive amount."))
        if kind == DocumentKind.CREDIT_NOTE:
            left = invoice_value_left(invoice)  # the value, not the whole pesos paid
            if total > left:
                raise NoteRefused(
                    _(
                        "A credit note of %(total)s exceeds what is left of invoice %(number)s "
                        "(%(left)s, IVA included)."
                    )
                    % {
                        "total": format_cop(total, decimals=True),
                        "number": invoice.full_number,
                        "left": format_cop(left, decimals=True),
                    }
                )
        numbering, number = _next_number(kind)
        issued_at = timezone.now()
        try:
            note_doc = builder.build_note_document(
                invoice=doc,
                invoice_cufe=invoice.cufe,
                document_type=DOCUMENT_TYPE_CODES[DocumentKind(kind)],
                prefix=numbering.prefix,
                number=number,
                lines=note_lines,
                concept_code=concept,
                reason=reason[:500],
                issued_at=issued_at,
                payment_due=payment_due if kind == DocumentKind.DEBIT_NOTE else None,
            )
            cude = ubl.expected_cufe(note_doc)
        except ValueError as exc:
            raise NoteRefused(_("The note cannot be made: %(error)s") % {"error": exc}) from exc
        # Only now consume the number: a refusal above leaves no gap.
        NoteNumbering.objects.filter(pk=numbering.pk).update(next_number=number + 1)
        note = Invoice.objects.create(
            kind=kind,
            reference=invoice,
            customer_id=invoice.customer_id,
            status=InvoiceStatus.ISSUED,
            number=number,
            full_number=note_doc.full_id,
            cufe=cude,
            issued_at=issued_at,
            paid_at=invoice.paid_at,
            payment_means_code=note_doc.payment_means_code,
            total=note_doc.payable_amount,
            document=builder.document_to_json(note_doc),
            concept=concept,
            reason=reason[:500],
            issued_by=str(getattr(actor, "email", "") or actor or "")[:150],
        )
        audit.record(
            action=f"einvoice.{kind}_issued",
            actor=actor,
            customer=invoice.customer,
            target=note.full_number or "",
            changes={
                "invoice": invoice.full_number,
                "concept": concept,
                "reason": reason[:500],
                "total": str(note.total),
            },
        )
        note_id = note.pk
        transaction.on_commit(lambda: jobs.render_invoice_job(note_id))
    logger.info("%s %s issued on invoice %s", kind, note.full_number, invoice.full_number)
    return note


def issue_credit_note(
    *,
    invoice: Invoice,
    concept: str,
    reason: str,
    actor=None,
    lines: Mapping[int, Decimal] | None = None,
    amount: Decimal | None = None,
) -> Invoice:
    """A credit note on an invoice DIAN accepted: whole (no ``lines``/``amount``), by line or by
    amount before IVA; never more than is left of the invoice. Raises ``NoteRefused``."""
    return _issue_note(
        kind=DocumentKind.CREDIT_NOTE, invoice=invoice, concept=concept, reason=reason,
        actor=actor, lines=lines, amount=amount,
    )  # fmt: skip


def issue_debit_note(
    *,
    invoice: Invoice,
    concept: str,
    reason: str,
    actor=None,
    lines: Mapping[int, Decimal] | None = None,
    amount: Decimal | None = None,
    description: str = "",
    payment_due: dt.date | None = None,
) -> Invoice:
    """A debit note (an amount added later: interest, an upward price correction) on an invoice
    DIAN accepted, by line or by amount before IVA. Raises ``NoteRefused``.

    Late-payment interest (concept 1) is one ``amount`` on a line of its own, ``description``
    (default "Intereses de mora"), without IVA; the other concepts follow the invoice's lines and
    their IVA. ``payment_due``: when the note is owed (the order that collects it is due then):
    the note is then a credit sale (PaymentMeans ID 2, means "ZZZ" until it is paid, and that
    PaymentDueDate); without it, it keeps the invoice's payment form and means."""
    return _issue_note(
        kind=DocumentKind.DEBIT_NOTE, invoice=invoice, concept=concept, reason=reason,
        actor=actor, lines=lines, amount=amount, description=description,
        payment_due=payment_due,
    )  # fmt: skip


def _base_for_total(invoice: Invoice, total: Decimal) -> Decimal:
    """The amount before IVA whose note (spread over the invoice's lines, each line's IVA rounded)
    comes closest to ``total`` IVA included without exceeding it."""
    doc = builder.document_from_json(invoice.document)
    if doc.tax_inclusive_amount <= 0:
        raise NoteRefused(_("The invoice has no value to credit."))
    base = sum((line.line_extension for line in doc.lines if line.line_extension > 0), ZERO)
    guess = quantize(total * base / doc.tax_inclusive_amount)
    best = ZERO
    for cents in range(-5, 6):
        candidate = guess + Decimal(cents) / 100
        if candidate <= 0:
            continue
        try:
            value = notelines.total(notelines.by_amount(doc.lines, candidate))
        except notelines.BadNoteLines:
            continue
        if value <= total and candidate > best:
            best = candidate
    if best <= 0:
        raise NoteRefused(_("The amount is too small for a credit note."))
    return best


def issue_refund_credit_note(
    *, invoice: Invoice, amount: Decimal, whole: bool, reason: str, actor=None
) -> Invoice:
    """The credit note for money of a paid invoice refunded to the customer (DIAN concepts,
    ``dian-webservice.md`` §4.1): the whole invoice refunded → concept 2 (annulment), the whole
    invoice again; a part → concept 1 (partial) for ``amount`` IVA included (the amount before
    IVA whose note comes closest to it, never more than is left of the invoice). Raises
    ``NoteRefused`` (e.g. DIAN has not accepted the invoice yet)."""
    _refuse_unless_noteable(invoice)
    if whole and not invoice.notes.exists():
        return issue_credit_note(
            invoice=invoice, concept=CreditNoteConcept.CANCELLATION, reason=reason, actor=actor
        )
    left = invoice_value_left(invoice)
    target = min(quantize(amount), left)
    if target <= 0:
        raise NoteRefused(_("Nothing is left of the invoice to credit."))
    return issue_credit_note(
        invoice=invoice,
        concept=CreditNoteConcept.PARTIAL_RETURN,
        reason=reason,
        actor=actor,
        amount=_base_for_total(invoice, target),
    )
