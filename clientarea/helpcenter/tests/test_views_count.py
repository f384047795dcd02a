"""Views count once per visitor per day; robots and staff are not counted; counters survive edits."""

from __future__ import annotations

import datetime

from django.test import TestCase

from clientarea.helpcenter import services
from clientarea.helpcenter.models import Article, ArticleView
from clientarea.helpcenter.tests.helpers import FIREFOX, BrowserClient, make_article
from clientarea.helpcenter.visitors import is_bot
from clientarea.test import BaseTestCase

BOTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "WhatsApp/2.23.20.0",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36",
    "",
    "   ",
)
PEOPLE = (
    FIREFOX,
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
)


class BotDetectionTests(TestCase):
    def test_it_recognises_robots_and_tools(self):
        for agent in BOTS:
            self.assertTrue(is_bot(agent), agent)

    def test_it_does_not_mistake_people_for_robots(self):
        for agent in PEOPLE:
            self.assertFalse(is_bot(agent), agent)


class ViewCountTests(BaseTestCase):
    client_class = BrowserClient

    def setUp(self) -> None:
        self.article = make_article(slug="renovaciones-test")
        self.url = f"/help/{self.article.slug}/"

    def views(self) -> int:
        self.article.refresh_from_db()
        return self.article.view_count

    def test_a_visitor_is_counted_once_per_day(self):
        for _ in range(3):
            self.assertEqual(self.client.get(self.url).status_code, 200)
        self.assertEqual(self.views(), 1)

    def test_a_head_request_is_answered_but_not_counted(self):
        self.assertEqual(self.client.head(self.url).status_code, 200)
        self.assertEqual(self.views(), 0)

    def test_the_same_visitor_counts_again_the_next_day(self):
        today = datetime.date(2026, 3, 2)
        for day in (today, today, today + datetime.timedelta(days=1)):
            services.record_view(
                article=self.article, visitor="v1", user_agent=FIREFOX, is_staff=False, today=day
            )
        self.assertEqual(self.views(), 2)

    def test_each_visitor_is_counted(self):
        for _ in range(3):
            BrowserClient().get(self.url)
        self.assertEqual(self.views(), 3)

    def test_a_customer_is_one_visitor_on_all_their_browsers(self):
        for _ in range(2):
            client = BrowserClient()
            client.force_login(
                self.alice.user, backend="clientarea.accounts.backends.EmailAccessCodeBackend"
            )
            client.get(self.url)
        self.assertEqual(self.views(), 1)

    def test_robots_are_not_counted(self):
        for agent in BOTS:
            self.assertEqual(BrowserClient(HTTP_USER_AGENT=agent).get(self.url).status_code, 200)
        self.assertEqual(self.views(), 0)
        self.assertFalse(ArticleView.objects.exists())

    def test_staff_are_not_counted(self):
        self.login(self.carol)
        self.client.get(self.url)
        self.assertEqual(self.views(), 0)

    def test_the_page_shows_the_number_of_views(self):
        BrowserClient().get(self.url)
        html = self.client.get(self.url).content.decode()
        self.assertInHTML('<span class="help-views">2 views</span>', html)

    def test_saving_an_article_keeps_the_views_and_votes_counted_meanwhile(self):
        stale = Article.objects.get(pk=self.article.pk)  # an editor opened the form
        for visitor in ("a", "b", "c"):
            services.record_view(
                article=self.article, visitor=visitor, user_agent=FIREFOX, is_staff=False
            )
        services.cast_vote(article=self.article, value="like", visitor="a")
        stale.title = "Título corregido"
        services.save_article(article=stale)
        self.article.refresh_from_db()
        self.assertEqual(
            (self.article.title, self.article.view_count, self.article.like_count),
            ("Título corregido", 3, 1),
        )

    def test_the_view_log_keeps_only_recent_days(self):
        today = datetime.date(2026, 3, 10)
        for days_ago in (0, 1, 2, 3, 30):
            services.record_view(
                article=self.article,
                visitor="v",
                user_agent=FIREFOX,
                is_staff=False,
                today=today - datetime.timedelta(days=days_ago),
            )
        self.assertEqual(services.prune_view_log(today=today), 2)
        self.assertEqual(sorted((today - v.day).days for v in ArticleView.objects.all()), [0, 1, 2])
        self.assertEqual(self.views(), 5)  # pruning never changes the counter
