"""Site data kept in each process under a shared version: read once, read again after a change
(now and once the change commits), and never served from an older version."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.db import transaction

from clientarea.lib import sitecache

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty():
    caches["default"].delete(sitecache.VERSION_KEY)
    caches["pages"].clear()
    yield
    caches["default"].delete(sitecache.VERSION_KEY)


class Source:
    """What the database holds, and how many times it was read."""

    def __init__(self, value: str) -> None:
        self.value, self.reads = value, 0

    def read(self) -> str:
        self.reads += 1
        return self.value


def test_a_value_is_read_once_and_again_after_a_change():
    source = Source("Conexcol")
    assert sitecache.cached("name", source.read) == "Conexcol"
    assert sitecache.cached("name", source.read) == "Conexcol"
    assert source.reads == 1
    source.value = "Conexcol Colombia"
    sitecache.changed()  # outside a transaction: at once
    assert sitecache.cached("name", source.read) == "Conexcol Colombia"
    assert source.reads == 2


def test_a_lost_version_means_reading_again_never_an_older_entry():
    source = Source("old")
    sitecache.cached("name", source.read)
    source.value = "new"
    caches["default"].delete(sitecache.VERSION_KEY)  # evicted, or the cache was cleared
    assert sitecache.cached("name", source.read) == "new"


def test_what_another_process_read_before_the_commit_is_not_served_after_it(
    django_capture_on_commit_callbacks,
):
    source = Source("old")
    sitecache.cached("name", source.read)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        sitecache.changed()
        # Another process, before the commit, reads the old row under the new version.
        assert sitecache.cached("name", source.read) == "old"
        source.value = "new"  # the row as committed
    assert sitecache.cached("name", source.read) == "new"


def test_a_request_reads_the_version_once_and_sees_its_own_change():
    source = Source("a")
    with sitecache.request_scope():
        first = sitecache.version()
        # Another process changes the data: this request goes on with the version it read.
        caches["default"].set(sitecache.VERSION_KEY, "from-another-process")
        assert sitecache.version() == first
        sitecache.changed()  # this request's own change shows in the rest of it
        assert sitecache.version() not in (first, "from-another-process")
        assert sitecache.cached("name", source.read) == "a"
    assert sitecache.version() != first
