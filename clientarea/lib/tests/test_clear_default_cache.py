"""Tests empty the default cache after each one; on Redis that must not empty the whole database,
which a bench's or a worker's Huey queue may share (a bench run sharing it lost the jobs queued at that moment)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache

from clientarea.test import clear_default_cache

needs_redis = pytest.mark.skipif(
    "redis" not in str(settings.CACHES["default"]["BACKEND"]).lower(),
    reason="the default cache is Redis only with REDIS_URL",
)


@needs_redis
def test_clearing_the_cache_keeps_another_process_queue_in_the_same_redis_database():
    import redis

    client = redis.Redis.from_url(str(settings.CACHES["default"]["LOCATION"]))
    queue = "huey.redis.someone-elses-queue"
    try:
        cache.set("counter", 3)
        client.lpush(queue, b"a job")
        clear_default_cache()
        assert cache.get("counter") is None
        assert client.lrange(queue, 0, -1) == [b"a job"]
    finally:
        client.delete(queue)
        client.close()
