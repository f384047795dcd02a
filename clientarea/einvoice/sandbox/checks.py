"""DIAN's validation rules, as far as the simulator knows them.

Rule codes: FAD06/CAD06/DAD06 (key), FAB27b (software security code), FAB24b (software not
authorized for the issuer), FAD05e (number outside the authorization), ZE02 (signature), ZB01
(schema) and FAD09e (issue date vs signing date) are DIAN's as read in
``shared/docs/dian-webservice.md`` §2.4. The others (FAB05b, FAB05c, FAB07b, FAB08b, FAJ24,
FAK24, FAD09a, FAD09c, FAU02–FAU14, FAS07, FAV02, FBG01) follow DIAN's naming scheme (letter
per document type, group letter per element) but their exact code and wording in the Anexo
Técnico could not be read here: they are the simulator's, and say so in the README.
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography import x509
from lxml import etree
from signxml import DigestAlgorithm, SignatureMethod
from signxml.exceptions import SignXMLException
from signxml.xades import XAdESSignatureConfiguration, XAdESVerifier

from . import keys, selectors
from .document import Facts, billing_references, nodes, tax_total, text
from .models import DocumentKind, NumberingRange, ReceivedDocument, SimulatorSettings, Software

BOGOTA = ZoneInfo("America/Bogota")
DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
# The UBL 2.1 schemas the product ships (files only; no code of the product is used).
SCHEMAS = Path(__file__).resolve().parent.parent / "schemas" / "ubl21" / "maindoc"
_schema_lock = threading.Lock()
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


_XADES_CONFIG = XAdESSignatureConfiguration(
    expect_references=True,
    signature_methods=frozenset(
        {SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA384, SignatureMethod.RSA_SHA512}
    ),
    digest_algorithms=frozenset(
        {DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512}
    ),
)


@dataclass(frozen=True)
class Finding:
    rule: str
    text: str
    rejection: bool = True

    @property
    def message(self) -> str:
        word = "Rechazo" if self.rejection else "Notificación"
        return f"Regla: {self.rule}, {word}: {self.text}"


@cache
def _schema(root_name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / f"UBL-{root_name}-2.1.xsd")))


def schema_errors(root: etree._Element, root_name: str) -> list[str]:
    with _schema_lock:  # one compiled schema shared by the threads of a process
        schema = _schema(root_name)
        if schema.validate(root):
            return []
        return [f"línea {e.line}: {e.message}" for e in schema.error_log][:5]


def _amount(value: str) -> Decimal | None:
    try:
        return Decimal(value) if value else None
    except InvalidOperation:
        return None


def amount(value: str) -> Decimal | None:
    """A money amount as stored (2 decimals, 19 digits), or ``None`` when it is not one."""
    found = _amount(value)
    if found is None or not found.is_finite() or abs(found) >= Decimal(10) ** 17:
        return None
    return found.quantize(Decimal("0.01"))


def _sum(values: list[str]) -> Decimal:
    return sum((_amount(v) or Decimal(0) for v in values), Decimal(0))


def signature_findings(root: etree._Element, content: bytes, facts: Facts) -> list[Finding]:
    """The document's XAdES signature must verify with the certificate it carries.

    ``root`` is the document already parsed (the certificate is read from it); signxml parses
    ``content`` itself, as it always does, to verify the exact bytes received.
    """
    cert_text = root.findtext(
        f".//{{{DS}}}Signature/{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate"
    )
    if not cert_text:
        return [Finding("ZE02", "Documento no contiene una firma digital con su certificado.")]
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode("".join(cert_text.split())))
        results = XAdESVerifier().verify(
            content,
            x509_cert=cert,
            expect_config=_XADES_CONFIG,
        )
    except (SignXMLException, ValueError, etree.XMLSyntaxError) as exc:
        return [Finding("ZE02", f"Valor de la firma inválido: {exc}")]
    signed = results if isinstance(results, list) else [results]
    if not any(r.signed_xml is not None and r.signed_xml.tag == root.tag for r in signed):
        return [Finding("ZE02", "La firma no cubre el documento completo.")]
    return []


def _key_findings(
    root: etree._Element,
    facts: Facts,
    settings: SimulatorSettings,
    sw: Software | None,
    matched: NumberingRange | None,
) -> list[Finding]:
    letter = facts.letter
    findings: list[Finding] = []
    if sw is None:
        return [
            Finding(f"{letter}AB24b", "Identificador del software no existe o no está habilitado.")
        ]
    if not selectors.issuer_allowed(sw, facts.supplier_nit):
        findings.append(
            Finding(
                f"{letter}AB24b",
                "Identificador del software asignado no está activo o no corresponde a este OFE.",
            )
        )
    if facts.security_code.lower() != keys.software_security_code(
        sw.software_id, sw.pin, facts.number
    ):
        findings.append(
            Finding(
                f"{letter}AB27b", "Huella no corresponde a un software autorizado para este OFE."
            )
        )
    if facts.kind == DocumentKind.INVOICE and facts.type_code != "03":
        if facts.environment == "2":
            secret = settings.test_technical_key
        else:
            secret = matched.technical_key if matched else ""
    else:  # notes and type 03 use the software PIN (CUDE, §4.3)
        secret = sw.pin
    totals = facts.totals_path
    try:
        expected = keys.document_key(
            number=facts.number, issue_date=facts.issue_date, issue_time=facts.issue_time,
            line_extension=text(root, f"{totals}/LineExtensionAmount"),
            iva=tax_total(root, "01"), inc=tax_total(root, "04"), ica=tax_total(root, "03"),
            payable=text(root, f"{totals}/PayableAmount"), supplier_nit=facts.supplier_nit,
            customer_id=facts.customer_id, secret=secret, environment=facts.environment,
        )  # fmt: skip
    except ValueError:
        expected = ""
    if not secret or facts.key.lower() != expected:
        name = "CUFE" if facts.kind == DocumentKind.INVOICE else "CUDE"
        findings.append(
            Finding(f"{letter}AD06", f"Valor del {name} no está calculado correctamente.")
        )
    return findings


def _numbering_findings(
    facts: Facts, issue: dt.date | None, sw: Software | None, matched: NumberingRange | None
) -> list[Finding]:
    """``matched``: the software's range for this issuer and resolution (``Known.numbering_range``)."""
    if sw is None or facts.kind != DocumentKind.INVOICE:
        return []
    if matched is None:
        return [
            Finding(
                "FAB05b",
                "Número de la resolución no corresponde a una autorización de numeración del emisor.",
            )
        ]
    findings = []
    prefix = matched.prefix
    if facts.authorized_prefix != prefix or not facts.number.startswith(prefix):
        findings.append(
            Finding("FAB05c", f"Prefijo no corresponde al prefijo autorizado ({prefix}).")
        )
    consecutive = facts.number[len(prefix) :] if facts.number.startswith(prefix) else ""
    if (
        not consecutive.isdigit()
        or not matched.from_number <= int(consecutive) <= matched.to_number
    ):
        findings.append(
            Finding("FAD05e", "Número de factura no existe para el número de autorización.")
        )
    if issue is not None and issue < matched.valid_from:
        findings.append(
            Finding(
                "FAB07b",
                "Fecha de emisión anterior a la fecha de inicio de la autorización de numeración.",
            )
        )
    if issue is not None and issue > matched.valid_to:
        findings.append(
            Finding(
                "FAB08b",
                "Fecha de emisión posterior a la fecha final de la autorización de numeración.",
            )
        )
    return findings


