"""XAdES-EPES signature: signxml verification, two independent verifiers, tampering,
AttachedDocument and the e-mail ZIP.

Independent verifiers:
- ``xmlsec1 --verify`` (Debian package ``xmlsec1``, libxmlsec1/OpenSSL), skipped
  only when the binary is absent;
- :func:`_verify_by_hand`: recomputes each reference digest and checks the RSA
  signature over the canonical SignedInfo with ``cryptography``; it shares only
  lxml's C14N with signxml.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import os
import shutil
import subprocess
import zipfile

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from lxml import etree

from clientarea.einvoice import attached, signing, ubl
from clientarea.einvoice.cufe import cufe_from_xml
from clientarea.einvoice.tests import factories
from clientarea.einvoice.validation import (
    embedded_invoice,
    validate_attached_document,
    validate_invoice,
)

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
NS = {"ds": DS, "xades": XADES, **ubl.NS}
C14N_1_0 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
XMLSEC1 = shutil.which("xmlsec1")


@pytest.fixture(scope="module")
def credentials(tmp_path_factory):
    path = tmp_path_factory.mktemp("cert") / "demo.p12"
    signing.create_demo_certificate(path, "s3cret", "Conexcol Demo")
    key, cert = signing.load_pkcs12(path, "s3cret")
    return path, key, cert


@pytest.fixture(scope="module")
def doc():
    return factories.invoice()


@pytest.fixture(scope="module")
def signed(doc, credentials):
    _, key, cert = credentials
    return signing.sign_invoice(ubl.build_invoice_xml(doc), key, cert)


def _verify_by_hand(xml: bytes, cert) -> bool:
    """XMLDSig core validation without signxml: reference digests, then SignedInfo RSA-SHA256."""
    root = etree.fromstring(xml)
    signature = root.find(f".//{{{DS}}}Signature")
    signed_info = signature.find("ds:SignedInfo", NS)
    assert signed_info.find("ds:CanonicalizationMethod", NS).get("Algorithm") == C14N_1_0
    for reference in signed_info.findall("ds:Reference", NS):
        uri = reference.get("URI")
        transforms = [
            t.get("Algorithm") for t in reference.findall("ds:Transforms/ds:Transform", NS)
        ]
        if uri == "":
            assert transforms == [ENVELOPED]
            document = copy.deepcopy(root)
            own = document.find(f".//{{{DS}}}Signature")
            parent = own.getparent()
            if own.tail:  # the enveloped transform removes the element, not the text after it
                previous = own.getprevious()
                if previous is not None:
                    previous.tail = (previous.tail or "") + own.tail
                else:
                    parent.text = (parent.text or "") + own.tail
            parent.remove(own)
            data = etree.tostring(document, method="c14n")
        else:
            (target,) = root.xpath("//*[@Id=$id]", id=uri[1:])
            data = etree.tostring(target, method="c14n")
        digest = base64.b64decode(reference.findtext("ds:DigestValue", namespaces=NS))
        if hashlib.sha256(data).digest() != digest:
            return False
    value = base64.b64decode(signature.findtext("ds:SignatureValue", namespaces=NS))
    try:
        cert.public_key().verify(
            value, etree.tostring(signed_info, method="c14n"), PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        return False
    return True


def _xmlsec1(xml: bytes, cert_pem: bytes, tmp_path) -> subprocess.CompletedProcess:
    document, pem = tmp_path / "doc.xml", tmp_path / "cert.pem"
    document.write_bytes(xml)
    pem.write_bytes(cert_pem)
    assert XMLSEC1 is not None  # the tests that call this are skipped without xmlsec1
    return subprocess.run(
        [XMLSEC1, "--verify",
         "--id-attr:Id", f"{XADES}:SignedProperties", "--id-attr:Id", f"{DS}:KeyInfo",
         "--trusted-pem", str(pem), str(document)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _tamper_amount(xml: bytes) -> bytes:
    tampered = xml.replace(b">228691.34</cbc:PayableAmount>", b">228691.35</cbc:PayableAmount>")
    assert tampered != xml
    return tampered


# -- signature ----------------------------------------------------------------------------


def test_load_pkcs12_is_cached_and_checks_the_password(credentials):
    path, _key, cert = credentials
    assert signing.load_pkcs12(path, "s3cret")[1] is cert
    assert cert.subject.rfc4514_string().endswith("C=CO")
    with pytest.raises(ValueError):
        signing.load_pkcs12(path, "wrong")


def test_threads_loading_the_key_at_once_read_the_file_once(tmp_path, monkeypatch):
    """The worker's threads start together: one decrypts the PKCS#12, the others get its copy."""
    import threading

    path = tmp_path / "threads.p12"
    signing.create_demo_certificate(path, "pw", "Threads")
    loads = []
    real = signing.pkcs12.load_key_and_certificates

    def counting(data, password):
        loads.append(threading.get_ident())
        return real(data, password)

    monkeypatch.setattr(signing.pkcs12, "load_key_and_certificates", counting)
    start = threading.Barrier(4)
    results = []

    def load():
        start.wait()
        results.append(signing.load_pkcs12(path, "pw"))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1
    assert len(results) == 4 and all(r[1] is results[0][1] for r in results)


def test_signed_invoice_is_xsd_valid_and_keeps_its_cufe(signed):
    assert validate_invoice(signed) == []
    assert cufe_from_xml(signed, factories.TEST_TECHNICAL_KEY) == etree.fromstring(signed).findtext(
        "cbc:UUID", namespaces=NS
    )


