"""Help center services: saving articles (and their search index), views, votes, feedback, unanswered searches.

Counters are changed with ``F()`` expressions in the same transaction as the row that
justifies them (a new ``ArticleView``, a new or changed ``Vote``), so concurrent requests
never lose an update and the counts always match the rows.
"""

from __future__ import annotations

import datetime
import logging
import unicodedata
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from clientarea.accounts import audit
from clientarea.accounts.models import User
from clientarea.helpcenter import content, rendering, search
from clientarea.helpcenter.models import (
    COMMENT_MAX_LENGTH,
    Article,
    ArticleView,
    Category,
    Tag,
    UnansweredSearch,
    Vote,
    VoteValue,
)
from clientarea.helpcenter.visitors import is_bot
from clientarea.lib import sitecache

logger = logging.getLogger(__name__)

# The fields an editor changes. Counters are deliberately absent: saving an article that
# was loaded a minute ago must not overwrite the views and votes counted since.
EDITABLE_FIELDS = (
    "key",
    "language",
    "slug",
    "title",
    "summary",
    "body",
    "category",
    "position",
    "published",
    "updated_at",
)
CONTENT_FIELDS = ("title", "summary", "body")
VIEW_LOG_KEEP_DAYS = 2


# --- Articles -------------------------------------------------------------------------------


@transaction.atomic
@transaction.atomic
def save_article(
    *,
    article: Article,
    tags: Iterable[Tag] | None = None,
    related: Iterable[Article] | None = None,
    actor: User | None = None,
) -> Article:
    """Validate and save a new or edited article, set its tags and related articles, and re-index it.

    ``updated_at`` moves only when the title, summary or body changes. ``tags`` / ``related``
    left as None keep their current values. Saved by staff (``actor``): in the audit log, with
    the fields changed and whether it was published or unpublished.
    """
    article.full_clean()
    now = timezone.now()
    compared = [f for f in EDITABLE_FIELDS if f != "updated_at"]
    if article.pk is None:
        article.updated_at = now
        article.save()
        changed = compared
        was_published = None
    else:
        before = Article.objects.filter(pk=article.pk).values(*compared, "category_id").first()
        if before is None or any(before[f] != getattr(article, f) for f in CONTENT_FIELDS):
            article.updated_at = now
        article.save(update_fields=EDITABLE_FIELDS)
        old = before or {}
        changed = [
            f
            for f in compared
            if (
                old.get("category_id") != article.category_id
                if f == "category"
                else old.get(f) != getattr(article, f)
            )
        ]
        was_published = old.get("published")
    if actor is not None:
        _audit_article(article=article, actor=actor, changed=changed, was_published=was_published)
    if tags is not None:
        article.tags.set(list(tags))
    if related is not None:
        article.related.set([other for other in related if other.pk != article.pk])
    reindex_article(article=article)
    sitecache.changed()  # the help links of every page (selectors.linked_slugs)
    return article


def _audit_article(
    *, article: Article, actor: User, changed: list[str], was_published: bool | None
) -> None:
    if was_published is None:
        action = "helpcenter.article_added"
    elif was_published != article.published:
        action = (
            "helpcenter.article_published"
            if article.published
            else "helpcenter.article_unpublished"
        )
    else:
        action = "helpcenter.article_edited"
    audit.record(
        action=action,
        actor=actor,
        target=f"{article.slug} ({article.language})"[:120],
        changes={"fields": changed, "published": article.published},
    )


@transaction.atomic
def set_published(*, articles: Iterable[Article], published: bool, actor: User) -> int:
    """Publish or unpublish these articles (the help center's list action); each one changed is
    re-indexed and audited. Returns how many changed."""
    count = 0
    for article in (
        Article.objects.select_for_update()
        .filter(pk__in=[a.pk for a in articles])
        .exclude(published=published)
    ):
        article.published = published
        article.save(update_fields=["published"])
        reindex_article(article=article)
        _audit_article(
            article=article, actor=actor, changed=["published"], was_published=not published
        )
        count += 1
    if count:
        sitecache.changed()  # the help links of every page (selectors.linked_slugs)
    return count


def reindex_article(*, article: Article) -> None:
    """Write the article's current title, summary, tags and body text to the search index."""
    text = rendering.article_text(article.body, language=article.language)
    tag_names = " ".join(article.tags.values_list("name", flat=True))
    search.index_article(article, text=text, tags=tag_names)


@transaction.atomic
def delete_article(*, article: Article) -> None:
    """Delete an article with its votes and view log, and take it out of the search index."""
    article_id = article.pk
    article.delete()
    search.unindex_article(article_id)
    sitecache.changed()  # the help links of every page (selectors.linked_slugs)


