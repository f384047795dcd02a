"""The articles written for Conexcol: loaded idempotently, in both languages, with stable slugs."""

from __future__ import annotations

import io
import re
import shutil
import tempfile
from pathlib import Path

from django.test import TestCase

from clientarea.helpcenter import content, demo, services
from clientarea.helpcenter.models import Article, Category
from clientarea.helpcenter.rendering import (
    MEDIA_LANGUAGES,
    MEDIA_NAME_RE,
    render_markdown,
    screenshots_root,
)
from clientarea.helpcenter.selectors import ARTICLE_KEYS, article_url_for, search_articles

SLUGS = {
    "pay": ("pagar-factura-en-linea", "pay-your-bill-online"),
    "pse": ("pago-pse", "paying-by-pse"),
    "cash": ("pago-en-efectivo", "paying-cash"),
    "access_code": ("codigo-de-acceso", "lost-access-code"),
    "einvoice": ("factura-electronica", "electronic-invoice"),
    "renewals": ("renovaciones-y-suspension", "renewals-and-suspension"),
    "two_factor": ("inicio-de-sesion-en-dos-pasos", "two-factor-login"),
    "cancel": ("cancelar-un-servicio", "cancel-a-service"),
    "plan_change": ("cambiar-de-plan", "change-your-plan"),
    "order": ("pedir-del-catalogo", "order-from-the-catalog"),
    "contacts": ("contactos-y-permisos", "contacts-and-permissions"),
    "refunds": ("reembolsos", "refunds"),
}


class ContentTests(TestCase):
    def test_the_demo_loads_every_article_once(self):
        out = io.StringIO()
        demo.load(out)
        self.assertIn("24 articles created", out.getvalue())
        self.assertEqual(
            services.import_help_content(), {"created": 0, "updated": 0, "unchanged": 24}
        )
        self.assertEqual(Article.objects.filter(published=True).count(), 24)
        self.assertEqual(Category.objects.count(), 4)

    def test_stable_slugs_and_contextual_links_in_both_languages(self):
        services.import_help_content()
        self.assertEqual(set(SLUGS), set(ARTICLE_KEYS))
        for key, (es, en) in SLUGS.items():
            self.assertEqual(article_url_for(key, "es-co"), f"/help/{es}/")
            self.assertEqual(article_url_for(key, "en"), f"/help/{en}/")

    def test_every_article_renders_with_resolved_links(self):
        services.import_help_content()
        with self.assertNoLogs("clientarea.helpcenter.selectors", "WARNING"):
            for article in Article.objects.all():
                html = render_markdown(article.body, language=article.language)
                self.assertNotIn("help:", html, article.slug)
                self.assertNotIn("<script", html)
                self.assertGreaterEqual(article.related.count(), 1, article.slug)

    def test_the_paying_article_references_eight_screenshots_with_alt_text(self):
        for language, name in (
            ("es", "pagar-factura-en-linea.md"),
            ("en", "pay-your-bill-online.md"),
        ):
            body = (content.CONTENT_DIR / language / name).read_text(encoding="utf-8")
            images = re.findall(r"!\[([^\]]+)\]\(/help/media/([^)]+)\)", body)
            self.assertEqual(
                [n for _, n in images],
                [
                    "paying/01-client-access.png",
                    "paying/02-log-in.png",
                    "paying/03-billing.png",
                    "paying/04-pending-order.png",
                    "paying/05-order-items.png",
                    "paying/06-pay-now.png",
                    "paying/07-choose-gateway.png",
                    "paying/08-invoice-email.png",
                ],
            )
            for alt, image in images:
                self.assertRegex(image, MEDIA_NAME_RE)
                self.assertGreater(len(alt), 25, alt)

    def test_every_screenshot_an_article_references_exists_in_both_languages(self):
        # tools/screenshots.py writes each flow's files for es and en: an article in either
        # language may only reference a name that both folders have, with real alt text.
        root = screenshots_root()
        referenced: dict[str, list[str]] = {}
        for path in sorted(content.CONTENT_DIR.glob("*/*.md")):
            body = path.read_text(encoding="utf-8")
            for alt, name in re.findall(r"!\[([^\]]*)\]\(/help/media/([^)\s]+)\)", body):
                where = f"{path.parent.name}/{path.name}"
                self.assertRegex(name, MEDIA_NAME_RE, where)
                self.assertGreater(len(alt), 25, f"{where}: {name}")
                referenced.setdefault(name, []).append(where)
        self.assertGreaterEqual(len(referenced), 8 + 2 * 5)  # the paying article and 2+ per flow
        for name, articles in referenced.items():
            for language in MEDIA_LANGUAGES:
                file = root / language / name
                self.assertTrue(file.is_file(), f"{file} is missing ({', '.join(articles)})")
                if name.endswith(".png"):
                    self.assertEqual(file.read_bytes()[:8], b"\x89PNG\r\n\x1a\n", file)
        for key in ("order", "plan_change", "cancel", "contacts", "two_factor"):
            es, en = SLUGS[key]
            for article in (f"es/{es}.md", f"en/{en}.md"):
                count = sum(article in where for where in referenced.values())
                self.assertGreaterEqual(count, 2, f"{article} shows fewer than 2 screenshots")

    def test_a_changed_file_updates_only_that_article(self):
        services.import_help_content()
        folder = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, folder)
        shutil.copytree(content.CONTENT_DIR, folder / "content")
        path = folder / "content" / "es" / "pago-pse.md"
        path.write_text(
            path.read_text(encoding="utf-8").replace(
                'title = "Pagar con PSE"', 'title = "Pagar por PSE"'
            ),
            encoding="utf-8",
        )
        before = {a.slug: a.updated_at for a in Article.objects.all()}
        self.assertEqual(
            services.import_help_content(directory=folder / "content"),
            {"created": 0, "updated": 1, "unchanged": 23},
        )
        after = {a.slug: a.updated_at for a in Article.objects.all()}
        self.assertEqual([slug for slug in after if after[slug] != before[slug]], ["pago-pse"])
        self.assertEqual(Article.objects.get(slug="pago-pse").title, "Pagar por PSE")

    def test_malformed_files_are_reported_by_name(self):
        with self.assertRaisesMessage(content.ContentError, "x.md: the file must start"):
            content.parse_article("Hola", language="es", path="x.md")
        with self.assertRaisesMessage(content.ContentError, "unknown ['colour']"):
            content.parse_article(
                '+++\nkey="a"\nslug="a"\ntitle="a"\nsummary="a"\ncategory="c"\ncolour="red"\n+++\nx',
                language="es",
                path="y.md",
            )
        with self.assertRaisesMessage(content.ContentError, "not closed"):
            content.parse_article('+++\nkey="a"\n', language="es", path="z.md")


