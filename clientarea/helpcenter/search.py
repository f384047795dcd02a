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

Typo tolerance is the same on both databases: when a search finds nothing, each word that
starts no indexed word is replaced by the closest word of the published articles' vocabulary
(:func:`vocabulary`, :func:`corrected_tokens`, stdlib ``difflib``), and the corrected words are
searched instead; the page says which words it searched for ("efectvo" → "efectivo").
"""

from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from collections import Counter

from django.contrib.postgres.aggregates import StringAgg
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Func, OuterRef, Q, Subquery, TextField, Value
from django.db.models.functions import Coalesce

from clientarea.helpcenter.models import Article, Tag

logger = logging.getLogger(__name__)

FTS_TABLE = "helpcenter_article_fts"
MAX_QUERY_CHARS = 200
MAX_TOKENS = 8
MAX_TOKEN_CHARS = 40
PREFIX_MIN_CHARS = 3
RESULT_LIMIT = 50
PG_CONFIGS = {"es": "spanish", "en": "english"}
# Typo tolerance: words shorter than this are never corrected; how close a correction must be
# (difflib's ratio, 0–1: "efectvo" → "efectivo" is 0.93, "pago" → "pase" 0.5).
CORRECT_MIN_CHARS = 4
CORRECT_CUTOFF = 0.8
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
        # FTS_TABLE is a constant; every value is a query parameter.
        cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [article.pk])  # noqa: S608
        cursor.execute(
            f"INSERT INTO {FTS_TABLE} (rowid, title, summary, tags, body) VALUES (%s, %s, %s, %s, %s)",  # noqa: S608
            [article.pk, article.title, article.summary, tags, text],
        )


def unindex_article(article_id: int) -> None:
    if not _is_sqlite():
        return
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [article_id])  # noqa: S608 (constant table name)


def clear_index() -> None:
    if not _is_sqlite():
        return
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {FTS_TABLE}")  # noqa: S608 (constant table name)


# --- Queries --------------------------------------------------------------------------------


def search_article_ids(
    tokens: list[str], *, language: str, any_token: bool | None = None, limit: int = RESULT_LIMIT
) -> list[int]:
    """Ids of published articles in ``language`` matching the tokens, best first.

    ``any_token`` None: every token first, then any token; True / False: only that one.
    """
    if not tokens:
        return []
    ids = []
    if not any_token:
        ids = _run(tokens, language=language, any_token=False, limit=limit)
    if not ids and any_token is not False and len(tokens) > 1:
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
    # Constant table name and weights; the match expression, language and limit are parameters.
    sql = (
        f"SELECT {FTS_TABLE}.rowid FROM {FTS_TABLE} "  # noqa: S608
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


class Unaccent(Func):
    """PostgreSQL's ``unaccent()`` (the extension is created by a migration)."""

    function = "unaccent"
    output_field = TextField()


def _postgres_ids(tokens: list[str], *, language: str, any_token: bool, limit: int) -> list[int]:
    config = PG_CONFIGS.get(language, "simple")
    tag_names = Subquery(
        Article.tags.through.objects.filter(article_id=OuterRef("pk"))  # type: ignore[misc]  # django-stubs does not see the "names" annotation below
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


def title_has_every_word(title: str, tokens: list[str]) -> bool:
    """Whether every searched word starts a word of ``title`` (as the search matches them: no
    case or accents, a plural ending dropped)."""
    words = [fold(word) for word in _TOKEN_RE.findall(title)]
    for token in tokens:
        stem = fold(plural_stem(token))
        if len(stem) >= PREFIX_MIN_CHARS:
            matched = any(word.startswith(stem) for word in words)
        else:
            matched = fold(token) in words
        if not matched:
            return False
    return True


def titles_first(articles: list[Article], tokens: list[str]) -> list[Article]:
    """The ranked articles with those whose title has every searched word first, each group in
    rank order. With a help center's few dozen articles the words' many mentions in a long body
    outranked a title that has them all ("pagar pse" listed the cash article, whose body names
    PSE, above "Pagar con PSE")."""
    return sorted(articles, key=lambda article: not title_has_every_word(article.title, tokens))


# --- Typo tolerance ---------------------------------------------------------------------------


def fold(word: str) -> str:
    """A word without case or accents, as both databases compare them ("Facturación" → "facturacion")."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def vocabulary(language: str) -> dict[str, str]:
    """Every word (three letters or more) of the published articles in ``language``.

    Maps the folded word to its most frequent written form (with its accents), read from the
    titles, summaries, tag names and bodies. Read on demand, only when a search found nothing:
    at help-center sizes (hundreds of articles) this is a few milliseconds.
    """
    forms: dict[str, Counter[str]] = {}

    def add(text: str) -> None:
        for word in _TOKEN_RE.findall(text or ""):
            if len(word) >= PREFIX_MIN_CHARS and not word.isdigit():
                word = word.casefold()[:MAX_TOKEN_CHARS]
                forms.setdefault(fold(word), Counter())[word] += 1

    published = Article.objects.filter(language=language, published=True)
    for title, summary, body in published.values_list("title", "summary", "body").iterator():
        add(title)
        add(summary)
        add(body)
    for name in Tag.objects.filter(articles__in=published).values_list("name", flat=True):
        add(name)
    return {folded: counter.most_common(1)[0][0] for folded, counter in forms.items()}


def corrected_tokens(tokens: list[str], words: dict[str, str]) -> list[str] | None:
    """The tokens with each unknown word replaced by the closest known one, or None if none changed.

    A token is known when an indexed word starts with it (searches are prefix queries). Short
    tokens and numbers are left alone; so is a word with nothing close enough.
    """
    if not words:
        return None
    folded_words = list(words)
    result, changed = [], False
    for token in tokens:
        folded = fold(token)
        stem = fold(plural_stem(token))
        known = any(w.startswith(stem) for w in folded_words)
        if known or len(folded) < CORRECT_MIN_CHARS or folded.isdigit():
            result.append(token)
            continue
        close = difflib.get_close_matches(folded, folded_words, n=1, cutoff=CORRECT_CUTOFF)
        if close:
            result.append(words[close[0]])
            changed = True
        else:
            result.append(token)
    return result if changed else None