def _nit_findings(facts: Facts) -> list[Finding]:
    findings = []
    letter = facts.letter
    if facts.supplier_scheme == "31" and (
        not facts.supplier_nit.isdigit()
        or keys.nit_check_digit(facts.supplier_nit) != facts.supplier_dv
    ):
        findings.append(Finding(f"{letter}AJ24", "El DV del NIT del emisor no es correcto."))
    if facts.customer_scheme == "31" and (
        not facts.customer_id.isdigit()
        or keys.nit_check_digit(facts.customer_id) != facts.customer_dv
    ):
        findings.append(Finding(f"{letter}AK24", "El DV del NIT del adquiriente no es correcto."))
    return findings


def _date_findings(
    root: etree._Element, facts: Facts, now: dt.datetime, settings: SimulatorSettings
) -> tuple[list[Finding], dt.date | None]:
    letter = facts.letter
    try:
        issued = dt.datetime.fromisoformat(f"{facts.issue_date}T{facts.issue_time}")
    except ValueError:
        return [Finding(f"{letter}AD09", "Fecha u hora de emisión inválida.")], None
    if issued.tzinfo is None:
        issued = issued.replace(tzinfo=BOGOTA)
    findings = []
    if issued > now + dt.timedelta(seconds=settings.clock_skew_seconds):
        findings.append(
            Finding(f"{letter}AD09a", "Fecha de emisión posterior a la fecha de recepción.")
        )
    if issued < now - dt.timedelta(days=settings.max_document_age_days):
        findings.append(
            Finding(
                f"{letter}AD09c",
                f"Fecha de emisión anterior a {settings.max_document_age_days} días de la fecha de recepción.",
            )
        )
    signing = root.findtext(f".//{{{XADES}}}SigningTime")
    if signing:
        try:
            signed_on = dt.datetime.fromisoformat(signing.strip())
            if signed_on.tzinfo is None:
                signed_on = signed_on.replace(tzinfo=BOGOTA)
            if signed_on.astimezone(BOGOTA).date() != issued.astimezone(BOGOTA).date():
                findings.append(
                    Finding(
                        f"{letter}AD09e",
                        "La fecha de emisión no coincide con la fecha de la firma.",
                    )
                )
        except ValueError:
            findings.append(Finding("ZE02", "SigningTime inválido."))
    return findings, issued.astimezone(BOGOTA).date()


