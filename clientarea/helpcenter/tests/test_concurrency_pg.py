"""Concurrent requests on PostgreSQL: counters lose nothing (threads, each with its own connection)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from clientarea.helpcenter import selectors, services
from clientarea.helpcenter.models import ArticleView, Vote
from clientarea.helpcenter.tests.helpers import FIREFOX, make_article

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 12
PER_THREAD = 15


def run_in_threads(work) -> set[int]:
    """Run ``work(i)`` in THREADS threads started together; returns the database backend pids used."""
    barrier = threading.Barrier(THREADS)
    pids: set[int] = set()
    errors: list[BaseException] = []

    def target(i: int) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pids.add(cursor.fetchone()[0])
            barrier.wait()
            work(i)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return pids


def test_concurrent_views_are_all_counted_and_duplicates_once():
    article = make_article(slug="concurrent-views")

    def work(i: int) -> None:
        for j in range(PER_THREAD):
            services.record_view(
                article=article, visitor=f"visitor-{i}-{j}", user_agent=FIREFOX, is_staff=False
            )
            services.record_view(
                article=article, visitor="everyone", user_agent=FIREFOX, is_staff=False
            )

    pids = run_in_threads(work)
    assert len(pids) == THREADS  # really separate connections
    article.refresh_from_db()
    assert article.view_count == THREADS * PER_THREAD + 1
    assert ArticleView.objects.filter(article=article).count() == THREADS * PER_THREAD + 1


def test_concurrent_votes_keep_counters_equal_to_the_votes():
    article = make_article(slug="concurrent-votes")

    def work(i: int) -> None:
        for j in range(PER_THREAD):
            services.cast_vote(
                article=article, value="like" if j % 3 else "dislike", visitor=f"voter-{i}-{j}"
            )
            # Everyone also changes the same shared visitor's vote back and forth.
            services.cast_vote(
                article=article, value="like" if (i + j) % 2 else "dislike", visitor="shared"
            )

    run_in_threads(work)
    article.refresh_from_db()
    likes, dislikes = selectors.vote_counts_from_rows(article)
    assert (article.like_count, article.dislike_count) == (likes, dislikes)
    assert likes + dislikes == THREADS * PER_THREAD + 1
    assert Vote.objects.filter(article=article, visitor="shared").count() == 1
