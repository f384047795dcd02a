"""“Was this article helpful?”: one changeable vote per visitor, CSRF, bad input, feedback comments."""

from __future__ import annotations

from unittest import mock

from django.core.exceptions import ValidationError
from django.test import Client

from clientarea.helpcenter import selectors, services
from clientarea.helpcenter.models import Vote
from clientarea.helpcenter.tests.helpers import FIREFOX, BrowserClient, make_article
from clientarea.test import BaseTestCase


class VoteTests(BaseTestCase):
    client_class = BrowserClient

    def setUp(self) -> None:
        self.article = make_article(title="Cómo pagar con PSE", slug="pago-pse-test")
        self.vote_url = f"/help/{self.article.slug}/vote/"
        self.page_url = f"/help/{self.article.slug}/"

    def counts(self) -> tuple[int, int]:
        self.article.refresh_from_db()
        return self.article.like_count, self.article.dislike_count

    def assertCountsMatchRows(self) -> None:
        self.assertEqual(self.counts(), selectors.vote_counts_from_rows(self.article))

    def test_it_counts_one_vote_per_anonymous_visitor(self):
        self.client.get(self.page_url)
        for _ in range(3):
            response = self.client.post(self.vote_url, {"value": "like"})
            self.assertRedirects(
                response, self.page_url + "#feedback", fetch_redirect_response=False
            )
        self.assertEqual(self.counts(), (1, 0))
        self.assertEqual(Vote.objects.count(), 1)

    def test_a_visitor_can_change_the_vote(self):
        self.client.post(self.vote_url, {"value": "like"})
        self.client.post(self.vote_url, {"value": "dislike"})
        self.assertEqual(self.counts(), (0, 1))
        self.client.post(self.vote_url, {"value": "like"})
        self.assertEqual(self.counts(), (1, 0))
        self.assertEqual(Vote.objects.count(), 1)
        self.assertCountsMatchRows()

    def test_it_remembers_the_visitor_even_if_the_first_request_is_the_vote(self):
        self.client.post(
            self.vote_url, {"value": "like"}
        )  # no page view before: the cookie is set by the redirect
        self.client.post(self.vote_url, {"value": "like"})
        self.assertEqual(self.counts(), (1, 0))

    def test_different_visitors_each_count(self):
        BrowserClient().post(self.vote_url, {"value": "like"})
        BrowserClient().post(self.vote_url, {"value": "like"})
        BrowserClient().post(self.vote_url, {"value": "dislike"})
        self.assertEqual(self.counts(), (2, 1))
        self.assertCountsMatchRows()

    def test_a_customer_has_one_vote_across_browsers(self):
        laptop, phone = BrowserClient(), BrowserClient()
        for client in (laptop, phone):
            client.force_login(
                self.alice.user, backend="clientarea.accounts.backends.EmailAccessCodeBackend"
            )
        laptop.post(self.vote_url, {"value": "like"})
        phone.post(self.vote_url, {"value": "dislike"})
        self.assertEqual(self.counts(), (0, 1))
        self.assertEqual(Vote.objects.get().user, self.alice.user)

    def test_logging_in_takes_over_the_anonymous_vote(self):
        self.client.post(self.vote_url, {"value": "like"})
        self.login(self.alice)
        self.client.post(self.vote_url, {"value": "dislike"})
        self.assertEqual(self.counts(), (0, 1))
        vote = Vote.objects.get()
        self.assertEqual((vote.user, vote.visitor), (self.alice.user, ""))

    def test_the_page_shows_both_counts_and_the_current_vote(self):
        BrowserClient().post(self.vote_url, {"value": "dislike"})
        self.client.post(self.vote_url, {"value": "like"})
        html = self.client.get(self.page_url).content.decode()
        self.assertInHTML('<span class="vote-count" data-count="like">1</span>', html)
        self.assertInHTML('<span class="vote-count" data-count="dislike">1</span>', html)
        self.assertRegex(html, r'value="like"[^>]*aria-pressed="true"')
        self.assertRegex(html, r'value="dislike"[^>]*aria-pressed="false"')

    def test_an_unknown_value_is_refused_and_nothing_is_counted(self):
        for data in ({"value": "love"}, {"value": ""}, {}, {"value": "LIKE"}):
            response = self.client.post(self.vote_url, data)
            self.assertEqual(response.status_code, 400, data)
        self.assertEqual(self.counts(), (0, 0))
        self.assertFalse(Vote.objects.exists())

    def test_a_vote_without_csrf_token_is_refused(self):
        client = Client(enforce_csrf_checks=True, HTTP_USER_AGENT=FIREFOX)
        client.get(self.page_url)  # has the CSRF cookie, but does not send the token
        self.assertEqual(client.post(self.vote_url, {"value": "like"}).status_code, 403)
        self.assertEqual(self.counts(), (0, 0))
        self.assertFalse(Vote.objects.exists())
        # The same client with the token gets through: the 403 was the CSRF check.
        token = client.cookies["csrftoken"].value
        self.assertEqual(
            client.post(self.vote_url, {"value": "like", "csrfmiddlewaretoken": token}).status_code,
            302,
        )
        self.assertEqual(self.counts(), (1, 0))

    def test_feedback_without_csrf_token_is_refused(self):
        self.client.post(self.vote_url, {"value": "dislike"})
        client = Client(enforce_csrf_checks=True, HTTP_USER_AGENT=FIREFOX)
        client.cookies = self.client.cookies
        self.assertEqual(
            client.post(f"/help/{self.article.slug}/feedback/", {"comment": "x"}).status_code, 403
        )
        self.assertEqual(Vote.objects.get().comment, "")

    def test_voting_on_a_missing_or_unpublished_article_is_not_found(self):
        draft = make_article(slug="borrador", published=False)
        self.assertEqual(
            self.client.post("/help/no-such-article/vote/", {"value": "like"}).status_code, 404
        )
        self.assertEqual(
            self.client.post(f"/help/{draft.slug}/vote/", {"value": "like"}).status_code, 404
        )
        self.assertFalse(Vote.objects.exists())

    def test_voting_needs_a_post(self):
        self.assertEqual(self.client.get(self.vote_url + "?value=like").status_code, 405)
        self.assertFalse(Vote.objects.exists())

    def test_after_a_dislike_the_visitor_can_say_what_was_missing(self):
        self.client.post(self.vote_url, {"value": "dislike"})
        html = self.client.get(self.page_url).content.decode()
        self.assertIn('name="comment"', html)
        response = self.client.post(
            f"/help/{self.article.slug}/feedback/",
            {"comment": "  No dice cómo pagar con Nequi <b>ya</b>  "},
        )
        self.assertRedirects(response, self.page_url + "#feedback", fetch_redirect_response=False)
        self.assertEqual(Vote.objects.get().comment, "No dice cómo pagar con Nequi <b>ya</b>")
        html = self.client.get(self.page_url).content.decode()
        self.assertIn("No dice cómo pagar con Nequi &lt;b&gt;ya&lt;/b&gt;", html)

    def test_the_comment_box_is_not_offered_after_a_like(self):
        self.client.post(self.vote_url, {"value": "like"})
        self.assertNotIn('name="comment"', self.client.get(self.page_url).content.decode())

    def test_feedback_needs_a_dislike_first(self):
        feedback_url = f"/help/{self.article.slug}/feedback/"
        self.assertEqual(self.client.post(feedback_url, {"comment": "hola"}).status_code, 400)
        self.client.post(self.vote_url, {"value": "like"})
        self.assertEqual(self.client.post(feedback_url, {"comment": "hola"}).status_code, 400)
        self.assertEqual(Vote.objects.get().comment, "")

    def test_a_too_long_comment_is_refused(self):
        self.client.post(self.vote_url, {"value": "dislike"})
        response = self.client.post(f"/help/{self.article.slug}/feedback/", {"comment": "x" * 1001})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(Vote.objects.get().comment, "")

    def test_the_service_refuses_unknown_values_and_anonymous_votes_without_visitor(self):
        with self.assertRaises(ValidationError):
            services.cast_vote(article=self.article, value="meh", visitor="v1")
        with self.assertRaises(ValueError):
            services.cast_vote(article=self.article, value="like")
        self.assertEqual(self.counts(), (0, 0))

    def test_a_concurrent_first_vote_from_the_same_visitor_becomes_a_change(self):
        # Another request of the same visitor inserted the vote between our lookup and our insert.
        services.cast_vote(article=self.article, value="like", visitor="v1")
        real = services._locked_vote
        with mock.patch.object(
            services,
            "_locked_vote",
            side_effect=[None, real(article=self.article, user=None, visitor="v1")],
        ):
            services.cast_vote(article=self.article, value="dislike", visitor="v1")
        self.assertEqual(self.counts(), (0, 1))
        self.assertCountsMatchRows()


