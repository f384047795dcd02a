"""Read queries for the help center, including the contextual-help link API for other apps.

Other apps link to an article by its key, in the visitor's language::

    from clientarea.helpcenter.selectors import article_url_for
    article_url_for("pay", "es-co")    # "/help/pagar-factura-en-linea/"

or in a template: ``{% load helpcenter %}<a href="{% help_url 'pay' %}">…</a>``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db.models import Count, F, FloatField, Prefetch, Q, QuerySet
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils import translation

from clientarea.helpcenter import search
from clientarea.helpcenter.models import (
    Article,
    Category,
    Language,
    Tag,
    UnansweredSearch,
    Vote,
    VoteValue,
)
from clientarea.lib import sitecache

logger = logging.getLogger(__name__)

# The articles other pages link to (contextual help). Keys are stable; slugs may change.
ARTICLE_KEYS = (
    "pay",
    "pse",
    "cash",
    "access_code",
    "einvoice",
    "renewals",
    "two_factor",
    "cancel",
    "plan_change",
    "order",
    "contacts",
    "refunds",
)


def normalize_language(code: str | None) -> str:
    """Map a Django language code ("es-co", "en-us", "es"...) to an article language ("es" or "en")."""
    return Language.ENGLISH if (code or "").lower().startswith("en") else Language.SPANISH


def ui_language() -> str:
    """The article language matching the page's active language."""
    return normalize_language(translation.get_language())


def other_language(language: str) -> str:
    return Language.SPANISH if language == Language.ENGLISH else Language.ENGLISH


def article_url_for(key: str, language: str | None = None) -> str:
    """URL of the published article with this key, in ``language`` if it exists, else in the other language.

    ``language`` accepts Django codes ("es-co", "en") and defaults to the active language.
    Never raises: an unknown key or a missing article links to the help center home (and is logged),
    so a contextual-help link can never break the page that shows it.
    """
    wanted = normalize_language(language or translation.get_language())
    url = sitecache.cached(f"help-url:{key}:{wanted}", lambda: _linked_url(key, wanted))
    if url is None:
        logger.warning("no published help article for key %r", key)
        return reverse("helpcenter:home")
    return url


def _linked_url(key: str, language: str) -> str | None:
    """The article's URL for :func:`article_url_for` (kept like :func:`linked_slugs`), or None."""
    slugs = linked_slugs(key) if key else {}
    slug = slugs.get(language) or slugs.get(other_language(language))
    return None if slug is None else reverse("helpcenter:article", kwargs={"slug": slug})


def published_slugs(key: str) -> dict[str, str]:
    """Language → slug of the published articles with this key (one query)."""
    return dict(Article.objects.filter(key=key, published=True).values_list("language", "slug"))


def linked_slugs(key: str) -> dict[str, str]:
    """:func:`published_slugs` as the links of every page read it: kept in each process's memory
    until ``services.save_article`` or ``services.delete_article`` changes an article."""
    return sitecache.cached(f"help-slugs:{key}", lambda: published_slugs(key))


# --- Public pages ---------------------------------------------------------------------------------


def published_articles(language: str) -> QuerySet[Article]:
    return Article.objects.filter(published=True, language=language).select_related("category")


def categories_with_articles(language: str) -> list[Category]:
    """Categories that have published articles in ``language``, each with ``.article_list``."""
    articles = Article.objects.filter(published=True, language=language).order_by(
        "position", "title"
    )
    categories = (
        Category.objects.annotate(
            n=Count("articles", filter=Q(articles__published=True, articles__language=language))
        )
        .filter(n__gt=0)
        .prefetch_related(Prefetch("articles", queryset=articles, to_attr="article_list"))
    )
    return list(categories)


def most_viewed(language: str, *, limit: int = 5) -> list[Article]:
    return list(
        published_articles(language)
        .filter(view_count__gt=0)
        .order_by("-view_count", "title")[:limit]
    )


def most_helpful(language: str, *, limit: int = 5) -> list[Article]:
    """Articles people found helpful, ranked by (likes + 1) / (votes + 2) so one lone like is not “100 %”."""
    score = Cast(F("like_count") + 1, FloatField()) / Cast(
        F("like_count") + F("dislike_count") + 2, FloatField()
    )
    return list(
        published_articles(language)
        .filter(like_count__gt=0)
        .annotate(score=score)
        .order_by("-score", "-like_count", "title")[:limit]
    )


def article_for_page(slug: str, *, include_drafts: bool = False) -> Article | None:
    """The article at /help/<slug>/ (drafts only for staff), or None."""
    articles = Article.objects.select_related("category").prefetch_related("tags")
    if not include_drafts:
        articles = articles.filter(published=True)
    return articles.filter(slug=slug).first()


def translations_of(article: Article) -> list[Article]:
    """The published versions of the same article in the other languages."""
    if not article.key:
        return []
    return list(
        Article.objects.filter(key=article.key, published=True)
        .exclude(pk=article.pk)
        .order_by("language")
    )


