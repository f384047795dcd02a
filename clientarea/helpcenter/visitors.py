"""Who is reading: bots, and a stable anonymous visitor id kept in a signed cookie.

The visitor id is a random token in a first-party cookie (``hc_visitor``); it counts
views once per day and keeps one vote per browser. The database only stores a SHA-256
of it, so a stored row cannot be turned back into a cookie.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import weakref
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse

VISITOR_COOKIE = "hc_visitor"
VISITOR_COOKIE_SALT = "clientarea.helpcenter.visitor"
VISITOR_COOKIE_MAX_AGE = 365 * 24 * 3600

# Crawlers, link previews, monitors, scripts and headless browsers.
BOT_RE = re.compile(
    r"\bbot\b|bot/|bot;|bot\.html|crawl|spider|slurp|archiver|facebookexternalhit|whatsapp|telegram|slack|discord|preview|"
    r"lighthouse|pagespeed|headless|phantomjs|selenium|playwright|puppeteer|monitor|uptime|pingdom|"
    r"curl|wget|httpie|python|aiohttp|java/|go-http|okhttp|libwww|scrapy|semrush|ahrefs|mj12|yandex|baidu",
    re.IGNORECASE,
)


def is_bot(user_agent: str) -> bool:
    """True for robots and tools, and for requests without a user agent."""
    return not (user_agent or "").strip() or bool(BOT_RE.search(user_agent))


def user_agent(request: HttpRequest) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:500]


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class _Visitor:
    token: str
    new: bool  # made by this request: the response must set the cookie


# The token read or made for each request in flight, so the cookie is read once and a new
# token is set on the response; an entry goes away with its request.
_visitors: weakref.WeakKeyDictionary[HttpRequest, _Visitor] = weakref.WeakKeyDictionary()


def visitor_token(request: HttpRequest) -> str:
    """The browser's visitor token, read from the cookie, or a new one (remembered for this request)."""
    visitor = _visitors.get(request)
    if visitor is None:
        token = request.get_signed_cookie(VISITOR_COOKIE, default=None, salt=VISITOR_COOKIE_SALT)
        if not token or len(token) > 64:
            visitor = _Visitor(token=secrets.token_urlsafe(18), new=True)
        else:
            visitor = _Visitor(token=token, new=False)
        _visitors[request] = visitor
    return visitor.token


def anonymous_visitor(request: HttpRequest) -> str:
    """What is stored for an anonymous browser (a hash of its token)."""
    return _hash("anon:" + visitor_token(request))


def view_visitor(request: HttpRequest) -> str:
    """Who a view is counted for: the user when logged in, else the browser."""
    if request.user.is_authenticated:
        return _hash(f"user:{request.user.pk}")
    return anonymous_visitor(request)


def remember_visitor(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Set the visitor cookie on the response if this request created the token."""
    visitor = _visitors.get(request)
    if visitor is not None and visitor.new:
        response.set_signed_cookie(
            VISITOR_COOKIE,
            visitor.token,
            salt=VISITOR_COOKIE_SALT,
            max_age=VISITOR_COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )
    return response
