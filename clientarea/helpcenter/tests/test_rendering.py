"""Article bodies: Markdown rendered and sanitized; screenshots shown only when the file exists."""

from __future__ import annotations

import struct
import tempfile
import zlib
from pathlib import Path

from django.http import FileResponse
from django.test import TestCase, override_settings

from clientarea.helpcenter.rendering import article_text, render_markdown
from clientarea.helpcenter.tests.helpers import BrowserClient, make_article


def tiny_png(width: int = 3, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + b"\xff\xff\xff" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


class SanitizingTests(TestCase):
    def test_a_script_in_the_body_is_removed(self):
        html = render_markdown("Hola\n\n<script>alert('x')</script>\n\nChao", language="es")
        self.assertNotIn("<script", html)
        self.assertNotIn("alert", html)
        self.assertIn("Hola", html)
        self.assertIn("Chao", html)

    def test_dangerous_html_and_links_are_neutralised(self):
        body = "\n\n".join(
            [
                '<img src="x" onerror="alert(1)">',
                '<a href="javascript:alert(2)">clic</a>',
                "[markdown](javascript:alert(3))",
                '<iframe src="https://evil.example"></iframe>',
                "<style>body{display:none}</style>",
                '<p style="position:fixed" onclick="alert(4)">texto</p>',
                '<img src="data:image/svg+xml;base64,PHN2Zz4=">',
                '<form action="https://evil.example"><input name="code"></form>',
            ]
        )
        html = render_markdown(body, language="es").lower()
        for bad in (
            "onerror",
            "javascript:",
            "<iframe",
            "<style",
            "display:none",
            "onclick",
            "position",
            "data:",
            "<form",
            "<input",
            "alert",
        ):
            self.assertNotIn(bad, html)
        self.assertIn("texto", html)

    def test_the_article_page_never_serves_the_script(self):
        article = make_article(
            body="Paso 1\n\n<script>document.cookie</script><b onmouseover=alert(1)>ok</b>"
        )
        html = BrowserClient().get(article.get_absolute_url()).content.decode()
        self.assertNotIn("document.cookie", html)
        self.assertNotIn("onmouseover", html)
        self.assertIn("<b>ok</b>", html)

    def test_markdown_features_are_kept(self):
        html = render_markdown(
            "# Título\n\n1. uno\n2. dos\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n> nota\n\n[enlace](https://conexcol.example)",
            language="es",
        )
        self.assertIn("<h2>Título</h2>", html)  # the page title is the only h1
        self.assertIn("<ol>", html)
        self.assertIn("<table>", html)
        self.assertIn("<blockquote>", html)
        self.assertIn('href="https://conexcol.example"', html)
        self.assertIn('rel="noopener noreferrer"', html)

    def test_index_text_has_no_markup(self):
        self.assertEqual(
            article_text("**Pagar** con <b>PSE</b> &amp; más", language="es"), "Pagar con PSE & más"
        )


class ScreenshotTests(TestCase):
    body = "1. Pulsa **Acceso clientes**.\n\n    ![Botón «Acceso clientes» resaltado](/help/media/paying/01-client-access.png)\n\n2. Escribe tu código."

    def setUp(self) -> None:
        self.root = Path(tempfile.mkdtemp())
        override = override_settings(HELPCENTER_SCREENSHOTS_DIR=str(self.root))
        override.enable()
        self.addCleanup(override.disable)

    def add_png(self, language: str, name: str) -> None:
        path = self.root / language / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(tiny_png())

    def test_a_missing_screenshot_is_not_rendered_but_the_step_is(self):
        html = render_markdown(self.body, language="es")
        self.assertNotIn("<img", html)
        self.assertNotIn("<p></p>", html)
        self.assertIn("Pulsa <strong>Acceso clientes</strong>", html)
        self.assertIn("Escribe tu código", html)

    def test_an_existing_screenshot_is_served_in_the_article_language(self):
        self.add_png("es", "paying/01-client-access.png")
        html = render_markdown(self.body, language="es")
        self.assertIn('alt="Botón «Acceso clientes» resaltado"', html)
        self.assertRegex(html, r'src="/help/media/paying/01-client-access.png\?lang=es&amp;v=\d+"')
        self.assertIn('width="3"', html)
        self.assertIn('loading="lazy"', html)
        self.assertNotIn("<img", render_markdown(self.body, language="en"))  # no English file yet

    def test_the_media_view_serves_only_existing_screenshots(self):
        self.add_png("es", "paying/01-client-access.png")
        client = BrowserClient()
        response = client.get("/help/media/paying/01-client-access.png?lang=es&v=1")
        self.assertEqual((response.status_code, response["Content-Type"]), (200, "image/png"))
        assert isinstance(response, FileResponse)
        self.assertEqual(b"".join(response.streaming_content)[:8], b"\x89PNG\r\n\x1a\n")
        self.assertIn("immutable", response["Cache-Control"])
        for url in (
            "/help/media/paying/01-client-access.png?lang=en",
            "/help/media/paying/99-missing.png?lang=es",
            "/help/media/paying/01-client-access.png?lang=fr",
            "/help/media/../../settings.py?lang=es",
            "/help/media/%2e%2e/%2e%2e/settings.py?lang=es",
            "/help/media/paying/..%2f..%2fsecret.png?lang=es",
        ):
            self.assertEqual(client.get(url).status_code, 404, url)


class HelpLinkTests(TestCase):
    def test_help_links_point_to_the_article_in_the_same_language(self):
        make_article(key="pse", slug="pago-pse", language="es")
        make_article(key="pse", slug="paying-by-pse", language="en")
        self.assertIn('href="/help/pago-pse/"', render_markdown("[PSE](help:pse)", language="es"))
        self.assertIn(
            'href="/help/paying-by-pse/"', render_markdown("[PSE](help:pse)", language="en")
        )

    def test_a_link_to_a_missing_article_goes_to_the_help_home(self):
        with self.assertLogs("clientarea.helpcenter.selectors", "WARNING"):
            self.assertIn('href="/help/"', render_markdown("[x](help:nope)", language="es"))
