"""Help center: categories, articles (Markdown, es/en), votes, the view log and unanswered searches.

Counters on ``Article`` (views, likes, dislikes) are only changed by the services, always
with ``F()`` expressions inside a transaction, so concurrent requests never lose an update.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Article slugs live at /help/<slug>/, next to these fixed paths.
RESERVED_SLUGS = frozenset({"search", "category", "tag", "media", "admin", "static"})
COMMENT_MAX_LENGTH = 1000


class Language(models.TextChoices):
    """The language an article is written in (the UI languages es-co and en map to these)."""

    SPANISH = "es", _("Spanish")
    ENGLISH = "en", _("English")


class Category(models.Model):
    """A group of articles. One row serves both languages (name and slug per language)."""

    key = models.SlugField(
        _("key"), unique=True, help_text=_("Language-neutral identifier, e.g. “payments”.")
    )
    slug_es = models.SlugField(_("slug (Spanish)"), unique=True)
    slug_en = models.SlugField(_("slug (English)"), unique=True)
    name_es = models.CharField(_("name (Spanish)"), max_length=120)
    name_en = models.CharField(_("name (English)"), max_length=120)
    description_es = models.CharField(_("description (Spanish)"), max_length=300, blank=True)
    description_en = models.CharField(_("description (English)"), max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "key"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name_es or self.key

    def name_for(self, language: str) -> str:
        return self.name_en if language == Language.ENGLISH else self.name_es

    def slug_for(self, language: str) -> str:
        return self.slug_en if language == Language.ENGLISH else self.slug_es

    def description_for(self, language: str) -> str:
        return self.description_en if language == Language.ENGLISH else self.description_es

    def url_for(self, language: str) -> str:
        return reverse("helpcenter:category", kwargs={"slug": self.slug_for(language)})


class Tag(models.Model):
    """A short label shared by articles about the same thing (e.g. “PSE”)."""

    slug = models.SlugField(_("slug"), unique=True)
    name = models.CharField(_("name"), max_length=60)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("helpcenter:tag", kwargs={"slug": self.slug})


class Article(models.Model):
    """One article in one language. Articles sharing a ``key`` are translations of each other."""

    key = models.SlugField(
        _("translation key"),
        max_length=60,
        blank=True,
        help_text=_(
            "Articles with the same key are translations of each other; pages link to an article by its key (e.g. “pay”)."
        ),
    )
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.SPANISH
    )
    slug = models.SlugField(_("slug"), max_length=120, unique=True)
    title = models.CharField(_("title"), max_length=200)
    summary = models.CharField(
        _("summary"),
        max_length=300,
        help_text=_("One or two sentences, shown in lists and search results."),
    )
    body = models.TextField(
        _("body"),
        help_text=_("Markdown. HTML is sanitized: scripts, styles and event handlers are removed."),
    )
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="articles", verbose_name=_("category")
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="articles", verbose_name=_("tags"))
    related = models.ManyToManyField(
        "self",
        blank=True,
        symmetrical=False,
        related_name="+",
        verbose_name=_("related articles"),
        help_text=_(
            "Shown under the article. When empty, articles of the same category are suggested."
        ),
    )
    position = models.PositiveSmallIntegerField(_("position in its category"), default=0)
    published = models.BooleanField(_("published"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(
        _("updated"),
        default=timezone.now,
        help_text=_("Changes when the title, summary or body changes."),
    )
    view_count = models.PositiveIntegerField(_("views"), default=0, editable=False)
    like_count = models.PositiveIntegerField(_("likes"), default=0, editable=False)
    dislike_count = models.PositiveIntegerField(_("dislikes"), default=0, editable=False)

    class Meta:
        ordering = ["category__position", "position", "title"]
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        constraints = [
            models.UniqueConstraint(
                fields=["key", "language"],
                condition=~Q(key=""),
                name="helpcenter_article_one_translation_per_language",
            ),
        ]
        indexes = [
            models.Index(fields=["language", "published"], name="helpcenter_article_lang_pub")
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.language})"

    def get_absolute_url(self) -> str:
        return reverse("helpcenter:article", kwargs={"slug": self.slug})

    def clean(self) -> None:
        if self.slug in RESERVED_SLUGS:
            raise ValidationError(
                {"slug": _("This slug is reserved for a help center page; choose another one.")}
            )

    @property
    def votes_total(self) -> int:
        return self.like_count + self.dislike_count

    @property
    def helpfulness(self) -> float | None:
        """Share of votes that found the article helpful (0–1), or None without votes."""
        total = self.votes_total
        return self.like_count / total if total else None


class VoteValue(models.TextChoices):
    LIKE = "like", _("Helpful")
    DISLIKE = "dislike", _("Not helpful")


class Vote(models.Model):
    """One visitor's answer to “Was this article helpful?”. The visitor can change it.

    A visitor is a logged-in user, or else an anonymous browser (a hash of its visitor cookie).
    """

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="votes", verbose_name=_("article")
    )
    value = models.CharField(_("vote"), max_length=7, choices=VoteValue.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("user"),
    )
    visitor = models.CharField(_("anonymous visitor"), max_length=64, blank=True)
    comment = models.TextField(_("what was missing"), max_length=COMMENT_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("vote")
        verbose_name_plural = _("votes")
        constraints = [
            models.UniqueConstraint(
                fields=["article", "user"],
                condition=Q(user__isnull=False),
                name="helpcenter_vote_one_per_user",
            ),
            models.UniqueConstraint(
                fields=["article", "visitor"],
                condition=Q(user__isnull=True),
                name="helpcenter_vote_one_per_visitor",
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=False) | ~Q(visitor=""), name="helpcenter_vote_has_voter"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_value_display()}: {self.article}"


class ArticleView(models.Model):
    """A counted view: at most one per article, visitor and day. Old rows are pruned."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="+")
    visitor = models.CharField(max_length=64)
    day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["article", "visitor", "day"], name="helpcenter_view_once_per_day"
            )
        ]
        indexes = [models.Index(fields=["day"], name="helpcenter_view_day")]

    def __str__(self) -> str:
        return f"{self.article_id} · {self.day}"


class UnansweredSearch(models.Model):
    """A search that found nothing, counted per normalized text and language (for staff)."""

    query = models.CharField(_("search"), max_length=200)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    times = models.PositiveIntegerField(_("times"), default=1)
    first_searched_at = models.DateTimeField(_("first searched"), default=timezone.now)
    last_searched_at = models.DateTimeField(_("last searched"), default=timezone.now)

    class Meta:
        ordering = ["-times", "-last_searched_at"]
        verbose_name = _("search with no result")
        verbose_name_plural = _("searches with no result")
        constraints = [
            models.UniqueConstraint(
                fields=["query", "language"], name="helpcenter_unanswered_search_unique"
            )
        ]

    def __str__(self) -> str:
        return self.query
