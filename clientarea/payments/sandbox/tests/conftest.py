"""Fixtures for the gateway simulator tests: a fake HTTP choke point, Huey's schedule, form builders.

Signatures in these helpers are computed with ``hashlib`` directly, not with the
simulator's own ``payu_protocol``: a mistake there must make the tests fail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import pytest
from huey.contrib.djhuey import HUEY

from clientarea.lib.http import HttpResponse

PAYU = {
    "PAYU_MERCHANT_ID": "508029",
    "PAYU_ACCOUNT_ID": "512321",
    "PAYU_API_LOGIN": "pRRXKOl8ikMmt9u",
    "PAYU_API_KEY": "4Vj8eK4rloUd272L48hsrarnUA",
    "PAYU_SECRET_KEY": "",
}
PAYVALIDA = {
    "PAYVALIDA_MERCHANT": "conexcoltest",
    "PAYVALIDA_FIXED_HASH": "fixed-hash-for-tests",
    "PAYVALIDA_NOTIFICATION_HASH": "notification-hash-for-tests",
}
API_KEY = PAYU["PAYU_API_KEY"]


@pytest.fixture(autouse=True)
def gateway_settings(settings):
    """Known credentials for every test (the simulator reads them at call time)."""
    for name, value in {**PAYU, **PAYVALIDA}.items():
        setattr(settings, name, value)
    settings.SITE_URL = "http://testserver"
    return settings


@pytest.fixture(autouse=True)
def huey_storage():
    """Huey runs inline in tests; its in-memory schedule (retries) is emptied around each test."""
    HUEY.storage.flush_all()
    yield HUEY
    HUEY.storage.flush_all()


def run_retries(max_rounds: int = 20) -> int:
    """Execute every retry Huey scheduled (immediate mode parks them in the schedule). Returns how many ran."""
    far_future = dt.datetime(2999, 1, 1)
    ran = 0
    for _ in range(max_rounds):
        due = HUEY.read_schedule(far_future)
        if not due:
            return ran
        for task in due:
            HUEY.execute(task, timestamp=far_future)  # as if the retry delay had passed
            ran += 1
    return ran


@dataclass
class FakeHttp:
    """Replaces ``clientarea.lib.http.send``: records requests, answers from a script (default 200 "OK")."""

    answers: list[HttpResponse] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: float | None = None,
    ) -> HttpResponse:
        self.calls.append({"method": method, "url": url, "body": body, "headers": dict(headers)})
        if self.answers:
            return self.answers.pop(0)
        return HttpResponse(200, b"OK", {})

    def form(self, index: int = -1) -> dict[str, str]:
        """The form fields of a recorded (PayU) request."""
        return dict(
            urllib.parse.parse_qsl(self.calls[index]["body"].decode(), keep_blank_values=True)
        )

    def json(self, index: int = -1) -> dict[str, Any]:
        return json.loads(self.calls[index]["body"])


@pytest.fixture
def fake_http():
    fake = FakeHttp()
    with mock.patch("clientarea.lib.http.send", fake):
        yield fake


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Context manager running ``on_commit`` callbacks (the delivery task) as the block ends."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


# --- PayU form helpers ---------------------------------------------------------------------


def payu_sign(text: str, algorithm: str = "MD5", key: str = API_KEY) -> str:
    data = text.encode()
    if algorithm == "MD5":
        return hashlib.md5(data).hexdigest()
    if algorithm == "SHA":
        return hashlib.sha1(data).hexdigest()
    if algorithm == "SHA256":
        return hashlib.sha256(data).hexdigest()
    return hmac.new(key.encode(), data, hashlib.sha256).hexdigest()


_ref_counter = iter(range(1, 10_000))


def payu_form(algorithm: str | None = None, **overrides: str) -> dict[str, str]:
    """A valid WebCheckout form (amount 119000 COP, 19% VAT), signed with ``algorithm``."""
    data = {
        "merchantId": "508029",
        "accountId": "512321",
        "description": "Hosting Plan Pro 1 year",
        "referenceCode": f"CA-TEST-{next(_ref_counter)}",
        "amount": "119000",
        "tax": "19000",
        "taxReturnBase": "100000",
        "currency": "COP",
        "buyerEmail": "alice@example.com",
        "buyerFullName": "Alice Gómez",
        "test": "1",
        "responseUrl": "http://testserver/payments/payu/response/",
        "confirmationUrl": "http://testserver/payments/payu/confirmation/",
    }
    data.update(overrides)
    if algorithm:
        data["algorithmSignature"] = algorithm
    if "signature" not in overrides:
        parts = [
            API_KEY,
            data["merchantId"],
            data["referenceCode"],
            data["amount"],
            data["currency"],
        ]
        # payment-form.html: paymentMethods~iin~pseBanks appended in that order, each only
        # when not blank (PayU's example form on that page).
        parts += [data[name] for name in ("paymentMethods", "iin", "pseBanks") if data.get(name)]
        data["signature"] = payu_sign("~".join(parts), algorithm or "MD5")
    return data


def confirmation_new_value(value: str) -> str:
    """Test-side copy of the confirmation rule, written on the string like PayU's 2026 PHP sample."""
    whole, _, decimals = value.partition(".")
    if not decimals:
        return whole + ".0"
    if len(decimals) > 1 and decimals[1] != "0":
        return f"{whole}.{decimals[:2]}"
    return f"{whole}.{decimals[0]}"
