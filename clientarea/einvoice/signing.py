"""XAdES-EPES enveloped signature of DIAN documents, with signxml.

Shape (§2.2 of ``shared/docs/dian-einvoice.md``, and the DIAN-accepted invoice S3):
- ``ds:Signature`` inside the *last* ``ext:UBLExtension/ext:ExtensionContent``;
- inclusive C14N 1.0, RSA-SHA256, SHA-256 digests;
- three references: the whole document (enveloped-signature transform),
  ``ds:KeyInfo`` and ``xades:SignedProperties``;
- ``xades:SignedProperties`` = SigningTime (Bogotá time), SigningCertificate
  (XAdES 1.3.2 form: certificate digest + issuer/serial) and the DIAN signature
  policy v2 with its SHA-256 hash, plus ClaimedRole ``supplier``.

signxml's defaults are adjusted where they break the UBL XSD set we validate
against: it emits ``SigningCertificateV2`` (not in XAdES 1.3.2 as shipped with
UBL 2.1) and a ``SignedDataObjectProperties`` block DIAN's examples do not carry.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import functools
import os
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidInput, InvalidSignature
from signxml.util import ds_tag, xades_tag
from signxml.xades import (
    XAdESSignatureConfiguration,
    XAdESSignaturePolicy,
    XAdESSigner,
    XAdESVerifier,
)

from clientarea.einvoice.documents import BOGOTA
from clientarea.einvoice.ubl import XML_DECLARATION

DS = "http://www.w3.org/2000/09/xmldsig#"
EXT = "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"

# DIAN signature policy v2 (§2.2). The SHA-256 of politicadefirmav2.pdf is the
# value carried by DIAN-accepted invoices (S3, SigPolicyHash).
DIAN_POLICY = XAdESSignaturePolicy(
    Identifier="https://facturaelectronica.dian.gov.co/politicadefirma/v2/politicadefirmav2.pdf",
    Description="Política de firma para facturas electrónicas de la República de Colombia",
    DigestMethod=DigestAlgorithm.SHA256,
    DigestValue="dMoMvtcG5aIzgYo0tIsSQeVJBDnUnfSOfBpxXrmor0Y=",
)
SIGNER_ROLE = "supplier"  # the issuer signs its own invoice (DIAN: "supplier" / "third party")

PrivateKey = rsa.RSAPrivateKey


class SigningError(ValueError):
    """The document has no place for the signature, or the key material is unusable."""


class _DianXAdESSigner(XAdESSigner):
    """signxml's XAdES signer, emitting the XAdES 1.3.2 elements DIAN uses."""

    def _tostring(self, xml_node, **kwargs):
        # signxml copies the input through tostring(); lxml's default ASCII
        # output turns non-ASCII characters inside CDATA (the invoice wrapped
        # by an AttachedDocument) into literal "&#243;" text. UTF-8 keeps them.
        kwargs.setdefault("encoding", "UTF-8")
        return etree.tostring(xml_node, **kwargs)

    def add_signing_time(self, signed_signature_properties, sig_root, signing_settings) -> None:
        signing_time = etree.SubElement(
            signed_signature_properties, xades_tag("SigningTime"), nsmap=self.namespaces
        )
        signing_time.text = dt.datetime.now(BOGOTA).isoformat(timespec="seconds")

    def add_signing_certificate(
        self, signed_signature_properties, sig_root, signing_settings
    ) -> None:
        """``xades:SigningCertificate``: SHA-256 of the DER certificate + issuer and serial."""
        cert = signing_settings.cert_chain[0]
        if not isinstance(cert, x509.Certificate):
            cert = x509.load_pem_x509_certificate(cert.encode() if isinstance(cert, str) else cert)
        signing_cert = etree.SubElement(
            signed_signature_properties, xades_tag("SigningCertificate"), nsmap=self.namespaces
        )
        cert_node = etree.SubElement(signing_cert, xades_tag("Cert"), nsmap=self.namespaces)
        digest = etree.SubElement(cert_node, xades_tag("CertDigest"), nsmap=self.namespaces)
        etree.SubElement(
            digest, ds_tag("DigestMethod"), nsmap=self.namespaces, Algorithm=self.digest_alg.value
        )
        value = etree.SubElement(digest, ds_tag("DigestValue"), nsmap=self.namespaces)
        value.text = base64.b64encode(cert.fingerprint(hashes.SHA256())).decode()
        issuer_serial = etree.SubElement(
            cert_node, xades_tag("IssuerSerial"), nsmap=self.namespaces
        )
        issuer = etree.SubElement(issuer_serial, ds_tag("X509IssuerName"), nsmap=self.namespaces)
        issuer.text = cert.issuer.rfc4514_string()
        serial = etree.SubElement(issuer_serial, ds_tag("X509SerialNumber"), nsmap=self.namespaces)
        serial.text = str(cert.serial_number)

    def add_data_object_format(
        self, signed_data_object_properties, sig_root, signing_settings
    ) -> None:
        """Drop ``xades:SignedDataObjectProperties``: DIAN's signatures carry none.

        This hook runs before the SignedProperties digest is taken, so the
        removal is covered by the signature.
        """
        signed_data_object_properties.getparent().remove(signed_data_object_properties)


