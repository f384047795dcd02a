"""Texts stored as a code and its values, put into words when someone reads them, in their language.

What the system says about a record (why a payment needs a person, why an order was cancelled,
what happened to a DIAN transmission or to a service) is not stored as a finished sentence in the
language of whoever caused it: the record keeps a stable code and its values, and the reader gets
the code's words in the active language. Each app keeps its own table of codes (a
:class:`Texts`); this module is the mechanism they share:

- a table maps a code to a lazily translated template with ``%(name)s`` placeholders;
- values are filled in as they came (transaction ids, order numbers, what a person typed), except
  those the table lists in ``words`` (our own words for a value: a gateway status, a cycle), which
  are put into the reader's language too;
- a value may itself be a stored text of another table (``{"table", "code", "values"}``, see
  :meth:`CodedText.nested`), put into words in the same language;
- a record written before its codes existed, or with a code this version no longer knows, shows
  its stored sentence (``fallback``).

The records also keep the English sentence (logs and searches), from :meth:`Texts.english`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.conf import settings
from django.utils import translation
from django.utils.functional import Promise

_TABLES: dict[str, Texts] = {}


class Texts:
    """One app's table of codes: ``messages`` (code → lazily translated template), ``words``
    (value name → {stored value → lazily translated word}), ``values_as_text`` (every value is
    shown as text, so templates use ``%(name)s`` only; otherwise JSON values keep their type and a
    template may say ``%(days)d``). Registered under ``name`` so that other tables' texts may
    hold it nested."""

    def __init__(
        self,
        name: str,
        messages: Mapping[str, Promise | str],
        *,
        words: Mapping[str, Mapping[str, Promise | str]] | None = None,
        values_as_text: bool = False,
    ) -> None:
        self.name = name
        self.messages = messages
        self.words = words or {}
        self.values_as_text = values_as_text
        _TABLES[name] = self

    def __contains__(self, code: object) -> bool:
        return code in self.messages

    def describe(self, code: str, values: Mapping[str, Any] | None, fallback: str = "") -> str:
        """The code's words in the active language; ``fallback`` (the stored sentence) for a record
        written before the codes, a code this version no longer knows, or values that do not fit
        its words."""
        message = self.messages.get(code) if code else None
        if message is None:
            return fallback
        try:
            return str(message) % {
                name: self._value(name, value) for name, value in dict(values or {}).items()
            }
        except (KeyError, TypeError, ValueError):
            return fallback

    def english(self, code: str, values: Mapping[str, Any] | None) -> str:
        """For the record's sentence: logs, searches (what a worker writes is in English)."""
        with translation.override("en"):
            return self.describe(code, values)

    def in_language(self, language: str, code: str, values: Mapping[str, Any] | None) -> str:
        with translation.override(language):
            return self.describe(code, values)

    def word(self, name: str, value: str) -> str:
        """A value of ``name`` in the reader's words (as it is when the table has none for it)."""
        return str(self.words.get(name, {}).get(value, value))

    def _value(self, name: str, value: Any) -> Any:
        if isinstance(value, Mapping):
            return nested_text(value)
        if name in self.words:
            return self.word(name, str(value))
        return str(value) if self.values_as_text else value


def nested_text(stored: Mapping[str, Any]) -> str:
    """A text of another table held as a value (:meth:`CodedText.nested`), in the active language.
    Its table unknown or its code gone: ``KeyError`` (the outer text shows its fallback)."""
    table = _TABLES[str(stored["table"])]
    code = str(stored["code"])
    if code not in table:
        raise KeyError(code)
    return table.describe(code, stored.get("values"))


@dataclass(frozen=True)
class CodedText:
    """One thing a record says: ``code`` (a key of the subclass's ``table``) and its values (JSON
    values; kept as text when the table shows ``values_as_text``, except another table's text
    held as a value, :meth:`nested`, which stays one). Subclasses set ``table`` (and ``kind``, for
    the error an unknown code raises)."""

    table: ClassVar[Texts]
    kind: ClassVar[str] = "text"

    code: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in self.table:
            raise ValueError(f"unknown {self.kind} code {self.code!r}")
        if self.table.values_as_text:
            as_text = {
                k: dict(v) if isinstance(v, Mapping) else str(v) for k, v in self.values.items()
            }
            object.__setattr__(self, "values", as_text)

    def text(self) -> str:
        """In the active language."""
        return self.table.describe(self.code, self.values)

    def english(self) -> str:
        """For the record's stored sentence: logs, searches."""
        return self.table.english(self.code, self.values)

    def in_site_language(self) -> str:
        """For what is stored once for everyone (an order's cancel reason, its ledger memo)."""
        return self.table.in_language(settings.LANGUAGE_CODE, self.code, self.values)

    def stored(self) -> dict[str, Any]:
        return {"code": self.code, "values": dict(self.values)}

    def nested(self) -> dict[str, Any]:
        """This text as a value of another table's text (put into words with it)."""
        return {"table": self.table.name, **self.stored()}
