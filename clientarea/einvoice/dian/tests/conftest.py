"""Fixtures for the DIAN client tests: an issuer certificate and a fake HTTP layer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from clientarea.einvoice.dian.client import DianClient
from clientarea.lib import http

URL = "https://vpfe-hab.dian.gov.co/WcfDianCustomerServices.svc"


def make_identity(nit: str = "900373076") -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """An RSA key and a self-signed certificate whose subject carries the NIT (serialNumber),
    as the certificates of Colombian CAs do (``dian-webservice.md`` §1.7)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CO"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Conexcol S.A.S."),
            x509.NameAttribute(NameOID.COMMON_NAME, "Conexcol S.A.S."),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, nit),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return key, cert


@pytest.fixture(scope="session")
def identity() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    return make_identity()


@dataclass
class FakeDian:
    """Stands in for ``clientarea.einvoice.dian.transport.send``: records requests, plays queued answers."""

    answers: list[object] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)

    def queue(self, body: bytes, status: int = 200) -> None:
        self.answers.append(http.HttpResponse(status=status, body=body))

    def fail(self, error: Exception) -> None:
        self.answers.append(error)

    def __call__(
        self, method, url, body, headers, timeout=None, connect_timeout=None
    ) -> http.HttpResponse:
        self.requests.append(
            {
                "method": method,
                "url": url,
                "body": body,
                "headers": dict(headers),
                "timeout": timeout,
                "connect_timeout": connect_timeout,
            }
        )
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, http.HttpResponse)
        return answer


@pytest.fixture
def dian() -> FakeDian:
    return FakeDian()


@pytest.fixture
def client(identity, dian) -> DianClient:
    key, cert = identity
    return DianClient(url=URL, key=key, certificate=cert, timeout=12.5, send=dian)
