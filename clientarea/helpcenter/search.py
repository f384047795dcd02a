"""Full-text search of articles: SQLite FTS5 or PostgreSQL full-text, chosen by the database vendor.

Whatever the visitor types (quotes, ``NEAR``, ``*``, ``-``, NUL bytes, ten kilobytes of
text) is first reduced to a short list of word tokens, and each token is quoted before it
reaches the database. Operators in the input are therefore just words, and a search can
only answer with results or with no results.

- SQLite: a ``helpcenter_article_fts`` FTS5 table (tokenizer ``unicode61 remove_diacritics 2``,
  so case and accents are ignored), created by migration 0002 and kept in sync by
  :func:`index_article` / :func:`unindex_article`, which the article services call. Ranked
  with ``bm25`` (title weighs most). Each token of three letters or more is a prefix query,
  after dropping a plural ending (FTS5 has no Spanish stemmer).
- PostgreSQL: a ``tsvector`` built at query time with the article language's configuration
  (``spanish`` / ``english``) over ``unaccent()`` text, ranked with ``SearchRank``. Nothing is
  stored, so there is nothing to keep in sync; at help-center sizes (hundreds of articles)
  this costs a few milliseconds. If the help center grows to thousands of articles, store
  the vector in a column with a GIN index and fill it from :func:`index_article`.

Both backends first require every token (AND); when that finds nothing, any token (OR).
"""

from __future__ import annotations

import logging
import re
import unicodedata

from django.db import DatabaseError, connection, transaction

logger = logging.getLogger(__name__)

FTS_TABLE = "helpcenter_article_fts"
MAX_QUERY_CHARS = 200
MAX_TOKENS = 8
MAX_TOKEN_CHARS = 40
PREFIX_MIN_CHARS = 3
RESULT_LIMIT = 50
PG_CONFIGS = {"es": "spanish", "en": "english"}
# Title, summary, tags, body (the FTS5 column order).
BM25_WEIGHTS = (10.0, 5.0, 4.0, 1.0)

_TOKEN_RE = re.compile(r"[^\W_]+")
# Words that carry no meaning in a help search; dropped unless the query has nothing else.
STOPWORDS = frozenset(
    [
        "a",
        "al",
        "con",
        "como",
        "cómo",
        "cual",
        "cuál",
        "de",
        "del",
        "el",
        "en",
        "es",
        "la",
        "las",
        "lo",
        "los",
        "mi",
        "mis",
        "me",
        "no",
        "o",
        "para",
        "por",
        "que",
        "qué",
        "se",
        "si",
        "sin",
        "su",
        "sus",
        "te",
        "tu",
        "tus",
        "un",
        "una",
        "y",
        "yo",
        "an",
        "and",
        "are",
        "can",
        "do",
        "does",
        "for",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "the",
        "to",
        "what",
        "when",
        "where",
        "why",
        "with",
        "you",
        "your",
    ]
)


def normalize_query(text: str) -> str:
    """The text as typed, made safe to store: NFKC, no control characters, single spaces, at most 200 characters."""
    text = unicodedata.normalize("NFKC", str(text or ""))[: MAX_QUERY_CHARS * 4]
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return re.sub(r"\s+", " ", text).strip()[:MAX_QUERY_CHARS]


def query_tokens(text: str) -> list[str]:
    """Lower-case word tokens of a query (letters and digits only), without duplicates or stopwords."""
    tokens: list[str] = []
    for token in _TOKEN_RE.findall(normalize_query(text).casefold()):
        token = token[:MAX_TOKEN_CHARS]
        if token not in tokens:
            tokens.append(token)
    meaningful = [t for t in tokens if t not in STOPWORDS]
    return (meaningful or tokens)[:MAX_TOKENS]


def _is_sqlite() -> bool:
    return connection.vendor == "sqlite"


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


# --- Index maintenance (called by the services that save and delete articles) -------------


def index_article(article, *, text: str, tags: str) -> None:
    """Put one article's current text in the index (replacing what was there).

    ``text`` is the plain text of the rendered body and ``tags`` the tag names, space-separated.
    """
    if not _is_sqlite():
        return
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [article.pk])
        cursor.execute(
            f"INSERT INTO {FTS_TABLE} (rowid, title, summary, tags, body) VALUES (%s, %s, %s, %s, %s)",
            [article.pk, article.title, article.summary, tags, text],
        )


def unindex_article(article_id: int) -> None:
    if not _is_sqlite():
        return
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [article_id])


def clear_index() -> None:
    if not _is_sqlite():
        return
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {FTS_TABLE}")


# --- Queries --------------------------------------------------------------------------------


