"""Back office: editing through the service (index kept in sync), preview, analytics."""

from __future__ import annotations

from clientarea.helpcenter import selectors, services
from clientarea.helpcenter.models import Article, UnansweredSearch, Vote
from clientarea.helpcenter.tests.helpers import FIREFOX, BrowserClient, make_article, make_category
from clientarea.test import BaseTestCase

INLINE = {
    "votes-TOTAL_FORMS": "0",
    "votes-INITIAL_FORMS": "0",
    "votes-MIN_NUM_FORMS": "0",
    "votes-MAX_NUM_FORMS": "1000",
}


class AdminTests(BaseTestCase):
    client_class = BrowserClient

    def setUp(self) -> None:
        self.category = make_category("payments")
        self.article = make_article(
            title="Pagar con PSE",
            slug="pago-pse",
            key="pse",
            category=self.category,
            body="Débito bancario.",
        )
        self.login(self.carol)

    def form_data(self, **changes) -> dict:
        data = {
            "title": "Pagar en efectivo",
            "slug": "pago-en-efectivo",
            "language": "es",
            "key": "cash",
            "category": str(self.category.pk),
            "position": "3",
            "published": "on",
            "summary": "Con un recibo de pago.",
            "body": "Ve a un punto **Efecty** con la referencia.",
            **INLINE,
        }
        data.update(changes)
        return data

    def test_the_list_shows_views_votes_and_helpfulness(self):
        for visitor in ("a", "b", "c"):
            services.record_view(
                article=self.article, visitor=visitor, user_agent=FIREFOX, is_staff=False
            )
        services.cast_vote(article=self.article, value="like", visitor="a")
        services.cast_vote(article=self.article, value="like", visitor="b")
        services.cast_vote(article=self.article, value="dislike", visitor="c")
        response = self.client.get("/admin/helpcenter/article/")
        self.assertContains(response, "67 %")
        self.assertContains(response, "Analytics")

    def test_adding_an_article_indexes_it(self):
        response = self.client.post("/admin/helpcenter/article/add/", self.form_data())
        self.assertEqual(response.status_code, 302, response.content.decode()[:2000])
        article = Article.objects.get(slug="pago-en-efectivo")
        self.assertEqual(article.key, "cash")
        self.assertEqual(
            [a.slug for a in selectors.search_articles("efecty", "es").articles],
            ["pago-en-efectivo"],
        )

    def test_editing_keeps_counters_and_reindexes(self):
        services.record_view(article=self.article, visitor="a", user_agent=FIREFOX, is_staff=False)
        data = self.form_data(
            title="Pagar por PSE",
            slug="pago-pse",
            key="pse",
            body="Transferencia desde Bancolombia.",
        )
        response = self.client.post(f"/admin/helpcenter/article/{self.article.pk}/change/", data)
        self.assertEqual(response.status_code, 302)
        self.article.refresh_from_db()
        self.assertEqual((self.article.title, self.article.view_count), ("Pagar por PSE", 1))
        self.assertEqual(
            [a.slug for a in selectors.search_articles("bancolombia", "es").articles], ["pago-pse"]
        )
        self.assertEqual(selectors.search_articles("debito", "es").articles, [])

    def test_edits_and_publishing_are_in_the_audit_log(self):
        from clientarea.accounts.models import AuditEvent

        data = self.form_data(title="Pagar por PSE", slug="pago-pse", key="pse", published="")
        response = self.client.post(f"/admin/helpcenter/article/{self.article.pk}/change/", data)
        self.assertEqual(response.status_code, 302)
        event = AuditEvent.objects.get(action="helpcenter.article_unpublished")
        self.assertEqual((event.actor, event.target), (self.carol, "pago-pse (es)"))
        self.assertIn("title", event.changes["fields"])
        self.assertNotIn("slug", event.changes["fields"])
        # The list's actions publish and unpublish, audited, with a message.
        other = make_article(title="Efectivo", slug="efectivo", key="cash", category=self.category)
        response = self.client.post(
            "/admin/helpcenter/article/",
            {"action": "publish_articles", "_selected_action": [self.article.pk, other.pk]},
            follow=True,
        )
        self.assertContains(response, "1 article published.")  # the other one already was
        self.article.refresh_from_db()
        self.assertTrue(self.article.published)
        self.assertEqual(
            [a.slug for a in selectors.search_articles("pse", "es").articles], ["pago-pse"]
        )
        self.client.post(
            "/admin/helpcenter/article/",
            {"action": "unpublish_articles", "_selected_action": [other.pk]},
        )
        other.refresh_from_db()
        self.assertFalse(other.published)
        self.assertEqual(
            list(
                AuditEvent.objects.filter(action__startswith="helpcenter.")
                .order_by("id")
                .values_list("action", "target")
            ),
            [
                ("helpcenter.article_unpublished", "pago-pse (es)"),
                ("helpcenter.article_published", "pago-pse (es)"),
                ("helpcenter.article_unpublished", "efectivo (es)"),
            ],
        )

    def test_deleting_takes_the_article_out_of_search(self):
        response = self.client.post(
            f"/admin/helpcenter/article/{self.article.pk}/delete/", {"post": "yes"}
        )
        self.assertEqual(response.status_code, 302)
        self.assertEqual(selectors.search_articles("pse", "es").articles, [])

    def test_the_edit_form_offers_a_preview_that_saves_nothing(self):
        html = self.client.get(
            f"/admin/helpcenter/article/{self.article.pk}/change/"
        ).content.decode()
        self.assertIn('formaction="/admin/helpcenter/article/preview/"', html)
        self.assertIn('formtarget="_blank"', html)
        data = self.form_data(
            title="Título nuevo sin guardar", body="## Paso 1\n\nTexto <script>alert(1)</script>"
        )
        response = self.client.post("/admin/helpcenter/article/preview/", data)
        self.assertContains(response, "Título nuevo sin guardar")
        self.assertContains(response, "<h2>Paso 1</h2>", html=True)
        self.assertContains(response, "Preview of unsaved changes")
        self.assertNotContains(response, "alert(1)")
        self.assertFalse(Article.objects.filter(slug="pago-en-efectivo").exists())
        self.article.refresh_from_db()
        self.assertEqual(self.article.title, "Pagar con PSE")

    def test_the_preview_is_for_staff_only_and_by_post(self):
        self.assertEqual(self.client.get("/admin/helpcenter/article/preview/").status_code, 405)
        self.login(self.alice)
        response = self.client.post("/admin/helpcenter/article/preview/", self.form_data())
        self.assertEqual(response.status_code, 302)  # to the admin login
        self.assertIn("/admin/login/", response["Location"])

    def test_the_analytics_page_shows_articles_feedback_and_missed_searches(self):
        services.cast_vote(article=self.article, value="dislike", visitor="a")
        services.leave_feedback(article=self.article, comment="Falta explicar el CUS", visitor="a")
        services.log_unanswered_search(query="Nequi", language="es")
        response = self.client.get("/admin/helpcenter/article/analytics/")
        self.assertContains(response, "Pagar con PSE")
        self.assertContains(response, "Falta explicar el CUS")
        self.assertContains(response, "nequi")
        self.assertContains(
            self.client.get("/admin/helpcenter/article/analytics/?language=en"), "No articles yet."
        )

    def test_the_feedback_and_search_lists_are_read_only(self):
        services.cast_vote(article=self.article, value="dislike", visitor="a")
        services.log_unanswered_search(query="Nequi", language="es")
        self.assertEqual(self.client.get("/admin/helpcenter/vote/").status_code, 200)
        self.assertEqual(self.client.get("/admin/helpcenter/unansweredsearch/").status_code, 200)
        self.assertEqual(self.client.get("/admin/helpcenter/vote/add/").status_code, 403)
        vote = Vote.objects.get()
        self.assertEqual(
            self.client.post(
                f"/admin/helpcenter/vote/{vote.pk}/delete/", {"post": "yes"}
            ).status_code,
            403,
        )
        searched = UnansweredSearch.objects.get()
        self.assertEqual(
            self.client.post(
                f"/admin/helpcenter/unansweredsearch/{searched.pk}/delete/", {"post": "yes"}
            ).status_code,
            302,
        )
