"""HTTP helpers: the client address of an inbound request, and the choke point for outbound HTTP.

:func:`client_ip` is the one place that decides which address a request came from
(audit log, login lockout, rate limits, gateway allowlists).

Every request the product makes to a third party (payment gateways, webhooks,
e-invoice transmission) goes through :func:`request_json`, which builds the
request and hands it to :func:`send`. Tests replace ``clientarea.lib.http.send``
with a fake ``send(method, url, body, headers) -> HttpResponse`` and never touch
the network.

Only the standard library is used (``urllib``). Non-2xx answers are *returned*
(the caller decides what a 404 or a 500 means for its protocol); only network
failures, timeouts and refused URLs raise :class:`HttpError`.

Nothing here logs bodies, query strings or headers: they may carry credentials,
checksums or personal data.
"""

from __future__ import annotations

import contextvars
import ipaddress
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import HttpRequest

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 15.0
#: Answers larger than this are refused (a gateway never sends megabytes).
MAX_RESPONSE_BYTES = 5 * 1024 * 1024
USER_AGENT = "ClientArea/1.0 (+https://github.com/clientarea)"

# The timeout travels to ``send`` through a context variable so that the public
# contract of ``send`` stays ``send(method, url, body, headers)``: fakes written
# against that signature keep working, and the real implementation still honours
# the timeout the caller asked for.
_timeout_var: contextvars.ContextVar[float] = contextvars.ContextVar(
    "clientarea_http_timeout", default=DEFAULT_TIMEOUT
)


def client_ip(request: HttpRequest | None) -> str | None:
    """The address the request came from, or None when it is not a valid IP address.

    Without proxies (``PROXY_COUNT=0``) it is ``REMOTE_ADDR``. Behind ``PROXY_COUNT`` proxies
    of our own, each appends the address it received the request from to
    ``X-Forwarded-For``, so the client is the ``PROXY_COUNT``-th entry from the right;
    entries further left were written by the client and are never trusted.
    """
    if request is None:
        return None
    candidate = request.META.get("REMOTE_ADDR", "")
    count = getattr(settings, "PROXY_COUNT", 0) or 0
    if count > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= count:
            candidate = forwarded[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


class HttpError(Exception):
    """The request did not produce an HTTP answer (network failure, timeout, bad URL)."""


@dataclass(frozen=True)
class HttpResponse:
    """An HTTP answer: status code, raw body and (lower-cased) headers."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True for 2xx answers."""
        return 200 <= self.status < 300

    def json(self) -> Any:
        """Decode the body as JSON; non-integer numbers become ``Decimal`` (never float).

        Raises ``ValueError`` when the body is not valid UTF-8 JSON.
        """
        return json.loads(self.body.decode("utf-8"), parse_float=Decimal)

    def text(self) -> str:
        """The body decoded as UTF-8 (invalid bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")


def _json_default(value: Any) -> Any:
    """Serialise ``Decimal`` as its exact string; refuse anything else unknown."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _safe_url_for_log(url: str) -> str:
    """The URL without query string or credentials, for log lines."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def _with_params(url: str, params: Mapping[str, Any] | None) -> str:
    """Append ``params`` to the query string of ``url`` (existing parameters are kept)."""
    if not params:
        return url
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query.extend((str(key), "" if value is None else str(value)) for key, value in params.items())
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Do not follow redirects: a gateway API that redirects is answered as-is."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def send(
    method: str,
    url: str,
    body: bytes | None,
    headers: Mapping[str, str],
    timeout: float | None = None,
) -> HttpResponse:
    """Perform one HTTP request and return the answer, whatever its status.

    This is the lowest level and the one place tests patch. ``timeout`` defaults to
    the value :func:`request_json` asked for (or :data:`DEFAULT_TIMEOUT`).
    Raises :class:`HttpError` for refused schemes, network errors and timeouts.
    """
    effective_timeout = _timeout_var.get() if timeout is None else timeout
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in {"http", "https"}:
        # urllib would happily open file:// or ftp:// URLs; a misconfigured setting
        # must never turn into a local file read.
        raise HttpError(f"refused URL scheme {scheme!r}")
    request = urllib.request.Request(url, data=body, method=method.upper())  # noqa: S310 (scheme checked above)
    for name, value in headers.items():
        request.add_header(name, value)
    started = time.monotonic()
    try:
        with _opener.open(request, timeout=effective_timeout) as answer:
            status = answer.status
            payload = answer.read(MAX_RESPONSE_BYTES + 1)
            answer_headers = {key.lower(): value for key, value in answer.headers.items()}
    except urllib.error.HTTPError as error:
        status = error.code
        payload = error.read(MAX_RESPONSE_BYTES + 1) if error.fp is not None else b""
        answer_headers = {key.lower(): value for key, value in (error.headers or {}).items()}
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
        elapsed = time.monotonic() - started
        logger.warning(
            "HTTP %s %s failed after %.2fs: %s",
            method.upper(),
            _safe_url_for_log(url),
            elapsed,
            type(error).__name__,
        )
        raise HttpError(
            f"{method.upper()} {_safe_url_for_log(url)} failed: {type(error).__name__}"
        ) from error
    if len(payload) > MAX_RESPONSE_BYTES:
        raise HttpError(
            f"{method.upper()} {_safe_url_for_log(url)}: answer larger than {MAX_RESPONSE_BYTES} bytes"
        )
    elapsed = time.monotonic() - started
    logger.info(
        "HTTP %s %s -> %s in %.2fs", method.upper(), _safe_url_for_log(url), status, elapsed
    )
    return HttpResponse(status=status, body=payload, headers=answer_headers)


def request_json(
    method: str,
    url: str,
    *,
    json_body: Any = None,
    params: Mapping[str, Any] | None = None,
    form: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> HttpResponse:
    """Send a request that expects a JSON answer and return the :class:`HttpResponse`.

    ``json_body`` is serialised as JSON (``Decimal`` as an exact string), ``form`` as
    ``application/x-www-form-urlencoded`` (not both); ``params`` are added to the
    query string. The answer is returned for every status code; call
    ``response.json()`` to decode it. Raises :class:`HttpError` on network failure
    or timeout.
    """
    if json_body is not None and form is not None:
        raise ValueError("pass json_body or form, not both")
    final_headers: dict[str, str] = {"Accept": "application/json", "User-Agent": USER_AGENT}
    body: bytes | None = None
    if json_body is not None:
        body = json.dumps(json_body, default=_json_default, ensure_ascii=False).encode("utf-8")
        final_headers["Content-Type"] = "application/json; charset=utf-8"
    elif form is not None:
        body = urllib.parse.urlencode(
            {key: "" if value is None else str(value) for key, value in form.items()}
        ).encode("ascii")
        final_headers["Content-Type"] = "application/x-www-form-urlencoded"
    if headers:
        final_headers.update(headers)
    token = _timeout_var.set(timeout)
    try:
        return send(method.upper(), _with_params(url, params), body, final_headers)
    finally:
        _timeout_var.reset(token)
