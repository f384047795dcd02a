"""Queue and deliver emails (transactional outbox).

``queue_email`` renders the message and writes the log row inside the caller's
transaction; delivery is scheduled on commit (``jobs.deliver_email_job``). A crash
before commit leaves no row and no email; a crash after commit leaves a queued row
that the periodic sweep (``delivery.deliver_due_emails``) delivers, and a worker
that dies while sending leaves a lease that expires (see ``delivery``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from clientarea.notifications import jobs, rendering, sandbox
from clientarea.notifications.delivery import deliver_due_emails, deliver_email
from clientarea.notifications.editable import EDITABLE
from clientarea.notifications.models import EmailAttachment, EmailTemplateVersion, OutgoingEmail

__all__ = [
    "Attachment",
    "add_context_source",
    "deliver_due_emails",
    "deliver_email",
    "queue_email",
    "render_email",
    "resend_email",
    "revert_template_version",
    "save_template_version",
    "use_default_template",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    content_type: str


# Apps above this one add values every email template can use (accounts adds the provider, the
# sender of every email), from their AppConfig.ready(): notifications imports no app.
_context_sources: list[Callable[[], Mapping[str, Any]]] = []


def add_context_source(source: Callable[[], Mapping[str, Any]]) -> None:
    """Register a function whose values every email template gets (called at each render)."""
    if source not in _context_sources:
        _context_sources.append(source)


def site_context() -> dict[str, Any]:
    """Values every email template can use."""
    context: dict[str, Any] = {"site_url": settings.SITE_URL}
    for source in _context_sources:
        context.update(source())
    return context


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
    with transaction.atomic(savepoint=False):  # part of the caller's transaction, if any
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


def _schedule(email_id: int) -> None:
    """Deliver at once in the worker (the sweep delivers it anyway if this never runs)."""
    jobs.deliver_email_job(email_id)


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


# --- Staff overrides of email templates ------------------------------------------------------


def _next_version(template: str, language: str) -> int:
    last = (
        EmailTemplateVersion.objects.select_for_update()
        .filter(template=template, language=language)
        .order_by("-version")
        .first()
    )
    return (last.version if last else 0) + 1


def save_template_version(
    *,
    template: str,
    language: str,
    subject: str,
    body_text: str,
    body_html: str,
    sample: Mapping[str, Any],
    actor,
    note: str = "",
    reverted_from: int | None = None,
) -> EmailTemplateVersion:
    """Validate an override against ``sample`` and save it as the new version in force.

    Raises ``sandbox.TemplateRefused`` (nothing saved) when a part does not compile, uses a tag
    or library that is not allowed, or reads a variable the template does not have.
    """
    if language not in dict(settings.LANGUAGES):
        raise sandbox.TemplateRefused({"language": ["unknown language"]})
    parts = {"subject": subject, "body_text": body_text, "body_html": body_html}
    sandbox.validate(
        template=template,
        parts=parts,
        sample={**site_context(), **sample},
        language=language,
    )
    with transaction.atomic():
        version = EmailTemplateVersion.objects.create(
            template=template,
            language=language,
            version=_next_version(template, language),
            note=note[:200],
            reverted_from=reverted_from,
            created_by=actor if getattr(actor, "pk", None) else None,
            **parts,
        )
    logger.info("email template %s (%s) saved as v%s", template, language, version.version)
    return version


def revert_template_version(
    *, template: str, language: str, version: int, sample: Mapping[str, Any], actor
) -> EmailTemplateVersion:
    """Put an old version back in force, as a new version copying it (validated again)."""
    old = EmailTemplateVersion.objects.get(template=template, language=language, version=version)
    if old.use_default:
        return use_default_template(template=template, language=language, actor=actor)
    return save_template_version(
        template=template,
        language=language,
        subject=old.subject,
        body_text=old.body_text,
        body_html=old.body_html,
        sample=sample,
        actor=actor,
        note=f"revert to v{old.version}",
        reverted_from=old.version,
    )


def use_default_template(*, template: str, language: str, actor) -> EmailTemplateVersion:
    """Back to the file in the repository (a new version that says so; history is kept)."""
    if template not in EDITABLE or language not in dict(settings.LANGUAGES):
        raise sandbox.TemplateRefused({"template": ["unknown template or language"]})
    with transaction.atomic():
        return EmailTemplateVersion.objects.create(
            template=template,
            language=language,
            version=_next_version(template, language),
            use_default=True,
            note="default file",
            created_by=actor if getattr(actor, "pk", None) else None,
        )
