"""Rendering emails, and keeping the secrets some of them carry out of the email log.

Templates: ``emails/<name>.subject.txt``, ``.txt`` and ``.html``. The subject and the text
body are plain text, rendered without HTML autoescaping ("Pérez & Cía", never
"Pérez &amp; Cía"); the HTML body is autoescaped as usual. Pages that show a stored text
body (My emails, the back office) let Django escape it once on display.

Secrets (a new access code, a one-time login link) must reach the recipient but never sit
readable in the email log. An email that carries one is rendered twice: the copy stored in
the log shows :data:`REDACTED` in place of each secret; the copy to deliver is sealed
(encrypted and authenticated with a key derived from ``SECRET_KEY``) into
``OutgoingEmail.secret_payload``, which delivery opens at send time and wipes once the
email is sent or has failed for good. A sealed copy older than :data:`SEALED_MAX_AGE`, or
one that can no longer be opened (``SECRET_KEY`` changed), is never sent redacted: the
email fails with a message telling staff to issue a new access code.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.template import Context, Engine
from django.utils import translation
from django.utils.crypto import salted_hmac

from clientarea.notifications import sandbox
from clientarea.notifications.models import EmailTemplateVersion
from clientarea.notifications.selectors import override_in_force

logger = logging.getLogger(__name__)

#: What the email log shows in place of a secret.
REDACTED = "••••"
#: A sealed copy is refused after this many seconds (delivery normally takes seconds; the
#: retries of an unreachable mail server take under an hour).
SEALED_MAX_AGE = 24 * 3600
#: Recorded on an email whose sealed copy is gone (shown to staff in the email log).
SECRET_GONE_ERROR = (
    "Not sent: the one-time secret it carried is no longer available. "  # noqa: S105 (a message)
    "Issue a new access code for this customer."
)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _render(name: str, context: Mapping[str, Any], *, autoescape: bool) -> str:
    engine = Engine.get_default()
    return engine.get_template(name).render(Context(dict(context), autoescape=autoescape))


def render_templates(*, template: str, context: Mapping[str, Any], language: str) -> RenderedEmail:
    """Render the three parts of ``emails/<template>`` in ``language`` (plain text unescaped).

    A staff override in force for the template and language (back office → Email templates) is
    rendered in the sandbox instead of the files; the files stay the default. An override that
    fails at send time (it was validated when saved, so this means data the sample did not
    have) falls back to the files rather than sending a broken email.
    """
    override = override_in_force(template=template, language=language)
    if override is not None:
        try:
            return _render_override(override, context, language)
        except Exception:
            logger.exception(
                "email template %s (%s) v%s failed; the default file was used",
                template,
                language,
                override.version,
            )
    with translation.override(language):
        subject = " ".join(
            _render(f"emails/{template}.subject.txt", context, autoescape=False).split()
        )
        text = _render(f"emails/{template}.txt", context, autoescape=False).strip() + "\n"
        html = _render(f"emails/{template}.html", context, autoescape=True)
    return RenderedEmail(subject=subject, text=text, html=html)


def _render_override(
    override: EmailTemplateVersion, context: Mapping[str, Any], language: str
) -> RenderedEmail:
    parts = {}
    with translation.override(language):
        for part, autoescape in sandbox.PARTS:
            parts[part] = sandbox.render(
                getattr(override, part),
                template=override.template,
                context=context,
                autoescape=autoescape,
            )
    return RenderedEmail(
        subject=" ".join(parts["subject"].split()),
        text=parts["body_text"].strip() + "\n",
        html=parts["body_html"],
    )


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
    """Render ``emails/<template>.subject.txt``, ``.txt`` and ``.html`` in ``language``, with
    the site's values (:func:`site_context`).

    The subject and the text body are plain text (not HTML-escaped).
    """
    done = render_templates(
        template=template, context={**site_context(), **context}, language=language
    )
    return done.subject, done.text, done.html


def redacted_context(context: Mapping[str, Any], secrets: Mapping[str, str]) -> dict[str, Any]:
    """``context`` with each secret replaced by :data:`REDACTED` (the copy the log keeps)."""
    return {**context, **dict.fromkeys(secrets, REDACTED)}


def check_redacted(stored: RenderedEmail, secrets: Mapping[str, str]) -> None:
    """Refuse to store a copy in which a secret still appears (a template that prints it twice)."""
    for value in secrets.values():
        if value and any(value in part for part in (stored.subject, stored.text, stored.html)):
            raise ValueError("a secret would be stored in the email log")


def _fernet() -> Fernet:
    key = salted_hmac("clientarea.notifications.sealed-email", "", algorithm="sha256").digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(rendered: RenderedEmail) -> str:
    """Encrypt the copy to deliver (with its secrets) for ``OutgoingEmail.secret_payload``."""
    payload = json.dumps(
        {"subject": rendered.subject, "text": rendered.text, "html": rendered.html}
    ).encode()
    return _fernet().encrypt(payload).decode("ascii")


def delivered_copy(email: Any) -> RenderedEmail | None:
    """What to send for an ``OutgoingEmail``: the stored copy, or for a redacted one its sealed
    copy (None when that is gone: the email must not go out with the secret missing)."""
    if not email.redacted:
        return RenderedEmail(subject=email.subject, text=email.body_text, html=email.body_html)
    return unseal(email.secret_payload)


def unseal(token: str) -> RenderedEmail | None:
    """The sealed copy, or None when it is missing, too old or cannot be opened."""
    if not token:
        return None
    try:
        data = json.loads(_fernet().decrypt(token.encode("ascii"), ttl=SEALED_MAX_AGE))
    except (InvalidToken, ValueError, UnicodeError):
        return None
    return RenderedEmail(subject=data["subject"], text=data["text"], html=data["html"])


def default_sources(template: str) -> dict[str, str]:
    """The source of the three files of ``emails/<template>`` (what an override starts from)."""
    engine = Engine.get_default()
    files = {"subject": "subject.txt", "body_text": "txt", "body_html": "html"}
    return {
        part: Path(engine.get_template(f"emails/{template}.{suffix}").origin.name).read_text(
            encoding="utf-8"
        )
        for part, suffix in files.items()
    }