def test_signature_shape(signed):
    """§2.2: in the second UBLExtension, RSA-SHA256, 3 references, DIAN policy v2, XAdES 1.3.2 certificate."""
    root = etree.fromstring(signed)
    slots = root.findall("ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent", NS)
    assert slots[1].find("ds:Signature", NS) is not None
    assert slots[0].find("ds:Signature", NS) is None
    signature = slots[1].find("ds:Signature", NS)
    method = signature.find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm")
    assert method == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    assert len(signature.findall("ds:SignedInfo/ds:Reference", NS)) == 3
    props = signature.find(".//xades:SignedSignatureProperties", NS)
    assert props.findtext(".//xades:SigPolicyId/xades:Identifier", namespaces=NS) == (
        "https://facturaelectronica.dian.gov.co/politicadefirma/v2/politicadefirmav2.pdf"
    )
    assert props.find("xades:SigningCertificate/xades:Cert/xades:IssuerSerial", NS) is not None
    assert (
        props.findtext("xades:SignerRole/xades:ClaimedRoles/xades:ClaimedRole", namespaces=NS)
        == "supplier"
    )
    assert props.findtext("xades:SigningTime", namespaces=NS).endswith("-05:00")
    assert signature.find(".//xades:SignedDataObjectProperties", NS) is None


def test_signxml_verifies_and_detects_tampering(signed, credentials):
    _, _, cert = credentials
    pem = signing.certificate_pem(cert)
    assert signing.verify_invoice_signature(signed, pem)
    assert signing.verify_invoice_signature(signed, None)
    assert signing.verify_invoice_signature(etree.fromstring(signed), pem)
    assert not signing.verify_invoice_signature(_tamper_amount(signed), pem)
    assert not signing.verify_invoice_signature(
        signed.replace(b">supplier<", b">third party<"), pem
    )


def test_a_different_certificate_does_not_verify(signed, tmp_path):
    _, other = signing.create_demo_certificate(tmp_path / "other.p12", "x", "Someone Else")
    assert not signing.verify_invoice_signature(signed, signing.certificate_pem(other))


def test_independent_verification_by_hand(signed, credentials):
    _, _, cert = credentials
    assert _verify_by_hand(signed, cert)
    assert not _verify_by_hand(_tamper_amount(signed), cert)
    assert not _verify_by_hand(signed.replace(b">supplier<", b">third party<"), cert)


@pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 not installed (Debian package xmlsec1)")
def test_independent_verification_with_xmlsec1(signed, credentials, tmp_path):
    _, _, cert = credentials
    pem = signing.certificate_pem(cert)
    result = _xmlsec1(signed, pem, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout + result.stderr
    assert _xmlsec1(_tamper_amount(signed), pem, tmp_path).returncode != 0


def test_the_input_tree_is_not_modified_and_cannot_be_signed_twice(doc, credentials):
    _, key, cert = credentials
    root = ubl.build_invoice_xml(doc)
    before = ubl.to_bytes(root)
    signed = signing.sign_invoice(root, key, cert)
    assert ubl.to_bytes(root) == before
    with pytest.raises(signing.SigningError):
        signing.sign_invoice(signed, key, cert)


# -- AttachedDocument and ZIP --------------------------------------------------------------


def test_attached_document_wraps_the_signed_invoice(signed, doc):
    container = attached.build_attached_document(signed, doc)
    assert validate_attached_document(container) == []
    assert b"<![CDATA[" in container
    assert embedded_invoice(container) == signed
    root = etree.fromstring(container)
    assert root.findtext("cbc:ParentDocumentID", namespaces=NS) == "SETP990000123"
    assert root.find("cac:ParentDocumentLineReference", NS) is None  # no ApplicationResponse yet


def test_signed_attached_document(signed, doc, credentials, tmp_path):
    _, key, cert = credentials
    container = attached.build_attached_document(signed, doc, key=key, cert=cert)
    assert validate_attached_document(container) == []
    assert b"<![CDATA[" in container
    pem = signing.certificate_pem(cert)
    assert signing.verify_invoice_signature(container, pem)
    assert _verify_by_hand(container, cert)
    inner = embedded_invoice(container)
    assert inner == signed and signing.verify_invoice_signature(inner, pem)
    if XMLSEC1:
        assert _xmlsec1(container, pem, tmp_path).returncode == 0


def test_attached_document_validation_reports_a_broken_inner_invoice(signed, doc):
    broken = signed.replace(
        b"<cbc:IssueDate>2025-01-15</cbc:IssueDate>", b""
    )  # required by the XSD
    assert broken != signed
    errors = validate_attached_document(attached.build_attached_document(broken, doc))
    assert errors and all(e.startswith("embedded invoice:") for e in errors)


def test_file_names_follow_the_dian_pattern():
    assert (
        attached.attached_document_filename("900373076", 2025, 27)
        == "ad0900373076000250000001b.xml"
    )
    assert attached.email_zip_filename("900373076", 2025, 27) == "z0900373076000250000001b.zip"
    with pytest.raises(ValueError):
        attached.attached_document_filename("900373076-4", 2025, 1)


def test_email_zip(signed, doc):
    container = attached.build_attached_document(signed, doc)
    data = attached.build_email_zip(container, doc, sequence=1, pdf=b"%PDF-1.7 test")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == [
            "ad09003730760002500000001.xml",
            "ad09003730760002500000001.pdf",
        ]
        assert archive.read("ad09003730760002500000001.xml") == container
    assert (
        attached.build_email_zip(container, doc, sequence=1, pdf=b"%PDF-1.7 test") == data
    )  # reproducible
    with pytest.raises(ValueError, match="2097152"):
        attached.build_email_zip(
            container, doc, sequence=1, pdf=os.urandom(2_200_000)
        )  # incompressible
