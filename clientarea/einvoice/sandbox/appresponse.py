"""The ApplicationResponse DIAN returns (``shared/docs/dian-webservice.md`` §2.7), signed with
the simulator's own "DIAN" certificate (XAdES with signxml; generated once with cryptography)."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
from signxml.xades import XAdESSigner

from . import keys
from .checks import BOGOTA, Finding

DIAN_NIT = "800197268"
DIAN_NAME = "Unidad Especial Dirección de Impuestos y Aduanas Nacionales"
AGENCY = "CO, DIAN (Dirección de Impuestos y Aduanas Nacionales)"
NS = {
    None: "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "ext": "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2",
    "sts": "dian:gov:co:facturaelectronica:Structures-2-1",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xades": "http://uri.etsi.org/01903/v1.3.2#",
}


def new_identity() -> tuple[bytes, bytes]:
    """A fresh RSA-2048 key and a self-signed certificate for the simulator's "DIAN" (PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CO"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{DIAN_NAME} (SIMULADOR)"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, DIAN_NIT),
            x509.NameAttribute(NameOID.COMMON_NAME, "DIAN simulator ApplicationResponse signer"),
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
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Outcome:
    number: str
    key: str
    key_scheme: str  # CUFE-SHA384 (every type except events/payroll, §2.7)
    accepted: bool
    findings: tuple[Finding, ...]
    authorized_text: str
    issuer_nit: str
    issuer_dv: str
    issuer_name: str
    environment: str


def _el(
    parent: etree._Element, prefix: str, name: str, value: str | None = None, **attrs: str
) -> etree._Element:
    el = etree.SubElement(parent, f"{{{NS[prefix]}}}{name}", attrs)
    if value is not None:
        el.text = value
    return el


def _party(parent: etree._Element, name: str, registration: str, nit: str, dv: str) -> None:
    party = _el(parent, "cac", name)
    scheme = _el(party, "cac", "PartyTaxScheme")
    _el(scheme, "cbc", "RegistrationName", registration)
    _el(scheme, "cbc", "CompanyID", nit, schemeID=dv, schemeName="31")
    tax = _el(scheme, "cac", "TaxScheme")
    _el(tax, "cbc", "ID", "01")
    _el(tax, "cbc", "Name", "IVA")


def _line(parent: etree._Element, line_id: str, code: str, description: str) -> None:
    line = _el(parent, "cac", "LineResponse")
    _el(_el(line, "cac", "LineReference"), "cbc", "LineID", line_id)
    response = _el(line, "cac", "Response")
    _el(response, "cbc", "ResponseCode", code)
    _el(response, "cbc", "Description", description)


def build(outcome: Outcome, *, now: dt.datetime, software_id: str, pin: str) -> etree._Element:
    local = now.astimezone(BOGOTA)
    root = etree.Element(f"{{{NS[None]}}}ApplicationResponse", nsmap=NS)
    extensions = _el(root, "ext", "UBLExtensions")
    dian = _el(
        _el(_el(extensions, "ext", "UBLExtension"), "ext", "ExtensionContent"),
        "sts",
        "DianExtensions",
    )
    source = _el(dian, "sts", "InvoiceSource")
    _el(
        source,
        "cbc",
        "IdentificationCode",
        "CO",
        listAgencyID="6",
        listAgencyName="United Nations Economic Commission for Europe",
        listSchemeURI="urn:oasis:names:specification:ubl:codelist:gc:CountryIdentificationCode-2.1",
    )
    provider = _el(dian, "sts", "SoftwareProvider")
    _el(
        provider,
        "sts",
        "ProviderID",
        DIAN_NIT,
        schemeAgencyID="195",
        schemeAgencyName=AGENCY,
        schemeID="4",
        schemeName="31",
    )
    _el(provider, "sts", "SoftwareID", software_id, schemeAgencyID="195", schemeAgencyName=AGENCY)
    ar_id = str(secrets.randbelow(10**15))
    _el(
        dian,
        "sts",
        "SoftwareSecurityCode",
        keys.software_security_code(software_id, pin, ar_id),
        schemeAgencyID="195",
        schemeAgencyName=AGENCY,
    )
    auth = _el(dian, "sts", "AuthorizationProvider")
    _el(
        auth,
        "sts",
        "AuthorizationProviderID",
        DIAN_NIT,
        schemeAgencyID="195",
        schemeAgencyName=AGENCY,
        schemeID="4",
        schemeName="31",
    )
    _el(
        _el(extensions, "ext", "UBLExtension"), "ext", "ExtensionContent"
    )  # the signature goes here
    _el(root, "cbc", "UBLVersionID", "UBL 2.1")
    _el(root, "cbc", "CustomizationID", "1")
    _el(root, "cbc", "ProfileID", "DIAN 2.1")
    _el(
        root,
        "cbc",
        "ProfileExecutionID",
        outcome.environment if outcome.environment in ("1", "2") else "2",
    )
    _el(root, "cbc", "ID", ar_id)
    date, time = local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S-05:00")
    own_key = hashlib.sha384(
        f"{ar_id}{date}{time}{outcome.key}{DIAN_NIT}{pin}".encode()
    ).hexdigest()
    _el(root, "cbc", "UUID", own_key, schemeName="CUDE-SHA384")
    _el(root, "cbc", "IssueDate", date)
    _el(root, "cbc", "IssueTime", time)
    _party(root, "SenderParty", DIAN_NAME, DIAN_NIT, "4")
    _party(
        root,
        "ReceiverParty",
        outcome.issuer_name or outcome.issuer_nit,
        outcome.issuer_nit,
        outcome.issuer_dv,
    )
    response = _el(root, "cac", "DocumentResponse")
    head = _el(response, "cac", "Response")
    if outcome.accepted:
        _el(head, "cbc", "ResponseCode", "02")
        _el(head, "cbc", "Description", "Documento validado por la DIAN")
    else:
        _el(head, "cbc", "ResponseCode", "04")
        _el(head, "cbc", "Description", "Documento rechazado por la DIAN")
    reference = _el(response, "cac", "DocumentReference")
    _el(reference, "cbc", "ID", outcome.number)
    _el(reference, "cbc", "UUID", outcome.key, schemeName=outcome.key_scheme)
    _line(response, "1", "0000", "0")
    if not outcome.findings:
        _line(response, "2", "0", outcome.authorized_text)
    for index, finding in enumerate(outcome.findings, start=2):
        _line(response, str(index), finding.rule, finding.text)
    return root