def search_article_ids(tokens: list[str], *, language: str, limit: int = RESULT_LIMIT) -> list[int]:
    """Ids of published articles in ``language`` matching the tokens, best first."""
    if not tokens:
        return []
    ids = _run(tokens, language=language, any_token=False, limit=limit)
    if not ids and len(tokens) > 1:
        ids = _run(tokens, language=language, any_token=True, limit=limit)
    return ids


def _run(tokens: list[str], *, language: str, any_token: bool, limit: int) -> list[int]:
    try:
        # A savepoint: on PostgreSQL a failed statement would otherwise break the whole request.
        with transaction.atomic():
            if _is_sqlite():
                return _sqlite_ids(tokens, language=language, any_token=any_token, limit=limit)
            if _is_postgres():
                return _postgres_ids(tokens, language=language, any_token=any_token, limit=limit)
            return _fallback_ids(tokens, language=language, limit=limit)
    except DatabaseError:
        # Sanitizing should make this impossible; if it happens, answer "no results" and say so in the log.
        logger.warning("help search failed for %d token(s)", len(tokens), exc_info=True)
        return []


def plural_stem(token: str) -> str:
    """Drop a plural ending before a prefix query (FTS5 has no Spanish stemmer): facturas → factura*, invoices → invoic*."""
    if len(token) >= 5 and token.endswith("es"):
        return token[:-2]
    if len(token) >= 4 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def fts5_match_expression(tokens: list[str], *, any_token: bool = False) -> str:
    """An FTS5 MATCH string of quoted tokens, e.g. ``"factura"* AND "pse"``."""
    parts = []
    for token in tokens:
        stem = plural_stem(token)
        parts.append(f'"{stem}"*' if len(stem) >= PREFIX_MIN_CHARS else f'"{token}"')
    return (" OR " if any_token else " AND ").join(parts)


def _sqlite_ids(tokens: list[str], *, language: str, any_token: bool, limit: int) -> list[int]:
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    sql = (
        f"SELECT {FTS_TABLE}.rowid FROM {FTS_TABLE} "
        f"JOIN helpcenter_article ON helpcenter_article.id = {FTS_TABLE}.rowid "
        f"WHERE {FTS_TABLE} MATCH %s AND helpcenter_article.language = %s AND helpcenter_article.published "
        f"ORDER BY bm25({FTS_TABLE}, {weights}), helpcenter_article.id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [fts5_match_expression(tokens, any_token=any_token), language, limit])
        return [row[0] for row in cursor.fetchall()]


def tsquery_expression(tokens: list[str], *, any_token: bool = False) -> str:
    """A ``to_tsquery`` string of quoted lexemes, e.g. ``'factura':* & 'pse'``."""
    parts = [f"'{t}':*" if len(t) >= PREFIX_MIN_CHARS else f"'{t}'" for t in tokens]
    return (" | " if any_token else " & ").join(parts)


def _postgres_ids(tokens: list[str], *, language: str, any_token: bool, limit: int) -> list[int]:
    from django.contrib.postgres.aggregates import StringAgg
    from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
    from django.db.models import F, Func, OuterRef, Subquery, TextField, Value
    from django.db.models.functions import Coalesce

    from clientarea.helpcenter.models import Article

    class Unaccent(Func):
        function = "unaccent"
        output_field = TextField()

    config = PG_CONFIGS.get(language, "simple")
    tag_names = Subquery(
        Article.tags.through.objects.filter(article_id=OuterRef("pk"))
        .values("article_id")
        .annotate(names=StringAgg("tag__name", delimiter=" "))
        .values("names")[:1],
        output_field=TextField(),
    )
    vector = (
        SearchVector(Unaccent(F("title")), config=config, weight="A")
        + SearchVector(Unaccent(F("summary")), config=config, weight="B")
        + SearchVector(Unaccent(Coalesce(tag_names, Value(""))), config=config, weight="B")
        + SearchVector(Unaccent(F("body")), config=config, weight="C")
    )
    query = SearchQuery(
        Unaccent(Value(tsquery_expression(tokens, any_token=any_token))),
        search_type="raw",
        config=config,
    )
    rows = (
        Article.objects.filter(language=language, published=True)
        .annotate(document=vector)
        .filter(document=query)
        .annotate(rank=SearchRank(vector, query))
        .order_by("-rank", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    return list(rows)


def _fallback_ids(tokens: list[str], *, language: str, limit: int) -> list[int]:
    """Other databases: case-insensitive substring match on the title and summary (not accent-insensitive)."""
    from django.db.models import Q

    from clientarea.helpcenter.models import Article

    condition = Q()
    for token in tokens:
        condition &= (
            Q(title__icontains=token) | Q(summary__icontains=token) | Q(body__icontains=token)
        )
    return list(
        Article.objects.filter(condition, language=language, published=True).values_list(
            "pk", flat=True
        )[:limit]
    )
