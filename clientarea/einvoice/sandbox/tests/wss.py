"""Test-only client side of DIAN's WS-Security envelope, signed by hand (lxml + cryptography).

Built from ``shared/docs/dian-webservice.md`` §1.3–§1.4 (header order Timestamp, token,
signature; exclusive C14N with the prefix lists DIAN's working clients use; one reference to
``wsa:To``, optionally one to the Timestamp). Nothing here comes from the simulator's code.
signxml's XMLSigner drops the reference transform's InclusiveNamespaces while digesting with
them, so the few lines of XML-DSig are written here, straight from the docs' skeleton.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WCF = "http://wcf.dian.colombia"
WSA = "http://www.w3.org/2005/08/addressing"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
B64 = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
TO = "https://vpfe-hab.dian.gov.co/WcfDianCustomerServices.svc"
EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
EC = EXC
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


@functools.cache
def identity(
    nit: str | None = None, *, days_valid: int = 365, starts_in_days: int = -1
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A self-signed RSA certificate; with ``nit`` its subject carries it as serialNumber."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CO"),
        x509.NameAttribute(NameOID.COMMON_NAME, "Emisor de pruebas"),
    ]
    if nit:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, nit))
    name = x509.Name(attributes)
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=starts_in_days)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days_valid))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def envelope(
    operation: str,
    params: dict[str, str],
    *,
    key: rsa.RSAPrivateKey | None = None,
    cert: x509.Certificate | None = None,
    created: dt.datetime | None = None,
    expires_in: dt.timedelta = dt.timedelta(minutes=5),
    action: str | None = None,
    to: str = TO,
    sign: bool = True,
    sign_timestamp: bool = False,
    sign_to: bool = True,
) -> etree._Element:
    """A signed request envelope (an element, so tests can tamper with it before serializing)."""
    if key is None or cert is None:
        key, cert = identity()
    created = created or dt.datetime.now(dt.UTC)
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soap": SOAP, "wcf": WCF})
    header = etree.SubElement(env, f"{{{SOAP}}}Header", nsmap={"wsa": WSA})
    security = etree.SubElement(header, f"{{{WSSE}}}Security", nsmap={"wsse": WSSE, "wsu": WSU})
    stamp = etree.SubElement(security, f"{{{WSU}}}Timestamp", {f"{{{WSU}}}Id": "TS-1"})
    etree.SubElement(stamp, f"{{{WSU}}}Created").text = _stamp(created)
    etree.SubElement(stamp, f"{{{WSU}}}Expires").text = _stamp(created + expires_in)
    token = etree.SubElement(
        security,
        f"{{{WSSE}}}BinarySecurityToken",
        {f"{{{WSU}}}Id": "X509-1", "EncodingType": B64, "ValueType": X509V3},
    )
    token.text = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    if sign:
        etree.SubElement(security, f"{{{DS}}}Signature", Id="SIG-1", nsmap={"ds": DS})
    etree.SubElement(header, f"{{{WSA}}}Action").text = action or (
        f"http://wcf.dian.colombia/IWcfDianCustomerServices/{operation}"
    )
    to_el = etree.SubElement(header, f"{{{WSA}}}To", {f"{{{WSU}}}Id": "ID-1"}, nsmap={"wsu": WSU})
    to_el.text = to
    body = etree.SubElement(env, f"{{{SOAP}}}Body")
    op = etree.SubElement(body, f"{{{WCF}}}{operation}")
    for name, value in params.items():
        etree.SubElement(op, f"{{{WCF}}}{name}").text = value
    if not sign:
        return env
    references = ([("ID-1", to_el, ["soap", "wcf"])] if sign_to else []) + (
        [("TS-1", stamp, [])] if sign_timestamp else []
    )
    env = etree.fromstring(etree.tostring(env))
    to_el = env.find(f".//{{{WSA}}}To")
    stamp = env.find(f".//{{{WSU}}}Timestamp")
    references = ([("ID-1", to_el, ["soap", "wcf"])] if sign_to else []) + (
        [("TS-1", stamp, [])] if sign_timestamp else []
    )
    signature = env.find(f".//{{{DS}}}Signature")
    signed_info = etree.SubElement(signature, f"{{{DS}}}SignedInfo")
    method = etree.SubElement(signed_info, f"{{{DS}}}CanonicalizationMethod", Algorithm=EXC)
    etree.SubElement(method, f"{{{EC}}}InclusiveNamespaces", PrefixList="wsa soap wcf")
    etree.SubElement(signed_info, f"{{{DS}}}SignatureMethod", Algorithm=RSA_SHA256)
    for ref_id, element, prefixes in references:
        ref = etree.SubElement(signed_info, f"{{{DS}}}Reference", URI=f"#{ref_id}")
        transform = etree.SubElement(
            etree.SubElement(ref, f"{{{DS}}}Transforms"), f"{{{DS}}}Transform", Algorithm=EXC
        )
        if prefixes:
            etree.SubElement(
                transform, f"{{{EC}}}InclusiveNamespaces", PrefixList=" ".join(prefixes)
            )
        etree.SubElement(ref, f"{{{DS}}}DigestMethod", Algorithm=SHA256)
        c14n = etree.tostring(
            element, method="c14n", exclusive=True, inclusive_ns_prefixes=prefixes or None
        )
        etree.SubElement(ref, f"{{{DS}}}DigestValue").text = base64.b64encode(
            hashlib.sha256(c14n).digest()
        ).decode()
    # lxml's C14N of an element in a tree built in memory leaves out inherited declarations
    # named in the PrefixList; a parsed tree (what the receiver has) keeps them.
    env = etree.fromstring(etree.tostring(env))
    signature = env.find(f".//{{{DS}}}Signature")
    signed_info = signature.find(f"{{{DS}}}SignedInfo")
    signed_c14n = etree.tostring(
        signed_info, method="c14n", exclusive=True, inclusive_ns_prefixes=["wsa", "soap", "wcf"]
    )
    signed = key.sign(signed_c14n, padding.PKCS1v15(), hashes.SHA256())
    etree.SubElement(signature, f"{{{DS}}}SignatureValue").text = base64.b64encode(signed).decode()
    key_info = etree.SubElement(signature, f"{{{DS}}}KeyInfo")
    reference = etree.SubElement(
        etree.SubElement(key_info, f"{{{WSSE}}}SecurityTokenReference"), f"{{{WSSE}}}Reference"
    )
    reference.set("URI", "#X509-1")
    reference.set("ValueType", X509V3)
    return env


def request(operation: str, params: dict[str, str], **kwargs) -> bytes:
    return etree.tostring(envelope(operation, params, **kwargs), encoding="utf-8")