class RefundsArticleTests(TestCase):
    """An English search for "refund" found only unrelated articles: there was none on refunds."""

    def setUp(self):
        services.import_help_content()

    def test_refund_searches_find_the_refunds_article_first_in_both_languages(self):
        for query, language, slug in [
            ("refund", "en", "refunds"),
            ("refunds", "en", "refunds"),
            ("money back", "en", "refunds"),
            ("reimbursement", "en", "refunds"),
            ("reembolso", "es", "reembolsos"),
            ("devolución de dinero", "es", "reembolsos"),
        ]:
            found = [a.slug for a in search_articles(query, language).articles]
            self.assertEqual(found[:1], [slug], query)

    def test_the_refunds_page_links_the_article_in_the_customers_language(self):
        self.assertEqual(article_url_for("refunds", "en"), "/help/refunds/")
        self.assertEqual(article_url_for("refunds", "es-co"), "/help/reembolsos/")


class TitleFirstTests(TestCase):
    """ "pagar pse" listed "Pagar en efectivo con un cupón de pago" (whose body names PSE) above
    "Pagar con PSE": with two dozen articles, the words' many mentions in a body outranked the
    title that has them all."""

    def setUp(self):
        services.import_help_content()

    def test_an_article_whose_title_has_every_word_comes_first(self):
        for query, language, slug in [
            ("pagar pse", "es", "pago-pse"),
            ("pagar con pse", "es", "pago-pse"),
            ("pagar en efectivo", "es", "pago-en-efectivo"),
            ("paying by pse", "en", "paying-by-pse"),
            ("pse", "es", "pago-pse"),
        ]:
            found = [a.slug for a in search_articles(query, language).articles]
            self.assertEqual(found[:1], [slug], (query, found))


class RenewalsArticleTests(TestCase):
    """The renewals article told customers to write in to cancel a service, though they cancel
    it themselves from its page (the cancellation article)."""

    def setUp(self):
        services.import_help_content()

    def test_the_renewals_article_sends_cancellations_to_the_service_page(self):
        for slug, cancel, write_in, button in [
            (
                "renovaciones-y-suspension",
                "/help/cancelar-un-servicio/",
                "escríbanos antes de su fecha de vencimiento",
                "Cancelar este servicio",
            ),
            (
                "renewals-and-suspension",
                "/help/cancel-a-service/",
                "write to us before its due date",
                "Cancel this service",
            ),
        ]:
            html = self.client.get(f"/help/{slug}/").content.decode()
            self.assertIn(f'href="{cancel}"', html, slug)
            self.assertIn(f"<strong>{button}</strong>", html, slug)
            self.assertNotIn(write_in, html.lower(), slug)
