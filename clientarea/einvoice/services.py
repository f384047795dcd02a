"""Issue electronic invoices for paid orders.

In the transaction that marks an order paid (``allocate_invoice_for_order``),
the invoice's consecutive number, issue date-time (= payment time) and CUFE
are fixed, with a snapshot of the document (seller, buyer, lines). Numbers come from the active DIAN
resolution under a row lock, so they are gap-free and never reused, even with
concurrent payments. When no resolution is valid (range exhausted, expired)
or the customer's data cannot make a valid invoice, the order is still paid
and the invoice waits in a queue that staff see, with an alert email.

Building and signing the XML (checked against the CUFE fixed at payment), the PDF, the AttachedDocument, the email and the transmission to DIAN
run after commit in the worker (``render_and_send_invoice``).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clientarea.accounts.selectors import get_provider
from clientarea.einvoice import builder, ubl
from clientarea.einvoice.models import (
    Invoice,
    InvoiceStatus,
    NumberingResolution,
    TransmissionAttempt,
)
from clientarea.lib.dates import BOGOTA
from clientarea.notifications.services import Attachment, queue_email

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
        raise InvoiceWaiting("no active numbering resolution is valid on %s" % on.isoformat())
    if resolution.next_number > resolution.range_to:
        raise InvoiceWaiting(f"numbering range of resolution {resolution.number} is exhausted")
    return resolution


def _allocate(*, order, customer, issued_at: dt.datetime) -> dict:
    """Number, CUFE and document snapshot for ``order``: the invoice fields of an issued invoice.

    Consumes the number (caller holds the transaction, in a savepoint); raises
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
    logger.info("invoice issued %s for order %s", invoice.full_number, invoice.order.number)


def _issue(invoice: Invoice, *, issued_at: dt.datetime) -> None:
    """Give a waiting invoice its number, CUFE and XML (caller holds the transaction)."""
    for name, value in _allocate(
        order=invoice.order, customer=invoice.customer, issued_at=issued_at
    ).items():
        setattr(invoice, name, value)
    invoice.save()
    _issued(invoice)


def _schedule_render(invoice_id: int) -> None:
    from clientarea.einvoice.tasks import render_invoice_task

    render_invoice_task(invoice_id)


def _alert_staff(invoice: Invoice, reason: str) -> None:
    provider = get_provider()
    if provider is None or not provider.email:
        return
    queue_email(
        to=provider.email,
        template="staff_invoice_waiting",
        language=settings.LANGUAGE_CODE,
        context={
            "invoice": invoice,
            "order": invoice.order,
            "reason": reason,
            "admin_url": settings.SITE_URL + "/admin/einvoice/invoice/?status__exact=waiting",
        },
    )


def allocate_invoice_for_order(*, order) -> Invoice:
    """Called by billing inside the paid transaction: create the invoice, issued now if possible.

    The invoice row is inserted once, already issued, inside a savepoint; when it
    cannot be issued (``InvoiceWaiting``, raised before any write, so no number is
    consumed) it is inserted as waiting instead: a waiting invoice never blocks the payment.
    """
    fields = dict(order=order, customer=order.customer, paid_at=order.paid_at, total=order.total)
    try:
        with transaction.atomic():  # savepoint: a waiting invoice never blocks the payment
            invoice = Invoice.objects.create(
                **fields, **_allocate(order=order, customer=order.customer, issued_at=order.paid_at)
            )
            _issued(invoice)
    except InvoiceWaiting as exc:
        reason = str(exc)[:300]
        invoice = Invoice.objects.create(
            **fields, status=InvoiceStatus.WAITING, waiting_reason=reason
        )
        logger.warning("invoice for order %s waits: %s", order.number, exc)
        _alert_staff(invoice, str(exc))
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
                    Invoice.objects.select_for_update()
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


def _signing_material():
    from clientarea.einvoice.signing import create_demo_certificate, load_pkcs12

    path = settings.EINVOICE_CERT_PATH
    import os

    if not os.path.exists(path):
        if not settings.DEBUG and not settings.PAYMENTS_SANDBOX:
            raise FileNotFoundError(f"signing certificate not found at {path} (EINVOICE_CERT_PATH)")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        provider = get_provider()
        create_demo_certificate(
            path,
            settings.EINVOICE_CERT_PASSWORD,
            f"{provider.legal_name if provider else 'ClientArea'} (DEMO)",
        )
    return load_pkcs12(path, settings.EINVOICE_CERT_PASSWORD)


