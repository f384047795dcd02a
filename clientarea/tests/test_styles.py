"""The site's hand-written CSS: each kind of message has its own colours, all readable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

APP_CSS = Path(__file__).resolve().parents[1] / "static" / "css" / "app.css"


def _css() -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The custom properties of ``:root`` and each single-selector rule's declarations."""
    text = re.sub(r"/\*.*?\*/", "", APP_CSS.read_text(), flags=re.S)
    variables = dict(re.findall(r"--([\w-]+):\s*([^;]+);", text.split("}", 1)[0]))
    rules: dict[str, dict[str, str]] = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", text):
        declarations = dict(re.findall(r"([\w-]+)\s*:\s*([^;]+)", body))
        for selector in selectors.split(","):
            rules.setdefault(selector.strip(), {}).update(declarations)
    return variables, rules


def _colour(value: str, variables: dict[str, str]) -> str:
    found = re.fullmatch(r"var\(--([\w-]+)\)", value.strip())
    return variables[found.group(1)].strip() if found else value.strip()


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_info_messages_do_not_look_like_success():
    variables, rules = _css()
    info, success = rules[".alert-info"], rules[".alert-success"]
    assert _colour(info["background"], variables) != _colour(success["background"], variables)
    assert _colour(info["border-color"], variables) != _colour(success["border-color"], variables)


@pytest.mark.parametrize("kind", ["info", "success", "warning", "error"])
def test_message_text_and_links_are_readable(kind):
    variables, rules = _css()
    background = _colour(rules[f".alert-{kind}"]["background"], variables)
    assert _contrast(variables["ink"], background) >= 4.5
    assert _contrast(variables["blue"], background) >= 4.5  # links inside a message
