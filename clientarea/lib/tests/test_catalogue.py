"""The Spanish catalogue is complete: no fuzzy entries (gettext ignores them) and no empty translations."""

from __future__ import annotations

import ast
from pathlib import Path

PO = Path(__file__).resolve().parents[2] / "locale" / "es" / "LC_MESSAGES" / "django.po"


def entries(text: str) -> list[dict[str, object]]:
    """A small .po reader: flags, msgctxt, msgid and msgstr of each entry (plural forms joined)."""
    result: list[dict[str, object]] = []
    for block in text.split("\n\n"):
        entry: dict[str, object] = {"flags": "", "msgctxt": "", "msgid": "", "msgstr": ""}
        field = None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"] = line[2:]
            elif line.startswith("#"):
                continue
            elif line.startswith('"') and field:
                entry[field] = str(entry[field]) + ast.literal_eval(line)
            else:
                keyword, _, value = line.partition(" ")
                field = {"msgid_plural": "msgid", "msgctxt": "msgctxt", "msgid": "msgid"}.get(
                    keyword
                )
                if keyword.startswith("msgstr"):
                    field = "msgstr"
                if field:
                    entry[field] = str(entry[field]) + ast.literal_eval(value)
        if entry["msgid"]:
            result.append(entry)
    return result


def test_every_message_has_a_spanish_translation():
    found = entries(PO.read_text(encoding="utf-8"))
    assert len(found) > 500
    fuzzy = [e["msgid"] for e in found if "fuzzy" in str(e["flags"])]
    empty = [e["msgid"] for e in found if not e["msgstr"]]
    assert fuzzy == [], f"fuzzy (not used by gettext): {fuzzy}"
    assert empty == [], f"untranslated: {empty}"


def test_the_reader_sees_a_missing_translation():
    sample = 'msgid ""\nmsgstr "header"\n\n#, fuzzy\nmsgid "Pay"\nmsgstr "Pagar"\n\nmsgid "Back"\nmsgstr ""\n'
    found = entries(sample)
    assert [(e["msgid"], "fuzzy" in str(e["flags"]), e["msgstr"]) for e in found] == [
        ("Pay", True, "Pagar"),
        ("Back", False, ""),
    ]