class WithdrawAndCleanTests(BaseTestCase):
    """Issue 11.16: a vote can be withdrawn (no JavaScript); issue 11.6: NUL bytes in comments."""

    client_class = BrowserClient

    def setUp(self) -> None:
        self.article = make_article(title="Cómo pagar en efectivo", slug="pago-efectivo-test")
        self.vote_url = f"/help/{self.article.slug}/vote/"
        self.page_url = f"/help/{self.article.slug}/"
        self.feedback_url = f"/help/{self.article.slug}/feedback/"

    def counts(self) -> tuple[int, int]:
        self.article.refresh_from_db()
        return self.article.like_count, self.article.dislike_count

    def test_a_visitor_can_withdraw_the_vote_with_a_plain_form(self):
        self.client.post(self.vote_url, {"value": "dislike"})
        self.client.post(self.feedback_url, {"comment": "Falta Nequi"})
        html = self.client.get(self.page_url).content.decode()
        self.assertRegex(html, r'<button[^>]*name="value"[^>]*value="withdraw"')
        response = self.client.post(self.vote_url, {"value": "withdraw"})
        self.assertRedirects(response, self.page_url + "#feedback", fetch_redirect_response=False)
        self.assertEqual(self.counts(), (0, 0))
        self.assertFalse(Vote.objects.exists())
        html = self.client.get(self.page_url).content.decode()
        self.assertNotIn('value="withdraw"', html)
        self.assertRegex(html, r'value="dislike"[^>]*aria-pressed="false"')
        # Withdrawing again changes nothing; voting again counts again.
        self.client.post(self.vote_url, {"value": "withdraw"})
        self.assertEqual(self.counts(), (0, 0))
        self.client.post(self.vote_url, {"value": "like"})
        self.assertEqual(self.counts(), (1, 0))
        self.assertEqual(self.counts(), selectors.vote_counts_from_rows(self.article))

    def test_withdrawing_touches_only_the_visitors_own_vote(self):
        BrowserClient().post(self.vote_url, {"value": "like"})
        self.login(self.alice)
        self.client.post(self.vote_url, {"value": "like"})
        self.assertEqual(self.counts(), (2, 0))
        self.client.post(self.vote_url, {"value": "withdraw"})
        self.assertEqual(self.counts(), (1, 0))
        self.assertFalse(Vote.objects.filter(user=self.alice.user).exists())
        self.assertEqual(Vote.objects.count(), 1)

    def test_a_nul_byte_in_a_comment_is_dropped_not_a_server_error(self):
        self.client.post(self.vote_url, {"value": "dislike"})
        response = self.client.post(
            self.feedback_url, {"comment": "No dice\x00 nada\x07 de\r\nNequi\x1b"}
        )
        self.assertRedirects(response, self.page_url + "#feedback", fetch_redirect_response=False)
        self.assertEqual(Vote.objects.get().comment, "No dice nada de\nNequi")


class FeedbackErrorPageTests(BaseTestCase):
    """A refused comment answers 400 with the article and the reason by the comment box."""

    client_class = BrowserClient

    def setUp(self) -> None:
        self.article = make_article(title="Pagar con PSE", slug="pse-feedback-error")
        self.client.post(f"/help/{self.article.slug}/vote/", {"value": "dislike"})

    def test_a_too_long_comment_comes_back_with_the_reason_and_the_text(self):
        typed = "Falta explicar Nequi. " * 60
        response = self.client.post(f"/help/{self.article.slug}/feedback/", {"comment": typed})
        self.assertEqual(response.status_code, 400)
        self.assertTemplateUsed(response, "helpcenter/article.html")
        html = response.content.decode()
        self.assertIn("1000", html)  # "Please keep your comment under 1000 characters."
        self.assertRegex(
            html, r'<textarea[^>]*aria-describedby="id_comment_helptext id_comment_error"'
        )
        self.assertRegex(html, r'<textarea[^>]*aria-invalid="true"')
        self.assertIn('id="id_comment_error"', html)
        self.assertIn("Falta explicar Nequi.", html)
        self.assertEqual(Vote.objects.get().comment, "")
