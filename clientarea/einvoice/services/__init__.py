"""Issue electronic invoices for paid orders.

In the transaction that marks an order paid (``allocate_invoice_for_order``),
the invoice's consecutive number, issue date-time (= payment time) and CUFE
are fixed, with a snapshot of the document (seller, buyer, lines). Numbers come from the active DIAN
resolution under a row lock, so they are gap-free and never reused, even with
concurrent payments. When no resolution is valid (range exhausted, expired)
or the customer's data cannot make a valid invoice, the order is still paid
and the invoice waits in a queue that staff see, with an alert email.

Building and signing the XML (checked against the CUFE fixed at payment), the PDF, the
AttachedDocument, the email and the transmission to DIAN run after commit in the worker
(``jobs.render_invoice_job``); the issued invoice is itself the durable record of that work,
and the worker's sweep completes any invoice whose job was lost (``delivery``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clientarea.accounts import audit
from clientarea.accounts.contacts import queue_staff_email
from clientarea.accounts.selectors import get_provider
from clientarea.einvoice import builder, delivery, jobs, ubl
from clientarea.einvoice.delivery import (
    add_note_email_source,
    add_note_state_listener,
    email_subject,
    render_and_send_invoice,
    send_invoice_email,
    transmit_invoice,
)
from clientarea.einvoice.documents import Prepayment
from clientarea.einvoice.models import (
    CreditNoteConcept,
    DocumentKind,
    Invoice,
    InvoiceStatus,
    NumberingResolution,
)
from clientarea.einvoice.services.notes import (
    NoteRefused,
    invoice_balance,
    issue_credit_note,
    issue_debit_note,
    issue_refund_credit_note,
)
from clientarea.lib.dates import BOGOTA
from clientarea.notifications.services import ContextGone

__all__ = [
    "InvoiceWaiting",
    "NoteRefused",
    "add_note_email_source",
    "add_note_state_listener",
    "allocate_invoice_for_order",
    "email_subject",
    "invoice_balance",
    "issue_credit_note",
    "issue_debit_note",
    "issue_refund_credit_note",
    "issue_waiting_invoices",
    "reissue_with_corrected_buyer",
    "render_and_send_invoice",
    "resend_invoice_email",
    "resend_to_dian",
    "send_invoice_email",
    "transmit_invoice",
]

logger = logging.getLogger(__name__)


class InvoiceWaiting(Exception):
    """The invoice cannot be issued now (no valid numbering, or data DIAN requires is missing)."""


def _lock_resolution(on: dt.date) -> NumberingResolution:
    resolution = (
        NumberingResolution.objects.select_for_update()
        .filter(active=True, valid_from__lte=on, valid_to__gte=on)
        .order_by("valid_from", "id")
        .first()
    )
    if resolution is None:
        raise InvoiceWaiting(f"no active numbering resolution is valid on {on.isoformat()}")
    if resolution.next_number > resolution.range_to:
        raise InvoiceWaiting(f"numbering range of resolution {resolution.number} is exhausted")
    return resolution


def _allocate(
    *,
    order,
    customer,
    issued_at: dt.datetime,
    prepayments: list,
    withholdings: Sequence[Any] | None = None,
) -> dict:
    """Number, CUFE and document snapshot for ``order``: the invoice fields of an issued invoice.

    Consumes the number (caller holds the transaction); raises
    ``InvoiceWaiting`` before touching anything when the invoice cannot be issued.
    """
    provider = get_provider()
    if provider is None:
        raise InvoiceWaiting("the provider profile is missing")
    resolution = _lock_resolution(timezone.localtime(issued_at, BOGOTA).date())
    number = resolution.next_number
    try:
        doc = builder.build_document(
            order=order,
            customer=customer,
            provider=provider,
            resolution=resolution,
            number=number,
            issued_at=issued_at,
            method=order.payment_method,
            withholdings=withholdings,
            prepayments=builder.prepayments_from_json(prepayments),
        )
        cufe = ubl.expected_cufe(doc)
    except ValueError as exc:
        raise InvoiceWaiting(f"invoice data incomplete: {exc}") from exc
    # Only now consume the number: a failure above leaves no gap.
    resolution.next_number = number + 1
    resolution.save(update_fields=["next_number"])
    return dict(
        resolution=resolution,
        number=number,
        full_number=doc.full_id,
        cufe=cufe,
        issued_at=issued_at,
        payment_means_code=doc.payment_means_code,
        document=builder.document_to_json(doc),
        status=InvoiceStatus.ISSUED,
        waiting_reason="",
    )


def _issued(invoice: Invoice) -> None:
    invoice_id = invoice.pk
    transaction.on_commit(lambda: _schedule_render(invoice_id))
    logger.info(
        "invoice issued %s for order %s",
        invoice.full_number,
        invoice.order.number if invoice.order else "",
    )


def _issue(invoice: Invoice, *, issued_at: dt.datetime) -> None:
    """Give a waiting invoice its number, CUFE and XML (caller holds the transaction)."""
    for name, value in _allocate(
        order=invoice.order,
        customer=invoice.customer,
        issued_at=issued_at,
        prepayments=invoice.prepayments,
    ).items():
        setattr(invoice, name, value)
    invoice.save()
    _issued(invoice)


def _schedule_render(invoice_id: int) -> None:
    """Render and send at once in the worker (the sweep does it anyway if this never runs)."""
    jobs.render_invoice_job(invoice_id)


def _alert_staff(invoice: Invoice, reason: str) -> None:
    """Tell staff an invoice waits. Recorded with the invoice's id and the reason (rendered by the
    worker when it delivers it: :func:`invoice_waiting_email_context`), since the paid
    transaction writes it whenever the invoice cannot be issued."""
    queue_staff_email(
        template="staff_invoice_waiting", refs={"invoice": invoice.pk, "reason": reason}
    )


def invoice_waiting_email_context(refs: Mapping[str, Any]) -> dict[str, Any]:
    """The staff email "the invoice for order N is waiting", read when it is rendered: the reason
    is the one of that moment. An invoice that is gone, or issued since (nothing is left for staff
    to do), raises ``ContextGone``."""
    invoice = Invoice.objects.select_related("order").filter(pk=refs["invoice"]).first()
    if invoice is None:
        raise ContextGone(f"invoice {refs['invoice']} no longer exists")
    if invoice.status != InvoiceStatus.WAITING:
        raise ContextGone(f"invoice {invoice.pk} is no longer waiting ({invoice.status})")
    return {
        "invoice": invoice,
        "order": invoice.order,
        "reason": refs["reason"],
        "admin_url": settings.SITE_URL + "/admin/einvoice/invoice/?status__exact=waiting",
    }


def allocate_invoice_for_order(
    *,
    order,
    withholdings: Sequence[Any] | None = None,
    prepayments: Sequence[Prepayment] = (),
) -> Invoice:
    """Called by billing inside the paid transaction: create the invoice, issued now if possible.

    The invoice row is inserted once, already issued; when it cannot be issued
    (``InvoiceWaiting``, raised by ``_allocate`` before any write, so no number is consumed and
    nothing needs rolling back: no savepoint) it is inserted as waiting instead: a waiting
    invoice never blocks the payment. ``withholdings``: the rows the paid transaction just
    fixed for the order (else read from the order). ``prepayments``: the account credit applied
    to the order (``cac:PrepaidPayment``); kept on the row, so an invoice that waits is issued
    with them too.
    """
    fields = dict(
        order=order,
        customer=order.customer,
        paid_at=order.paid_at,
        total=order.total,
        prepayments=builder.prepayments_to_json(tuple(prepayments)),
    )
    try:
        # Dated when it is issued, in the paid transaction: for a payment applied as it
        # happens that is the payment time; a payment staff record days later must not
        # make an invoice DIAN refuses as too old or signed on another day (FAD09c/e).
        allocated = _allocate(
            order=order,
            customer=order.customer,
            issued_at=timezone.now(),
            withholdings=withholdings,
            prepayments=fields["prepayments"],
        )
    except InvoiceWaiting as exc:
        reason = str(exc)[:300]
        invoice = Invoice.objects.create(
            **fields, status=InvoiceStatus.WAITING, waiting_reason=reason
        )
        logger.warning("invoice for order %s waits: %s", order.number, exc)
        _alert_staff(invoice, str(exc))
        return invoice
    invoice = Invoice.objects.create(**fields, **allocated)
    _issued(invoice)
    return invoice


def issue_waiting_invoices(*, limit: int = 200) -> dict[str, int]:
    """Retry invoices in the waiting queue (after staff add a resolution or fix customer data).

    The issue date-time of a late invoice is the moment it is actually issued:
    DIAN requires it inside the validity of the resolution that numbers it.
    """
    counts = {"issued": 0, "waiting": 0}
    ids = list(
        Invoice.objects.filter(status=InvoiceStatus.WAITING)
        .order_by("paid_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    for invoice_id in ids:
        try:
            with transaction.atomic():
                invoice = (
                    Invoice.objects.select_for_update(of=("self",))  # order: nullable join
                    .select_related("order", "customer__user")
                    .get(pk=invoice_id)
                )
                if invoice.status != InvoiceStatus.WAITING:
                    continue
                _issue(invoice, issued_at=timezone.now())
            counts["issued"] += 1
        except InvoiceWaiting as exc:
            Invoice.objects.filter(pk=invoice_id).update(waiting_reason=str(exc)[:300])
            counts["waiting"] += 1
    return counts


def resend_invoice_email(*, invoice: Invoice, actor=None) -> None:
    """Staff: email the invoice again; an invoice whose rendering or transmission never ran is
    rendered and transmitted first, waiting for DIAN only ``DIAN_WS_INTERACTIVE_TIMEOUT`` seconds
    (staff wait for it in the web request). Only a validated invoice (accepted by DIAN, or stored
    only when no DIAN is configured) is emailed."""
    if not invoice.is_issued:
        raise InvoiceWaiting(
            _("The invoice is waiting to be issued: %(reason)s")
            % {"reason": invoice.waiting_reason}
        )
    try:
        invoice = delivery.render_invoice(invoice=invoice)
    except (
        Exception
    ) as exc:  # the reason is recorded on the invoice (render_error) and shown to staff
        raise InvoiceWaiting(
            _("The invoice could not be rendered: %(error)s")
            % {"error": f"{type(exc).__name__}: {exc}"}
        ) from exc
    if not invoice.transmitted_at and invoice.status != InvoiceStatus.REJECTED:
        # A repeat is harmless: DIAN answers "already processed". Staff wait for it in the web
        # request: DIAN gets DIAN_WS_INTERACTIVE_TIMEOUT, and a timeout is retried by the worker.
        transmit_invoice(invoice=invoice, interactive=True)
        invoice.refresh_from_db()
    if not invoice.is_validated:
        raise InvoiceWaiting(
            _(
                "DIAN has not accepted the invoice (%(state)s): it is emailed to the customer "
                "only once DIAN accepts it."
            )
            % {"state": invoice.dian_state}
        )
    with transaction.atomic():
        # The first email counts as the invoice's email, so the worker does not send another one.
        Invoice.objects.filter(pk=invoice.pk, emailed_at__isnull=True).update(
            emailed_at=timezone.now()
        )
        send_invoice_email(invoice=invoice)
    logger.info("invoice %s emailed again by %s", invoice.full_number, actor)


class CannotResend(Exception):
    """The invoice is not in a state that can be sent to DIAN again."""


def resend_to_dian(*, invoice_id: int, actor=None) -> Invoice:
    """Staff: send an invoice to DIAN again, with the SAME number and CUFE.

    A rejected invoice (its cause fixed: certificate, software registration, numbering
    resolution...) is signed again and sent; one waiting for a retry (DIAN unavailable,
    contingency) is sent now instead of at its next try. Never a new number.
    """
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        if invoice.status == InvoiceStatus.REJECTED:
            Invoice.objects.filter(pk=invoice.pk).update(
                status=InvoiceStatus.ISSUED,
                rendered_at=None,
                transmitted_at=None,
                lease_until=None,
                render_error="",
            )
        elif invoice.status in (InvoiceStatus.SENT, InvoiceStatus.CONTINGENCY) or (
            invoice.is_issued and not invoice.transmitted_at
        ):
            Invoice.objects.filter(pk=invoice.pk).update(lease_until=None)
        else:
            raise CannotResend(
                _("Invoice %(number)s cannot be sent again: %(state)s.")
                % {"number": invoice.full_number or invoice.pk, "state": invoice.dian_state}
            )
        audit.record(
            action="einvoice.resent_to_dian",
            actor=actor,
            customer=invoice.customer,
            target=invoice.full_number or "",
            changes={"status_before": invoice.status},
        )
        transaction.on_commit(lambda: _schedule_render(invoice_id))
    logger.info("invoice %s sent to DIAN again by %s", invoice.full_number, actor)
    invoice.refresh_from_db()
    return invoice


def reissue_with_corrected_buyer(*, invoice: Invoice, reason: str, actor=None) -> Invoice:
    """The buyer's data on an accepted invoice was wrong: a full credit note (concept 2,
    cancellation) and a new invoice for the same order with the buyer's data as it is now (staff
    correct the customer first). The order stays paid. Returns the new invoice, which waits in
    the queue like any invoice when no numbering is valid now.

    Refused (``NoteRefused``) when part of the invoice was already credited or debited: the whole
    invoice must be cancelled at once.
    """
    with transaction.atomic():
        invoice = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("order")
            .get(pk=invoice.pk)
        )
        if invoice.kind != DocumentKind.INVOICE or invoice.order is None:
            raise NoteRefused(_("Only an invoice of an order can be issued again."))
        if invoice.superseded_at:
            raise NoteRefused(_("This invoice was already replaced."))
        if invoice.notes.exists():
            raise NoteRefused(
                _(
                    "Invoice %(number)s already has notes: issue the credit note for what is left "
                    "of it and bill the order again by hand."
                )
                % {"number": invoice.full_number}
            )
        issue_credit_note(
            invoice=invoice, concept=CreditNoteConcept.CANCELLATION, reason=reason, actor=actor
        )
        Invoice.objects.filter(pk=invoice.pk).update(superseded_at=timezone.now())
        order = invoice.order
        fields = dict(
            order=order, customer=invoice.customer, paid_at=invoice.paid_at, total=invoice.total,
            replaces=invoice, prepayments=invoice.prepayments,
        )  # fmt: skip
        try:
            with transaction.atomic():
                new = Invoice.objects.create(
                    **fields,
                    **_allocate(
                        order=order,
                        customer=invoice.customer,
                        issued_at=timezone.now(),
                        prepayments=invoice.prepayments,
                    ),
                )
                _issued(new)
        except InvoiceWaiting as exc:
            new = Invoice.objects.create(
                **fields, status=InvoiceStatus.WAITING, waiting_reason=str(exc)[:300]
            )
            _alert_staff(new, str(exc))
        audit.record(
            action="einvoice.invoice_reissued",
            actor=actor,
            customer=invoice.customer,
            target=invoice.full_number or "",
            changes={"replaced_by": new.full_number or "", "reason": reason[:500]},
        )
    return new