def render_and_send_invoice(*, invoice_id: int) -> Invoice:
    """Sign the XML, build the AttachedDocument and the PDF, email them, transmit. Idempotent."""
    from clientarea.einvoice import attached, pdf, qr, signing

    invoice = Invoice.objects.select_related("customer__user", "order").get(pk=invoice_id)
    if not invoice.is_issued:
        return invoice
    doc = builder.document_from_json(invoice.document)
    if not invoice.rendered_at:
        try:
            root = ubl.build_invoice_xml(doc)
            if ubl.invoice_cufe(root) != invoice.cufe:
                raise RuntimeError(
                    f"CUFE of the rendered XML differs from the one fixed at payment ({invoice.full_number})"
                )
            unsigned = ubl.to_bytes(root)
            key, cert = _signing_material()
            signed = signing.sign_invoice(unsigned, key, cert)
            attached_xml = attached.build_attached_document(signed, doc, key=key, cert=cert)
            provider = get_provider()
            logo = provider.logo.path if provider and provider.logo else None
            language = "en" if invoice.customer.preferred_language == "en" else "es"
            pdf_bytes = pdf.render_invoice_pdf(
                doc, invoice.cufe, qr.qr_text(doc, invoice.cufe), logo_path=logo, language=language
            )
        except Exception as exc:  # recorded for staff; the worker retries
            Invoice.objects.filter(pk=invoice.pk).update(
                render_error=f"{type(exc).__name__}: {exc}"[:2000]
            )
            raise
        Invoice.objects.filter(pk=invoice.pk, rendered_at__isnull=True).update(
            xml_unsigned=unsigned.decode("utf-8"),
            xml_signed=signed,
            attached_document=attached_xml,
            pdf=pdf_bytes,
            rendered_at=timezone.now(),
            render_error="",
        )
        invoice.refresh_from_db()
    if not invoice.emailed_at:
        with transaction.atomic():
            claimed = Invoice.objects.filter(pk=invoice.pk, emailed_at__isnull=True).update(
                emailed_at=timezone.now()
            )
            if claimed:
                send_invoice_email(invoice=invoice, doc=doc)
    transmit_invoice(invoice=invoice)
    return invoice


def _email_attachments(invoice: Invoice, doc) -> list[Attachment]:
    from clientarea.einvoice import attached

    zip_bytes = attached.build_email_zip(
        bytes(invoice.attached_document), doc, sequence=invoice.number % 0xFFFFFFFF or 1
    )
    stem = attached.email_zip_filename(
        doc.supplier.document_number, doc.issue_date.year, invoice.number % 0xFFFFFFFF or 1
    )
    return [
        Attachment(stem, zip_bytes, "application/zip"),
        Attachment(f"{invoice.full_number}.pdf", bytes(invoice.pdf), "application/pdf"),
    ]


def email_subject(invoice: Invoice, doc) -> str:
    """DIAN's convention: NIT; name; document number; document type code; trade name."""
    supplier = doc.supplier
    return f"{supplier.document_number};{supplier.legal_name};{invoice.full_number};01;{supplier.trade_name or supplier.legal_name}"


def send_invoice_email(*, invoice: Invoice, doc=None) -> None:
    doc = doc or builder.document_from_json(invoice.document)
    queue_email(
        to=invoice.customer.user.email,
        template="invoice_issued",
        customer=invoice.customer,
        subject=email_subject(invoice, doc),
        attachments=_email_attachments(invoice, doc),
        context={
            "invoice": invoice,
            "customer": invoice.customer,
            "order": invoice.order,
            "invoices_url": settings.SITE_URL + "/clientarea/invoices/",
        },
    )


def resend_invoice_email(*, invoice: Invoice, actor=None) -> None:
    if not invoice.is_rendered:
        raise InvoiceWaiting("the invoice has not been rendered yet")
    with transaction.atomic():
        send_invoice_email(invoice=invoice)


def transmit_invoice(*, invoice: Invoice) -> TransmissionAttempt:
    """Hand the invoice to the configured transmitter and record the outcome."""
    from django.utils.module_loading import import_string

    transmitter = import_string(settings.EINVOICE_TRANSMITTER)()
    result = transmitter.transmit(invoice)
    with transaction.atomic():
        attempt = TransmissionAttempt.objects.create(
            invoice=invoice,
            transmitter=settings.EINVOICE_TRANSMITTER,
            status=result.status,
            message=result.message,
            retryable=result.retryable,
        )
        Invoice.objects.filter(pk=invoice.pk).update(status=result.status)
    return attempt
