"""Queue and deliver emails (transactional outbox).

``queue_email`` renders the message and writes the log row inside the caller's
transaction; delivery is scheduled on commit (``jobs.deliver_email_job``). With ``refs`` it
writes the row without rendering it (the ids of what it describes): the worker renders it when
it delivers it (``deferred``), which keeps the rendering out of busy transactions. A crash
before commit leaves no row and no email; a crash after commit leaves a queued row
that the periodic sweep (``delivery.deliver_due_emails``) delivers, and a worker
that dies while sending leaves a lease that expires (see ``delivery``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from clientarea.lib import sitecache
from clientarea.notifications import deferred, jobs, rendering, sandbox
from clientarea.notifications.deferred import ContextGone, register_context_builder
from clientarea.notifications.delivery import deliver_due_emails, deliver_email
from clientarea.notifications.editable import EDITABLE
from clientarea.notifications.models import EmailAttachment, EmailTemplateVersion, OutgoingEmail
from clientarea.notifications.rendering import add_context_source, render_email, site_context

__all__ = [
    "Attachment",
    "ContextGone",
    "add_context_source",
    "deliver_due_emails",
    "deliver_email",
    "queue_email",
    "register_context_builder",
    "render_email",
    "resend_email",
    "revert_template_version",
    "save_template_version",
    "site_context",
    "use_default_template",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    content_type: str


def queue_email(
    *,
    to: str,
    template: str,
    context: Mapping[str, Any] | None = None,
    customer=None,
    language: str | None = None,
    attachments: Iterable[Attachment] = (),
    subject: str | None = None,
    secrets: Mapping[str, str] | None = None,
    refs: Mapping[str, Any] | None = None,
) -> OutgoingEmail:
    """Render an email, record it in the email log and deliver it after commit.

    ``secrets`` are context values (an access code, a one-time link) that go out in the
    email but are stored as ``rendering.REDACTED`` in the log (the copy to deliver is sealed
    until it is sent).

    ``refs`` (instead of ``context``): record the email without rendering it, with these ids
    (JSON values) of the objects it describes; the worker renders it when it delivers it, from
    the context builder registered for ``template`` (``notifications.deferred``). Used where the
    caller's transaction must stay short (the paid transaction).
    """
    lang = language or (customer.preferred_language if customer else settings.LANGUAGE_CODE)
    if refs is not None:
        if context or secrets:
            raise ValueError("an email rendered at delivery takes ids (refs), not a context")
        if not deferred.can_defer(template):
            raise ValueError(f"no context builder is registered for the template {template!r}")
        return _record(
            to=to,
            template=template,
            customer=customer,
            language=lang,
            attachments=attachments,
            subject=subject or "",
            text="",
            html="",
            render_refs=dict(refs),
        )
    context = context or {}
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
    return _record(
        to=to,
        template=template,
        customer=customer,
        language=lang,
        attachments=attachments,
        subject=subject or rendered_subject,
        text=text,
        html=html,
        redacted=bool(secrets),
        secret_payload=sealed,
    )


def _record(
    *,
    to: str,
    template: str,
    customer,
    language: str,
    attachments: Iterable[Attachment],
    subject: str,
    text: str,
    html: str,
    redacted: bool = False,
    secret_payload: str = "",
    render_refs: dict[str, Any] | None = None,
) -> OutgoingEmail:
    """The email log row (and its attachments), delivered after commit."""
    with transaction.atomic(savepoint=False):  # part of the caller's transaction, if any
        email = OutgoingEmail.objects.create(
            customer=customer,
            to_email=to,
            subject=subject,
            template=template,
            language=language,
            body_text=text,
            body_html=html,
            redacted=redacted,
            secret_payload=secret_payload,
            render_refs=render_refs,
        )
        EmailAttachment.objects.bulk_create(  # one INSERT for all of them
            EmailAttachment(
                email=email,
                filename=item.filename,
                content_type=item.content_type,
                content=item.content,
                size=len(item.content),
            )
            for item in attachments
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
            render_refs=email.render_refs,  # one not rendered yet is rendered when delivered
        )
        EmailAttachment.objects.bulk_create(
            EmailAttachment(
                email=copy,
                filename=att.filename,
                content_type=att.content_type,
                content=bytes(att.content),
                size=att.size,
            )
            for att in email.attachments.all()
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
        sitecache.changed()  # every process renders this version from now on (selectors)
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
        version = EmailTemplateVersion.objects.create(
            template=template,
            language=language,
            version=_next_version(template, language),
            use_default=True,
            note="default file",
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        sitecache.changed()  # every process renders the file from now on (selectors)
    return version
