"""Withholding changes: agent status, rules, the amounts fixed when an order is paid, and the
certificates that settle them. Each is one transaction, audited; emails go through the outbox."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from clientarea.accounts import audit
from clientarea.accounts.contacts import queue_customer_email, queue_staff_email
from clientarea.accounts.models import Customer, EmailCategory
from clientarea.lib.dates import BOGOTA, local_today
from clientarea.lib.money import quantize
from clientarea.withholdings import selectors
from clientarea.withholdings.calculation import OrderWithholdings, spread_reversal
from clientarea.withholdings.models import (
    AgentStatus,
    CertificatePeriod,
    CertificateStatus,
    OrderWithholding,
    UvtValue,
    WithholdingAgent,
    WithholdingCertificate,
    WithholdingKind,
    WithholdingRule,
)

logger = logging.getLogger(__name__)

#: Largest certificate accepted (bytes).
MAX_CERTIFICATE_BYTES = 5 * 1024 * 1024
PDF_MAGIC = b"%PDF-"


class WithholdingError(Exception):
    """A refused change; the message is for the person who asked, ``field`` the form field."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _actor(user: Any) -> Any:
    return user if getattr(user, "pk", None) else None


# -- agent status ----------------------------------------------------------------------------


def _tell_staff(*, template: str, admin_path: str, context: dict[str, Any]) -> None:
    """Email the provider's address (when it has one) about what a customer sent, with the link
    to it in the admin (``/admin/withholdings/<admin_path>``)."""
    queue_staff_email(
        template=template,
        context={**context, "admin_url": f"{settings.SITE_URL}/admin/withholdings/{admin_path}"},
    )


@transaction.atomic
def request_agent_status(
    *,
    customer: Customer,
    reteiva: bool,
    reteica: bool,
    note: str = "",
    ip: str | None = None,
    actor: Any = None,
) -> WithholdingAgent:
    """The customer asks to pay net of withholdings; staff approve it before it applies.

    ``actor``: the contact who asked (default: the account holder)."""
    agent = WithholdingAgent.objects.select_for_update().filter(customer=customer).first()
    if agent is not None and agent.status in (AgentStatus.APPROVED, AgentStatus.REQUESTED):
        raise WithholdingError(
            _("Your request was already sent.")
            if agent.status == AgentStatus.REQUESTED
            else _("You are already registered as a withholding agent.")
        )
    if agent is None:
        agent = WithholdingAgent(customer=customer)
    agent.status = AgentStatus.REQUESTED
    agent.retefuente = True
    agent.reteiva = reteiva
    agent.reteica = reteica
    agent.customer_note = note.strip()[:500]
    agent.requested_at = timezone.now()
    agent.decided_at = None
    agent.decided_by = None
    agent.save()
    audit.record(
        action="withholdings.agent_requested",
        actor=actor or customer.user,
        customer=customer,
        target=str(customer),
        changes={"reteiva": reteiva, "reteica": reteica, "note": agent.customer_note},
        ip=ip,
    )
    _tell_staff(
        template="staff_withholding_agent_request",
        admin_path=f"withholdingagent/{agent.pk}/change/",
        context={"customer": customer, "agent": agent},
    )
    return agent


@transaction.atomic
def save_agent(
    *, agent: WithholdingAgent, actor: Any, changed: list[str] | None = None
) -> WithholdingAgent:
    """Staff set or change a customer's agent status and what it withholds (audited; the
    customer is emailed when the status changes)."""
    before = (
        WithholdingAgent.objects.select_for_update().filter(pk=agent.pk).first()
        if agent.pk
        else None
    )
    old_status = before.status if before else ""
    if agent.status != old_status and agent.status != AgentStatus.REQUESTED:
        agent.decided_at = timezone.now()
        agent.decided_by = _actor(actor)
    agent.full_clean()
    agent.save()
    audit.record(
        action="withholdings.agent_saved",
        actor=actor,
        customer=agent.customer,
        target=str(agent.customer),
        changes={
            "status": [old_status, agent.status],
            "fields": sorted(changed or []),
            "retefuente": agent.retefuente,
            "reteiva": agent.reteiva,
            "reteica": agent.reteica,
            "ica_municipality_code": agent.ica_municipality_code,
            "retefuente_rate": str(agent.retefuente_rate or ""),
        },
    )
    if agent.status != old_status and agent.status != AgentStatus.REQUESTED:
        queue_customer_email(
            customer=agent.customer,
            category=EmailCategory.BILLING,
            template="withholding_agent_decided",
            context={"customer": agent.customer, "agent": agent},
        )
    return agent


