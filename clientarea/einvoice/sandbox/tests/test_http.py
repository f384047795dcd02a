"""Over real HTTP (live server): a round trip, and the timeout fault seen by a client with a timeout."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest
from lxml import etree

from clientarea.einvoice.sandbox import faults, services

from . import documents, wss
from .conftest import NS, URL

pytestmark = pytest.mark.urls("clientarea.einvoice.sandbox.tests.urls")


@pytest.fixture(autouse=True)
def seeded(transactional_db):
    """Live-server tests flush the database afterwards, the data migration's rows included."""
    services.seed()


HEADERS = {
    "Content-Type": 'application/soap+xml;charset=UTF-8;action="http://wcf.dian.colombia/IWcfDianCustomerServices/SendBillSync"'
}


def _post(url: str, body: bytes, timeout: float) -> bytes:
    request = urllib.request.Request(url, data=body, headers=HEADERS, method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read()


def test_round_trip_over_http(live_server):
    body = wss.request("SendBillSync", documents.package(documents.sign(documents.invoice())))
    answer = etree.fromstring(_post(live_server.url + URL, body, timeout=30))
    assert answer.findtext(".//b:StatusCode", namespaces=NS) == "00"


def test_timeout_fault_makes_the_client_give_up(live_server):
    faults.arm_fault(kind="timeout", seconds=3)
    body = wss.request("SendBillSync", documents.package(documents.sign(documents.invoice())))
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        _post(live_server.url + URL, body, timeout=1)
    time.sleep(3)  # let the server's request end before the test's database goes away