def _signer() -> _DianXAdESSigner:
    signer = _DianXAdESSigner(
        signature_policy=DIAN_POLICY,
        claimed_roles=[SIGNER_ROLE],
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_0,
    )
    signer.namespaces = {"ds": DS, "xades": signer.namespaces["xades"]}
    return signer


# -- key material ---------------------------------------------------------------------


#: The worker's threads start together and all want the key: one of them reads the file (PKCS#12
#: decryption costs ≈ 40 ms of CPU), the others wait for it and take the cached copy.
_pkcs12_lock = threading.Lock()


@functools.lru_cache(maxsize=8)
def _load_pkcs12_cached(
    path: str, password: bytes, mtime_ns: int
) -> tuple[PrivateKey, x509.Certificate]:
    del mtime_ns  # part of the cache key only: a replaced file is read again
    data = Path(path).read_bytes()
    key, cert, _chain = pkcs12.load_key_and_certificates(data, password or None)
    if key is None or cert is None:
        raise SigningError(f"{path} must contain a private key and its certificate")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SigningError("DIAN signatures use RSA keys (RSA-SHA256)")
    return key, cert


def load_pkcs12(
    path: str | os.PathLike[str], password: str | bytes | None
) -> tuple[PrivateKey, x509.Certificate]:
    """Private key and certificate from a PKCS#12 (.p12/.pfx) file, cached per file+password."""
    path = os.fspath(path)
    secret = password.encode() if isinstance(password, str) else (password or b"")
    mtime_ns = os.stat(path).st_mtime_ns
    with _pkcs12_lock:
        return _load_pkcs12_cached(path, secret, mtime_ns)


