"""Read queries: an order's withholdings and net to pay, a customer's withheld amounts and
certificates, and the back-office report.

``withholdings_for_order`` / ``net_to_pay`` are what the order page, Billing and checkout use.
An order here is a ``billing.Order`` (this app sits below billing and takes it as it comes).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import F, QuerySet
from django.utils.translation import gettext as _

from clientarea.accounts.models import Customer
from clientarea.lib.money import ZERO, quantize
from clientarea.withholdings.calculation import (
    KINDS,
    NAMES,
    RETEFUENTE,
    RETEICA,
    MissingUvt,
    OrderWithholdings,
    RuleData,
    Withheld,
    compute_withholdings,
)
from clientarea.withholdings.models import (
    AgentStatus,
    CertificatePeriod,
    CertificateStatus,
    OrderWithholding,
    UvtValue,
    WithholdingAgent,
    WithholdingCertificate,
    WithholdingRule,
)

logger = logging.getLogger(__name__)


def agent_for(customer: Customer) -> WithholdingAgent | None:
    return WithholdingAgent.objects.filter(customer=customer).first()


def approved_agent(
    customer_id: int, *, customer: Customer | None = None
) -> WithholdingAgent | None:
    """The customer's agent status, if approved, with its customer.

    ``customer``: the customer when the caller has it: its ``withholding_agent`` relation is
    used, so a customer read with ``select_related("withholding_agent")`` (the ledger's
    ``lock_customer``) asks nothing more; otherwise the agent is read with its customer."""
    if customer is not None:
        try:
            agent = customer.withholding_agent
        except WithholdingAgent.DoesNotExist:
            return None
        return agent if agent.status == AgentStatus.APPROVED else None
    return (
        WithholdingAgent.objects.select_related("customer")
        .filter(customer_id=customer_id, status=AgentStatus.APPROVED)
        .first()
    )


def uvt_for(year: int) -> Decimal | None:
    return UvtValue.objects.filter(year=year).values_list("value", flat=True).first()


def rules_for_agent(agent: WithholdingAgent) -> list[RuleData]:
    """The active rules this agent applies (ReteICA: the rule of its municipality, if any)."""
    wanted = []
    if agent.retefuente:
        wanted.append(RETEFUENTE)
    if agent.reteiva:
        wanted.append("05")
    municipality = agent.ica_municipality_code or agent.customer.municipality_code
    rules: list[RuleData] = []
    for rule in WithholdingRule.objects.filter(active=True, kind__in=KINDS):
        if rule.kind == RETEICA:
            if not agent.reteica or rule.municipality_code != municipality:
                continue
        elif rule.kind not in wanted:
            continue
        rate = rule.rate
        if rule.kind == RETEFUENTE and agent.retefuente_rate:
            rate = agent.retefuente_rate
        rules.append(RuleData(kind=rule.kind, rate=rate, min_base_uvt=rule.min_base_uvt))
    return rules


def compute_for_order(order: Any, *, customer: Customer | None = None) -> OrderWithholdings:
    """What an approved agent withholds from ``order`` under today's rules (empty otherwise).

    The UVT is the one of the order's issue year. Without a UVT value for that year (and a
    rule with a minimum base) nothing is withheld and staff see the warning in the log. An order
    that collects a DIAN debit note (``debit_note_id`` set) has nothing withheld: the agent pays
    the note's total. ``customer``: the order's customer when the caller has it (else read with
    the agent).
    """
    total = Decimal(order.total)
    if getattr(order, "debit_note_id", None):
        return OrderWithholdings(total=total)
    agent = approved_agent(order.customer_id, customer=customer)
    if agent is None:
        return OrderWithholdings(total=total)
    rules = rules_for_agent(agent)
    if not rules:
        return OrderWithholdings(total=total)
    try:
        return compute_withholdings(
            subtotal=Decimal(order.subtotal),
            iva=Decimal(order.tax_total),
            total=total,
            rules=rules,
            uvt=uvt_for(order.issue_date.year),
        )
    except MissingUvt:
        logger.warning(
            "order %s: no UVT value for %s, nothing withheld", order.number, order.issue_date.year
        )
        return OrderWithholdings(total=total)


def withholdings_for_order(order: Any) -> OrderWithholdings:
    """The order's total, each withholding and the net to pay.

    A pending order: computed now (what checkout charges). A paid order: the amounts fixed when it
    was paid. A cancelled order: none.
    """
    if order.state == "paid":
        rows = OrderWithholding.objects.filter(order_id=order.pk)
        lines = sorted(
            (Withheld(kind=r.kind, base=r.base, rate=r.rate, amount=r.amount) for r in rows),
            key=lambda w: KINDS.index(w.kind),
        )
        return OrderWithholdings(total=Decimal(order.total), lines=tuple(lines))
    if order.state != "pending":
        return OrderWithholdings(total=Decimal(order.total))
    return compute_for_order(order)


def withheld_from_order(order_id: int) -> Decimal:
    """What the customer withheld from a paid order (the amounts fixed when it was paid, settled
    or not); zero for an order paid in full, or by a customer that is no withholding agent."""
    rows = OrderWithholding.objects.filter(order_id=order_id).values_list("amount", flat=True)
    return quantize(sum(rows, ZERO))


def net_to_pay(order: Any) -> Decimal:
    """What the customer pays through a gateway: the total minus its withholdings."""
    return withholdings_for_order(order).net


# -- certificates and coverage -------------------------------------------------------------


def period_bounds(*, year: int, period_type: str, number: int) -> tuple[dt.date, dt.date]:
    """First and last day of a certificate's period."""
    if period_type == CertificatePeriod.MONTH:
        start = dt.date(year, number, 1)
        months = 1
    elif period_type == CertificatePeriod.BIMESTER:
        start = dt.date(year, 2 * number - 1, 1)
        months = 2
    else:
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    month = start.month + months
    end_year = year + (month - 1) // 12
    end = dt.date(end_year, (month - 1) % 12 + 1, 1) - dt.timedelta(days=1)
    return start, end