@transaction.atomic
def save_setting(
    *, setting: WithholdingRule | UvtValue, actor: Any, changed: list[str] | None = None
) -> None:
    """Staff save a withholding rule or a year's UVT (audited with the new values)."""
    setting.full_clean()
    setting.save()
    if isinstance(setting, WithholdingRule):
        values = {
            "rate": str(setting.rate),
            "min_base_uvt": str(setting.min_base_uvt),
            "active": setting.active,
        }
    else:
        values = {"year": setting.year, "value": str(setting.value)}
    audit.record(
        action=f"withholdings.{setting._meta.model_name}_saved",
        actor=actor,
        target=str(setting),
        changes={"fields": sorted(changed or []), **values},
    )


# -- the paid transaction --------------------------------------------------------------------


def fix_order_withholdings(
    *, order: Any, computed: OrderWithholdings | None = None, actor: Any = None
) -> list[OrderWithholding]:
    """Called by billing inside the paid transaction: record what the customer withheld.

    The amounts are computed as checkout computed the net that was charged (the order's
    issue-year UVT, today's rules), stored one row per kind, linked to the order, open until a
    certificate settles them. Runs once per order (a unique key per order and kind).
    ``computed``: the same computation when the caller made it while the order was pending
    (the ledger does, for the amount it posts), so it is not made again. ``actor``: the person
    whose action paid the order (staff registering a payment, a customer applying credit), in
    the audit log; none for a gateway's confirmation or the billing run.
    """
    if computed is None:
        computed = selectors.compute_for_order(order)
    if not computed.lines:
        return []  # not an approved agent (one query): nothing to fix
    existing = list(OrderWithholding.objects.filter(order_id=order.pk))
    if existing:
        return existing
    paid_at = order.paid_at or timezone.now()
    day = timezone.localtime(paid_at, BOGOTA).date()
    rows = OrderWithholding.objects.bulk_create(
        [
            OrderWithholding(
                order_id=order.pk,
                customer_id=order.customer_id,
                kind=line.kind,
                base=line.base,
                rate=line.rate,
                amount=line.amount,
                withheld_on=day,
            )
            for line in computed.lines
        ]
    )
    if rows:
        audit.record(
            action="withholdings.fixed",
            actor=_actor(actor),
            customer=order.customer,
            target=order.number,
            changes={
                "total": str(computed.total),
                "net": str(computed.net),
                "withheld": {line.name: str(line.amount) for line in computed.lines},
            },
        )
        logger.info("order %s: withheld %s, net %s", order.number, computed.withheld, computed.net)
    return rows


# -- certificates ----------------------------------------------------------------------------


def check_pdf(upload: UploadedFile) -> None:
    """Refuse anything but a PDF (by its first bytes, not its name) of at most 5 MB."""
    if upload.size is None or upload.size == 0:
        raise WithholdingError(_("The file is empty."), field="file")
    if upload.size > MAX_CERTIFICATE_BYTES:
        raise WithholdingError(
            _("The file is too large (%(size)s MB). The limit is 5 MB.")
            % {"size": number_format(upload.size / 1024 / 1024, 1)},
            field="file",
        )
    upload.seek(0)
    head = upload.read(len(PDF_MAGIC))
    upload.seek(0)
    if head != PDF_MAGIC:
        raise WithholdingError(
            _("The file is not a PDF. Upload the certificate as a PDF file."), field="file"
        )


def validate_period(*, year: int, period_type: str, number: int) -> None:
    today = local_today()
    if not 2000 <= year <= today.year:
        raise WithholdingError(_("Enter a year between 2000 and this year."), field="year")
    if period_type not in CertificatePeriod.values:
        raise WithholdingError(_("Choose the period the certificate covers."))
    limit = {CertificatePeriod.YEAR: 1, CertificatePeriod.BIMESTER: 6, CertificatePeriod.MONTH: 12}
    if not 1 <= number <= limit[CertificatePeriod(period_type)]:
        raise WithholdingError(
            _("For this kind of period the number must be between 1 and %(max)s.")
            % {"max": limit[CertificatePeriod(period_type)]},
            field="period_number",
        )


@transaction.atomic
def upload_certificate(
    *,
    customer: Customer,
    user: Any,
    kind: str,
    year: int,
    period_type: str,
    period_number: int,
    upload: UploadedFile,
    ip: str | None = None,
) -> WithholdingCertificate:
    if kind not in WithholdingKind.values:
        raise WithholdingError(_("Choose the withholding the certificate is for."))
    if period_type == CertificatePeriod.YEAR:
        period_number = 1
    validate_period(year=year, period_type=period_type, number=period_number)
    check_pdf(upload)
    certificate = WithholdingCertificate(
        customer=customer,
        kind=kind,
        year=year,
        period_type=period_type,
        period_number=period_number,
        uploaded_by=_actor(user),
        original_name=(upload.name or "certificate.pdf")[:200],
    )
    certificate.file.save(f"{customer.pk}-{kind}-{year}.pdf", upload, save=False)
    certificate.save()
    audit.record(
        action="withholdings.certificate_uploaded",
        actor=user,
        customer=customer,
        target=str(certificate),
        changes={"size": upload.size, "name": certificate.original_name},
        ip=ip,
    )
    _tell_staff(
        template="staff_withholding_certificate",
        admin_path=f"withholdingcertificate/{certificate.pk}/change/",
        context={"certificate": certificate, "customer": customer},
    )
    return certificate


