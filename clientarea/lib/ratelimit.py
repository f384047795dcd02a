"""Throttling of public forms (django-ratelimit, counting in Django's cache).

``throttle`` wraps a view with one or more limits, each counted per value of its key (the
client address, the email typed in the form...). Every limit is counted on every matching
request; when any is exceeded the view does not run and the person gets the
"too many requests" page (HTTP 429 with ``Retry-After`` for machines), saying how long to
wait. A key that yields no value (an empty form field) is not counted.

The cache is Redis when ``REDIS_URL`` is set, otherwise a database table shared by every
process on the machine (``CACHES`` in settings).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_ratelimit.core import get_usage

from clientarea.lib.http import client_ip

KeyFunction = Callable[[HttpRequest], str]


def by_ip(request: HttpRequest) -> str:
    """The client address (``PROXY_COUNT`` honoured): see ``clientarea.lib.http.client_ip``."""
    return client_ip(request) or ""


def by_post_field(name: str) -> KeyFunction:
    """A form field, trimmed and in lower case (``Ana@X.com`` and ``ana@x.com `` count together)."""

    def key(request: HttpRequest) -> str:
        return str(request.POST.get(name, "")).strip().lower()[:254]

    key.__name__ = f"post_{name}"
    return key


@dataclass(frozen=True)
class Limit:
    key: KeyFunction
    rate: str  # django-ratelimit syntax: "5/h", "3/15m", "60/m"


def seconds_to_wait(
    request: HttpRequest, *, group: str, limits: tuple[Limit, ...], method: str
) -> int | None:
    """Count this request against every limit; the seconds to wait when one is exceeded."""
    wait: int | None = None
    for index, limit in enumerate(limits):
        value = limit.key(request)
        if not value:
            continue
        usage = get_usage(
            request,
            group=f"{group}:{index}",
            key=lambda _group, _request, value=value: value,
            rate=limit.rate,
            method=method,
            increment=True,
        )
        if usage is not None and usage["should_limit"]:
            left = max(int(usage["time_left"]), 1)
            wait = max(wait or 0, left)
    return wait


def failures_wait(request: HttpRequest, *, group: str, limit: Limit) -> int | None:
    """The seconds to wait when the failures counted under the request's key (``count_failure``)
    reached ``limit`` in its window; None while under it. Counts nothing."""
    usage = _failures(request, group=group, limit=limit, increment=False)
    if usage is None or usage["count"] < usage["limit"]:
        return None
    return max(int(usage["time_left"]), 1)


def count_failure(request: HttpRequest, *, group: str, limit: Limit) -> None:
    """Count one failure (a wrong login...) under the request's key, for ``failures_wait``."""
    _failures(request, group=group, limit=limit, increment=True)


def _failures(
    request: HttpRequest, *, group: str, limit: Limit, increment: bool
) -> dict[str, Any] | None:
    value = limit.key(request)
    if not value:
        return None
    return get_usage(
        request,
        group=f"{group}:failures",
        key=lambda _group, _request: value,
        rate=limit.rate,
        method=get_usage.ALL,
        increment=increment,
    )


def too_many_requests(request: HttpRequest, seconds: int) -> HttpResponse:
    """The page (and status) a throttled request gets."""
    minutes = max(1, math.ceil(seconds / 60))
    response = render(
        request, "throttled.html", {"minutes": minutes, "seconds": seconds}, status=429
    )
    response["Retry-After"] = str(seconds)
    return response


def throttle(*, group: str, limits: tuple[Limit, ...], method: str = "POST") -> Callable:
    """Decorate a view: requests with ``method`` are counted against ``limits``."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            wait = seconds_to_wait(request, group=group, limits=limits, method=method)
            if wait is not None:
                return too_many_requests(request, wait)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
