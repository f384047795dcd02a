"""Read-only figures for the metrics endpoint, each one cheap (indexed counts, a few rows).

They read other apps' tables directly: nothing here writes, and these questions (how much work
is waiting, and since when) are the operator's, not the apps' own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Min, Q

from clientarea.billing.models import BillingRun
from clientarea.einvoice.models import Invoice, InvoiceStatus
from clientarea.notifications.models import EmailStatus, OutgoingEmail
from clientarea.payments.models import PaymentMessage

# The first word of an inbox outcome ("applied", "duplicate: order already paid, ...") is its kind.
# A bounded set of label values: anything else is "other".
OUTCOME_KINDS = (
    "applied",
    "already applied",
    "duplicate",
    "review",
    "held",
    "ignored",
    "unchanged",
    "unknown reference",
    "invalid signature",
    "malformed",
    "error",
    "shown",
)


def outcome_kind(outcome: str) -> str:
    if not outcome:
        return "waiting"
    head = outcome.split(":", 1)[0].strip()
    return head if head in OUTCOME_KINDS else "other"


@dataclass(frozen=True)
class Backlog:
    """Work waiting in an outbox: how many items, and when the oldest was created."""

    pending: int
    oldest: dt.datetime | None


def database_ping() -> str:
    """The database's vendor once a trivial query answered; raises when it does not."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def email_backlog() -> Backlog:
    waiting = OutgoingEmail.objects.filter(status__in=(EmailStatus.QUEUED, EmailStatus.SENDING))
    figures = waiting.aggregate(pending=Count("id"), oldest=Min("created_at"))
    return Backlog(pending=figures["pending"], oldest=figures["oldest"])


def emails_failed() -> int:
    return OutgoingEmail.objects.filter(status=EmailStatus.FAILED).count()


def invoice_backlog() -> Backlog:
    """Invoices with work left: waiting for a number, or numbered but not yet rendered, emailed
    or transmitted."""
    work_left = (
        Q(status=InvoiceStatus.WAITING)
        | Q(rendered_at__isnull=True)
        | Q(emailed_at__isnull=True)
        | Q(transmitted_at__isnull=True)
    )
    figures = Invoice.objects.filter(work_left).aggregate(
        pending=Count("id"), oldest=Min("created_at")
    )
    return Backlog(pending=figures["pending"], oldest=figures["oldest"])


def invoices_waiting_for_dian() -> dict[str, int]:
    """Invoices DIAN has not accepted yet, by stage: no number yet, numbered but not transmitted,
    transmitted and awaiting DIAN's answer; and those DIAN rejected."""
    return {
        "not_numbered": Invoice.objects.filter(status=InvoiceStatus.WAITING).count(),
        "not_transmitted": Invoice.objects.exclude(status=InvoiceStatus.WAITING)
        .filter(transmitted_at__isnull=True)
        .count(),
        "awaiting_answer": Invoice.objects.filter(status=InvoiceStatus.SENT).count(),
        "rejected": Invoice.objects.filter(status=InvoiceStatus.REJECTED).count(),
    }


def payment_message_backlog() -> Backlog:
    """Gateway messages stored but not applied yet (the inbox's partial index)."""
    figures = PaymentMessage.objects.filter(processed=False).aggregate(
        pending=Count("id"), oldest=Min("received_at")
    )
    return Backlog(pending=figures["pending"], oldest=figures["oldest"])


def payment_message_outcomes() -> dict[tuple[str, str], int]:
    """Every gateway message ever stored, by (gateway, kind of outcome). One grouped query."""
    totals: dict[tuple[str, str], int] = {}
    rows = PaymentMessage.objects.values_list("gateway", "outcome").annotate(n=Count("id"))
    for gateway, outcome, n in rows.order_by():
        key = (gateway, outcome_kind(outcome))
        totals[key] = totals.get(key, 0) + n
    return totals


def last_billing_run() -> BillingRun | None:
    """The latest real (not dry) billing run, running or finished."""
    return BillingRun.objects.filter(dry_run=False).order_by("-started_at", "-id").first()
