"""Debit notes owed on the customer's account.

A DIAN debit note adds an amount to an invoice (late-payment interest, an upward price
correction). ``issue_debit_note`` is the one way staff issue one: in one transaction it issues the
note (``einvoice.services.issue_debit_note``: number, CUDE, document; signing, DIAN and the email
run after commit) and creates the pending order that collects it, whose charge is posted to the
customer's ledger as "debit note" for the note's total with IVA.

That order is an ordinary pending order for everything that collects money: Billing lists it,
Pay now / Pay selected / Pay all due charge it through either gateway (alone or with other
orders, one payment), credit applies to it, staff may register a (partial) manual payment, the
billing run sends its reminders. It differs in three ways: its number is the note's ("ND3"), its
total is exactly the note's (no rounding to whole pesos, so a note with cents cannot be paid
through Payvalida), and when it becomes paid no invoice is issued and nothing is withheld
(``services.mark_order_paid`` skips both; the note already is the DIAN document). It has no
services and cannot be cancelled (a credit note on the invoice takes an amount back).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from clientarea.accounts.models import Customer
from clientarea.billing import ledger, services
from clientarea.billing.descriptions import customer_language
from clientarea.billing.event_texts import EventText
from clientarea.billing.models import ItemKind, Order, OrderEvent, OrderEventKind, OrderState
from clientarea.einvoice import builder
from clientarea.einvoice import services as einvoice_services
from clientarea.einvoice.models import DocumentKind, Invoice, InvoiceStatus
from clientarea.lib.dates import BOGOTA, local_today

__all__ = [
    "debit_note_email_context",
    "debit_note_lines",
    "follow_note_state",
    "issue_debit_note",
    "note_is_payable",
    "order_for_debit_note",
]


def note_is_payable(note: Invoice) -> bool:
    """Whether the amount of a debit note may be collected: DIAN validated it (or, without a
    DIAN transmitter, it was stored), or DIAN is not answering and it waits in contingency (a
    document issued in contingency is valid). Not while it is being signed and sent, nor once
    DIAN rejected it: a rejected note is no valid document until staff fix and resend it."""
    return note.is_validated or note.status == InvoiceStatus.CONTINGENCY


def follow_note_state(note: Invoice) -> None:
    """The order that collects ``note`` follows its DIAN state (registered with einvoice by
    ``BillingConfig.ready``; called in the transaction that records DIAN's answer).

    Being validated → pending once the note is payable (``note_is_payable``): its due date is
    then at least ``BILLING_ORDER_DUE_DAYS`` away (a note DIAN rejected for days still gets its
    whole term) and the customer's credit pays it at once with ``BILLING_AUTO_APPLY_CREDIT``;
    the customer is told by the note's email, sent once DIAN accepts it. Pending → being
    validated when DIAN rejects the note: nothing more is collected on it (what was already
    paid stays on the order). A paid order stays paid."""
    if note.kind != DocumentKind.DEBIT_NOTE:
        return
    order = Order.objects.select_for_update().filter(debit_note_id=note.pk).first()
    if order is None:
        return
    if order.state == OrderState.VALIDATING and note_is_payable(note):
        earliest = local_today() + dt.timedelta(days=settings.BILLING_ORDER_DUE_DAYS)
        order.state = OrderState.PENDING
        order.due_date = max(order.due_date, earliest)
        order.save(update_fields=["state", "due_date"])
        OrderEvent.objects.create(
            order=order, kind=OrderEventKind.DIAN_VALIDATED, data={"status": note.status}
        )
        posting = ledger.apply_credit_to_new_orders(orders=[order])
        for paid in posting.paid:
            services.queue_order_paid_email(order=paid, settled={})
    elif order.state == OrderState.PENDING and note.status == InvoiceStatus.REJECTED:
        order.state = OrderState.VALIDATING
        order.save(update_fields=["state"])
        OrderEvent.objects.create(
            order=order, kind=OrderEventKind.DIAN_HELD, data={"status": note.status}
        )


def debit_note_lines(*, note: Invoice, customer: Customer) -> list[services.LineSpec]:
    """The order's items: one per line of the note (its value before IVA, its IVA treatment and
    rate), so the order's subtotal, IVA and total are the note's."""
    doc = builder.document_from_json(note.document)
    with translation.override(customer_language(customer)):
        prefix = _("Debit note %(number)s on invoice %(invoice)s") % {
            "number": note.full_number,
            "invoice": note.reference.full_number if note.reference else "",
        }
    return [
        services.LineSpec(
            kind=ItemKind.DEBIT_NOTE,
            description=f"{prefix}: {line.description}"[:300],
            unit_price=line.line_extension,
            tax_treatment=line.tax_treatment,
            tax_rate=line.tax_rate,
        )
        for line in doc.lines
    ]


def debit_note_due_date(*, today: dt.date | None = None) -> dt.date:
    """When a debit note issued today is owed: its order's due date, which its PaymentMeans
    (forma de pago crédito) states as PaymentDueDate, so the XML, the PDF and Billing agree."""
    return (today or local_today()) + dt.timedelta(days=settings.BILLING_ORDER_DUE_DAYS)


def order_for_debit_note(*, note: Invoice, actor=None, due_date: dt.date | None = None) -> Order:
    """The pending order that collects ``note`` (a debit note just issued), its charge posted to
    the ledger; the customer's credit pays it at once with ``BILLING_AUTO_APPLY_CREDIT``. No
    "order created" email: the note's own email, once DIAN accepts it, says what is due."""
    customer = Customer.objects.select_related("user").get(pk=note.customer_id)
    issued = note.issued_at.astimezone(BOGOTA).date() if note.issued_at else None
    (order,) = services.create_orders(
        specs=[
            services.OrderSpec(
                customer=customer,
                lines=debit_note_lines(note=note, customer=customer),
                issue_date=issued,
                due_date=due_date,
                reason=EventText("debit_note", {"number": note.full_number}),
                actor=actor,
                debit_note=note,
                validating=not note_is_payable(note),
            )
        ],
        notify=False,
    )
    if order.total != note.total:  # pragma: no cover - both follow lib/money.py's rule
        raise services.OrderStateError(
            _("The debit note's total and its order's differ; nothing was issued.")
        )
    return order


