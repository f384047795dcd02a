"""Reads of the notifications app: the staff overrides of email templates."""

from __future__ import annotations

from django.db.models import QuerySet

from clientarea.lib import sitecache
from clientarea.notifications.models import EmailTemplateVersion


def current_override(*, template: str, language: str) -> EmailTemplateVersion | None:
    """The staff version in force for ``template`` in ``language``, or None for the file default."""
    latest = (
        EmailTemplateVersion.objects.filter(template=template, language=language)
        .order_by("-version")
        .first()
    )
    if latest is None or latest.use_default:
        return None
    return latest


def override_in_force(*, template: str, language: str) -> EmailTemplateVersion | None:
    """:func:`current_override`, kept in each process's memory under the site data's version
    (``lib.sitecache``): what every email render asks, without a query each time. The services
    that save a version change that version once they commit (``services.save_template_version``,
    ``use_default_template``), so no email is rendered from a version no longer in force."""
    return sitecache.cached(
        f"email-override:{template}:{language}",
        lambda: current_override(template=template, language=language),
    )


def template_versions(*, template: str, language: str) -> QuerySet[EmailTemplateVersion]:
    return EmailTemplateVersion.objects.filter(template=template, language=language).select_related(
        "created_by"
    )


def overrides_in_force() -> dict[tuple[str, str], EmailTemplateVersion]:
    """The newest version of every (template, language) that has one (one query)."""
    latest: dict[tuple[str, str], EmailTemplateVersion] = {}
    for version in EmailTemplateVersion.objects.order_by("template", "language", "-version").defer(
        "body_text", "body_html"
    ):
        latest.setdefault((version.template, version.language), version)
    return latest