def _total_findings(root: etree._Element, facts: Facts) -> list[Finding]:
    letter = facts.letter
    totals = facts.totals_path
    line_tag = {"F": "InvoiceLine", "C": "CreditNoteLine", "D": "DebitNoteLine"}[letter]
    qty_tag = {"F": "InvoicedQuantity", "C": "CreditedQuantity", "D": "DebitedQuantity"}[letter]
    findings = []
    cent = Decimal("0.01")
    for line in nodes(root, line_tag):
        qty, price, ext = (
            _amount(text(line, qty_tag)),
            _amount(text(line, "Price/PriceAmount")),
            _amount(text(line, "LineExtensionAmount")),
        )
        # The line's value is quantity × price minus its discounts plus its charges (the line's
        # own cac:AllowanceCharge, ChargeIndicator false / true).
        adjust = sum(
            (
                (_amount(text(ac, "Amount")) or Decimal(0))
                * (1 if text(ac, "ChargeIndicator") == "true" else -1)
                for ac in nodes(line, "AllowanceCharge")
            ),
            Decimal(0),
        )
        if (
            qty is not None
            and price is not None
            and ext is not None
            and abs(qty * price + adjust - ext) > cent
        ):
            findings.append(
                Finding(
                    f"{letter}AV02",
                    f"Valor de la línea {text(line, 'ID')} no corresponde a cantidad por precio unitario.",
                )
            )
    lines = _sum([text(n, "LineExtensionAmount") for n in nodes(root, line_tag)])
    tax_totals = nodes(root, "TaxTotal")
    for total in tax_totals:
        if _amount(text(total, "TaxAmount")) != _sum(
            [text(s, "TaxAmount") for s in nodes(total, "TaxSubtotal")]
        ):
            findings.append(
                Finding(
                    f"{letter}AS07",
                    "El valor del tributo no corresponde a la suma de sus subtotales.",
                )
            )
            break
    taxes = _sum([text(t, "TaxAmount") for t in tax_totals])
    taxable = _sum(
        [
            text(s, "TaxableAmount")
            for t in tax_totals
            for s in nodes(t, "TaxSubtotal")
            if text(s, "TaxCategory/TaxScheme/ID") == "01"
        ]
    )
    value = {name: _amount(text(root, f"{totals}/{name}")) for name in (
        "LineExtensionAmount", "TaxExclusiveAmount", "TaxInclusiveAmount", "AllowanceTotalAmount",
        "ChargeTotalAmount", "PrepaidAmount", "PayableRoundingAmount", "PayableAmount")}  # fmt: skip
    zero = Decimal(0)
    if value["LineExtensionAmount"] != lines:
        findings.append(
            Finding(
                f"{letter}AU02",
                "El valor bruto no es igual a la suma de los valores de las líneas.",
            )
        )
    if value["TaxExclusiveAmount"] is not None and value["TaxExclusiveAmount"] != taxable:
        findings.append(
            Finding(
                f"{letter}AU04",
                "La base imponible no es igual a la suma de las bases gravables de IVA.",
            )
        )
    if (
        value["TaxInclusiveAmount"] is not None
        and value["TaxInclusiveAmount"] != (value["LineExtensionAmount"] or zero) + taxes
    ):
        findings.append(
            Finding(
                f"{letter}AU06",
                "El valor bruto más tributos no es igual al valor bruto más la suma de los tributos.",
            )
        )
    expected = (
        (value["TaxInclusiveAmount"] or zero) - (value["AllowanceTotalAmount"] or zero)
        + (value["ChargeTotalAmount"] or zero) - (value["PrepaidAmount"] or zero)
        + (value["PayableRoundingAmount"] or zero)
    )  # fmt: skip
    if value["PayableAmount"] != expected:
        findings.append(
            Finding(f"{letter}AU14", "El valor a pagar no corresponde a los totales del documento.")
        )
    return findings