@transaction.atomic
def record_reversal(*, order_id: int, amount: Decimal, note: str, actor: Any = None) -> int:
    """A credit note on an order an agent paid net reversed ``amount`` of its withholdings
    (``billing.ledger`` posts it as "withholdings on the credited part"): the agent recovers that
    from DIAN, so a certificate is no longer expected to cover it. It is spread over the order's
    kinds (``calculation.spread_reversal``) and added to each row's ``reversed_amount``; a row
    wholly reversed is no longer open. Audited as ``withholdings.reversed``; returns how many rows
    changed (none for an order nothing was withheld from)."""
    rows = list(
        OrderWithholding.objects.select_for_update(of=("self",))  # these rows, not the customer
        .select_related("customer")
        .filter(order_id=order_id)
        .order_by("kind")
    )
    shares = spread_reversal(
        withheld={row.kind: row.amount for row in rows},
        reversed_before={row.kind: row.reversed_amount for row in rows},
        amount=amount,
    )
    changed = [row for row in rows if shares.get(row.kind)]
    for row in changed:
        row.reversed_amount = quantize(row.reversed_amount + shares[row.kind])
    if not changed:
        return 0
    OrderWithholding.objects.bulk_update(changed, ["reversed_amount"])
    audit.record(
        action="withholdings.reversed",
        actor=_actor(actor),
        customer=changed[0].customer,
        target=note or str(order_id),
        changes={
            "order": order_id,
            "note": note,
            "amount": str(quantize(amount)),
            "by_kind": {kind: str(share) for kind, share in shares.items()},
        },
    )
    logger.info(
        "withholdings reversed order=%s note=%s amount=%s by_kind=%s",
        order_id,
        note,
        amount,
        {kind: str(share) for kind, share in shares.items()},
    )
    return len(changed)


def _lock_pending(certificate_id: int) -> WithholdingCertificate:
    certificate = (
        WithholdingCertificate.objects.select_for_update()
        .select_related("customer__user")
        .get(pk=certificate_id)
    )
    if certificate.status != CertificateStatus.PENDING:
        raise WithholdingError(
            _("This certificate was already reviewed (%(status)s).")
            % {"status": certificate.get_status_display().lower()}
        )
    return certificate


@transaction.atomic
def accept_certificate(*, certificate_id: int, actor: Any) -> tuple[WithholdingCertificate, int]:
    """Accept a certificate: the open withholdings of its customer, kind and period are settled
    by it. Returns the certificate and how many withholdings it settled."""
    certificate = _lock_pending(certificate_id)
    now = timezone.now()
    certificate.status = CertificateStatus.ACCEPTED
    certificate.reviewed_at = now
    certificate.reviewed_by = _actor(actor)
    certificate.save(update_fields=["status", "reviewed_at", "reviewed_by"])
    settled = selectors.awaiting_certificate(certificate).update(
        settled_by=certificate, settled_at=now
    )
    audit.record(
        action="withholdings.certificate_accepted",
        actor=actor,
        customer=certificate.customer,
        target=str(certificate),
        changes={"settled": settled},
    )
    queue_customer_email(
        customer=certificate.customer,
        category=EmailCategory.BILLING,
        template="withholding_certificate_reviewed",
        context={"customer": certificate.customer, "certificate": certificate},
    )
    return certificate, settled


@transaction.atomic
def reject_certificate(*, certificate_id: int, actor: Any, reason: str) -> WithholdingCertificate:
    if not reason.strip():
        raise WithholdingError(_("Give the reason, so the customer can upload a correct one."))
    certificate = _lock_pending(certificate_id)
    certificate.status = CertificateStatus.REJECTED
    certificate.reject_reason = reason.strip()[:500]
    certificate.reviewed_at = timezone.now()
    certificate.reviewed_by = _actor(actor)
    certificate.save(update_fields=["status", "reject_reason", "reviewed_at", "reviewed_by"])
    audit.record(
        action="withholdings.certificate_rejected",
        actor=actor,
        customer=certificate.customer,
        target=str(certificate),
        changes={"reason": certificate.reject_reason},
    )
    queue_customer_email(
        customer=certificate.customer,
        category=EmailCategory.BILLING,
        template="withholding_certificate_reviewed",
        context={"customer": certificate.customer, "certificate": certificate},
    )
    return certificate
