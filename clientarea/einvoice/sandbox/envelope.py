"""Reading a request to WcfDianCustomerServices: SOAP 1.2, WS-Addressing and WS-Security.

What is verified (``shared/docs/dian-webservice.md`` §1.2–§1.4, §1.7, §7):
- a SOAP 1.2 envelope with ``wsa:Action`` naming a known operation whose element is the body;
- ``wsse:Security`` with a ``wsu:Timestamp`` (Created/Expires, within the clock skew, not
  expired), an X.509v3 ``BinarySecurityToken`` and an XML signature whose KeyInfo references
  that token;
- the signature (RSA-SHA256 or stronger, verified with signxml against the token's key) must
  cover the header's ``wsa:To`` element; any further reference (e.g. the Timestamp) must
  verify as well;
- the certificate is within its validity dates, and trusted when fingerprints are configured;
- the NIT in the certificate subject, when there is one, is returned for authorization.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Set
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from lxml import etree
from signxml import SignatureConfiguration, SignatureMethod, XMLVerifier
from signxml.exceptions import InvalidInput, SignXMLException

from .soap import ACTION_PREFIX, OPERATIONS, SOAP12, WCF, WSA, WSSE, WSU, SoapFault

DS = "http://www.w3.org/2000/09/xmldsig#"
X509_TOKEN = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"  # noqa: S105  (a token type URI, not a secret)
THUMBPRINT = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1"
SECURITY_REASON = "An error occurred when verifying security for the message."

# Subject attributes DIAN reads the NIT from, in this order (§1.7).
NIT_OIDS = (
    x509.ObjectIdentifier("1.3.6.1.4.1.23267.2.3"),
    x509.ObjectIdentifier("2.5.4.5"),  # serialNumber
    x509.ObjectIdentifier("1.3.6.1.4.1.31136.1.1.20.2"),
    x509.ObjectIdentifier("2.5.4.97"),  # organizationIdentifier
)

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, remove_comments=False, huge_tree=False
)
_VERIFY_CONFIG = SignatureConfiguration(
    expect_references=True,
    signature_methods=frozenset(
        {SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA384, SignatureMethod.RSA_SHA512}
    ),
)


@dataclass(frozen=True)
class Request:
    operation: str
    params: dict[str, str | None]
    certificate: x509.Certificate
    certificate_nit: str | None
    to: str


def _security_fault(detail: str) -> SoapFault:
    return SoapFault("Sender", SECURITY_REASON, subcode="o:InvalidSecurity", detail=detail)


def parse(body: bytes) -> etree._Element:
    """The envelope, or a fault WCF would give for a body that is not a SOAP 1.2 message."""
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SoapFault(
            "Sender", "The message is not well-formed XML.", detail=str(exc), http_status=400
        ) from exc
    if root.tag == "{http://schemas.xmlsoap.org/soap/envelope/}Envelope":
        raise SoapFault(
            "VersionMismatch", "The SOAP version of the message is not SOAP 1.2.",
            detail="SOAP 1.1 envelope", http_status=415,
        )  # fmt: skip
    if root.tag != f"{{{SOAP12}}}Envelope":
        raise SoapFault("Sender", "The message is not a SOAP envelope.", http_status=400)
    return root


def _one(parent: etree._Element, path: str, what: str) -> etree._Element:
    found = parent.findall(path)
    if len(found) != 1:
        raise _security_fault(f"expected exactly one {what}, found {len(found)}")
    return found[0]


def _timestamp(security: etree._Element, now: dt.datetime, skew: dt.timedelta) -> None:
    stamp = _one(security, f"{{{WSU}}}Timestamp", "wsu:Timestamp")
    try:
        created = dt.datetime.fromisoformat((stamp.findtext(f"{{{WSU}}}Created") or "").strip())
        expires = dt.datetime.fromisoformat((stamp.findtext(f"{{{WSU}}}Expires") or "").strip())
    except ValueError as exc:
        raise _security_fault("wsu:Created/wsu:Expires are not xs:dateTime values") from exc
    if created.tzinfo is None or expires.tzinfo is None:
        raise _security_fault("wsu:Created/wsu:Expires need a time zone (UTC, Z)")
    if created > now + skew:
        raise _security_fault("the timestamp was created in the future")
    if expires < now - skew:
        raise _security_fault("the timestamp has expired")
    if expires <= created:
        raise _security_fault("the timestamp expires before it was created")


def _token(security: etree._Element) -> tuple[str, x509.Certificate]:
    token = _one(security, f"{{{WSSE}}}BinarySecurityToken", "wsse:BinarySecurityToken")
    if token.get("ValueType") != X509_TOKEN:
        raise _security_fault("the BinarySecurityToken is not an X.509v3 token")
    token_id = token.get(f"{{{WSU}}}Id") or ""
    try:
        der = base64.b64decode("".join((token.text or "").split()), validate=True)
        cert = x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError) as exc:
        raise _security_fault("the BinarySecurityToken is not a DER X.509 certificate") from exc
    return token_id, cert


def _check_certificate(cert: x509.Certificate, now: dt.datetime, trusted: Set[str]) -> None:
    if now < cert.not_valid_before_utc:
        raise SoapFault("Client", "Certificado aún no se encuentra vigente.")
    if now > cert.not_valid_after_utc:
        raise SoapFault("Client", "Certificado se encuentra expirado.")
    if trusted and cert.fingerprint(hashes.SHA256()).hex() not in trusted:
        raise SoapFault(
            "Client", "The creator of this fault did not specify a Reason.",
            detail="certificate not among the trusted fingerprints",
        )  # fmt: skip


def certificate_nit(cert: x509.Certificate) -> str | None:
    """The NIT DIAN reads from the certificate subject (§1.7), or None."""
    for oid in NIT_OIDS:
        for attribute in cert.subject.get_attributes_for_oid(oid):
            value = attribute.value
            digits = re.sub(r"\D", "", value if isinstance(value, str) else value.decode())
            if digits:
                return digits
    return None


def _references_token(signature: etree._Element, token_id: str, cert: x509.Certificate) -> bool:
    """KeyInfo points at the token: a direct reference (what DIAN's working clients send) or the
    token's SHA-1 thumbprint (what the WSDL's policy asks for, RequireThumbprintReference)."""
    str_el = signature.find(f"{{{DS}}}KeyInfo/{{{WSSE}}}SecurityTokenReference")
    if str_el is None:
        return False
    reference = str_el.find(f"{{{WSSE}}}Reference")
    if reference is not None:
        return bool(token_id) and reference.get("URI") == f"#{token_id}"
    identifier = str_el.find(f"{{{WSSE}}}KeyIdentifier")
    if identifier is None or identifier.get("ValueType") != THUMBPRINT:
        return False
    expected = base64.b64encode(cert.fingerprint(hashes.SHA1())).decode()  # noqa: S303  (WS-Security's thumbprint is SHA-1 by definition)
    return "".join((identifier.text or "").split()) == expected


def _verify_signature(
    body: bytes,
    root: etree._Element,
    security: etree._Element,
    token_id: str,
    cert: x509.Certificate,
) -> etree._Element:
    """The signed wsa:To. signxml verifies the bytes received (given the parsed ``root`` it would
    serialize it and parse that again)."""
    signature = _one(security, f"{{{DS}}}Signature", "ds:Signature")
    if not _references_token(signature, token_id, cert):
        raise _security_fault("the signature's KeyInfo does not reference the BinarySecurityToken")
    to = _one(root, f"{{{SOAP12}}}Header/{{{WSA}}}To", "wsa:To")
    to_id = to.get(f"{{{WSU}}}Id")
    uris = [r.get("URI") for r in signature.iterfind(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")]
    if not to_id or f"#{to_id}" not in uris:
        raise _security_fault("the signature does not cover wsa:To")
    try:
        results = XMLVerifier().verify(
            body, x509_cert=cert, expect_config=_VERIFY_CONFIG, validate_schema=False
        )
    except (SignXMLException, InvalidInput, etree.DocumentInvalid, ValueError) as exc:
        raise _security_fault(f"signature: {exc}") from exc
    signed = results if isinstance(results, list) else [results]
    covered = [
        r.signed_xml
        for r in signed
        if r.signed_xml is not None
        and r.signed_xml.tag == f"{{{WSA}}}To"
        and r.signed_xml.get(f"{{{WSU}}}Id") == to_id
    ]
    if not covered or (covered[0].text or "").strip() != (to.text or "").strip():
        raise _security_fault("the signed wsa:To is not the header's wsa:To")
    return to


def read(
    body: bytes, *, now: dt.datetime, skew: dt.timedelta, trusted: Set[str], http_action: str = ""
) -> Request:
    """Parse and verify a request; raise :class:`SoapFault` for anything a WCF service refuses."""
    root = parse(body)
    header = root.find(f"{{{SOAP12}}}Header")
    soap_body = root.find(f"{{{SOAP12}}}Body")
    if header is None or soap_body is None or len(soap_body) != 1:
        raise SoapFault("Sender", "The message has no SOAP header or body.", http_status=400)
    action = (header.findtext(f"{{{WSA}}}Action") or "").strip()
    operation = action.removeprefix(ACTION_PREFIX) if action.startswith(ACTION_PREFIX) else ""
    payload = soap_body[0]
    if (
        operation not in OPERATIONS
        or payload.tag != f"{{{WCF}}}{operation}"
        or (http_action and http_action != action)
    ):
        raise SoapFault(
            "Sender",
            f"The message with Action '{action}' cannot be processed at the receiver, due to a "
            "ContractFilter mismatch at the EndpointDispatcher. This may be because of either a "
            "contract mismatch (mismatched Actions between sender and receiver) or a "
            "binding/security mismatch between the sender and the receiver.  Check that sender "
            "and receiver have the same contract and the same binding (including security "
            "requirements, e.g. Message, Transport, None).",
            subcode="a:ActionNotSupported",
        )
    security = header.find(f"{{{WSSE}}}Security")
    if security is None:
        raise _security_fault("no wsse:Security header")
    _timestamp(security, now, skew)
    token_id, cert = _token(security)
    _check_certificate(cert, now, trusted)
    to = _verify_signature(body, root, security, token_id, cert)
    params: dict[str, str | None] = {}
    for child in payload:
        if not isinstance(child.tag, str) or not child.tag.startswith(f"{{{WCF}}}"):
            continue
        nil = child.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"
        params[etree.QName(child).localname] = None if nil else (child.text or "")
    return Request(
        operation=operation,
        params=params,
        certificate=cert,
        certificate_nit=certificate_nit(cert),
        to=(to.text or "").strip(),
    )
