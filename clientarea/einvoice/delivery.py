"""Render, email and transmit issued invoices (the worker side of the invoice outbox).

An issued invoice (number and CUFE fixed in the paid transaction) is itself the
durable record of the work left: ``rendered_at``, ``emailed_at`` and
``transmitted_at`` say which steps are done. A worker claims an invoice with one
conditional UPDATE that sets ``lease_until`` (now + ``WORKER_LEASE_SECONDS``), so
two workers never work on one invoice at once; a worker killed mid-way leaves a
lease that expires, and the sweep (``process_pending_invoices``, every minute)
takes the invoice over. Each step is idempotent on its own:

- rendering writes the XML and PDF only while ``rendered_at`` is empty;
- transmission sets ``transmitted_at`` unless the transmitter asks for a retry; every
  attempt is stored with DIAN's rule messages and each raw request and answer;
- the email is queued in the same transaction that sets ``emailed_at`` (so it is
  queued exactly once, and the email outbox delivers it), and only once the invoice is
  validated: accepted by DIAN (its AttachedDocument then embeds DIAN's ApplicationResponse), or
  kept by the store-only transmitter when no DIAN is configured. A rejected invoice is never
  emailed; staff get one alert per rejection, fix the cause and resend it with the same number.

A failed step is recorded (``render_error``, or a retryable transmission attempt) and retried
when the lease expires. DIAN unavailable (no answer, 5xx): tried again ``RETRY_DELAY`` later (the
lease is kept until then and the invoice's job is scheduled for that moment; the sweep stands in
for a lost job), and after ``TRIES_BEFORE_CONTINGENCY`` tries in a row the invoice is in
contingency (staff alerted once) and tried every ``CONTINGENCY_RETRY`` by the sweep until DIAN
answers (``dian-webservice.md`` §2.6, §5).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from clientarea.accounts.contacts import queue_einvoice_email, queue_staff_email
from clientarea.accounts.selectors import get_provider, provider_cached
from clientarea.einvoice import attached, attempt_texts, builder, pdf, qr, signing, ubl
from clientarea.einvoice.dian.responses import RuleMessage
from clientarea.einvoice.documents import InvoiceDocument
from clientarea.einvoice.models import (
    DELIVERABLE_STATUSES,
    Invoice,
    InvoiceStatus,
    TransmissionAttempt,
    TransmissionExchange,
)
from clientarea.einvoice.transmission import TransmissionResult, Transmitter
from clientarea.notifications.services import Attachment

logger = logging.getLogger(__name__)

#: DIAN unavailable: the next try comes this much later (§2.6: "twice more, 20 s apart")...
RETRY_DELAY = dt.timedelta(seconds=20)
#: ...and after this many tries in a row the invoice is in contingency (§5)...
TRIES_BEFORE_CONTINGENCY = 3
#: ...and is tried again this often until DIAN answers (§5: "retry after 30 min").
CONTINGENCY_RETRY = dt.timedelta(minutes=30)


#: What ``transmit_invoice`` changes on the invoice row.
TRANSMISSION_FIELDS = [
    "status",
    "transmitted_at",
    "contingency_since",
    "lease_until",
    "application_response",
    "attached_document",
    "accepted_at",
    "emailed_at",  # another worker may have finished it meanwhile
]


def lease() -> dt.timedelta:
    return dt.timedelta(seconds=settings.WORKER_LEASE_SECONDS)


def work_left() -> Q:
    """Issued invoices with a step not done yet (the invoice outbox). A rejected invoice has none
    until staff resend it: it is never emailed."""
    return ~Q(status=InvoiceStatus.WAITING) & (
        Q(rendered_at__isnull=True)
        | Q(transmitted_at__isnull=True)
        | Q(emailed_at__isnull=True, status__in=DELIVERABLE_STATUSES)
    )


def _free(now: dt.datetime) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lte=now)


def claim_invoice(*, invoice_id: int) -> dt.datetime | None:
    """Take the lease on one invoice with work left; returns the lease (the claim's token) or None."""
    now = timezone.now()
    until = now + lease()
    claimed = Invoice.objects.filter(work_left(), _free(now), pk=invoice_id).update(
        lease_until=until
    )
    return until if claimed == 1 else None


def _signing_material():
    path = settings.EINVOICE_CERT_PATH
    if not os.path.exists(path):
        if not settings.DEBUG and not settings.PAYMENTS_SANDBOX:
            raise FileNotFoundError(f"signing certificate not found at {path} (EINVOICE_CERT_PATH)")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        provider = get_provider()
        signing.create_demo_certificate(
            path,
            settings.EINVOICE_CERT_PASSWORD,
            f"{provider.legal_name if provider else 'ClientArea'} (DEMO)",
        )
    return signing.load_pkcs12(path, settings.EINVOICE_CERT_PASSWORD)


def render_invoice(*, invoice: Invoice, doc: InvoiceDocument | None = None) -> Invoice:
    """Sign the XML, build the AttachedDocument and the PDF, once. Returns the invoice, updated.

    ``doc``: the invoice's document (``builder.document_from_json(invoice.document)``) when the
    caller has it already.

    The AttachedDocument is signed here only when it is final: with a transmitter whose
    acceptance carries DIAN's ApplicationResponse (DIAN's web service), the container kept now
    is unsigned (for staff; never sent to anyone) and the signed one is built once, with
    DIAN's answer, by :func:`transmit_invoice`: one signature per document, not two.
    """
    if invoice.rendered_at or not invoice.is_issued:
        return invoice
    doc = doc or builder.document_from_json(invoice.document)
    try:
        root = ubl.build_invoice_xml(doc)
        if ubl.invoice_cufe(root) != invoice.cufe:
            raise RuntimeError(
                f"CUFE of the rendered XML differs from the one fixed at payment ({invoice.full_number})"
            )
        unsigned = ubl.to_bytes(root)
        key, cert = _signing_material()
        signed = signing.sign_invoice(root, key, cert)  # the built tree: no re-parse
        if _transmitter_class().answers_with_application_response:
            attached_xml = attached.build_attached_document(signed, doc)
        else:
            attached_xml = attached.build_attached_document(signed, doc, key=key, cert=cert)
        provider = get_provider()
        logo = provider.logo.path if provider and provider.logo else None
        language = "en" if invoice.customer.preferred_language == "en" else "es"
        pdf_bytes = pdf.render_invoice_pdf(
            doc, invoice.cufe, qr.qr_text(doc, invoice.cufe), logo_path=logo, language=language
        )  # a note's PDF too (its title, invoice referenced, concept and reason)
    except Exception as exc:  # recorded for staff; retried when the lease expires
        Invoice.objects.filter(pk=invoice.pk).update(
            render_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    rendered = dict(
        xml_unsigned=unsigned.decode("utf-8"),
        xml_signed=signed,
        attached_document=attached_xml,
        pdf=pdf_bytes,
        rendered_at=timezone.now(),
        render_error="",
    )
    if Invoice.objects.filter(pk=invoice.pk, rendered_at__isnull=True).update(**rendered):
        for name, value in rendered.items():  # what was written, without reading it back
            setattr(invoice, name, value)
    else:  # another worker rendered it meanwhile: its copy is the one
        invoice.refresh_from_db(fields=list(rendered))
    logger.info("invoice rendered %s", invoice.full_number)
    return invoice


def _email_attachments(invoice: Invoice, doc) -> list[Attachment]:
    # The ZIP's and the AttachedDocument's consecutive is one per file, whatever the document's
    # kind: the row's id. The document's number would name credit note NC1, debit note ND1 and an
    # invoice numbered 1 alike, so the buyer got different ZIPs under one name.
    sequence = invoice.pk % 0xFFFFFFFF or 1
    zip_bytes = attached.build_email_zip(bytes(invoice.attached_document), doc, sequence=sequence)
    stem = attached.email_zip_filename(doc.supplier.document_number, doc.issue_date.year, sequence)
    return [
        Attachment(stem, zip_bytes, "application/zip"),
        Attachment(f"{invoice.full_number}.pdf", bytes(invoice.pdf), "application/pdf"),
    ]


def email_subject(invoice: Invoice, doc) -> str:
    """DIAN's convention: NIT; name; document number; document type code; trade name."""
    supplier = doc.supplier
    return f"{supplier.document_number};{supplier.legal_name};{invoice.full_number};{invoice.document_type_code};{supplier.trade_name or supplier.legal_name}"


# Apps above einvoice add values to a note's email (billing: whether the order that collects a
# debit note is still to be paid, and where to pay it), from their AppConfig.ready(): einvoice
# reads no model of an app above it.
_note_email_sources: list[Callable[[Invoice], Mapping[str, Any]]] = []


def add_note_email_source(source: Callable[[Invoice], Mapping[str, Any]]) -> None:
    """Register a function whose values a note's email gets (called with the note at each email)."""
    if source not in _note_email_sources:
        _note_email_sources.append(source)


# Apps above einvoice follow a note's DIAN state (billing: the order that collects a debit note
# is payable only once DIAN validates the note, or while it is in contingency). Each function is
# called with the note in the transaction that records DIAN's answer, after the note's row is
# updated: what it writes commits, or rolls back, with that answer.
_note_state_listeners: list[Callable[[Invoice], None]] = []


def add_note_state_listener(listener: Callable[[Invoice], None]) -> None:
    """Register a function called with a note each time a transmission records its DIAN state."""
    if listener not in _note_state_listeners:
        _note_state_listeners.append(listener)


def _note_email_context(note: Invoice) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for source in _note_email_sources:
        context.update(source(note))
    return context


def send_invoice_email(*, invoice: Invoice, doc: InvoiceDocument | None = None) -> None:
    """Queue the invoice (or note) email (XML ZIP + PDF) in the caller's transaction."""
    doc = doc or builder.document_from_json(invoice.document)
    if invoice.is_note:
        queue_einvoice_email(
            customer=invoice.customer,
            template="note_issued",
            subject=email_subject(invoice, doc),
            attachments=_email_attachments(invoice, doc),
            context={
                "note": invoice,
                "invoice": invoice.reference,
                "customer": invoice.customer,
                "invoices_url": settings.SITE_URL + "/clientarea/invoices/",
                **_note_email_context(invoice),
            },
        )
        return
    queue_einvoice_email(
        customer=invoice.customer,
        template="invoice_issued",
        subject=email_subject(invoice, doc),
        attachments=_email_attachments(invoice, doc),
        context={
            "invoice": invoice,
            "customer": invoice.customer,
            "order": invoice.order,
            "invoices_url": settings.SITE_URL + "/clientarea/invoices/",
        },
    )


def email_invoice_once(*, invoice: Invoice, doc: InvoiceDocument | None = None) -> bool:
    """Queue the invoice email unless it was queued before (flag and email in one transaction).

    Emailing is the last step of a validated invoice, so the same UPDATE releases the lease: a
    worker killed right after it leaves no stale lease behind."""
    with transaction.atomic():
        claimed = Invoice.objects.filter(
            pk=invoice.pk,
            emailed_at__isnull=True,
            transmitted_at__isnull=False,
            status__in=DELIVERABLE_STATUSES,
        ).update(emailed_at=timezone.now(), lease_until=None)  # the last step: work done
        if claimed:
            send_invoice_email(invoice=invoice, doc=doc)
    return bool(claimed)


def _rule_messages(result: TransmissionResult) -> list[dict[str, str]]:
    messages = [RuleMessage.parse(raw, is_valid=False) for raw in result.errors]
    messages += [RuleMessage.parse(raw, is_valid=True) for raw in result.notifications]
    return [{"rule": m.rule, "kind": str(m.kind), "text": m.text} for m in messages]


def _with_application_response(invoice: Invoice, result: TransmissionResult) -> TransmissionResult:
    """An accepted answer must carry DIAN's ApplicationResponse (it goes to the customer); one
    without it is not final: it is asked for again (a resend answers "already processed" with it)."""
    if result.status != InvoiceStatus.ACCEPTED or result.application_response:
        return result
    values = {"message": result.message}
    return TransmissionResult(
        status=InvoiceStatus.SENT,
        message=attempt_texts.english("no_application_response", values),
        message_code="no_application_response",
        message_values=values,
        retryable=True,
        document_key=result.document_key,
        notifications=result.notifications,
        errors=result.errors,
        exchanges=result.exchanges,
    )


def _attached_with_application_response(
    invoice: Invoice, application_response: bytes, doc: InvoiceDocument
) -> bytes:
    key, cert = _signing_material()
    return attached.build_attached_document(
        bytes(invoice.xml_signed),
        doc,
        key=key,
        cert=cert,
        application_response=application_response,
        cufe=invoice.cufe,
    )


def _alert_staff(template: str, invoice: Invoice, attempt: TransmissionAttempt) -> None:
    queue_staff_email(
        template=template,
        context={
            "invoice": invoice,
            "order": invoice.order or (invoice.reference.order if invoice.reference else None),
            "attempt": attempt,
            "admin_url": f"{settings.SITE_URL}/admin/einvoice/{'note' if invoice.is_note else 'invoice'}/{invoice.pk}/change/",
        },
    )


def _transmitter_class() -> type[Transmitter]:
    return import_string(settings.EINVOICE_TRANSMITTER)


def next_try(invoice: Invoice) -> dt.datetime:
    """When a transmission to retry (DIAN unavailable) is tried again."""
    delay = CONTINGENCY_RETRY if invoice.status == InvoiceStatus.CONTINGENCY else RETRY_DELAY
    return timezone.now() + delay


def transmit_invoice(
    *, invoice: Invoice, doc: InvoiceDocument | None = None, interactive: bool = False
) -> TransmissionAttempt:
    """Hand the invoice to the configured transmitter and record the outcome.

    ``transmitted_at`` is set unless the transmitter asks for a retry (DIAN unavailable). The
    ``TRANSMISSION_FIELDS`` of ``invoice`` are updated to what the transaction stored (the row read
    under its lock, with this attempt's changes), so the caller need not read them back.
    The attempt keeps DIAN's rule messages and every raw request and answer. Accepted: the
    ApplicationResponse is stored and embedded in a new AttachedDocument. Rejected: staff are
    alerted. Unavailable ``TRIES_BEFORE_CONTINGENCY`` times in a row: contingency, staff alerted.
    ``interactive``: a person waits for it in a web request, so DIAN's answer is awaited
    ``DIAN_WS_INTERACTIVE_TIMEOUT`` seconds (a timeout is recorded like any, and retried).
    """
    doc = doc or builder.document_from_json(invoice.document)
    transmitter = _transmitter_class()()
    transmitter.interactive = interactive
    result = _with_application_response(invoice, transmitter.transmit_document(invoice, doc))
    attached_xml = b""
    if result.status == InvoiceStatus.ACCEPTED:
        try:
            attached_xml = _attached_with_application_response(
                invoice, result.application_response, doc
            )
        except ValueError as exc:  # DIAN's answer cannot be embedded: recorded, asked again
            logger.error("invoice %s: ApplicationResponse unusable: %s", invoice.full_number, exc)
            values = {"message": result.message}
            result = TransmissionResult(
                status=InvoiceStatus.SENT,
                message=attempt_texts.english("application_response_unusable", values),
                message_code="application_response_unusable",
                message_values=values,
                detail=str(exc),
                retryable=True,
                document_key=result.document_key,
                application_response=result.application_response,
                notifications=result.notifications,
                errors=result.errors,
                exchanges=result.exchanges,
            )
    with transaction.atomic():
        # The row alone: its order and reference are read only by a staff alert (rare), which
        # loads them when it renders; joining them here cost every transmission ≈ 0.4 ms of CPU.
        current = Invoice.objects.select_for_update().get(pk=invoice.pk)
        attempt = TransmissionAttempt.objects.create(
            invoice=current,
            transmitter=settings.EINVOICE_TRANSMITTER,
            status=result.status,
            message=result.message,
            message_code=result.message_code[:40],
            message_values=dict(result.message_values),
            detail=result.detail,
            retryable=result.retryable,
            document_key=result.document_key[:96],
            rule_messages=_rule_messages(result),
            application_response=result.application_response,
        )
        TransmissionExchange.objects.bulk_create(
            TransmissionExchange(
                attempt=attempt,
                operation=exchange.operation[:40],
                url=exchange.url[:300],
                request=exchange.request,
                response=exchange.response,
                http_status=exchange.http_status,
                sent_at=exchange.sent_at,
            )
            for exchange in result.exchanges
        )
        changes: dict[str, object] = {"status": result.status, "transmitted_at": attempt.created_at}
        if result.retryable:
            changes["transmitted_at"] = None
            earlier = _unavailable_in_a_row(current, before=attempt)
            if current.status == InvoiceStatus.CONTINGENCY or (
                1 + len(earlier) >= TRIES_BEFORE_CONTINGENCY
            ):
                changes["status"] = InvoiceStatus.CONTINGENCY
                # DIAN has been unavailable since the first failed try of the row, not since the
                # try that made it a contingency (the evidence staff and DIAN read).
                changes["contingency_since"] = current.contingency_since or min(
                    [attempt.created_at, *earlier]
                )
        else:
            changes["contingency_since"] = None
            if result.status not in DELIVERABLE_STATUSES or current.emailed_at:
                changes["lease_until"] = None  # nothing is left to do: released with the answer
        if result.status == InvoiceStatus.ACCEPTED:
            changes.update(
                application_response=result.application_response,
                attached_document=attached_xml,
                accepted_at=attempt.created_at,
            )
        Invoice.objects.filter(pk=current.pk).update(**changes)
        for name in TRANSMISSION_FIELDS:  # what is now stored, without reading it back
            setattr(invoice, name, changes.get(name, getattr(current, name)))
        if current.is_note:
            for listener in _note_state_listeners:
                listener(invoice)
        if result.status == InvoiceStatus.REJECTED:
            _alert_staff("staff_invoice_rejected", current, attempt)
        elif (
            changes["status"] == InvoiceStatus.CONTINGENCY
            and current.status != InvoiceStatus.CONTINGENCY
        ):
            logger.error("invoice %s: DIAN unavailable, contingency", current.full_number)
            _alert_staff("staff_invoice_contingency", current, attempt)
    return attempt


def _unavailable_in_a_row(invoice: Invoice, *, before: TransmissionAttempt) -> list[dt.datetime]:
    """When the attempts to retry recorded since the invoice's last final answer were made
    (newest first, at most ``TRIES_BEFORE_CONTINGENCY``)."""
    times: list[dt.datetime] = []
    for retryable, created_at in (
        invoice.transmissions.exclude(pk=before.pk)
        .order_by("-created_at", "-id")
        .values_list("retryable", "created_at")[:TRIES_BEFORE_CONTINGENCY]
    ):
        if not retryable:
            break
        times.append(created_at)
    return times


def render_and_send_invoice(*, invoice_id: int) -> bool:
    """Claim the invoice, then render, transmit and (once validated) email what is not done yet.

    True if claimed. A failure leaves the lease in place: the sweep retries once it expires.
    """
    token = claim_invoice(invoice_id=invoice_id)
    if token is None:
        return False  # done, waiting, or another worker holds the lease
    with provider_cached():  # the PDF's logo and the email's sender: one read per document
        invoice = Invoice.objects.select_related("customer__user", "order").get(pk=invoice_id)
        doc = builder.document_from_json(invoice.document)  # once for all the steps
        invoice = render_invoice(invoice=invoice, doc=doc)
        if not invoice.transmitted_at:
            # Sets the fields transmission writes on ``invoice``: the customer, user and order
            # read with it stay cached for the email (a refresh_from_db() would drop them).
            transmit_invoice(invoice=invoice, doc=doc)
        if (
            invoice.is_validated
            and not invoice.emailed_at
            and email_invoice_once(invoice=invoice, doc=doc)
        ):
            return True  # the email's UPDATE released the lease: nothing is left
    # Release the lease once everything is done, and only if it is still ours (another worker may
    # have taken over an expired one). A transmission to retry (DIAN unavailable) keeps a lease
    # until its next try (``next_try``), so it is not retried at every sweep.
    mine = Invoice.objects.filter(pk=invoice_id, lease_until=token)
    if invoice.transmitted_at:
        mine.update(lease_until=None)
    else:
        at = next_try(invoice)
        if mine.update(lease_until=at) and invoice.status != InvoiceStatus.CONTINGENCY:
            _schedule_retry(invoice_id, at)
    return True


def _schedule_retry(invoice_id: int, at: dt.datetime) -> None:
    """DIAN's retry rule (``RETRY_DELAY``): the invoice's job again at ``at``, when its lease
    (committed above: the durable record) expires. A job lost with Redis is replaced by the sweep,
    within a minute of ``at``. A contingency's ``CONTINGENCY_RETRY`` is left to the sweep."""
    from clientarea.einvoice import jobs  # the job calls this module

    transaction.on_commit(lambda: jobs.render_invoice_job.schedule((invoice_id,), eta=at))


def process_pending_invoices(*, limit: int = 100) -> dict[str, int]:
    """The sweep: every issued invoice with work left and no live lease (lost jobs, dead workers)."""
    now = timezone.now()
    ids = list(
        Invoice.objects.filter(work_left(), _free(now))
        .order_by("issued_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    counts = {"done": 0, "failed": 0}
    for invoice_id in ids:
        try:
            if render_and_send_invoice(invoice_id=invoice_id):
                counts["done"] += 1
        except Exception:  # recorded on the invoice; one bad invoice never stops the sweep
            logger.exception("invoice %s: rendering or sending failed", invoice_id)
            counts["failed"] += 1
    return counts
