"""Factories and a browser-like test client for the help center tests."""

from __future__ import annotations

import itertools

from django.test import Client

from clientarea.helpcenter import services
from clientarea.helpcenter.models import Article, Category, Tag

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
_seq = itertools.count(1)


class BrowserClient(Client):
    """A test client that looks like a person's browser (user agent) and reads English."""

    def __init__(self, *args, **defaults):
        defaults.setdefault("HTTP_USER_AGENT", FIREFOX)
        defaults.setdefault("HTTP_ACCEPT_LANGUAGE", "en")
        super().__init__(*args, **defaults)


def make_category(key: str = "payments", **fields) -> Category:
    defaults = dict(
        slug_es=f"c-{key}-es",
        slug_en=f"c-{key}-en",
        name_es=f"Categoría {key}",
        name_en=f"Category {key}",
    )
    defaults.update(fields)
    return Category.objects.get_or_create(key=key, defaults=defaults)[0]


def make_article(
    *,
    title: str | None = None,
    body: str = "Texto de ayuda.",
    language: str = "es",
    slug: str | None = None,
    key: str = "",
    published: bool = True,
    category: Category | None = None,
    summary: str = "Resumen corto.",
    tags: tuple[str, ...] = (),
    related=None,
    position: int = 0,
) -> Article:
    n = next(_seq)
    article = Article(
        title=title or f"Artículo {n}",
        body=body,
        language=language,
        slug=slug or f"articulo-{n}",
        key=key,
        published=published,
        category=category or make_category(),
        summary=summary,
        position=position,
    )
    tag_objects = [
        Tag.objects.get_or_create(slug=t.lower().replace(" ", "-"), defaults={"name": t})[0]
        for t in tags
    ]
    return services.save_article(article=article, tags=tag_objects, related=related)
