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
from clientarea.payments.models import Outcome, PaymentMessage


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


def payment_message_results() -> dict[str, int]:
    """Every gateway message ever stored, by result ("" while waiting to be applied): one grouped
    count over the result's index."""
    rows = PaymentMessage.objects.values_list("result").annotate(n=Count("id")).order_by()
    return {result or "none": n for result, n in rows}


def payments_applied() -> dict[str, int]:
    """Messages that marked an order paid, by gateway."""
    rows = (
        PaymentMessage.objects.filter(result=Outcome.APPLIED)
        .values_list("gateway")
        .annotate(n=Count("id"))
        .order_by()
    )
    return dict(rows)


def last_billing_run() -> BillingRun | None:
    """The latest real (not dry) billing run, running or finished."""
    return BillingRun.objects.filter(dry_run=False).order_by("-started_at", "-id").first()