@transaction.atomic
def save_tag(*, tag: Tag) -> Tag:
    """Save a new or renamed tag and re-index the articles that carry it (tag names are searchable)."""
    tag.full_clean()
    tag.save()
    for article in tag.articles.all():
        reindex_article(article=article)
    return tag


@transaction.atomic
def delete_tag(*, tag: Tag) -> None:
    """Delete a tag and re-index the articles that carried it."""
    articles = list(tag.articles.all())
    tag.delete()
    for article in articles:
        reindex_article(article=article)


@transaction.atomic
def rebuild_search_index() -> int:
    """Re-index every article (after a restore or a bulk import). Returns how many were indexed."""
    search.clear_index()
    count = 0
    for article in Article.objects.prefetch_related("tags").iterator(chunk_size=200):
        reindex_article(article=article)
        count += 1
    return count


# --- Views ----------------------------------------------------------------------------------


def record_view(
    *,
    article: Article,
    visitor: str,
    user_agent: str,
    is_staff: bool,
    today: datetime.date | None = None,
) -> bool:
    """Count a view of ``article`` unless this visitor was already counted today. Returns True if counted.

    Staff and robots are never counted. ``visitor`` is an opaque hash (see ``visitors``).
    """
    if is_staff or is_bot(user_agent) or not visitor:
        return False
    day = today or timezone.localdate()
    with transaction.atomic():
        _, created = ArticleView.objects.get_or_create(
            article_id=article.pk, visitor=visitor[:64], day=day
        )
        if not created:
            return False
        Article.objects.filter(pk=article.pk).update(view_count=F("view_count") + 1)
    return True


def prune_view_log(
    *, keep_days: int = VIEW_LOG_KEEP_DAYS, today: datetime.date | None = None
) -> int:
    """Forget counted-view rows older than ``keep_days`` (they only serve to de-duplicate). Returns rows deleted."""
    cutoff = (today or timezone.localdate()) - datetime.timedelta(days=keep_days)
    deleted, _ = ArticleView.objects.filter(day__lt=cutoff).delete()
    return deleted


# --- Votes and feedback -------------------------------------------------------------------------


def _locked_vote(*, article: Article, user, visitor: str) -> Vote | None:
    """This visitor's vote on the article, locked. A logged-in user claims the vote they cast anonymously."""
    votes = Vote.objects.select_for_update()
    if user is not None:
        vote = votes.filter(article=article, user=user).first()
        if vote is None and visitor:
            vote = votes.filter(article=article, user__isnull=True, visitor=visitor).first()
            if vote is not None:
                vote.user, vote.visitor = user, ""
                vote.save(update_fields=["user", "visitor", "updated_at"])
        return vote
    return votes.filter(article=article, user__isnull=True, visitor=visitor).first()


def _count_change(*, value: str, delta: int) -> dict:
    field = "like_count" if value == VoteValue.LIKE else "dislike_count"
    return {field: F(field) + delta}


@transaction.atomic
def cast_vote(*, article: Article, value: str, user=None, visitor: str = "") -> Vote:
    """Record “helpful” (like) or “not helpful” (dislike) for one visitor; voting again changes the vote.

    A visitor is ``user`` when logged in, else ``visitor`` (the anonymous browser hash).
    Raises ValidationError for an unknown value.
    """
    if value not in VoteValue.values:
        raise ValidationError(_("Choose “helpful” or “not helpful”."))
    if user is None and not visitor:
        raise ValueError("a vote needs a user or an anonymous visitor")
    vote = _locked_vote(article=article, user=user, visitor=visitor)
    if vote is None:
        try:
            with transaction.atomic():
                vote = Vote.objects.create(
                    article=article,
                    value=value,
                    user=user,
                    visitor="" if user is not None else visitor[:64],
                )
        except IntegrityError:
            # The same visitor's other request created it a moment ago: change that vote instead.
            vote = _locked_vote(article=article, user=user, visitor=visitor)
            if vote is None:
                raise
        else:
            Article.objects.filter(pk=article.pk).update(**_count_change(value=value, delta=1))
            return vote
    if vote.value != value:
        previous = vote.value
        vote.value = value
        vote.save(update_fields=["value", "updated_at"])
        changes = {**_count_change(value=previous, delta=-1), **_count_change(value=value, delta=1)}
        Article.objects.filter(pk=article.pk).update(**changes)
    return vote


