"""Text folding for search: the same key for "Peña", "PENA" and "pena" on every database."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def fold(value: str) -> str:
    """Lower case without accents or marks, spaces collapsed ("  José PEÑA " → "jose pena").

    SQLite has no ``unaccent``, so searchable text is stored folded (by the services that
    write it) and queries are folded the same way before they reach the database.
    """
    decomposed = unicodedata.normalize("NFKD", value or "")
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", bare.casefold()).strip()
