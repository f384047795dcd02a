"""Back office for the help center: editing with preview, and analytics. Thin: services do the writes.

Preview: the article form has a “Preview” button that posts the form, unsaved, to
``preview/`` in a new tab (``formaction`` + ``formtarget``, no JavaScript needed). The page
is rendered with the public template and the same sanitizer.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from clientarea.accounts.models import User
from clientarea.helpcenter import rendering, selectors, services
from clientarea.helpcenter.models import Article, Category, Language, Tag, UnansweredSearch, Vote
from clientarea.helpcenter.templatetags.helpcenter import percent


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["key", "name_es", "name_en", "position"]
    list_editable = ["position"]
    search_fields = ["key", "name_es", "name_en"]
    prepopulated_fields = {"slug_es": ("name_es",), "slug_en": ("name_en",)}


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}

    def save_model(self, request, obj, form, change):
        services.save_tag(tag=obj)

    def delete_model(self, request, obj):
        services.delete_tag(tag=obj)

    def delete_queryset(self, request, queryset):
        for tag in queryset:
            services.delete_tag(tag=tag)


class FeedbackInline(admin.TabularInline):
    """The “What was missing?” comments left on this article (read-only)."""

    model = Vote
    verbose_name = _("feedback comment")
    verbose_name_plural = _("feedback comments")
    readonly_fields = ("value", "comment", "updated_at")
    fields = readonly_fields
    extra = 0
    can_delete = False
    ordering = ["-updated_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(comment="")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    change_form_template = "helpcenter/admin/article_change_form.html"
    change_list_template = "helpcenter/admin/article_change_list.html"
    list_display = [
        "title",
        "language",
        "category",
        "published",
        "view_count",
        "like_count",
        "dislike_count",
        "helpfulness_display",
        "comment_count",
        "updated_at",
    ]
    list_filter = ["language", "published", "category"]
    search_fields = ["title", "slug", "key", "summary"]
    actions = ["publish_articles", "unpublish_articles"]
    prepopulated_fields = {"slug": ("title",)}
    autocomplete_fields = ["tags", "related"]
    readonly_fields = [
        "view_count",
        "like_count",
        "dislike_count",
        "helpfulness_display",
        "translation_links",
        "created_at",
        "updated_at",
    ]
    fieldsets = (
        (
            None,
            {"fields": ("title", "slug", "language", "key", "category", "position", "published")},
        ),
        (_("Content"), {"fields": ("summary", "body")}),
        (_("Links"), {"fields": ("tags", "related", "translation_links")}),
        (
            _("Analytics"),
            {
                "fields": (
                    "view_count",
                    "like_count",
                    "dislike_count",
                    "helpfulness_display",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )
    inlines = [FeedbackInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("category")
            .annotate(
                comment_count=Count("votes", filter=~Q(votes__comment="")),
            )
        )

    @admin.display(description=_("helpful"))
    def helpfulness_display(self, obj: Article) -> str:
        return percent(obj.helpfulness)

    @admin.display(description=_("comments"), ordering="comment_count")
    def comment_count(self, obj: Article) -> int:
        return getattr(obj, "comment_count", 0)

    @admin.display(description=_("translations"))
    def translation_links(self, obj: Article) -> str:
        if not obj.pk or not obj.key:
            return "—"
        others = Article.objects.filter(key=obj.key).exclude(pk=obj.pk)
        return (
            format_html_join(
                ", ",
                '<a href="{}">{} ({})</a>',
                (
                    (
                        reverse("admin:helpcenter_article_change", args=[a.pk]),
                        a.title,
                        a.get_language_display(),
                    )
                    for a in others
                ),
            )
            or "—"
        )

    def save_model(self, request, obj, form, change):
        services.save_article(
            article=obj,
            tags=form.cleaned_data.get("tags"),
            related=form.cleaned_data.get("related"),
            actor=request.user if isinstance(request.user, User) else None,
        )

    @admin.action(description=_("Publish selected articles"), permissions=["change"])
    def publish_articles(self, request, queryset):
        self._set_published(request, queryset, published=True)

    @admin.action(description=_("Unpublish selected articles"), permissions=["change"])
    def unpublish_articles(self, request, queryset):
        self._set_published(request, queryset, published=False)

    def _set_published(self, request, queryset, *, published: bool) -> None:
        if not isinstance(request.user, User):
            return
        count = services.set_published(
            articles=list(queryset), published=published, actor=request.user
        )
        text = (
            ngettext("%(count)d article published.", "%(count)d articles published.", count)
            if published
            else ngettext(
                "%(count)d article unpublished.", "%(count)d articles unpublished.", count
            )
        )
        self.message_user(request, text % {"count": count}, messages.SUCCESS)

    def save_related(self, request, form, formsets, change):
        # The tags and related articles were saved (and indexed) by services.save_article.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request, obj):
        services.delete_article(article=obj)

    def delete_queryset(self, request, queryset):
        for article in queryset:
            services.delete_article(article=article)

    def get_urls(self):
        extra = [
            path(
                "preview/",
                self.admin_site.admin_view(self.preview_view),
                name="helpcenter_article_preview",
            ),
            path(
                "analytics/",
                self.admin_site.admin_view(self.analytics_view),
                name="helpcenter_article_analytics",
            ),
        ]
        return extra + super().get_urls()

    @staticmethod
    def _preview_article(data) -> Article:
        language = (
            data.get("language") if data.get("language") in Language.values else Language.SPANISH
        )
        category_id = str(data.get("category", ""))
        category = (
            Category.objects.filter(pk=int(category_id)).first() if category_id.isdigit() else None
        )
        return Article(
            title=data.get("title", ""),
            summary=data.get("summary", ""),
            body=data.get("body", ""),
            language=language,
            slug=data.get("slug", ""),
            category=category or Category(key="", name_es="—", name_en="—", slug_es="", slug_en=""),
            published=False,
            updated_at=timezone.now(),
        )

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """The article as posted from the edit form, rendered like the public page but not saved."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        article = self._preview_article(request.POST)
        category = article.category
        return render(
            request,
            "helpcenter/article.html",
            {
                "article": article,
                "preview": True,
                # render_markdown sanitizes its HTML with nh3's allow-list before it is marked safe.
                "body_html": mark_safe(  # noqa: S308
                    rendering.render_markdown(article.body, language=article.language)
                ),
                "category_name": category.name_for(article.language),
                "category_url": category.url_for(article.language)
                if category.pk
                else reverse("helpcenter:home"),
                "translations": [],
                "related": [],
            },
        )

    def analytics_view(self, request: HttpRequest) -> HttpResponse:
        """Views, votes and helpfulness per article, recent feedback, and searches with no result."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        language = (
            request.GET.get("language") if request.GET.get("language") in Language.values else None
        )
        stats = list(selectors.article_stats(language))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Help center analytics"),
            "opts": self.model._meta,
            "language": language,
            "languages": Language.choices,
            "stats": stats,
            "totals": {
                "views": sum(a.view_count for a in stats),
                "likes": sum(a.like_count for a in stats),
                "dislikes": sum(a.dislike_count for a in stats),
            },
            "feedback": selectors.recent_feedback(),
            "searches": selectors.top_unanswered_searches(),
        }
        return render(request, "helpcenter/admin/analytics.html", context)


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    """Votes and “What was missing?” comments. Read-only: counters are kept by the vote service."""

    list_display = ["article", "value", "comment_excerpt", "voter", "updated_at"]
    list_filter = ["value", "article__language", ("comment", admin.EmptyFieldListFilter)]
    search_fields = ["comment", "article__title"]
    list_select_related = ["article"]
    date_hierarchy = "updated_at"

    @admin.display(description=_("comment"))
    def comment_excerpt(self, obj: Vote) -> str:
        return (obj.comment[:120] + "…") if len(obj.comment) > 120 else obj.comment

    @admin.display(description=_("voter"))
    def voter(self, obj: Vote) -> str:
        return gettext("customer") if obj.user_id else gettext("anonymous visitor")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(UnansweredSearch)
class UnansweredSearchAdmin(admin.ModelAdmin):
    """What visitors searched for and did not find: ideas for new articles. Delete a row once it is answered."""

    list_display = ["query", "language", "times", "first_searched_at", "last_searched_at", "try_it"]
    list_filter = ["language"]
    search_fields = ["query"]

    @admin.display(description=_("search again"))
    def try_it(self, obj: UnansweredSearch) -> str:
        return format_html(
            '<a href="{}?q={}" target="_blank" rel="noopener">{}</a>',
            reverse("helpcenter:search"),
            obj.query,
            _("open"),
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