def _reference_findings(root: etree._Element, facts: Facts) -> list[Finding]:
    """BillingReference of notes 20/30 must name an invoice DIAN accepted: number, CUFE and
    issue date (dian-webservice.md §4.2); 22/32 notes reference none."""
    if facts.kind == DocumentKind.INVOICE or facts.customization in ("22", "32"):
        return []
    letter = facts.letter
    references = billing_references(root)
    if not references:
        return [
            Finding(
                f"{letter}BG01", "La nota no referencia la factura que afecta (BillingReference)."
            )
        ]
    findings = []
    for number, key, issue in references:
        invoice = selectors.accepted_invoice(key) if key else None
        if invoice is None:
            findings.append(
                Finding(
                    f"{letter}BG01",
                    f"La factura referenciada {number} con CUFE {key or '(vacío)'} no ha sido validada por la DIAN.",
                )
            )
            continue
        if invoice.number != number or invoice.issuer_nit != facts.supplier_nit:
            findings.append(
                Finding(
                    f"{letter}BG01",
                    f"El número {number} no corresponde a la factura con el CUFE referenciado.",
                )
            )
        if issue != _issue_date(invoice):
            findings.append(
                Finding(
                    f"{letter}BG02",
                    f"La fecha {issue or '(vacía)'} no corresponde a la fecha de emisión de la factura {invoice.number}.",
                )
            )
        if facts.kind == DocumentKind.CREDIT_NOTE and len(references) == 1:
            findings.extend(_over_credit(root, invoice))
    return findings


def _issue_date(invoice: ReceivedDocument) -> str:
    try:
        return text(etree.fromstring(bytes(invoice.xml), _PARSER), "IssueDate")
    except etree.XMLSyntaxError:
        return ""


def document_value(root: etree._Element) -> Decimal | None:
    """What a document is worth as a sale, or as the correction of one: ``TaxInclusiveAmount −
    AllowanceTotalAmount + ChargeTotalAmount`` of its totals (LegalMonetaryTotal, or
    RequestedMonetaryTotal for a debit note). Its ``PayableAmount`` also takes off
    ``PrepaidAmount`` (what the buyer paid before: a payment, not a lower value) and adds
    ``PayableRoundingAmount`` (the amount to pay rounded, not something sold), so a note that
    annuls the sale credits its value, which may differ from the invoice's PayableAmount by a
    rounding of cents or by the prepayments. None without a TaxInclusiveAmount."""
    totals = (
        "RequestedMonetaryTotal"
        if etree.QName(root).localname == "DebitNote"
        else ("LegalMonetaryTotal")
    )
    inclusive = amount(text(root, f"{totals}/TaxInclusiveAmount"))
    if inclusive is None:
        return None
    allowances = amount(text(root, f"{totals}/AllowanceTotalAmount")) or Decimal(0)
    charges = amount(text(root, f"{totals}/ChargeTotalAmount")) or Decimal(0)
    return inclusive - allowances + charges


def _stored_value(document: ReceivedDocument) -> Decimal:
    """:func:`document_value` of a document the simulator accepted (its PayableAmount when its
    XML is not readable)."""
    try:
        value = document_value(etree.fromstring(bytes(document.xml), _PARSER))
    except etree.XMLSyntaxError:
        value = None
    return value if value is not None else (document.payable_amount or Decimal(0))


def remaining_of(invoice: ReceivedDocument) -> Decimal:
    """What remains of an accepted invoice, in values (:func:`document_value`): its value −
    its accepted credit notes + its accepted debit notes."""
    remaining = _stored_value(invoice)
    for note in selectors.accepted_notes_of(invoice):
        value = _stored_value(note)
        remaining += value if note.kind == DocumentKind.DEBIT_NOTE else -value
    return remaining


def _over_credit(root: etree._Element, invoice: ReceivedDocument) -> list[Finding]:
    """A credit note worth more than remains of its invoice (its value − accepted credit notes +
    accepted debit notes, all in :func:`document_value`: neither the invoice's rounding to whole
    pesos nor its prepayments make it worth less) is *notified*, not rejected: the docs record
    no rejection rule for it (dian-webservice.md §8: the note reference rules live in DIAN's
    rule data)."""
    credited = document_value(root)
    if credited is None or invoice.payable_amount is None:
        return []
    remaining = remaining_of(invoice)
    if credited <= remaining:
        return []
    return [
        Finding(
            "CBG03",
            f"El valor de la nota ({credited}) supera el saldo de la factura {invoice.number} ({remaining}).",
            rejection=False,
        )
    ]


def findings_for(
    root: etree._Element,
    content: bytes,
    facts: Facts,
    *,
    now: dt.datetime,
    settings: SimulatorSettings,
    software: Software | None,
    numbering: NumberingRange | None,
) -> list[Finding]:
    """Every rule outcome (rejections and notifications) for a schema-valid document.

    ``numbering``: the software's range for the document's issuer and resolution, or None."""
    date_findings, issue = _date_findings(root, facts, now, settings)
    return [
        *signature_findings(root, content, facts),
        *_key_findings(root, facts, settings, software, numbering),
        *_numbering_findings(facts, issue, software, numbering),
        *_nit_findings(facts),
        *date_findings,
        *_total_findings(root, facts),
        *_reference_findings(root, facts),
    ]
