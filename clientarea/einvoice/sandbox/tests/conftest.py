"""Fixtures for the DIAN simulator tests: a test urlconf, the SOAP poster, signed documents."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from lxml import etree

from . import contract, documents, wss

URL = "/sandbox/dian/WcfDianCustomerServices.svc"
PRODUCTION_URL = "/sandbox/dian/produccion/WcfDianCustomerServices.svc"
NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "w": "http://wcf.dian.colombia",
    "b": "http://schemas.datacontract.org/2004/07/DianResponse",
    "c": "http://schemas.microsoft.com/2003/10/Serialization/Arrays",
    "u": "http://schemas.datacontract.org/2004/07/UploadDocumentResponse",
    "x": "http://schemas.datacontract.org/2004/07/XmlParamsResponseTrackId",
    "n": "http://schemas.datacontract.org/2004/07/NumberRangeResponseList",
    "r": "http://schemas.datacontract.org/2004/07/NumberRangeResponse",
    "e": "http://schemas.datacontract.org/2004/07/EventResponse",
    "i": "http://www.w3.org/2001/XMLSchema-instance",
}


@dataclass
class Answer:
    status: int
    body: bytes
    root: etree._Element | None

    def text(self, path: str) -> str:
        assert self.root is not None
        found = self.root.xpath(path, namespaces=NS)
        return (found[0].text or "") if found else ""

    def all(self, path: str) -> list[str]:
        assert self.root is not None
        found = self.root.xpath(path, namespaces=NS)
        return [str(el) if isinstance(el, str) else (el.text or "") for el in found]

    def dian(self, index: int = 0) -> dict:
        """The fields of the index-th DianResponse in the body."""
        assert self.root is not None
        results = self.root.xpath("//b:IsValid/..", namespaces=NS)
        node = results[index]
        value = lambda name: node.findtext(f"{{{NS['b']}}}{name}") or ""  # noqa: E731
        return {
            "IsValid": value("IsValid") == "true",
            "StatusCode": value("StatusCode"),
            "StatusDescription": value("StatusDescription"),
            "StatusMessage": value("StatusMessage"),
            "ErrorMessage": [
                e.text for e in node.iterfind(f"{{{NS['b']}}}ErrorMessage/{{{NS['c']}}}string")
            ],
            "XmlBase64Bytes": value("XmlBase64Bytes"),
            "XmlDocumentKey": value("XmlDocumentKey"),
            "XmlFileName": value("XmlFileName"),
        }

    @property
    def fault_reason(self) -> str:
        return self.text("//s:Fault/s:Reason/s:Text")

    @property
    def fault_detail(self) -> str:
        return self.text("//s:Fault/s:Detail/SimulatorReason")


@pytest.fixture
def post(client):
    def send(body: bytes, *, url: str = URL, content_type: str | None = None) -> Answer:
        response = client.generic(
            "POST", url, body,
            content_type=content_type or 'application/soap+xml;charset=UTF-8',
        )  # fmt: skip
        try:
            root = etree.fromstring(response.content)
        except etree.XMLSyntaxError:
            root = None
        if response.status_code == 200 and root is not None:
            # every answer the simulator gives must fit DIAN's own service contract
            body = root.find(f"{{{NS['s']}}}Body")
            assert body is not None and len(body) == 1
            assert contract.errors(body[0]) == []
        return Answer(response.status_code, response.content, root)

    return send


@pytest.fixture
def call(post):
    """Sign and post one operation; keyword arguments go to :func:`wss.request`."""

    def send(operation: str, params: dict[str, str], *, url: str = URL, **kwargs) -> Answer:
        return post(wss.request(operation, params, **kwargs), url=url)

    return send


@pytest.fixture
def signed_invoice():
    """A fresh, valid, signed invoice (bytes) and its unsigned root."""

    def make(**overrides) -> tuple[bytes, etree._Element]:
        root = documents.invoice(**overrides)
        return documents.sign(root), root

    return make