def covered_withholdings(certificate: WithholdingCertificate) -> QuerySet[OrderWithholding]:
    start, end = period_bounds(
        year=certificate.year,
        period_type=certificate.period_type,
        number=certificate.period_number,
    )
    return OrderWithholding.objects.filter(
        customer_id=certificate.customer_id,
        kind=certificate.kind,
        withheld_on__gte=start,
        withheld_on__lte=end,
    )


def awaiting_certificate(certificate: WithholdingCertificate) -> QuerySet[OrderWithholding]:
    """The withheld amounts ``certificate`` would settle: its customer's, kind and period, not
    settled yet, and not wholly reversed by credit notes (nothing is expected of those)."""
    return covered_withholdings(certificate).filter(
        settled_by__isnull=True, amount__gt=F("reversed_amount")
    )


def customer_withholdings(customer: Customer) -> QuerySet[OrderWithholding]:
    return (
        OrderWithholding.objects.filter(customer=customer)
        .select_related("order", "settled_by")
        .order_by("-withheld_on", "order__number", "kind")
    )


def customer_certificates(customer: Customer) -> QuerySet[WithholdingCertificate]:
    return WithholdingCertificate.objects.filter(customer=customer).order_by("-uploaded_at", "-id")


def certificate_for_customer(customer: Customer, pk: int) -> WithholdingCertificate:
    return WithholdingCertificate.objects.get(customer=customer, pk=pk)


def open_total(customer: Customer) -> Decimal:
    """What the customer's certificates are still expected to cover: the amounts not settled,
    less what credit notes reversed of them."""
    rows = OrderWithholding.objects.filter(customer=customer, settled_by__isnull=True)
    return quantize(sum((row.expected for row in rows), ZERO))


def reversed_total(customer: Customer) -> Decimal:
    """What credit notes reversed of the customer's withheld amounts (recovered from DIAN)."""
    rows = OrderWithholding.objects.filter(customer=customer, reversed_amount__gt=0)
    return quantize(sum((row.reversed_amount for row in rows), ZERO))


# -- back-office report --------------------------------------------------------------------


@dataclass
class ReportRow:
    customer: Customer
    year: int
    month: int
    amounts: dict[str, Decimal] = field(default_factory=dict)
    #: What certificates are still expected to cover (not settled, less what was reversed).
    open_amount: Decimal = ZERO
    #: What credit notes reversed (the customer recovers it from DIAN: no certificate for it).
    reversed_amount: Decimal = ZERO
    certificates: list[str] = field(default_factory=list)

    @property
    def period(self) -> str:
        return f"{self.year}-{self.month:02d}"

    @property
    def total(self) -> Decimal:
        return quantize(sum(self.amounts.values(), ZERO))

    @property
    def amount_list(self) -> list[Decimal]:
        """The amounts in the order of the report's columns (ReteFuente, ReteIVA, ReteICA)."""
        return [self.amounts.get(kind, ZERO) for kind in KINDS]

    @property
    def status(self) -> str:
        """Certificate status in words: every amount settled, or what is still missing."""
        if self.open_amount == 0:
            if self.reversed_amount and self.reversed_amount >= self.total:
                return _("Reversed by credit notes: no certificate expected")
            return _("Settled by accepted certificates")
        if self.certificates:
            return _("Open; certificate: %(list)s") % {"list": ", ".join(self.certificates)}
        return _("Open; no certificate uploaded")


def report(*, year: int | None = None, customer_id: int | None = None) -> list[ReportRow]:
    """Withholdings by customer and month, each with the amount per kind, what is still open and
    the certificates uploaded for them (with their status)."""
    rows = OrderWithholding.objects.select_related("customer__user").order_by(
        "customer__id", "withheld_on"
    )
    if year:
        rows = rows.filter(withheld_on__year=year)
    if customer_id:
        rows = rows.filter(customer_id=customer_id)
    grouped: dict[tuple[int, int, int], ReportRow] = {}
    for row in rows:
        key = (row.customer_id, row.withheld_on.year, row.withheld_on.month)
        entry = grouped.get(key)
        if entry is None:
            entry = grouped[key] = ReportRow(
                customer=row.customer, year=key[1], month=key[2], amounts=dict.fromkeys(KINDS, ZERO)
            )
        entry.amounts[row.kind] = quantize(entry.amounts[row.kind] + row.amount)
        entry.reversed_amount = quantize(entry.reversed_amount + row.reversed_amount)
        if row.settled_by_id is None:
            entry.open_amount = quantize(entry.open_amount + max(row.expected, ZERO))
    certificates: dict[int, list[WithholdingCertificate]] = defaultdict(list)
    for cert in WithholdingCertificate.objects.filter(customer_id__in={key[0] for key in grouped}):
        certificates[cert.customer_id].append(cert)
    for (customer_pk, y, m), entry in grouped.items():
        day = dt.date(y, m, 1)
        for cert in certificates.get(customer_pk, []):
            start, end = period_bounds(
                year=cert.year, period_type=cert.period_type, number=cert.period_number
            )
            if start <= day <= end and entry.amounts.get(cert.kind):
                entry.certificates.append(
                    f"{NAMES[cert.kind]} {cert.period_label} ({cert.get_status_display().lower()})"
                )
    return sorted(grouped.values(), key=lambda r: (r.year, r.month, str(r.customer)), reverse=True)


def pending_certificates() -> QuerySet[WithholdingCertificate]:
    return WithholdingCertificate.objects.filter(status=CertificateStatus.PENDING)