@transaction.atomic
def withdraw_vote(*, article: Article, user=None, visitor: str = "") -> bool:
    """Take back the visitor's vote (and its comment), as if they had never voted.

    Returns False when the visitor had no vote (nothing changes).
    """
    if user is None and not visitor:
        return False
    vote = _locked_vote(article=article, user=user, visitor=visitor)
    if vote is None:
        return False
    value = vote.value
    vote.delete()
    Article.objects.filter(pk=article.pk).update(**_count_change(value=value, delta=-1))
    logger.info("help vote withdrawn on article %s", article.pk)
    return True


def clean_comment(text: str) -> str:
    """A visitor's comment made safe to store on any database: line breaks and tabs are kept,
    every other control character (NUL included, which PostgreSQL cannot store) is dropped."""
    text = str(text or "").replace("\r\n", "\n")
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc").strip()


@transaction.atomic
def leave_feedback(*, article: Article, comment: str, user=None, visitor: str = "") -> Vote:
    """Attach “What was missing?” to the visitor's “not helpful” vote (an empty comment removes it)."""
    comment = clean_comment(comment)
    if len(comment) > COMMENT_MAX_LENGTH:
        raise ValidationError(
            _("Please keep your comment under %(n)d characters.") % {"n": COMMENT_MAX_LENGTH}
        )
    vote = (
        _locked_vote(article=article, user=user, visitor=visitor)
        if (user is not None or visitor)
        else None
    )
    if vote is None or vote.value != VoteValue.DISLIKE:
        raise ValidationError(_("Tell us the article was not helpful first."))
    vote.comment = comment
    vote.save(update_fields=["comment", "updated_at"])
    return vote


# --- Searches -----------------------------------------------------------------------------------


def log_unanswered_search(*, query: str, language: str) -> None:
    """Count a search that found nothing (staff see the list). Queries are normalized and lower-cased."""
    text = search.normalize_query(query).casefold()[:200]
    if not text or not search.query_tokens(text):
        return
    now = timezone.now()
    same = UnansweredSearch.objects.filter(query=text, language=language)
    with transaction.atomic():
        if same.update(times=F("times") + 1, last_searched_at=now):
            return
        try:
            with transaction.atomic():
                UnansweredSearch.objects.create(
                    query=text, language=language, first_searched_at=now, last_searched_at=now
                )
        except IntegrityError:  # logged by a concurrent request in between
            same.update(times=F("times") + 1, last_searched_at=now)


# --- Content files (demo data and first install) ------------------------------------------------


def import_help_content(*, directory=None) -> dict[str, int]:
    """Create or update categories and articles from the Markdown files in ``content/``. Idempotent.

    An article is matched by its key and language, so a renamed slug updates the same row.
    Only what differs from the file is written. Edits made in the back office to an article
    that also exists as a file are replaced by the file's text when this runs again.
    Returns counts: created, updated, unchanged.
    """
    directory = directory or content.CONTENT_DIR
    sources = content.read_articles(directory)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    with transaction.atomic():
        categories = {}
        for data in content.read_categories(directory):
            category, created = Category.objects.get_or_create(key=data["key"], defaults=data)
            if not created and any(getattr(category, k) != v for k, v in data.items()):
                for name, value in data.items():
                    setattr(category, name, value)
                category.full_clean()
                category.save()
            categories[category.key] = category
        articles: dict[tuple[str, str], Article] = {}
        for source in sources:
            if source.category not in categories:
                raise ValidationError(f"{source.path}: unknown category {source.category!r}")
            tags = [
                Tag.objects.get_or_create(slug=slugify(name), defaults={"name": name})[0]
                for name in source.tags
            ]
            article = (
                Article.objects.filter(key=source.key, language=source.language).first()
                or Article()
            )
            fields = {
                "key": source.key,
                "language": source.language,
                "slug": source.slug,
                "title": source.title,
                "summary": source.summary,
                "body": source.body,
                "category_id": categories[source.category].pk,
                "position": source.position,
                "published": source.published,
            }
            is_new = article.pk is None
            changed = is_new or any(getattr(article, k) != v for k, v in fields.items())
            changed = changed or {t.pk for t in article.tags.all()} != {t.pk for t in tags}
            if changed:
                for name, value in fields.items():
                    setattr(article, name, value)
                save_article(article=article, tags=tags)
                counts["created" if is_new else "updated"] += 1
            else:
                counts["unchanged"] += 1
            articles[(source.key, source.language)] = article
        for source in sources:
            article = articles[(source.key, source.language)]
            wanted = [
                articles[(key, source.language)]
                for key in source.related
                if (key, source.language) in articles
            ]
            if [a.pk for a in article.related.order_by("pk")] != sorted(a.pk for a in wanted):
                article.related.set(wanted)
    return counts
