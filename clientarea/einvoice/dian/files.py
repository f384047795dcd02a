"""The ZIP-in-base64 convention of DIAN's web service and its file names (``dian-webservice.md`` §1.6).

``contentFile`` is the base64 of a ZIP that holds the signed XML. For ``SendBillSync`` the ZIP
holds exactly one ``.xml``. DIAN's server does not enforce file names, but the Anexo Técnico
names them: ``fv`` (invoice), ``nc`` (credit note) or ``nd`` (debit note) followed by the
stem ``NIT (10 digits, no DV) + provider code (000 = own software) + year (2 digits) + 8-digit
hexadecimal consecutive``; the ZIP is ``z`` + the same stem. The stem is the one the buyer's
AttachedDocument uses (``attached.dian_file_stem``), so one rule names every file.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from enum import StrEnum

from clientarea.einvoice.attached import dian_file_stem


class DocumentKind(StrEnum):
    """File-name prefix of each document type."""

    INVOICE = "fv"
    CREDIT_NOTE = "nc"
    DEBIT_NOTE = "nd"


@dataclass(frozen=True)
class Package:
    """What one ``Send*`` call carries: the ZIP's name and bytes, and the XML entry's name."""

    file_name: str
    xml_name: str
    content: bytes


def file_names(
    kind: DocumentKind, *, supplier_nit: str, year: int, sequence: int, provider_code: str = "000"
) -> tuple[str, str]:
    """``(zip name, xml name)``, e.g. ``("z0900373076000260000001f.zip", "fv0900…1f.xml")``."""
    stem = dian_file_stem(supplier_nit, year, sequence, provider_code)
    return f"z{stem}.zip", f"{kind.value}{stem}.xml"


def package(
    xml: bytes,
    kind: DocumentKind,
    *,
    supplier_nit: str,
    year: int,
    sequence: int,
    provider_code: str = "000",
    when: dt.datetime | None = None,
) -> Package:
    """Zip one signed XML under DIAN's names. ``when`` dates the entry (reproducible ZIPs)."""
    if not xml.strip():
        raise ValueError("the XML to send is empty")
    zip_name, xml_name = file_names(
        kind, supplier_nit=supplier_nit, year=year, sequence=sequence, provider_code=provider_code
    )
    return Package(file_name=zip_name, xml_name=xml_name, content=zip_one(xml_name, xml, when=when))


def zip_one(name: str, data: bytes, *, when: dt.datetime | None = None) -> bytes:
    """A ZIP holding one deflated entry ``name``."""
    moment = when or dt.datetime(1980, 1, 1)  # noqa: DTZ001 (ZIP entry times carry no zone)
    info = zipfile.ZipInfo(name, date_time=moment.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(info, data)
    return buffer.getvalue()


def unzip_xml(content: bytes) -> dict[str, bytes]:
    """The ``.xml`` entries of a ZIP by name (what DIAN reads from ``contentFile``)."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {
            info.filename: archive.read(info)
            for info in archive.infolist()
            if info.filename.lower().endswith(".xml") and "__MACOSX" not in info.filename
        }
