"""Queue and deliver emails (transactional outbox).

``queue_email`` renders the message and writes the log row inside the caller's
transaction; delivery is scheduled on commit. A crash before commit leaves no
row and no email; a crash after commit leaves a queued row that the periodic
sweep (``deliver_due_emails``) delivers.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from clientarea.notifications import rendering
from clientarea.notifications.models import EmailAttachment, EmailStatus, OutgoingEmail

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    content_type: str


def site_context() -> dict[str, Any]:
    """Values every email template can use."""
    from clientarea.accounts.selectors import get_provider

    return {"site_url": settings.SITE_URL, "provider": get_provider()}


def render_email(
    *, template: str, context: Mapping[str, Any], language: str
) -> tuple[str, str, str]:
    """Render ``emails/<template>.subject.txt``, ``.txt`` and ``.html`` in ``language``.

    The subject and the text body are plain text (not HTML-escaped); see ``rendering``.
    """
    done = rendering.render_templates(
        template=template, context={**site_context(), **context}, language=language
    )
    return done.subject, done.text, done.html


def queue_email(
    *,
    to: str,
    template: str,
    context: Mapping[str, Any],
    customer=None,
    language: str | None = None,
    attachments: Iterable[Attachment] = (),
    subject: str | None = None,
    secrets: Mapping[str, str] | None = None,
) -> OutgoingEmail:
    """Render an email, record it in the email log and deliver it after commit.

    ``secrets`` are context values (an access code, a one-time link) that go out in the
    email but are stored as ``rendering.REDACTED`` in the log (the copy to deliver is sealed
    until it is sent).
    """
    lang = language or (customer.preferred_language if customer else settings.LANGUAGE_CODE)
    sealed = ""
    if secrets:
        full = render_email(template=template, context={**context, **secrets}, language=lang)
        sealed = rendering.seal(rendering.RenderedEmail(subject or full[0], full[1], full[2]))
        context = rendering.redacted_context(context, secrets)
    rendered_subject, text, html = render_email(template=template, context=context, language=lang)
    if secrets:
        rendering.check_redacted(
            rendering.RenderedEmail(subject or rendered_subject, text, html), secrets
        )
    with transaction.atomic():
        email = OutgoingEmail.objects.create(
            customer=customer,
            to_email=to,
            subject=subject or rendered_subject,
            template=template,
            language=lang,
            body_text=text,
            body_html=html,
            redacted=bool(secrets),
            secret_payload=sealed,
        )
        for item in attachments:
            EmailAttachment.objects.create(
                email=email,
                filename=item.filename,
                content_type=item.content_type,
                content=item.content,
                size=len(item.content),
            )
        transaction.on_commit(lambda: _schedule(email.pk))
    logger.info("email queued id=%s template=%s", email.pk, template)
    return email


def _schedule(email_id: int, delay: int | None = None) -> None:
    from clientarea.notifications.tasks import deliver_email_task

    if delay:
        deliver_email_task.schedule((email_id,), delay=delay)
    else:
        deliver_email_task(email_id)


def resend_email(*, email: OutgoingEmail) -> OutgoingEmail:
    """Queue a copy of an email already in the log (staff action).

    An email whose stored copy is redacted (it carried an access code or a login link) is
    refused: the secret is gone, and a new one must be issued instead.
    """
    if email.redacted:
        raise ValueError("an email that carried a one-time secret cannot be sent again")
    with transaction.atomic():
        copy = OutgoingEmail.objects.create(
            customer=email.customer,
            to_email=email.to_email,
            subject=email.subject,
            template=email.template,
            language=email.language,
            body_text=email.body_text,
            body_html=email.body_html,
        )
        for att in email.attachments.all():
            EmailAttachment.objects.create(
                email=copy,
                filename=att.filename,
                content_type=att.content_type,
                content=bytes(att.content),
                size=att.size,
            )
        transaction.on_commit(lambda: _schedule(copy.pk))
    return copy


def deliver_email(*, email_id: int) -> bool:
    """Send one queued email. Claims the row first so two workers never send it twice."""
    now = timezone.now()
    claimed = OutgoingEmail.objects.filter(
        pk=email_id, status=EmailStatus.QUEUED, next_attempt_at__lte=now
    ).update(
        status=EmailStatus.SENDING,
        attempts=F("attempts") + 1,
    )
    if claimed != 1:
        return False  # already sent, being sent, or not due yet
    email = OutgoingEmail.objects.get(pk=email_id)
    # Secret-bearing emails: deliver the sealed copy, never the redacted one in the log.
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
    except Exception as exc:  # any transport failure is retried, then reported in the log
        final = email.attempts >= settings.EMAIL_MAX_ATTEMPTS
        delay = min(60 * 2**email.attempts, 3600)
        OutgoingEmail.objects.filter(pk=email.pk).update(
            status=EmailStatus.FAILED if final else EmailStatus.QUEUED,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            next_attempt_at=now + dt.timedelta(seconds=delay),
            **({"secret_payload": ""} if final else {}),
        )
        logger.warning("email %s failed (attempt %s): %s", email.pk, email.attempts, exc)
        if not final:
            _schedule(email.pk, delay=delay)
        return False
    OutgoingEmail.objects.filter(pk=email.pk).update(
        status=EmailStatus.SENT, sent_at=timezone.now(), last_error="", secret_payload=""
    )
    return True


def deliver_due_emails(*, limit: int = 200) -> int:
    """Deliver queued emails that are due (the sweep that makes the outbox crash-safe)."""
    ids = list(
        OutgoingEmail.objects.filter(status=EmailStatus.QUEUED, next_attempt_at__lte=timezone.now())
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    return sum(1 for email_id in ids if deliver_email(email_id=email_id))
