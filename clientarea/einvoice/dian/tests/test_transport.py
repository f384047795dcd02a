"""The DIAN client's HTTP: kept-alive connections, a stale one replaced, connect vs read timeouts."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from clientarea.einvoice.dian import transport
from clientarea.lib import http as lib_http


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    connections = 0
    close_after_first = False


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like IIS/WCF

    def setup(self) -> None:
        super().setup()
        assert isinstance(self.server, Server)
        self.server.connections += 1

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        answer = b"echo:" + body
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        assert isinstance(self.server, Server)
        if self.server.close_after_first:
            # Close without saying so, as a server does to an idle kept connection.
            self.close_connection = True

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    transport.close_connections()
    srv.shutdown()
    srv.server_close()


def url(srv: Server) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}/WcfDianCustomerServices.svc"


def test_one_connection_is_kept_for_many_requests(server):
    for i in range(5):
        answer = transport.send("POST", url(server), f"doc {i}".encode(), {}, timeout=5)
        assert answer.status == 200 and answer.body == f"echo:doc {i}".encode()
    assert server.connections == 1


def test_a_connection_the_server_closed_is_replaced_once(server):
    server.close_after_first = True
    for i in range(3):
        answer = transport.send("POST", url(server), f"doc {i}".encode(), {}, timeout=5)
        assert answer.body == f"echo:doc {i}".encode()
    assert server.connections == 3  # each stale connection replaced, every request answered


def test_the_read_timeout_is_not_the_connect_timeout():
    """A server that accepts and never answers: the read gives up after ``timeout``."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    try:
        started = time.monotonic()
        with pytest.raises(lib_http.HttpError) as caught:
            transport.send(
                "POST", f"http://127.0.0.1:{port}/x", b"x", {}, timeout=0.5, connect_timeout=5
            )
        assert 0.4 < time.monotonic() - started < 3
        assert isinstance(caught.value.__cause__, TimeoutError)
    finally:
        listener.close()


def test_refused_schemes_and_connections_are_http_errors():
    with pytest.raises(lib_http.HttpError, match="refused URL"):
        transport.send("POST", "file:///etc/passwd", b"", {}, timeout=1)
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there
    with pytest.raises(lib_http.HttpError) as caught:
        transport.send("POST", f"http://127.0.0.1:{port}/x", b"", {}, timeout=1)
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)
