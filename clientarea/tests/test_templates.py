"""Template files: what Django's template syntax would print by mistake."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_template_has_a_comment_tag_that_spans_lines() -> None:
    """A {# #} comment ends on its own line: one that runs over two is printed as text (the
    registration page showed "{# One form field: …#}" above every field). Use
    {% comment %}…{% endcomment %} for longer ones."""
    found = []
    for path in sorted(ROOT.rglob("*")):
        if path.suffix not in {".html", ".txt", ".xml"} or "templates" not in path.parts:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            rest = line
            while "{#" in rest:
                rest = rest.split("{#", 1)[1]
                if "#}" not in rest:
                    found.append(f"{path.relative_to(ROOT)}:{number}")
                    break
                rest = rest.split("#}", 1)[1]
    assert found == []