@transaction.atomic
def issue_debit_note(
    *,
    invoice: Invoice,
    concept: str,
    reason: str,
    actor=None,
    lines: Mapping[int, Decimal] | None = None,
    amount: Decimal | None = None,
    description: str = "",
) -> tuple[Invoice, Order]:
    """Issue a debit note on ``invoice`` and make its total (IVA included) owed on the customer's
    account, both or neither. Raises ``einvoice.services.NoteRefused`` (nothing written).

    The note is a credit sale due when its order is (PaymentMeans ID 2, PaymentDueDate).
    Late-payment interest (concept 1) is one line, ``description`` or "Intereses de mora",
    without IVA; other concepts carry the invoice lines' IVA."""
    due = debit_note_due_date()
    note = einvoice_services.issue_debit_note(
        invoice=invoice,
        concept=concept,
        reason=reason,
        actor=actor,
        lines=lines,
        amount=amount,
        description=description,
        payment_due=due,
    )
    return note, order_for_debit_note(note=note, actor=actor, due_date=due)


def debit_note_email_context(note: Invoice) -> dict[str, Any]:
    """For a debit note's email (``einvoice.services.add_note_email_source``, registered by
    ``BillingConfig.ready``): whether the order that collects it is still to be paid when the
    email is queued, and where to pay it (its page under Billing, whose number is the note's)."""
    if note.kind != DocumentKind.DEBIT_NOTE:
        return {}
    order = Order.objects.filter(debit_note=note).only("number", "state").first()
    if order is None:
        return {}
    return {
        "due": order.is_pending,
        "pay_url": services.order_pay_url(order),
        "billing_url": settings.SITE_URL + reverse("billing:orders"),
    }
