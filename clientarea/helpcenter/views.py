"""Public help center pages. Thin: selectors read, services write.

Voting and feedback are plain POST forms (CSRF-protected) answered with a redirect back to
the article, so they work without JavaScript.
"""

from __future__ import annotations

import mimetypes

from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from clientarea.helpcenter import rendering, selectors, services, visitors
from clientarea.helpcenter.models import COMMENT_MAX_LENGTH, Article, Language, VoteValue
from clientarea.lib.ratelimit import Limit, by_ip, throttle

# The vote form's third button: take the vote back.
WITHDRAW = "withdraw"


def _voter(request: HttpRequest):
    return request.user if request.user.is_authenticated else None


def _published_article_or_404(slug: str) -> Article:
    article = selectors.article_for_page(slug)
    if article is None:
        raise Http404
    return article


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    language = selectors.ui_language()
    categories = [
        {
            "display_name": c.name_for(language),
            "display_description": c.description_for(language),
            "url": c.url_for(language),
            "article_list": c.article_list,  # type: ignore[attr-defined]  # set by the selector's Prefetch(to_attr=)
        }
        for c in selectors.categories_with_articles(language)
    ]
    return render(
        request,
        "helpcenter/home.html",
        {
            "language": language,
            "categories": categories,
            "most_viewed": selectors.most_viewed(language),
            "most_helpful": selectors.most_helpful(language),
        },
    )


@require_safe
def category(request: HttpRequest, slug: str) -> HttpResponse:
    found = selectors.category_for_slug(slug)
    if found is None:
        raise Http404
    category, language = found
    other = selectors.other_language(language)
    return render(
        request,
        "helpcenter/category.html",
        {
            "category": category,
            "language": language,
            "name": category.name_for(language),
            "description": category.description_for(language),
            "articles": selectors.articles_in_category(category, language),
            "other_language": other,
            "other_url": category.url_for(other)
            if selectors.articles_in_category(category, other)
            else "",
        },
    )


@require_safe
def article(request: HttpRequest, slug: str) -> HttpResponse:
    article = selectors.article_for_page(slug, include_drafts=request.user.is_staff)
    if article is None:
        raise Http404
    if (
        article.published
        and request.method == "GET"
        and services.record_view(
            article=article,
            visitor=visitors.view_visitor(request),
            user_agent=visitors.user_agent(request),
            is_staff=request.user.is_staff,
        )
    ):
        article.view_count += 1
    response = _render_article(request, article)
    patch_cache_control(response, private=True, no_cache=True)
    return visitors.remember_visitor(request, response)


def _render_article(
    request: HttpRequest,
    article: Article,
    *,
    feedback_error: str = "",
    comment: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """The article page; after a refused comment, with the reason next to the comment box."""
    vote = selectors.vote_of(
        article=article, user=_voter(request), visitor=visitors.anonymous_visitor(request)
    )
    return render(
        request,
        "helpcenter/article.html",
        {
            "article": article,
            # render_markdown sanitizes its HTML with nh3's allow-list before it is marked safe.
            "body_html": mark_safe(  # noqa: S308
                rendering.render_markdown(article.body, language=article.language)
            ),
            "category_name": article.category.name_for(article.language),
            "category_url": article.category.url_for(article.language),
            "translations": selectors.translations_of(article),
            "related": selectors.related_articles(article),
            "vote": vote,
            "comment": vote.comment if comment is None and vote else (comment or ""),
            "feedback_error": feedback_error,
            "comment_max_length": COMMENT_MAX_LENGTH,
        },
        status=status,
    )


@require_POST
@throttle(group="helpcenter-vote", limits=(Limit(by_ip, "30/m"),))
def vote(request: HttpRequest, slug: str) -> HttpResponse:
    article = _published_article_or_404(slug)
    value = request.POST.get("value", "")
    if value == WITHDRAW:
        services.withdraw_vote(
            article=article, user=_voter(request), visitor=visitors.anonymous_visitor(request)
        )
    elif value in VoteValue.values:
        services.cast_vote(
            article=article,
            value=value,
            user=_voter(request),
            visitor=visitors.anonymous_visitor(request),
        )
    else:
        return HttpResponseBadRequest(_("Unknown vote."))
    return visitors.remember_visitor(request, redirect(article.get_absolute_url() + "#feedback"))


@require_POST
def feedback(request: HttpRequest, slug: str) -> HttpResponse:
    article = _published_article_or_404(slug)
    try:
        services.leave_feedback(
            article=article,
            comment=request.POST.get("comment", ""),
            user=_voter(request),
            visitor=visitors.anonymous_visitor(request),
        )
    except ValidationError as exc:
        # A person sent this form: the article again, with the reason by the comment box (400).
        response = _render_article(
            request,
            article,
            feedback_error=" ".join(exc.messages),
            comment=request.POST.get("comment", "")[: COMMENT_MAX_LENGTH * 2],
            status=400,
        )
        patch_cache_control(response, private=True, no_cache=True)
        return response
    return visitors.remember_visitor(request, redirect(article.get_absolute_url() + "#feedback"))


@require_safe
@throttle(group="helpcenter-search", limits=(Limit(by_ip, "60/m"),), method="GET")
def search(request: HttpRequest) -> HttpResponse:
    language = selectors.ui_language()
    query = request.GET.get("q", "")
    outcome = selectors.search_articles(query, language) if query.strip() else None
    if (
        outcome is not None
        and outcome.tokens
        and not outcome.articles
        and not visitors.is_bot(visitors.user_agent(request))
    ):
        services.log_unanswered_search(query=query, language=language)
    return render(
        request,
        "helpcenter/search.html",
        {"query": outcome.query if outcome else "", "outcome": outcome, "language": language},
    )


@require_safe
def tag(request: HttpRequest, slug: str) -> HttpResponse:
    tag = selectors.tag_for_slug(slug)
    if tag is None:
        raise Http404
    return render(
        request,
        "helpcenter/tag.html",
        {"tag": tag, "articles": selectors.articles_with_tag(tag, selectors.ui_language())},
    )


@require_safe
def media(request: HttpRequest, name: str) -> HttpResponseBase:
    """A help screenshot in the requested language (``?lang=es|en``, default: the page language)."""
    language = request.GET.get("lang") or selectors.ui_language()
    if language not in Language.values:
        raise Http404
    path = rendering.screenshot_path(name, language)
    if path is None:
        raise Http404
    response = FileResponse(
        path.open("rb"),
        content_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
    )
    if request.GET.get("v"):
        patch_cache_control(response, public=True, max_age=365 * 24 * 3600, immutable=True)
    else:
        patch_cache_control(response, public=True, max_age=3600)
    return response
