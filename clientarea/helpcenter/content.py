"""Help articles written as Markdown files: ``content/<es|en>/<name>.md`` and ``content/categories.toml``.

An article file starts with a TOML front matter between ``+++`` lines::

    +++
    key = "pay"                                  # the same key in es/ and en/ links the translations
    slug = "pagar-factura-en-linea"
    title = "¿Cómo pago mi factura en línea?"
    summary = "Paso a paso: ..."
    category = "payments"                         # a key from categories.toml
    tags = ["Pagos", "PayU", "Payvalida"]
    related = ["pse", "cash"]                     # keys of other articles
    position = 1                                  # order inside the category (optional)
    published = true                              # optional, default true
    +++
    Markdown body...

This module only reads and checks files; ``services.import_help_content`` writes them to the database.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

CONTENT_DIR = Path(__file__).resolve().parent / "content"
LANGUAGES = ("es", "en")
REQUIRED_KEYS = {"key", "slug", "title", "summary", "category"}
OPTIONAL_KEYS = {"tags", "related", "position", "published"}
CATEGORY_KEYS = {
    "key",
    "position",
    "slug_es",
    "slug_en",
    "name_es",
    "name_en",
    "description_es",
    "description_en",
}


class ContentError(ValueError):
    """A content file is malformed (the message names the file)."""


@dataclass(frozen=True)
class ArticleSource:
    language: str
    key: str
    slug: str
    title: str
    summary: str
    category: str
    body: str
    tags: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    position: int = 0
    published: bool = True
    path: str = ""


def parse_article(text: str, *, language: str, path: str = "") -> ArticleSource:
    """Split and check the front matter of one article file."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "+++":
        raise ContentError(f"{path}: the file must start with a +++ front matter")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "+++")
    except StopIteration as exc:
        raise ContentError(f"{path}: the front matter is not closed with +++") from exc
    try:
        meta = tomllib.loads("\n".join(lines[1:end]))
    except tomllib.TOMLDecodeError as exc:
        raise ContentError(f"{path}: invalid front matter: {exc}") from exc
    missing = REQUIRED_KEYS - meta.keys()
    unknown = meta.keys() - REQUIRED_KEYS - OPTIONAL_KEYS
    if missing or unknown:
        raise ContentError(f"{path}: missing {sorted(missing)}, unknown {sorted(unknown)}")
    body = "\n".join(lines[end + 1 :]).strip() + "\n"
    return ArticleSource(
        language=language,
        key=str(meta["key"]),
        slug=str(meta["slug"]),
        title=str(meta["title"]),
        summary=str(meta["summary"]),
        category=str(meta["category"]),
        body=body,
        tags=tuple(str(t) for t in meta.get("tags", ())),
        related=tuple(str(r) for r in meta.get("related", ())),
        position=int(meta.get("position", 0)),
        published=bool(meta.get("published", True)),
        path=path,
    )


def read_articles(directory: Path = CONTENT_DIR) -> list[ArticleSource]:
    """Every article file under ``directory/es`` and ``directory/en``, sorted by language and file name."""
    sources = []
    for language in LANGUAGES:
        for path in sorted((directory / language).glob("*.md")):
            sources.append(
                parse_article(path.read_text(encoding="utf-8"), language=language, path=str(path))
            )
    seen: set[tuple[str, str]] = set()
    for source in sources:
        if (source.key, source.language) in seen:
            raise ContentError(
                f"{source.path}: key {source.key!r} is used twice in {source.language}"
            )
        seen.add((source.key, source.language))
    return sources


def read_categories(directory: Path = CONTENT_DIR) -> list[dict]:
    """The ``[[category]]`` tables of ``categories.toml``."""
    path = directory / "categories.toml"
    try:
        categories = tomllib.loads(path.read_text(encoding="utf-8")).get("category", [])
    except tomllib.TOMLDecodeError as exc:
        raise ContentError(f"{path}: {exc}") from exc
    for category in categories:
        if set(category) - CATEGORY_KEYS or not {
            "key",
            "slug_es",
            "slug_en",
            "name_es",
            "name_en",
        } <= set(category):
            raise ContentError(
                f"{path}: category {category.get('key')!r} has missing or unknown fields"
            )
    return categories
