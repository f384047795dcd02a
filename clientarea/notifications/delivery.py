"""Deliver queued emails (the worker side of the outbox).

Every email is a row of the email log, written in its cause's transaction
(``services.queue_email``). A worker *claims* a row with one conditional UPDATE
before sending it, so many workers never send one email twice. The claim is a
lease: ``status=sending`` with ``next_attempt_at`` = now + ``WORKER_LEASE_SECONDS``.
A worker killed while sending leaves the row "sending"; once its lease has
expired, the sweep (``deliver_due_emails``, every minute) claims it again.
Delivery is therefore at least once: an email whose SMTP hand-off succeeded
just before the worker died is sent again when its lease expires.

An email recorded with the ids of what it describes (``render_refs``, see ``deferred``) is
rendered here, under the claim, and its subject and bodies are written to the row before it is
handed over; a worker that dies before that leaves it unrendered, and whoever claims it next
renders it. One whose objects no longer say what it would say fails with the reason.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import F, Q
from django.utils import timezone

from clientarea.notifications import deferred, rendering
from clientarea.notifications.models import EmailStatus, OutgoingEmail

logger = logging.getLogger(__name__)


def lease() -> dt.timedelta:
    """How long a claim lasts before another worker may take the work over."""
    return dt.timedelta(seconds=settings.WORKER_LEASE_SECONDS)


def _claimable(now: dt.datetime) -> Q:
    """Queued and due, or claimed by a worker whose lease has expired."""
    return Q(status__in=(EmailStatus.QUEUED, EmailStatus.SENDING), next_attempt_at__lte=now)


def claim_email(*, email_id: int) -> bool:
    """Take the lease on one email (one conditional UPDATE: safe with many workers)."""
    now = timezone.now()
    claimed = (
        OutgoingEmail.objects.filter(_claimable(now), pk=email_id)
        .filter(attempts__lt=settings.EMAIL_MAX_ATTEMPTS)
        .update(
            status=EmailStatus.SENDING, attempts=F("attempts") + 1, next_attempt_at=now + lease()
        )
    )
    if claimed == 1:
        return True
    # A claim that expired on its last allowed attempt is not retried again: report it failed.
    OutgoingEmail.objects.filter(_claimable(now), pk=email_id, status=EmailStatus.SENDING).update(
        status=EmailStatus.FAILED,
        last_error="the worker stopped while sending (lease expired after the last attempt)",
        secret_payload="",
    )
    return False


def deliver_email(*, email_id: int) -> bool:
    """Send one queued email if it can be claimed. True when this call sent it."""
    if not claim_email(email_id=email_id):
        return False  # already sent, being sent, or not due yet
    email = OutgoingEmail.objects.get(pk=email_id)
    if email.render_refs is not None:
        try:
            _render_deferred(email, email.render_refs)
        except deferred.ContextGone as exc:
            OutgoingEmail.objects.filter(pk=email.pk).update(
                status=EmailStatus.FAILED, last_error=f"Not sent: {exc}"[:2000]
            )
            logger.warning("email %s not sent: %s", email.pk, exc)
            return False
        except Exception as exc:  # a template error: retried like a transport failure
            logger.exception("email %s could not be rendered", email.pk)
            _failed_attempt(email, exc)
            return False
    # Secret-bearing emails: send the sealed copy, never the redacted one in the log; one
    # whose sealed copy is gone fails (a new code must be issued) rather than go out without it.
    content = rendering.delivered_copy(email)
    if content is None:
        OutgoingEmail.objects.filter(pk=email.pk).update(
            status=EmailStatus.FAILED, last_error=rendering.SECRET_GONE_ERROR, secret_payload=""
        )
        logger.warning("email %s not sent: its one-time secret is no longer available", email.pk)
        return False
    message = EmailMultiAlternatives(
        subject=content.subject,
        body=content.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to_email],
    )
    if content.html:
        message.attach_alternative(content.html, "text/html")
    for att in email.attachments.all():
        message.attach(att.filename, bytes(att.content), att.content_type)
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # any transport failure is retried by the sweep, then reported
        _failed_attempt(email, exc)
        logger.warning("email %s failed (attempt %s): %s", email.pk, email.attempts, exc)
        return False
    OutgoingEmail.objects.filter(pk=email.pk).update(
        status=EmailStatus.SENT, sent_at=timezone.now(), last_error="", secret_payload=""
    )
    return True


def _render_deferred(email: OutgoingEmail, refs: dict) -> None:
    """Render an email recorded with ids, and write its text to the row (the email log's copy)."""
    context = deferred.build_context(template=email.template, refs=refs)
    subject, text, html = rendering.render_email(
        template=email.template, context=context, language=email.language
    )
    email.subject = email.subject or subject
    email.body_text, email.body_html, email.render_refs = text, html, None
    OutgoingEmail.objects.filter(pk=email.pk).update(
        subject=email.subject, body_text=text, body_html=html, render_refs=None
    )


def _failed_attempt(email: OutgoingEmail, exc: Exception) -> None:
    """Retried later with backoff, or failed for good after the last allowed attempt."""
    final = email.attempts >= settings.EMAIL_MAX_ATTEMPTS
    delay = min(60 * 2**email.attempts, 3600)
    OutgoingEmail.objects.filter(pk=email.pk).update(
        status=EmailStatus.FAILED if final else EmailStatus.QUEUED,
        last_error=f"{type(exc).__name__}: {exc}"[:2000],
        next_attempt_at=timezone.now() + dt.timedelta(seconds=delay),
        **({"secret_payload": ""} if final else {}),
    )


def deliver_due_emails(*, limit: int = 200) -> int:
    """The sweep: deliver due emails, and those whose worker died (expired lease)."""
    ids = list(
        OutgoingEmail.objects.filter(_claimable(timezone.now()))
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    return sum(1 for email_id in ids if deliver_email(email_id=email_id))