@functools.lru_cache(maxsize=4)
def _key_material(key_pem: bytes, cert_pem: bytes) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """Loaded once per process: loading an RSA key checks it, which takes ~0.1 s."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the simulator's DIAN key must be RSA (RSA-SHA256)")
    return key, x509.load_pem_x509_certificate(cert_pem)


def sign(root: etree._Element, key_pem: bytes, cert_pem: bytes) -> bytes:
    """XAdES enveloped signature in the last, empty ExtensionContent; UTF-8 bytes with declaration."""
    key, cert = _key_material(key_pem, cert_pem)
    slot = root.findall(
        f"{{{NS['ext']}}}UBLExtensions/{{{NS['ext']}}}UBLExtension/{{{NS['ext']}}}ExtensionContent"
    )[-1]
    etree.SubElement(slot, f"{{{NS['ds']}}}Signature", Id="placeholder")
    signer = XAdESSigner(
        claimed_roles=["supplier"],
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_0,
    )
    # UBL 2.1 ships XAdES 1.3.2, which has SigningCertificate but not signxml's default
    # SigningCertificateV2, and DIAN's signatures carry no DataObjectFormat: the public
    # annotator lists are set to the elements the schema knows.
    signer.signed_signature_properties_annotators = [
        signer.add_signing_time,
        _signing_certificate(cert),
        signer.add_signer_role,
    ]
    signer.signed_data_object_properties_annotators = [_drop_empty]  # type: ignore[list-item]  # signxml types the list as its own bound methods
    signed = signer.sign(root, key=key, cert=[cert], always_add_key_value=False)
    body = etree.tostring(signed, encoding="utf-8")
    return b'<?xml version="1.0" encoding="utf-8" standalone="no"?>' + body


@functools.lru_cache(maxsize=4)
def _signing_certificate(cert: x509.Certificate) -> Callable[..., None]:
    """xades:SigningCertificate (XAdES 1.3.2): SHA-256 of the certificate + issuer and serial,
    worked out once per certificate (the annotator is kept with the key, per process)."""
    cert_digest = base64.b64encode(cert.fingerprint(hashes.SHA256())).decode()
    issuer, serial_number = cert.issuer.rfc4514_string(), str(cert.serial_number)

    def annotate(
        properties: etree._Element, sig_root: etree._Element, signing_settings: object
    ) -> None:
        xades, ds = NS["xades"], NS["ds"]
        signing = etree.SubElement(properties, f"{{{xades}}}SigningCertificate")
        cert_el = etree.SubElement(signing, f"{{{xades}}}Cert")
        digest = etree.SubElement(cert_el, f"{{{xades}}}CertDigest")
        etree.SubElement(digest, f"{{{ds}}}DigestMethod", Algorithm=DigestAlgorithm.SHA256.value)
        etree.SubElement(digest, f"{{{ds}}}DigestValue").text = cert_digest
        serial = etree.SubElement(cert_el, f"{{{xades}}}IssuerSerial")
        etree.SubElement(serial, f"{{{ds}}}X509IssuerName").text = issuer
        etree.SubElement(serial, f"{{{ds}}}X509SerialNumber").text = serial_number

    return annotate


def _drop_empty(
    properties: etree._Element, sig_root: etree._Element, signing_settings: object
) -> None:
    """Remove the (then empty) SignedDataObjectProperties, before its parent is digested."""
    parent = properties.getparent()
    if parent is not None and not len(properties):
        parent.remove(properties)
