"""The simulator's DIAN side: validate what arrives, answer like DIAN, keep what DIAN keeps."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
import uuid

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from lxml import etree

from . import appresponse, checks, selectors
from .archive import ArchiveError, XmlFile, decode, unzip
from .document import Facts, NotUbl, billing_references, facts, parse
from .faults import take_fault
from .models import (
    DIAN_TEST_TECHNICAL_KEY,
    Batch,
    ConfigStamp,
    DocumentKind,
    Fault,
    FaultKind,
    NumberingRange,
    ReceivedDocument,
    SigningIdentity,
    SimulatorSettings,
    Software,
    TestSet,
    TestSetStatus,
)
from .soap import DianResponse, NumberingAnswer, NumberRange, UploadResponse, XmlAnswer

logger = logging.getLogger(__name__)

ACCEPTED = "Procesado Correctamente."
REJECTED = "Validación contiene errores en campos mandatorios."


# -- the simulator's certificate ----------------------------------------------------------------


def signing_identity() -> SigningIdentity:
    """The "DIAN" key and certificate, generated on first use and kept in the database."""
    found = SigningIdentity.objects.filter(name="dian").first()
    if found is not None:
        return found
    key_pem, cert_pem = appresponse.new_identity()
    try:
        with transaction.atomic():
            return SigningIdentity.objects.create(name="dian", key_pem=key_pem, cert_pem=cert_pem)
    except IntegrityError:  # another request created it first
        return SigningIdentity.objects.get(name="dian")


# -- validation of one document --------------------------------------------------------------


def _duplicate_key(issuer_nit: str, type_code: str, number: str) -> str:
    kind = "01" if type_code in ("01", "02", "03", "04") else type_code
    return hashlib.sha256(f"{issuer_nit}{kind}{number}".encode()).hexdigest()


def _hyphenated(number: str) -> str:
    match = re.fullmatch(r"(\D*)(\d+)", number)
    return f"{match.group(1)}-{match.group(2)}" if match and match.group(1) else number


def answer_of(doc: ReceivedDocument, *, for_status: bool = False) -> DianResponse:
    message = doc.status_message
    if for_status and doc.is_valid:
        message = message.replace(doc.number, _hyphenated(doc.number), 1)
    return DianResponse(
        status_code=doc.status_code, status_description=doc.status_description,
        is_valid=doc.is_valid, status_message=message, errors=tuple(doc.errors),
        application_response=bytes(doc.application_response), document_key=doc.document_key,
        xml_file_name=doc.xml_file_name,
    )  # fmt: skip


def _record(
    xml: XmlFile, batch: Batch | None, answer: DianResponse, **fields: object
) -> DianResponse:
    ReceivedDocument.objects.create(
        document_key=answer.document_key, batch=batch, xml_file_name=xml.name,
        is_valid=answer.is_valid, status_code=answer.status_code or "",
        status_description=answer.status_description, status_message=answer.status_message,
        errors=list(answer.errors), application_response=answer.application_response,
        xml=xml.content, **fields,
    )  # fmt: skip
    return answer


def _early(
    xml: XmlFile, batch: Batch | None, code: str, description: str, *,
    errors: tuple[str, ...] = (), status_message: str = "",
) -> DianResponse:  # fmt: skip
    answer = DianResponse(
        status_code=code, status_description=description, xml_file_name=xml.name,
        errors=errors, status_message=status_message,
    )  # fmt: skip
    if batch is not None:  # GetStatusZip reports every XML of a batch
        return _record(xml, batch, answer, kind=DocumentKind.INVOICE, issuer_nit="", number="")
    return answer


def _authorized(certificate_nit: str | None, issuer_nit: str, sw: Software | None) -> bool:
    if certificate_nit is None:
        return True
    allowed = {issuer_nit}
    if sw is not None:
        allowed.add(sw.provider_nit)
    return certificate_nit in allowed or certificate_nit[:-1] in allowed


def _injected_finding(fault: Fault, doc: Facts) -> checks.Finding:
    """The verdict an armed reject/notify fault adds; with no rule given, a rule DIAN really
    answers that way: the key (CUFE/CUDE) for a rejection, as ``arm_fault`` does, the name
    against the RUT for a notice (FAJ44b is a notice only, never a rejection)."""
    rejection = fault.kind == FaultKind.REJECT_NEXT
    if rejection:
        name = "CUFE" if doc.kind == DocumentKind.INVOICE else "CUDE"
        code, text = f"{doc.letter}AD06", f"Valor del {name} no está calculado correctamente."
    else:
        code = "FAJ44b"
        text = "Nombre informado no corresponde al registrado en el RUT con respecto al NIT."
    return checks.Finding(fault.rule_code or code, fault.rule_text or text, rejection=rejection)


def validate_document(
    xml: XmlFile,
    *,
    certificate_nit: str | None,
    batch: Batch | None = None,
    known: selectors.Known | None = None,
) -> DianResponse:
    """Validate one XML like DIAN and record the answer (runs inside the caller's transaction).

    ``known``: the settings, software, ranges and armed faults the caller read for this request
    (``selectors.known()``; read here if None).
    """
    now = timezone.now()
    known = known or selectors.known()
    settings = known.settings
    try:
        root = parse(xml.content)
    except etree.XMLSyntaxError as exc:
        return _early(xml, batch, "89", f"Error al parsear xml. {exc}")
    try:
        doc = facts(root)
    except NotUbl as exc:
        return _early(
            xml, batch, "99", REJECTED,
            errors=("Regla: ZB01, Rechazo: Fallo en el esquema XML del archivo",),
            status_message=f"Documento con errores en campos mandatorios. {exc}",
        )  # fmt: skip
    missing = [
        f"Regla: {rule}, Rechazo: {text}"
        for rule, value, text in (
            (f"{doc.letter}AD06", doc.key, "El documento no informa el CUFE/CUDE (cbc:UUID)."),
            (f"{doc.letter}AD05", doc.number, "El documento no informa su número (cbc:ID)."),
            (f"{doc.letter}AJ21", doc.supplier_nit, "El documento no informa el NIT del emisor."),
        )
        if not value
    ]
    if missing:
        return _early(
            xml, batch, "66", "Documento no cumple con los campos mínimos.", errors=tuple(missing)
        )
    if certificate_nit is None and settings.require_certificate_nit:
        return _early(xml, batch, "89", "NIT de la empresa no informado en el certificado.")
    sw = known.software(doc.software_id)
    if not _authorized(certificate_nit, doc.supplier_nit, sw):
        return _early(
            xml, batch, "89",
            f"NIT {certificate_nit} no autorizado a enviar documentos para emisor con NIT {doc.supplier_nit}.",
        )  # fmt: skip
    duplicate_key = _duplicate_key(doc.supplier_nit, doc.type_code, doc.number)
    references = billing_references(root)
    kind_fields = dict(
        kind=doc.kind, issuer_nit=doc.supplier_nit, number=doc.number, type_code=doc.type_code[:4],
        payable_amount=checks.amount(doc.payable),
        referenced_key=references[0][1].lower()[:96] if len(references) == 1 else "",
    )  # fmt: skip
    original = selectors.accepted(duplicate_key)
    if original is not None:
        return _duplicate(xml, batch, original, kind_fields)
    errors = checks.schema_errors(root, doc.root_name)
    if errors:
        answer = DianResponse(
            status_code="99", status_description=REJECTED,
            errors=("Regla: ZB01, Rechazo: Fallo en el esquema XML del archivo",),
            status_message="Documento con errores en campos mandatorios. " + "; ".join(errors),
            document_key=doc.key.lower(), xml_file_name=xml.name,
        )  # fmt: skip
        return _record(xml, batch, answer, **kind_fields)
    numbering = (
        known.numbering_range(sw, doc.supplier_nit, doc.resolution)
        if sw is not None and doc.kind == DocumentKind.INVOICE
        else None
    )
    findings = checks.findings_for(
        root, xml.content, doc, now=now, settings=settings, software=sw, numbering=numbering
    )
    injected = take_fault((FaultKind.REJECT_NEXT, FaultKind.NOTIFY_NEXT), armed=known.armed)
    if injected is not None:
        findings.append(_injected_finding(injected, doc))
    accepted = not any(f.rejection for f in findings)
    authorized_text = f"La {doc.type_name} {_hyphenated(doc.number)}, ha sido autorizada."
    outcome = appresponse.Outcome(
        number=doc.number, key=doc.key.lower(), key_scheme="CUFE-SHA384", accepted=accepted,
        findings=tuple(findings), authorized_text=authorized_text, issuer_nit=doc.supplier_nit,
        issuer_dv=doc.supplier_dv, issuer_name=doc.supplier_name, environment=doc.environment,
    )  # fmt: skip
    identity = known.identity or signing_identity()
    ar = appresponse.sign(
        appresponse.build(outcome, now=now, software_id=doc.software_id or "-", pin=sw.pin if sw else ""),
        bytes(identity.key_pem), bytes(identity.cert_pem),
    )  # fmt: skip
    answer = DianResponse(
        status_code="00" if accepted else "99",
        status_description=ACCEPTED if accepted else REJECTED,
        is_valid=accepted,
        status_message=(
            f"La {doc.type_name} {doc.number}, ha sido autorizada."
            if accepted else "Documento con errores en campos mandatorios."
        ),
        errors=tuple(f.message for f in findings), application_response=ar,
        document_key=doc.key.lower(), xml_file_name=xml.name,
    )  # fmt: skip
    try:
        with transaction.atomic():
            _record(
                xml, batch, answer, duplicate_key=duplicate_key if accepted else None, **kind_fields
            )
    except IntegrityError:  # the same document was accepted concurrently
        return _duplicate(
            xml, batch, ReceivedDocument.objects.get(duplicate_key=duplicate_key), kind_fields
        )
    logger.info(
        "DIAN simulator: %s %s %s (%s)", doc.kind.label, doc.number,
        "accepted" if accepted else "rejected", ", ".join(f.rule for f in findings) or "no messages",
    )  # fmt: skip
    return answer


def _duplicate(
    xml: XmlFile, batch: Batch | None, original: ReceivedDocument, kind_fields: dict
) -> DianResponse:
    answer = DianResponse(
        status_code="99", status_description=REJECTED,
        errors=("Regla: 90, Rechazo: Documento procesado anteriormente.",),
        status_message="Documento con errores en campos mandatorios.",
        application_response=bytes(original.application_response),
        document_key=original.document_key, xml_file_name=xml.name,
    )  # fmt: skip
    logger.info("DIAN simulator: %s already processed", original.number)
    return _record(xml, batch, answer, **kind_fields)


# -- operations ------------------------------------------------------------------------------------


@transaction.atomic
def send_bill_sync(
    *,
    file_name: str,
    content: str | None,
    certificate_nit: str | None,
    known: selectors.Known | None = None,
) -> DianResponse:
    try:
        files = unzip(decode(content), single=True)
    except ArchiveError as exc:
        return DianResponse(status_code="89", status_description=str(exc))
    return validate_document(files[0], certificate_nit=certificate_nit, known=known)


@transaction.atomic
def send_batch(
    *, file_name: str, content: str | None, certificate_nit: str | None,
    test_set_id: str | None = None, production: bool = False,
    known: selectors.Known | None = None,
) -> UploadResponse:  # fmt: skip
    """SendTestSetAsync (with a test set id) or SendBillAsync: store, validate, answer a ZipKey."""
    if test_set_id is not None and production:
        return UploadResponse(refusals=("Acción no disponible en producción.",))
    try:
        files = unzip(decode(content), single=False)
    except ArchiveError as exc:
        return UploadResponse(refusals=(str(exc),))
    test_set = None
    if test_set_id is not None:
        try:
            test_set = selectors.test_set(str(uuid.UUID(test_set_id)))
        except ValueError:
            test_set = None
        if test_set is None:
            return UploadResponse(
                refusals=(f"Set de prueba con identificador {test_set_id} no existe.",)
            )
    known = known or selectors.known()
    now = timezone.now()
    refusal = ""
    if test_set is not None and test_set.status != TestSetStatus.IN_PROCESS:
        word = "Aceptado" if test_set.status == TestSetStatus.ACCEPTED else "Rechazado"
        refusal = f"Set de prueba con identificador {test_set.test_set_id} se encuentra {word}."
    batch = Batch.objects.create(
        test_set=test_set, file_name=file_name or "", refusal=refusal,
        ready_at=now + dt.timedelta(seconds=known.settings.batch_seconds),
    )  # fmt: skip
    if not refusal:
        for xml in files:
            validate_document(xml, certificate_nit=certificate_nit, batch=batch, known=known)
        if test_set is not None:
            _count_test_set(test_set)
    logger.info(
        "DIAN simulator: batch %s (%s XML, test set %s)", batch.zip_key, len(files), test_set_id
    )
    return UploadResponse(zip_key=str(batch.zip_key))


#: The type codes DIAN counts towards a test set (dian-webservice.md §3 step 4).
TEST_SET_TYPES = {
    DocumentKind.INVOICE: ("1", "01", "02", "03"),
    DocumentKind.CREDIT_NOTE: ("7", "91"),
    DocumentKind.DEBIT_NOTE: ("8", "92"),
}


def _count_test_set(test_set: TestSet) -> None:
    """DIAN's acceptance rule for a test set (dian-webservice.md §3 step 4)."""
    test_set = TestSet.objects.select_for_update().get(pk=test_set.pk)
    docs = ReceivedDocument.objects.filter(batch__test_set=test_set)
    accepted = {
        # rows stored before type codes were kept ("") count by their kind
        kind: docs.filter(
            Q(type_code__in=codes) | Q(type_code=""), is_valid=True, kind=kind
        ).count()
        for kind, codes in TEST_SET_TYPES.items()
    }
    rejected = docs.filter(is_valid=False).count()
    if (
        accepted[DocumentKind.INVOICE] >= test_set.invoices_required
        and accepted[DocumentKind.CREDIT_NOTE] >= test_set.credit_notes_required
        and accepted[DocumentKind.DEBIT_NOTE] >= test_set.debit_notes_required
        and sum(accepted.values()) >= test_set.accepted_required
    ):
        test_set.status = TestSetStatus.ACCEPTED
    elif rejected > test_set.total_documents_required - test_set.accepted_required:
        test_set.status = TestSetStatus.REJECTED
    test_set.save(update_fields=["status"])
    logger.info(
        "DIAN simulator: test set %s %s (%s accepted, %s rejected)",
        test_set.test_set_id,
        test_set.status,
        accepted,
        rejected,
    )


@transaction.atomic
def get_status(*, track_id: str | None) -> DianResponse:
    track_id = (track_id or "").strip()
    if len(track_id) < 20:
        return DianResponse(status_code="89", status_description="TrackId inválido (Length).")
    if take_fault((FaultKind.IN_PROCESS,)) is not None:
        return DianResponse(
            status_code="98", status_description="En Proceso", document_key=track_id.lower()
        )
    doc = selectors.by_track_id(track_id)
    if doc is None:
        return DianResponse(
            status_code="66", status_description="TrackId no existe en los registros de la DIAN."
        )
    return answer_of(doc, for_status=True)


@transaction.atomic
def get_status_zip(*, track_id: str | None) -> list[DianResponse]:
    try:
        zip_key = str(uuid.UUID((track_id or "").strip()))
    except ValueError:
        return [DianResponse(status_code="89", status_description="Formato trackId inválido.")]
    batch = selectors.batch(zip_key)
    if batch is None:
        return [DianResponse(status_code="66", status_description="TrackId no encontrado.")]
    pending = DianResponse(status_code="", status_description="Batch en proceso de validación.")
    if batch.ready_at > timezone.now() or take_fault((FaultKind.IN_PROCESS,)) is not None:
        return [pending]
    if batch.refusal:
        return [
            DianResponse(
                status_code="2", status_description=batch.refusal, status_message=batch.refusal
            )
        ]
    return [answer_of(doc) for doc in batch.documents.order_by("id")]


def get_numbering_range(
    *, account_code: str | None, account_code_t: str | None, software_code: str | None,
    certificate_nit: str | None,
) -> NumberingAnswer:  # fmt: skip
    issuer, owner, code = (
        (account_code or "").strip(),
        (account_code_t or "").strip(),
        (software_code or "").strip(),
    )
    if certificate_nit is None and selectors.simulator_settings().require_certificate_nit:
        return NumberingAnswer("89", "NIT de la empresa no informado en el certificado.")
    if certificate_nit is not None and not {certificate_nit, certificate_nit[:-1]} & {
        issuer,
        owner,
    }:
        return NumberingAnswer(
            "401", f"NIT {certificate_nit} no autorizado para consultar rangos del NIT {issuer}."
        )
    sw = selectors.software(code)
    if sw is None:
        return NumberingAnswer(
            "302", f"No registra prefijos asociados al código de software: {code}"
        )
    if sw.provider_nit != owner or not selectors.issuer_allowed(sw, issuer):
        return NumberingAnswer("303", f"El código del software no corresponde al NIT: {owner}")
    ranges = list(selectors.valid_ranges(sw, issuer, timezone.localdate()))
    if not ranges:
        return NumberingAnswer(
            "301", f"No fue encontrado ningún rango de numeración para el NIT: {issuer}"
        )
    return NumberingAnswer(
        "100", "Acción completada OK.",
        tuple(
            NumberRange(
                resolution_number=r.resolution_number, resolution_date=r.resolution_date.isoformat(),
                prefix=r.prefix, from_number=r.from_number, to_number=r.to_number,
                valid_from=r.valid_from.isoformat(), valid_to=r.valid_to.isoformat(),
                technical_key=r.technical_key,
            )
            for r in ranges
        ),
    )  # fmt: skip


def get_xml_by_document_key(*, track_id: str | None, certificate_nit: str | None) -> XmlAnswer:
    key = (track_id or "").strip().lower()
    doc = (
        selectors.accepted_invoice(key)
        or ReceivedDocument.objects.filter(document_key=key, is_valid=True).first()
    )
    if doc is None:
        return XmlAnswer("404", f"Xml con CUFE: '{key}' no encontrado.")
    if certificate_nit is not None and doc.issuer_nit not in (
        certificate_nit,
        certificate_nit[:-1],
    ):
        return XmlAnswer("401", "No autorizado.")
    return XmlAnswer("100", "Accion completada OK", bytes(doc.xml))


# -- seed data ----------------------------------------------------------------------------------

DEMO_SOFTWARE_ID = "56f2ae4e-9812-4fad-9255-08fcfcd5ccb0"
DEMO_SOFTWARE_PIN = "12345"
DEMO_PROVIDER_NIT = "800123456"
DEMO_TEST_SET_ID = "7c4f0a2e-5b1d-4e8a-9f63-2d8b1e6a0c35"


@transaction.atomic
def seed(
    *, software_id: str = DEMO_SOFTWARE_ID, pin: str = DEMO_SOFTWARE_PIN,
    provider_nit: str = DEMO_PROVIDER_NIT, test_set_id: str = DEMO_TEST_SET_ID,
) -> list[str]:  # fmt: skip
    """DIAN's published test values the demo uses (idempotent); returns what was created."""
    created = []
    # The data stamp too (a flushed database has none, and then nothing is kept per process):
    # a new random value, never one a process may have kept data under.
    ConfigStamp.objects.get_or_create(pk=1, defaults={"stamp": secrets.token_hex(16)})
    SimulatorSettings.objects.get_or_create(pk=1)
    sw, made = Software.objects.get_or_create(
        software_id=software_id,
        defaults=dict(pin=pin, provider_nit=provider_nit, name="ClientArea (demo)"),
    )
    if made:
        created.append(
            f"software {software_id} (PIN {pin}, provider NIT {provider_nit}, any issuer)"
        )
    _, made = NumberingRange.objects.get_or_create(
        software=sw, resolution_number="18760000001", prefix="SETP",
        defaults=dict(
            resolution_date=dt.date(2019, 1, 19), from_number=990000000, to_number=995000000,
            valid_from=dt.date(2019, 1, 19), valid_to=dt.date(2030, 1, 19),
            technical_key=DIAN_TEST_TECHNICAL_KEY,
        ),
    )  # fmt: skip
    if made:
        created.append("numbering range 18760000001 SETP 990000000–995000000 (DIAN test set)")
    _, made = TestSet.objects.get_or_create(test_set_id=test_set_id, defaults=dict(software=sw))
    if made:
        created.append(f"test set {test_set_id} (2 invoices, 1 credit note, 1 debit note)")
    logger.info("DIAN simulator seeded: %s", created or "nothing new")
    return created
