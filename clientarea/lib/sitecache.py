"""Site-wide data every page shows (the provider in the header and footer, the help-center links),
and the email template versions in force, kept in each process's memory under a version all
processes share.

The version is one key of the default cache (Redis, or the database cache table): reading it is
one cache read, cheaper than a query the ORM builds. The values live in the per-process ``pages``
cache under that version. A service that changes what is kept calls :func:`changed` inside its
transaction: once the transaction commits, every process reads a new version, so no page shows
the old value after the change is committed (the old entries are never read again and expire).

A version lost from the shared cache (cleared, culled) is replaced by a new random one: the next
read of each value goes to the database, never to an entry of an older version.

Within one request (``SiteDataMiddleware``) the version is read once, however many values the
page shows (a change the request itself commits shows in the rest of it).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar, cast

from django.core.cache import caches
from django.db import transaction

T = TypeVar("T")

VERSION_KEY = "site-data:version"
LOCAL_CACHE = "pages"
SHARED_CACHE = "default"
_MISSING = object()
#: Set only inside ``request_scope()``: the version read once for that request.
_scope: ContextVar[dict[str, str] | None] = ContextVar("site_data_scope", default=None)


@contextmanager
def request_scope() -> Iterator[None]:
    """Within this block (one request, or one batch of work such as the emails of a billing run's
    chunk), the version is read from the shared cache at most once. Inside a scope already open
    (a batch within a request) it is that scope."""
    if _scope.get() is not None:
        yield
        return
    token = _scope.set({})
    try:
        yield
    finally:
        _scope.reset(token)


def version() -> str:
    """The current version of the site data (one read of the shared cache, once per scope)."""
    scope = _scope.get()
    if scope is None:
        return _read_version()
    if "version" not in scope:
        scope["version"] = _read_version()
    return scope["version"]


def _read_version() -> str:
    shared = caches[SHARED_CACHE]
    current = shared.get(VERSION_KEY)
    if current is None:
        new = secrets.token_hex(8)
        if shared.add(VERSION_KEY, new, timeout=None):
            return new
        current = shared.get(VERSION_KEY)  # another process set it first
        if current is None:  # lost again at once: a version nobody shares (never stale)
            return new
    return str(current)


def cached(key: str, read: Callable[[], T]) -> T:
    """``read()``'s value kept in this process under the current version and ``key``."""
    local = caches[LOCAL_CACHE]
    full_key = f"site-data:{version()}:{key}"
    value = local.get(full_key, _MISSING)
    if value is _MISSING:
        value = read()
        local.set(full_key, value)
    return cast(T, value)


def changed() -> None:
    """The site data changed: a new version now, so the rest of this transaction reads the
    change, and again once the transaction commits, so that a value another process read before
    the commit (the old data) under the first new version is never read again."""
    _new_version()
    transaction.on_commit(_new_version)


def _new_version() -> None:
    new = secrets.token_hex(8)
    caches[SHARED_CACHE].set(VERSION_KEY, new, timeout=None)
    scope = _scope.get()
    if scope is not None:  # the rest of this request shows the change too
        scope["version"] = new


class SiteDataMiddleware:
    """Each request reads the site data's version at most once (``request_scope``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with request_scope():
            return self.get_response(request)
