"""Markdown → safe HTML for articles, and the help center's screenshot files.

Every article body goes through Markdown and then nh3 (an allow-list sanitizer), whoever
wrote it: scripts, styles, event handlers and ``javascript:`` links never reach a page.
Rendering happens on each request (a few milliseconds), so a stricter sanitizer policy
applies to every article at once.

Articles link to each other by key: ``[Paying by PSE](help:pse)`` becomes the URL of the
article with key ``pse`` in the same language, so a renamed slug never breaks a link.

Screenshots are referenced from Markdown by a stable, language-neutral name,
``/help/media/paying/01-client-access.png``; the file is looked up in the article's
language (``<screenshots root>/<es|en>/paying/01-client-access.png``). A missing file is
not rendered at all (never a broken image): the step text around it must read well alone.
"""

from __future__ import annotations

import html
import re
import struct
from pathlib import Path
from xml.etree import ElementTree

import markdown
import nh3
from django.conf import settings
from django.urls import reverse
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

from clientarea.helpcenter.selectors import article_url_for

MEDIA_PREFIX = "/help/media/"
# [Paying by PSE](help:pse) links to the article with key "pse" in the same language.
HELP_LINK_PREFIX = "help:"
# Lower-case names, folders allowed, no dots except the extension: nothing can climb out of the root.
MEDIA_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*(?:/[a-z0-9][a-z0-9_-]*)*\.(?:png|jpg|jpeg|webp)$")
MEDIA_LANGUAGES = ("es", "en")

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "em",
    "b",
    "i",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "img",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "dl",
    "dt",
    "dd",
    "kbd",
    "abbr",
    "sup",
    "sub",
    "del",
    "ins",
    "small",
    "mark",
    "figure",
    "figcaption",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height", "loading", "decoding"},
    "ol": {"start"},
    "abbr": {"title"},
    "th": {"colspan", "rowspan", "style"},
    "td": {"colspan", "rowspan", "style"},
}
_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    clean_content_tags={"script", "style"},
    attributes=ALLOWED_ATTRIBUTES,
    url_schemes={"http", "https", "mailto", "tel"},
    filter_style_properties={"text-align"},
    link_rel="noopener noreferrer",
)


def screenshots_root() -> Path:
    """Where the screenshots live: ``HELPCENTER_SCREENSHOTS_DIR`` if set, else the app's static folder."""
    configured = getattr(settings, "HELPCENTER_SCREENSHOTS_DIR", None)
    return (
        Path(configured)
        if configured
        else Path(__file__).resolve().parent / "static" / "helpcenter" / "screenshots"
    )


def screenshot_path(name: str, language: str) -> Path | None:
    """The file for a screenshot name in one language, or None if the name is invalid or the file is missing."""
    if language not in MEDIA_LANGUAGES or not MEDIA_NAME_RE.match(name or ""):
        return None
    root = (screenshots_root() / language).resolve()
    path = (root / name).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def _png_size(path: Path) -> tuple[int, int] | None:
    """Width and height from a PNG header (so the page does not jump when the image loads)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(24)
    except OSError:
        return None
    if len(head) == 24 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return struct.unpack(">II", head[16:24])
    return None


class _HelpTreeprocessor(Treeprocessor):
    """Demotes ``# h1`` (the page title is the only h1), resolves ``help:<key>`` links and /help/media/ screenshots."""

    def __init__(self, md: markdown.Markdown, language: str, resolve: bool) -> None:
        super().__init__(md)
        self.language = language
        self.resolve = resolve

    def run(self, root: ElementTree.Element) -> None:
        parents = {child: parent for parent in root.iter() for child in parent}
        for element in list(root.iter()):
            href = element.get("href", "")
            if element.tag == "h1":
                element.tag = "h2"
            elif not self.resolve:
                continue
            elif element.tag == "img":
                self._resolve_image(element, parents)
            elif element.tag == "a" and href.startswith(HELP_LINK_PREFIX):
                element.set("href", article_url_for(href[len(HELP_LINK_PREFIX) :], self.language))

    def _resolve_image(self, img: ElementTree.Element, parents: dict) -> None:
        src = img.get("src", "")
        if not src.startswith(MEDIA_PREFIX):
            return
        name = src[len(MEDIA_PREFIX) :].split("?", 1)[0].split("#", 1)[0]
        path = screenshot_path(name, self.language)
        if path is not None:
            version = int(path.stat().st_mtime)
            img.set(
                "src",
                f"{reverse('helpcenter:media', kwargs={'name': name})}?lang={self.language}&v={version}",
            )
            img.set("loading", "lazy")
            img.set("decoding", "async")
            size = _png_size(path) if path.suffix == ".png" else None
            if size:
                img.set("width", str(size[0]))
                img.set("height", str(size[1]))
            return
        _remove_keeping_tail(img, parents)
        parent = parents.get(img)
        if (
            parent is not None
            and parent.tag == "p"
            and len(parent) == 0
            and not (parent.text or "").strip()
        ):
            _remove_keeping_tail(parent, parents)


def _remove_keeping_tail(element: ElementTree.Element, parents: dict) -> None:
    parent = parents.get(element)
    if parent is None:
        return
    tail = element.tail or ""
    siblings = list(parent)
    index = siblings.index(element)
    if tail.strip():
        if index > 0:
            previous = siblings[index - 1]
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)


class _HelpExtension(Extension):
    def __init__(self, language: str, resolve: bool) -> None:
        super().__init__()
        self.language = language
        self.resolve = resolve

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.treeprocessors.register(
            _HelpTreeprocessor(md, self.language, self.resolve), "helpcenter", 5
        )


def render_markdown(body: str, *, language: str, resolve: bool = True) -> str:
    """Article Markdown → sanitized HTML (safe to mark safe in a template).

    ``resolve=False`` leaves ``help:`` links and screenshots alone (for the search index text,
    where only the words matter).
    """
    # A Markdown instance keeps state between calls and is not thread-safe: one per call.
    md = markdown.Markdown(
        extensions=["extra", "sane_lists", _HelpExtension(language, resolve)], output_format="html"
    )
    return _cleaner.clean(md.convert(body or ""))


def article_text(body: str, *, language: str) -> str:
    """The plain text of an article body, for the search index."""
    return html_to_text(render_markdown(body, language=language, resolve=False))


def html_to_text(fragment: str) -> str:
    """Plain text of sanitized HTML: tags become spaces, entities are decoded."""
    text = re.sub(r"<[^>]*>", " ", fragment)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()
