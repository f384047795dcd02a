"""Public pages, drafts, translations, related articles and the contextual-help link API."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.template import Context, Template
from django.utils import translation

from clientarea.helpcenter import services
from clientarea.helpcenter.models import Article, Category
from clientarea.helpcenter.selectors import article_url_for
from clientarea.helpcenter.tests.helpers import FIREFOX, BrowserClient, make_article, make_category
from clientarea.test import BaseTestCase


class PageTests(BaseTestCase):
    client_class = BrowserClient
    payments: Category
    pay_es: Article
    pay_en: Article
    pse_en: Article
    draft: Article

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.payments = make_category(
            "payments", slug_es="pagos", slug_en="payments", name_es="Pagos", name_en="Payments"
        )
        cls.pay_es = make_article(
            key="pay",
            slug="pagar-factura-en-linea",
            title="¿Cómo pago mi factura en línea?",
            category=cls.payments,
            tags=("PSE",),
        )
        cls.pay_en = make_article(
            key="pay",
            slug="pay-your-bill-online",
            title="How can I pay my bill online?",
            language="en",
            category=cls.payments,
        )
        cls.pse_en = make_article(
            key="pse",
            slug="paying-by-pse",
            title="Paying by PSE",
            language="en",
            category=cls.payments,
        )
        cls.draft = make_article(
            key="cash",
            slug="pago-en-efectivo",
            title="Pagar en efectivo",
            published=False,
            category=cls.payments,
        )

    def test_the_home_lists_topics_in_the_page_language(self):
        html = self.client.get("/help/").content.decode()
        self.assertIn("How can I pay my bill online?", html)
        self.assertIn('href="/help/category/payments/"', html)
        self.assertNotIn("¿Cómo pago mi factura en línea?", html)
        html = BrowserClient(HTTP_ACCEPT_LANGUAGE="es-CO").get("/help/").content.decode()
        self.assertIn("¿Cómo pago mi factura en línea?", html)
        self.assertNotIn("Pagar en efectivo", html)  # a draft

    def test_the_home_shows_most_viewed_and_most_helpful(self):
        for visitor in ("a", "b"):
            services.record_view(
                article=self.pse_en, visitor=visitor, user_agent=FIREFOX, is_staff=False
            )
            services.cast_vote(article=self.pay_en, value="like", visitor=visitor)
        html = self.client.get("/help/").content.decode()
        self.assertIn("Most viewed", html)
        self.assertIn("2 views", html)
        self.assertIn("Most helpful", html)
        self.assertIn("2 people found it helpful", html)

    def test_an_article_links_its_translation_tags_and_category(self):
        html = self.client.get("/help/pagar-factura-en-linea/").content.decode()
        self.assertIn('href="/help/pay-your-bill-online/"', html)
        self.assertIn('hreflang="en"', html)
        self.assertIn('lang="es"', html)
        self.assertIn('href="/help/tag/pse/"', html)
        self.assertIn('href="/help/category/pagos/"', html)

    def test_related_articles_are_chosen_or_taken_from_the_category(self):
        html = self.client.get("/help/pay-your-bill-online/").content.decode()
        self.assertIn("Paying by PSE", html)  # same category, same language
        other = make_article(
            title="Lost your access code?",
            language="en",
            slug="lost-access-code",
            category=make_category("account"),
        )
        services.save_article(article=self.pay_en, related=[other])
        html = self.client.get("/help/pay-your-bill-online/").content.decode()
        self.assertIn("Lost your access code?", html)
        self.assertNotIn("Paying by PSE", html)

    def test_drafts_are_hidden_from_visitors_and_shown_to_staff(self):
        self.assertEqual(self.client.get("/help/pago-en-efectivo/").status_code, 404)
        self.login(self.alice)
        self.assertEqual(self.client.get("/help/pago-en-efectivo/").status_code, 404)
        self.login(self.carol)
        response = self.client.get("/help/pago-en-efectivo/")
        self.assertContains(response, "Draft: only staff can see this article.")
        self.assertNotContains(response, 'class="vote-form"')
        self.draft.refresh_from_db()
        self.assertEqual(self.draft.view_count, 0)

    def test_category_pages_answer_to_both_slugs(self):
        self.assertContains(
            self.client.get("/help/category/pagos/"), "¿Cómo pago mi factura en línea?"
        )
        response = self.client.get("/help/category/payments/")
        self.assertContains(response, "Paying by PSE")
        self.assertContains(response, 'href="/help/category/pagos/"')
        self.assertEqual(self.client.get("/help/category/nope/").status_code, 404)

    def test_tag_pages_list_the_tagged_articles(self):
        self.assertContains(self.client.get("/help/tag/pse/"), "¿Cómo pago mi factura en línea?")
        self.assertEqual(self.client.get("/help/tag/nope/").status_code, 404)

    def test_unknown_articles_are_not_found(self):
        self.assertEqual(self.client.get("/help/no-existe/").status_code, 404)

    def test_reserved_slugs_are_refused(self):
        with self.assertRaises(ValidationError):
            make_article(slug="search")

    def test_one_translation_per_language(self):
        with self.assertRaises(ValidationError):
            make_article(key="pay", slug="otra-forma-de-pagar", language="es")


class ContextualLinkTests(BaseTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        make_article(key="pay", slug="pagar-factura-en-linea", language="es")
        make_article(key="pay", slug="pay-your-bill-online", language="en")
        make_article(key="einvoice", slug="factura-electronica", language="es")
        make_article(key="renewals", slug="renewals-and-suspension", language="en", published=False)

    def test_it_links_the_version_in_the_requested_language(self):
        self.assertEqual(article_url_for("pay", "es"), "/help/pagar-factura-en-linea/")
        self.assertEqual(article_url_for("pay", "es-co"), "/help/pagar-factura-en-linea/")
        self.assertEqual(article_url_for("pay", "en"), "/help/pay-your-bill-online/")
        self.assertEqual(article_url_for("pay", "en-us"), "/help/pay-your-bill-online/")

    def test_it_defaults_to_the_active_language(self):
        with translation.override("en"):
            self.assertEqual(article_url_for("pay"), "/help/pay-your-bill-online/")
        with translation.override("es-co"):
            self.assertEqual(article_url_for("pay"), "/help/pagar-factura-en-linea/")

    def test_it_falls_back_to_the_other_language_then_to_the_help_home(self):
        self.assertEqual(article_url_for("einvoice", "en"), "/help/factura-electronica/")
        with self.assertLogs("clientarea.helpcenter.selectors", "WARNING"):
            self.assertEqual(article_url_for("renewals", "en"), "/help/")  # unpublished
        with self.assertLogs("clientarea.helpcenter.selectors", "WARNING"):
            self.assertEqual(article_url_for("no-such-key", "es"), "/help/")

    def test_the_template_tag(self):
        template = Template("{% load helpcenter %}{% help_url 'pay' %}|{% help_url 'pay' 'en' %}")
        with translation.override("es-co"):
            self.assertEqual(
                template.render(Context()),
                "/help/pagar-factura-en-linea/|/help/pay-your-bill-online/",
            )

    def test_the_article_admin_link_is_the_public_url(self):
        self.assertEqual(
            Article.objects.get(slug="pay-your-bill-online").get_absolute_url(),
            "/help/pay-your-bill-online/",
        )


class ViewCountTests(BaseTestCase):
    """Articles read "0 vistas" (a bot's or a staff member's view is not counted): a count of zero
    is not shown, a real one is."""

    def test_a_view_count_of_zero_is_not_shown(self):
        article = make_article(slug="pagar-factura-en-linea", title="¿Cómo pago?")
        self.client.cookies["django_language"] = "es-co"
        html = self.client.get("/help/pagar-factura-en-linea/").content.decode()
        self.assertEqual(Article.objects.get(pk=article.pk).view_count, 0)  # not a browser
        self.assertNotIn("help-views", html)
        self.assertNotIn("0 vistas", html)
        Article.objects.filter(pk=article.pk).update(view_count=41)
        html = self.client.get("/help/pagar-factura-en-linea/").content.decode()
        self.assertIn('<span class="help-views">41 vistas</span>', html)
