"""Gateway registry and the outbound-HTTP choke point (``clientarea.lib.http``).

The HTTP tests talk to a throw-away server on 127.0.0.1; nothing leaves the machine.
No database access.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django.fixtures import Settings

from clientarea.lib import http
from clientarea.payments.gateways import enabled_gateways, gateway_codes, get_gateway
from clientarea.payments.gateways.base import (
    CheckoutAction,
    CheckoutRequest,
    Gateway,
    GatewayError,
    NotificationReply,
    PaymentMethod,
    PaymentUpdate,
    ReturnInfo,
    UnknownGateway,
    mask_secret,
    signatures_match,
)
from clientarea.payments.gateways.payu import PayUGateway
from clientarea.payments.gateways.payvalida import PayvalidaGateway

REPO_ROOT = Path(__file__).resolve().parents[4]


class DummyGateway(Gateway):
    """A minimal gateway used to test the registry's lazy import."""

    code = "dummy"
    name = "Dummy"
    methods = (PaymentMethod.OTHER,)

    @property
    def enabled(self) -> bool:
        return True

    def start_checkout(self, request: CheckoutRequest) -> CheckoutAction:
        return CheckoutAction("GET", "https://example.invalid/", {})

    def parse_notification(self, *, body: bytes, content_type: str) -> PaymentUpdate:
        raise GatewayError("not implemented")

    def parse_return(self, params: Mapping[str, str]) -> ReturnInfo:
        raise GatewayError("not implemented")

    def fetch_status(self, reference: str) -> list[PaymentUpdate]:
        return []

    def cancel(self, reference: str) -> bool:
        return False

    def notification_reply(
        self,
        *,
        ok: bool,
        message: str = "",
        invalid_signature: bool = False,
        unknown_reference: bool = False,
    ) -> NotificationReply:
        return NotificationReply(200, "")

    def describe_config(self) -> dict[str, str]:
        return {}


class NotAGateway:
    code = "notagateway"


# ---------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------


def test_default_gateways() -> None:
    assert isinstance(get_gateway("payu"), PayUGateway)
    assert isinstance(get_gateway("payvalida"), PayvalidaGateway)
    assert gateway_codes() == ["payu", "payvalida"]


def test_config_is_read_at_call_time(settings: Settings) -> None:
    settings.PAYU_MERCHANT_ID = "111111"
    payu = get_gateway("payu")
    assert isinstance(payu, PayUGateway)
    assert payu.config.merchant_id == "111111"
    settings.PAYU_MERCHANT_ID = "222222"
    payu = get_gateway("payu")
    assert isinstance(payu, PayUGateway)
    assert payu.config.merchant_id == "222222"
    settings.PAYVALIDA_MERCHANT = "othermerchant"
    payvalida = get_gateway("payvalida")
    assert isinstance(payvalida, PayvalidaGateway)
    assert payvalida.config.merchant == "othermerchant"


def test_unknown_gateway() -> None:
    with pytest.raises(UnknownGateway) as excinfo:
        get_gateway("stripe")
    assert isinstance(excinfo.value, LookupError)
    assert isinstance(excinfo.value, GatewayError)


def test_enabled_gateways_follow_settings(settings: Settings) -> None:
    settings.PAYU_ENABLED = True
    settings.PAYVALIDA_ENABLED = True
    assert [gateway.code for gateway in enabled_gateways()] == ["payu", "payvalida"]
    settings.PAYU_ENABLED = False
    assert [gateway.code for gateway in enabled_gateways()] == ["payvalida"]
    settings.PAYVALIDA_ENABLED = False
    assert enabled_gateways() == []


def test_dotted_path_is_imported_lazily(settings: Settings) -> None:
    settings.PAYMENT_GATEWAYS = {"dummy": f"{__name__}.DummyGateway"}
    assert isinstance(get_gateway("dummy"), DummyGateway)
    assert [gateway.code for gateway in enabled_gateways()] == ["dummy"]
    with pytest.raises(UnknownGateway):
        get_gateway("payu")


@pytest.mark.parametrize(
    ("code", "path"),
    [
        ("ghost", "clientarea.payments.gateways.ghost.GhostGateway"),
        ("notagateway", f"{__name__}.NotAGateway"),
        ("payu", f"{__name__}.DummyGateway"),  # class code "dummy" registered as "payu"
    ],
    ids=["missing-module", "not-a-gateway", "code-mismatch"],
)
def test_misconfigured_paths(settings: Settings, code: str, path: str) -> None:
    settings.PAYMENT_GATEWAYS = {code: path}
    with pytest.raises(ImproperlyConfigured):
        get_gateway(code)


