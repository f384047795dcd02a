"""The SOAP 1.2 request envelope DIAN's WcfDianCustomerServices expects, signed for WS-Security.

What DIAN's service asks for (``shared/docs/dian-webservice.md`` §1.2–§1.4, from the WSDL's
WS-Policy and the clients known to work against DIAN):

- SOAP 1.2, document/literal, WS-Addressing 1.0 (``wsa:Action`` = the operation's
  ``soapAction``, ``wsa:To`` = the endpoint);
- a ``wsse:Security`` header holding, in this order (``Layout Strict``): a ``wsu:Timestamp``
  (Created now, Expires five minutes later, UTC with ``Z``), the issuer's X.509 certificate as a
  ``wsse:BinarySecurityToken`` (base64 DER) and a ``ds:Signature``;
- the signature: exclusive C14N (``InclusiveNamespaces`` prefix lists as the working clients
  send them), RSA-SHA256, SHA-256 digests, references to ``wsa:To`` (the part the policy names)
  and to the Timestamp (what an endorsing token signs under a transport binding), and a
  ``KeyInfo`` that points at the BinarySecurityToken with a ``wsse:SecurityTokenReference``.

signxml builds the signature (references, digests, canonicalization, RSA); its public options
cover everything DIAN's layout needs: a detached signature over elements found by ``wsu:Id``,
per-reference ``InclusiveNamespaces``, and a custom ``KeyInfo``. Written here by hand, because no
library writes this header: the envelope (a dozen elements) and the ``SecurityTokenReference``.
zeep was not used: its WS-Security signature (which also needs the ``xmlsec`` C binding) signs
the Body and the Timestamp, not ``wsa:To``, and changing what it signs means using its private
helpers; five operations with string and base64 parameters need no WSDL machinery either (the
published WSDL imports a schema, ``xsd1``, that is not available offline).
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConstructionMethod,
    SignatureMethod,
    SignatureReference,
    XMLSigner,
)

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WCF = "http://wcf.dian.colombia"
WSA = "http://www.w3.org/2005/08/addressing"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
EC = "http://www.w3.org/2001/10/xml-exc-c14n#"
BASE64_BINARY = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
ACTION_PREFIX = "http://wcf.dian.colombia/IWcfDianCustomerServices/"

#: Lifetime of the request's Timestamp (DIAN's own answers carry five minutes, §1.4).
TIMESTAMP_TTL = dt.timedelta(minutes=5)
#: Namespace prefixes kept when canonicalizing SignedInfo and the signed ``wsa:To`` (§1.4).
SIGNED_INFO_PREFIXES = ["wsa", "soap", "wcf"]
REFERENCE_PREFIXES = ["soap", "wcf"]


def action(operation: str) -> str:
    """The WS-Addressing action (and SOAP action) of an operation, e.g. ``…/SendBillSync``."""
    return ACTION_PREFIX + operation


def _utc(moment: dt.datetime) -> str:
    """``2026-03-01T15:00:00.000Z``: UTC with milliseconds, as WCF writes it."""
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _sub(parent: etree._Element, ns: str, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{name}")
    if text is not None:
        element.text = text
    return element


def _security_token_reference(token_id: str) -> etree._Element:
    """``ds:KeyInfo`` → ``wsse:SecurityTokenReference`` → direct reference to the token (§1.4)."""
    key_info = etree.Element(f"{{{DS}}}KeyInfo", nsmap={"ds": DS})
    key_info.set("Id", f"KI-{token_id}")
    reference = etree.SubElement(
        key_info, f"{{{WSSE}}}SecurityTokenReference", nsmap={"wsse": WSSE, "wsu": WSU}
    )
    reference.set(f"{{{WSU}}}Id", f"STR-{token_id}")
    target = etree.SubElement(reference, f"{{{WSSE}}}Reference")
    target.set("URI", f"#X509-{token_id}")
    target.set("ValueType", X509V3)
    return key_info


def build_request(
    *,
    operation: str,
    params: Sequence[tuple[str, str | None]],
    to: str,
    key: rsa.RSAPrivateKey,
    certificate: x509.Certificate,
    now: dt.datetime | None = None,
) -> bytes:
    """A signed SOAP 1.2 request for ``operation`` with its body parameters, in order.

    ``params`` are the operation's child elements in the order of DIAN's XSD (``None`` writes
    nothing: every child is optional there). ``to`` is the endpoint URL, written in ``wsa:To``.
    Returns the UTF-8 bytes to POST; the private key never appears in them.
    """
    now = now or dt.datetime.now(dt.UTC)
    token_id = uuid.uuid4().hex
    envelope = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soap": SOAP, "wcf": WCF})
    header = etree.SubElement(envelope, f"{{{SOAP}}}Header", nsmap={"wsa": WSA})
    security = etree.SubElement(header, f"{{{WSSE}}}Security", nsmap={"wsse": WSSE, "wsu": WSU})
    timestamp = _sub(security, WSU, "Timestamp")
    timestamp.set(f"{{{WSU}}}Id", f"TS-{token_id}")
    _sub(timestamp, WSU, "Created", _utc(now))
    _sub(timestamp, WSU, "Expires", _utc(now + TIMESTAMP_TTL))
    token = _sub(
        security,
        WSSE,
        "BinarySecurityToken",
        base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode("ascii"),
    )
    token.set(f"{{{WSU}}}Id", f"X509-{token_id}")
    token.set("EncodingType", BASE64_BINARY)
    token.set("ValueType", X509V3)
    _sub(header, WSA, "Action", action(operation))
    to_element = etree.SubElement(header, f"{{{WSA}}}To", nsmap={"wsu": WSU})
    to_element.text = to
    to_element.set(f"{{{WSU}}}Id", f"ID-{token_id}")
    body = _sub(_sub(envelope, SOAP, "Body"), WCF, operation)
    for name, value in params:
        if value is not None:
            _sub(body, WCF, name, value)

    signer = XMLSigner(
        method=SignatureConstructionMethod.detached,
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    # SignedInfo is canonicalized before the signature is placed in the header; declaring the
    # prefixes of its InclusiveNamespaces on the signature makes that canonical form the same
    # one a verifier computes in the envelope (same prefixes, same namespaces).
    signer.namespaces = {"ds": DS, "ec": EC, "wsa": WSA, "soap": SOAP, "wcf": WCF}
    signature = signer.sign(
        envelope,
        key=key,
        reference_uri=[
            SignatureReference(URI=f"#ID-{token_id}", inclusive_ns_prefixes=REFERENCE_PREFIXES),
            SignatureReference(URI=f"#TS-{token_id}", inclusive_ns_prefixes=[]),
        ],
        key_info=_security_token_reference(token_id),
        inclusive_ns_prefixes=SIGNED_INFO_PREFIXES,
    )
    signature.set("Id", f"SIG-{token_id}")
    security.append(signature)
    return etree.tostring(envelope, encoding="UTF-8", xml_declaration=False)
