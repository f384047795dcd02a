"""HTTP to DIAN's web service: kept-alive connections and separate connect and read timeouts.

DIAN's own server gives up after 59 s (``dian-webservice.md`` §1.2), so a read may take a
minute, while a connection that does not open in a few seconds means DIAN (or the network) is
down and the invoice should be retried later. ``urllib`` (behind ``clientarea.lib.http.send``)
takes one timeout for both, so the DIAN client sends through this module instead: the standard
library's ``http.client`` with ``connect_timeout`` for opening the connection and ``timeout``
for every read.

Each thread keeps one open connection per host and reuses it (the TLS handshake and the TCP
setup are paid once per worker thread, not once per document). A kept connection that the
server closed while idle fails before any answer is read; the request is then sent once more
on a fresh connection. That repeat is harmless for DIAN: a document sent twice is answered
"already processed" (rule 90) with the first answer.

The contract is the project's: ``send(method, url, body, headers, timeout=...)`` returns a
``clientarea.lib.http.HttpResponse`` whatever the status, and raises
``clientarea.lib.http.HttpError`` (its ``__cause__`` the socket error, e.g. ``TimeoutError``)
for network failures, timeouts and refused URLs. It logs method, URL without query, status and
duration, never a body. Tests replace ``clientarea.einvoice.dian.transport.send``.
"""

from __future__ import annotations

import http.client
import logging
import ssl
import threading
import time
import urllib.parse
from collections.abc import Mapping

from clientarea.lib import http as lib_http

logger = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT = 10.0
_local = threading.local()
#: Failures of a kept connection the server closed while idle (nothing was answered).
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


def _connections() -> dict[tuple[str, str, int], http.client.HTTPConnection]:
    if not hasattr(_local, "connections"):
        _local.connections = {}
    return _local.connections


def close_connections() -> None:
    """Close this thread's kept connections (tests, and a worker thread that ends)."""
    for connection in _connections().values():
        connection.close()
    _connections().clear()


def _open(scheme: str, host: str, port: int, connect_timeout: float, timeout: float):
    if scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=connect_timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(host, port, timeout=connect_timeout)
    connection.connect()
    assert connection.sock is not None
    connection.sock.settimeout(timeout)  # from now on, every read waits up to ``timeout``
    return connection


def _exchange(
    connection: http.client.HTTPConnection,
    method: str,
    target: str,
    body: bytes | None,
    headers: Mapping[str, str],
) -> tuple[int, bytes, dict[str, str], bool]:
    connection.request(method, target, body=body, headers=dict(headers))
    answer = connection.getresponse()
    payload = answer.read(lib_http.MAX_RESPONSE_BYTES + 1)
    if len(payload) <= lib_http.MAX_RESPONSE_BYTES:
        answer.read()  # drain what is left so the connection can be reused
    answer_headers = {key.lower(): value for key, value in answer.getheaders()}
    return answer.status, payload, answer_headers, answer.will_close


def send(
    method: str,
    url: str,
    body: bytes | None,
    headers: Mapping[str, str],
    timeout: float | None = None,
    connect_timeout: float | None = None,
) -> lib_http.HttpResponse:
    """One HTTP request on this thread's kept connection to the URL's host."""
    read_timeout = lib_http.DEFAULT_TIMEOUT if timeout is None else timeout
    connect = DEFAULT_CONNECT_TIMEOUT if connect_timeout is None else connect_timeout
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"} or not parts.hostname:
        raise lib_http.HttpError(f"refused URL {scheme!r}://…")
    port = parts.port or (443 if scheme == "https" else 80)
    key = (scheme, parts.hostname, port)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    safe_url = f"{scheme}://{parts.netloc}{parts.path}"
    method = method.upper()
    connections = _connections()
    started = time.monotonic()
    for attempt in (1, 2):
        connection = connections.pop(key, None)
        reused = connection is not None
        try:
            if connection is None:
                connection = _open(scheme, parts.hostname, port, connect, read_timeout)
            elif connection.sock is not None:
                connection.sock.settimeout(read_timeout)
            status, payload, answer_headers, will_close = _exchange(
                connection, method, target, body, headers
            )
        except _STALE as error:
            if connection is not None:
                connection.close()
            if reused and attempt == 1:
                continue  # the server closed the idle connection: once more on a new one
            raise _failed(method, safe_url, started, error) from error
        except (http.client.HTTPException, OSError) as error:  # timeouts are OSErrors
            if connection is not None:
                connection.close()
            raise _failed(method, safe_url, started, error) from error
        if will_close:
            connection.close()
        else:
            connections[key] = connection
        break
    if len(payload) > lib_http.MAX_RESPONSE_BYTES:
        raise lib_http.HttpError(
            f"{method} {safe_url}: answer larger than {lib_http.MAX_RESPONSE_BYTES} bytes"
        )
    logger.info("HTTP %s %s -> %s in %.2fs", method, safe_url, status, time.monotonic() - started)
    return lib_http.HttpResponse(status=status, body=payload, headers=answer_headers)


def _failed(method: str, url: str, started: float, error: BaseException) -> lib_http.HttpError:
    logger.warning(
        "HTTP %s %s failed after %.2fs: %s",
        method,
        url,
        time.monotonic() - started,
        type(error).__name__,
    )
    return lib_http.HttpError(f"{method} {url} failed: {type(error).__name__}")