def test_importing_the_registry_imports_no_gateway_and_reads_no_settings() -> None:
    """Gateway modules are imported lazily; nothing touches settings at import time."""
    code = (
        "import sys, clientarea.payments.gateways as g;"
        "print('clientarea.payments.gateways.payu' in sys.modules, 'clientarea.payments.gateways.payvalida' in sys.modules)"
    )
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_mask_secret() -> None:
    assert mask_secret("4Vj8eK4rloUd272L48hsrarnUA") == "4Vj8…UA"
    assert mask_secret("") == "(not set)"
    assert mask_secret("short") == "…"


def test_signatures_match_is_case_insensitive() -> None:
    assert signatures_match("abcdef01", "ABCDEF01")
    assert not signatures_match("abcdef01", "abcdef02")
    assert not signatures_match("abcdef01", "")


# ---------------------------------------------------------------------------------------
# Outbound HTTP choke point
# ---------------------------------------------------------------------------------------


class _EchoHandler(BaseHTTPRequestHandler):
    """Echoes the request as JSON; ``/status/<n>`` answers with that status, ``/slow`` sleeps."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/slow"):
            time.sleep(1.5)
        status = (
            int(self.path.split("/")[2].split("?")[0]) if self.path.startswith("/status/") else 200
        )
        payload = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "body": body.decode("utf-8"),
                "content_type": self.headers.get("Content-Type"),
                "accept": self.headers.get("Accept"),
                "price": 1.10,
            }
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def echo_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_json_post(echo_server: str) -> None:
    response = http.request_json(
        "POST", f"{echo_server}/api", json_body={"amount": Decimal("1.50"), "name": "María"}
    )
    assert response.status == 200 and response.ok
    echoed = response.json()
    assert echoed["method"] == "POST"
    assert json.loads(echoed["body"]) == {"amount": "1.50", "name": "María"}
    assert echoed["content_type"].startswith("application/json")
    assert echoed["accept"] == "application/json"
    assert echoed["price"] == Decimal("1.10") and isinstance(echoed["price"], Decimal)
    assert response.headers["content-type"] == "application/json"


def test_form_post_and_params(echo_server: str) -> None:
    response = http.request_json(
        "POST", f"{echo_server}/form?a=1", form={"x": "1 2", "y": None}, params={"b": "ñ"}
    )
    echoed = response.json()
    assert echoed["body"] == "x=1+2&y="
    assert echoed["content_type"] == "application/x-www-form-urlencoded"
    assert echoed["path"] == "/form?a=1&b=%C3%B1"


def test_delete_without_body(echo_server: str) -> None:
    echoed = http.request_json("DELETE", f"{echo_server}/orders/1", params={"merchant": "m"}).json()
    assert (echoed["method"], echoed["path"], echoed["body"]) == (
        "DELETE",
        "/orders/1?merchant=m",
        "",
    )


def test_error_statuses_are_returned_not_raised(echo_server: str) -> None:
    response = http.request_json("GET", f"{echo_server}/status/503")
    assert response.status == 503 and not response.ok
    assert response.json()["path"] == "/status/503"


def test_timeout_raises_http_error(echo_server: str) -> None:
    with pytest.raises(http.HttpError):
        http.request_json("GET", f"{echo_server}/slow", timeout=0.3)


def test_connection_refused_raises_http_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(http.HttpError):
        http.request_json("GET", f"http://127.0.0.1:{port}/", timeout=2)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.invalid/x", "gopher://x"])
def test_non_http_schemes_refused(url: str) -> None:
    with pytest.raises(http.HttpError):
        http.request_json("GET", url)


def test_json_and_form_together_refused() -> None:
    with pytest.raises(ValueError):
        http.request_json("POST", "http://127.0.0.1/", json_body={}, form={})


def test_send_is_the_single_patch_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake with exactly ``send(method, url, body, headers)`` receives every request."""
    calls = []

    def fake_send(
        method: str, url: str, body: bytes | None, headers: Mapping[str, str]
    ) -> http.HttpResponse:
        calls.append((method, url, body, dict(headers)))
        return http.HttpResponse(200, b'{"ok": true}', {})

    monkeypatch.setattr(http, "send", fake_send)
    response = http.request_json(
        "POST", "https://api.example/x", json_body={"a": 1}, params={"q": "1"}, timeout=3
    )
    assert response.json() == {"ok": True}
    assert calls[0][0:3] == ("POST", "https://api.example/x?q=1", b'{"a": 1}')


def test_logs_carry_no_query_string(echo_server: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="clientarea.lib.http"):
        http.request_json(
            "GET", f"{echo_server}/porders/1", params={"checksum": "SECRET-CHECKSUM-VALUE"}
        )
    assert caplog.records
    assert "SECRET-CHECKSUM-VALUE" not in caplog.text
    assert "/porders/1" in caplog.text


def test_non_json_body_raises_value_error() -> None:
    with pytest.raises(ValueError):
        http.HttpResponse(200, b"<html>", {}).json()
