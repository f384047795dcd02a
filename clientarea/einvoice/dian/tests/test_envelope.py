"""The signed request envelope: DIAN's header layout, and a WS-Security signature that an
independent implementation (xmlsec1, the XML Security Library) verifies."""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from clientarea.einvoice.dian import envelope

from .conftest import URL, make_identity

NS = {
    "soap": envelope.SOAP,
    "wsa": envelope.WSA,
    "wsse": envelope.WSSE,
    "wsu": envelope.WSU,
    "ds": envelope.DS,
    "wcf": envelope.WCF,
}
NOW = dt.datetime(2026, 3, 1, 15, 0, 0, 123456, tzinfo=dt.UTC)

XMLSEC1 = shutil.which("xmlsec1")
requires_xmlsec1 = pytest.mark.skipif(
    XMLSEC1 is None, reason="xmlsec1 (the XML Security Library's tool) not installed"
)


def build(identity, **overrides) -> bytes:
    key, cert = identity
    values = dict(
        operation="SendBillSync",
        params=[("fileName", "z0900373076000260000001f.zip"), ("contentFile", "UEsDBA==")],
        to=URL,
        key=key,
        certificate=cert,
    )
    values.update(overrides)
    return envelope.build_request(**values)


def xmlsec1_verify(tmp_path: Path, request: bytes) -> subprocess.CompletedProcess:
    """``xmlsec1 --verify`` with the certificate taken from the request's own
    BinarySecurityToken: success proves that token's key made the signature."""
    root = etree.fromstring(request)
    token = root.findtext(".//wsse:BinarySecurityToken", namespaces=NS)
    cert = x509.load_der_x509_certificate(base64.b64decode(token))
    (tmp_path / "token.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "request.xml").write_bytes(request)
    assert XMLSEC1 is not None
    return subprocess.run(
        [
            XMLSEC1, "--verify",
            "--pubkey-cert-pem", str(tmp_path / "token.pem"),
            "--id-attr:Id", f"{envelope.WSU}:Timestamp",
            "--id-attr:Id", f"{envelope.WSA}:To",
            str(tmp_path / "request.xml"),
        ],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


@requires_xmlsec1
def test_xmlsec1_verifies_the_ws_security_signature(identity, tmp_path):
    result = xmlsec1_verify(tmp_path, build(identity))
    assert result.returncode == 0, result.stderr
    assert "SignedInfo References (ok/all): 2/2" in result.stderr


@requires_xmlsec1
@pytest.mark.parametrize(
    ("old", "new"),
    [
        (URL.encode(), b"https://vpfe.dian.gov.co/WcfDianCustomerServices.svc"),  # wsa:To
        (b"2026-03-01T15:05:00.123Z", b"2026-03-01T16:05:00.123Z"),  # Timestamp Expires
    ],
)
def test_xmlsec1_refuses_a_request_changed_after_signing(identity, tmp_path, old, new):
    request = build(identity, now=NOW)
    assert old in request
    result = xmlsec1_verify(tmp_path, request.replace(old, new))
    assert result.returncode != 0


@requires_xmlsec1
def test_xmlsec1_refuses_a_signature_made_with_another_key(identity, tmp_path):
    """The token says one certificate, the signature was made with another key."""
    request = build(identity)
    key, _ = make_identity()
    forged = build((key, identity[1]))
    assert xmlsec1_verify(tmp_path, request).returncode == 0
    assert xmlsec1_verify(tmp_path, forged).returncode != 0


def test_header_layout_is_the_one_dian_expects(identity):
    """Security (Timestamp, token, signature), then Action, then To; the body in XSD order."""
    _key, cert = identity
    root = etree.fromstring(build(identity, now=NOW))
    header = root.find("soap:Header", NS)
    assert [etree.QName(e).localname for e in header] == ["Security", "Action", "To"]
    security = header.find("wsse:Security", NS)
    assert [etree.QName(e).localname for e in security] == [
        "Timestamp",
        "BinarySecurityToken",
        "Signature",
    ]
    assert header.findtext("wsa:Action", namespaces=NS) == (
        "http://wcf.dian.colombia/IWcfDianCustomerServices/SendBillSync"
    )
    assert header.findtext("wsa:To", namespaces=NS) == URL
    timestamp = security.find("wsu:Timestamp", NS)
    assert timestamp.findtext("wsu:Created", namespaces=NS) == "2026-03-01T15:00:00.123Z"
    assert timestamp.findtext("wsu:Expires", namespaces=NS) == "2026-03-01T15:05:00.123Z"
    token = security.find("wsse:BinarySecurityToken", NS)
    assert base64.b64decode(token.text) == cert.public_bytes(serialization.Encoding.DER)
    assert token.get("ValueType").endswith("#X509v3")
    assert token.get("EncodingType").endswith("#Base64Binary")
    body = root.find("soap:Body/wcf:SendBillSync", NS)
    assert [(etree.QName(e).localname, e.text) for e in body] == [
        ("fileName", "z0900373076000260000001f.zip"),
        ("contentFile", "UEsDBA=="),
    ]


def test_signature_covers_to_and_timestamp_and_points_at_the_token(identity):
    root = etree.fromstring(build(identity))
    signature = root.find(".//wsse:Security/ds:Signature", NS)
    signed_info = signature.find("ds:SignedInfo", NS)
    c14n = signed_info.find("ds:CanonicalizationMethod", NS)
    assert c14n.get("Algorithm") == "http://www.w3.org/2001/10/xml-exc-c14n#"
    assert c14n[0].get("PrefixList") == "wsa soap wcf"
    assert signed_info.find("ds:SignatureMethod", NS).get("Algorithm").endswith("#rsa-sha256")
    to_id = root.find(".//wsa:To", NS).get(f"{{{envelope.WSU}}}Id")
    ts_id = root.find(".//wsu:Timestamp", NS).get(f"{{{envelope.WSU}}}Id")
    references = {r.get("URI"): r for r in signed_info.findall("ds:Reference", NS)}
    assert set(references) == {f"#{to_id}", f"#{ts_id}"}
    to_transform = references[f"#{to_id}"].find("ds:Transforms/ds:Transform", NS)
    assert to_transform[0].get("PrefixList") == "soap wcf"
    for reference in references.values():
        digest = reference.find("ds:DigestMethod", NS).get("Algorithm")
        assert digest == "http://www.w3.org/2001/04/xmlenc#sha256"
    token_id = root.find(".//wsse:BinarySecurityToken", NS).get(f"{{{envelope.WSU}}}Id")
    reference = signature.find("ds:KeyInfo/wsse:SecurityTokenReference/wsse:Reference", NS)
    assert reference.get("URI") == f"#{token_id}"
    assert reference.get("ValueType").endswith("#X509v3")


def test_the_request_never_carries_the_private_key(identity):
    key, _ = identity
    request = build(identity)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert b"PRIVATE KEY" not in request
    assert private_pem.split(b"\n")[1] not in request
    assert base64.b64encode(der)[:64] not in request


def test_each_request_gets_fresh_ids(identity):
    first, second = build(identity), build(identity)
    first_id = etree.fromstring(first).find(".//wsa:To", NS).get(f"{{{envelope.WSU}}}Id")
    second_id = etree.fromstring(second).find(".//wsa:To", NS).get(f"{{{envelope.WSU}}}Id")
    assert first_id != second_id