def create_demo_certificate(
    path: str | os.PathLike[str], password: str | bytes, subject_cn: str, *, days: int = 730
) -> tuple[PrivateKey, x509.Certificate]:
    """Write a self-signed RSA-2048 PKCS#12 for tests and demos; return its key and certificate.

    DIAN only accepts certificates from an accredited Colombian CA; this one is
    for development and test environments.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CO"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, subject_cn),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Demo e-invoicing certificate"),
            x509.NameAttribute(NameOID.COMMON_NAME, subject_cn),
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
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    secret = password.encode() if isinstance(password, str) else password
    data = pkcs12.serialize_key_and_certificates(
        name=subject_cn.encode(), key=key, cert=cert, cas=None,
        encryption_algorithm=serialization.BestAvailableEncryption(secret),
    )  # fmt: skip
    Path(path).write_bytes(data)
    return key, cert


def certificate_pem(cert: x509.Certificate) -> bytes:
    """PEM bytes of a certificate (what :func:`verify_invoice_signature` accepts)."""
    return cert.public_bytes(serialization.Encoding.PEM)


# -- signing and verification ---------------------------------------------------------------


def _as_root(xml: bytes | str | etree._Element | etree._ElementTree) -> etree._Element:
    if isinstance(xml, etree._ElementTree):
        return xml.getroot()
    if isinstance(xml, etree._Element):
        return xml
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    return etree.fromstring(data, etree.XMLParser(no_network=True, resolve_entities=False))


def _signature_slot(root: etree._Element) -> etree._Element:
    """The last ``ext:ExtensionContent``, which must still be empty."""
    slots = root.findall(f"{{{EXT}}}UBLExtensions/{{{EXT}}}UBLExtension/{{{EXT}}}ExtensionContent")
    if not slots:
        raise SigningError(
            "the document has no ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent"
        )
    slot = slots[-1]
    if len(slot) or (slot.text or "").strip():
        raise SigningError(
            "the last ext:ExtensionContent is not empty: is the document already signed?"
        )
    return slot


def sign_invoice(
    xml_root: bytes | str | etree._Element | etree._ElementTree,
    key: PrivateKey,
    cert: x509.Certificate,
) -> bytes:
    """Sign a built invoice (or AttachedDocument); return the signed XML as UTF-8 bytes.

    The input is not modified. The signature goes into the last, empty
    ``ext:ExtensionContent`` (``ubl.build_invoice_xml`` leaves it for this).
    """
    root = copy.deepcopy(_as_root(xml_root))  # never modify the caller's tree
    slot = _signature_slot(root)
    # signxml puts the signature where it finds this placeholder, so the
    # KeyInfo/SignedProperties digests are taken in their final context
    # (inclusive C14N carries the ancestors' namespace declarations).
    etree.SubElement(slot, f"{{{DS}}}Signature", Id="placeholder")
    signed = _signer().sign(
        root, key=key, cert=[cert], always_add_key_value=False, exclude_c14n_transform_element=True
    )
    return XML_DECLARATION + etree.tostring(signed, encoding="UTF-8")


def _embedded_certificate(root: etree._Element) -> x509.Certificate:
    text = root.findtext(
        f".//{{{DS}}}Signature/{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate"
    )
    if not text:
        raise InvalidInput("no ds:X509Certificate in the signature")
    return x509.load_der_x509_certificate(base64.b64decode("".join(text.split())))


def verify_invoice_signature(
    xml_bytes: bytes | str | etree._Element | etree._ElementTree,
    cert_pem: bytes | str | None = None,
) -> bool:
    """True when the XAdES signature is intact and made with the expected key.

    With ``cert_pem`` the signature must have been made with that certificate.
    With ``None`` the certificate embedded in the signature is used: this proves
    integrity (nothing changed since signing), not who signed; trust in the
    issuing CA is DIAN's check, not ours.
    """
    try:
        if isinstance(xml_bytes, (etree._Element, etree._ElementTree)):
            # signxml re-serializes elements as ASCII, which alters CDATA; bytes are parsed as they are.
            xml_bytes = etree.tostring(xml_bytes, encoding="UTF-8")
        root = _as_root(xml_bytes)
        if cert_pem is None:
            cert = _embedded_certificate(root)
        else:
            cert = x509.load_pem_x509_certificate(
                cert_pem.encode() if isinstance(cert_pem, str) else cert_pem
            )
        XAdESVerifier().verify(
            xml_bytes.encode("utf-8") if isinstance(xml_bytes, str) else xml_bytes,
            x509_cert=cert,
            expect_signature_policy=DIAN_POLICY,
            expect_config=XAdESSignatureConfiguration(
                expect_references=3,
                signature_methods=frozenset({SignatureMethod.RSA_SHA256}),
                digest_algorithms=frozenset({DigestAlgorithm.SHA256}),
            ),
        )
    except (InvalidSignature, InvalidInput, ValueError, etree.XMLSyntaxError):
        return False
    return True