def related_articles(article: Article, *, limit: int = 5) -> list[Article]:
    """The related articles chosen by staff, else other articles of the same category (same language)."""
    chosen = list(article.related.filter(published=True, language=article.language)[:limit])
    if chosen:
        return chosen
    return list(
        published_articles(article.language)
        .filter(category_id=article.category_id)
        .exclude(pk=article.pk)
        .order_by("position", "-view_count", "title")[:limit]
    )


def vote_of(*, article: Article, user=None, visitor: str = "") -> Vote | None:
    """The visitor's current vote on the article (a logged-in user's, else the anonymous browser's)."""
    if user is not None:
        vote = Vote.objects.filter(article=article, user=user).first()
        if vote is not None:
            return vote
    if visitor:
        return Vote.objects.filter(article=article, user__isnull=True, visitor=visitor).first()
    return None


def category_for_slug(slug: str) -> tuple[Category, str] | None:
    """The category with this Spanish or English slug, and that slug's language."""
    category = Category.objects.filter(Q(slug_es=slug) | Q(slug_en=slug)).first()
    if category is None:
        return None
    return category, (Language.SPANISH if category.slug_es == slug else Language.ENGLISH)


def articles_in_category(category: Category, language: str) -> list[Article]:
    return list(
        published_articles(language).filter(category=category).order_by("position", "title")
    )


def tag_for_slug(slug: str) -> Tag | None:
    return Tag.objects.filter(slug=slug).first()


def articles_with_tag(tag: Tag, language: str) -> list[Article]:
    """Published articles with the tag: those in ``language`` first."""
    articles = list(
        Article.objects.filter(published=True, tags=tag)
        .select_related("category")
        .order_by("title")
    )
    return sorted(articles, key=lambda a: a.language != language)


@dataclass
class SearchOutcome:
    query: str
    language: str
    tokens: list[str] = field(default_factory=list)
    articles: list[Article] = field(default_factory=list)
    results_language: str = ""
    # When the words as typed found nothing and a spelling correction did: the words searched.
    corrected_query: str = ""

    @property
    def in_other_language(self) -> bool:
        return bool(self.articles) and self.results_language != self.language


def search_articles(query: str, language: str) -> SearchOutcome:
    """Ranked published articles for a query in ``language``; if none, in the other language.

    Every word first (page language, then the other); then every word with misspelt ones
    corrected to the closest indexed word (``corrected_query`` says what was searched); then
    any word.
    """
    outcome = SearchOutcome(
        query=search.normalize_query(query), language=language, tokens=search.query_tokens(query)
    )
    tokens, languages = outcome.tokens, (language, other_language(language))
    if not tokens:
        return outcome
    # Every word as typed, in the page's language, then in the other one.
    for lang in languages:
        if ids := search.search_article_ids(tokens, language=lang, any_token=False):
            _fill(outcome, ids, lang)
            return outcome
    # Every word, misspelt ones corrected to the closest indexed word ("efectvo" → "efectivo").
    corrections: dict[str, list[str]] = {}
    for lang in languages:
        corrected = search.corrected_tokens(tokens, search.vocabulary(lang))
        if corrected is None:
            continue
        corrections[lang] = corrected
        if ids := search.search_article_ids(corrected, language=lang, any_token=False):
            _fill(outcome, ids, lang, corrected=corrected)
            return outcome
    # Any word (corrected when a correction exists).
    for lang in languages:
        words = corrections.get(lang, tokens)
        if ids := search.search_article_ids(words, language=lang, any_token=True):
            _fill(outcome, ids, lang, corrected=corrections.get(lang))
            return outcome
    return outcome


def _fill(
    outcome: SearchOutcome, ids: list[int], language: str, *, corrected: list[str] | None = None
) -> None:
    by_id = Article.objects.select_related("category").in_bulk(ids)
    ranked = [by_id[i] for i in ids if i in by_id]
    outcome.articles = search.titles_first(ranked, corrected or outcome.tokens)
    outcome.results_language = language
    outcome.corrected_query = " ".join(corrected or [])


# --- Back office analytics ------------------------------------------------------------------------


def article_stats(language: str | None = None) -> QuerySet[Article]:
    """Every article with its counters and the number of feedback comments, most viewed first."""
    articles = Article.objects.select_related("category").annotate(
        comment_count=Count("votes", filter=~Q(votes__comment="")),
    )
    if language:
        articles = articles.filter(language=language)
    return articles.order_by("-view_count", "title")


def recent_feedback(*, limit: int = 50) -> QuerySet[Vote]:
    """The latest “What was missing?” comments."""
    return (
        Vote.objects.exclude(comment="").select_related("article").order_by("-updated_at")[:limit]
    )


def top_unanswered_searches(*, limit: int = 50) -> QuerySet[UnansweredSearch]:
    return UnansweredSearch.objects.order_by("-times", "-last_searched_at")[:limit]


def vote_counts_from_rows(article: Article) -> tuple[int, int]:
    """Likes and dislikes counted from the vote rows (to check the counters)."""
    rows = Vote.objects.filter(article=article)
    return rows.filter(value=VoteValue.LIKE).count(), rows.filter(value=VoteValue.DISLIKE).count()
