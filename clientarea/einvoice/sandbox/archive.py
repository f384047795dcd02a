"""The ZIP-in-base64 ``contentFile`` (``shared/docs/dian-webservice.md`` §1.6), read like DIAN's server."""

from __future__ import annotations

import base64
import binascii
import io
import zipfile
from dataclasses import dataclass

MAX_BATCH = 50
MAX_XML_BYTES = 10 * 1024 * 1024  # the service's maxReceivedMessageSize (§1.2)


class ArchiveError(ValueError):
    """A request-level refusal (StatusCode 89) with DIAN's message."""


@dataclass(frozen=True)
class XmlFile:
    name: str  # the entry name without ".xml" (DIAN's XmlFileName)
    content: bytes


def decode(content: str | None) -> bytes:
    if not content:
        raise ArchiveError("Archivo no encontrado.")
    try:
        return base64.b64decode("".join(content.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ArchiveError("MIMEType del archivo inválido (contenido no es base64).") from exc


def unzip(data: bytes, *, single: bool) -> list[XmlFile]:
    """The XML entries of the ZIP, or :class:`ArchiveError` with DIAN's wording."""
    if not data.startswith(b"PK\x03\x04"):
        raise ArchiveError("MIMEType del archivo inválido (application/octet-stream).")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = [
            info
            for info in archive.infolist()
            if not info.is_dir()
            and info.filename.lower().endswith(".xml")
            and "_MACOSX" not in info.filename
        ]
        if not entries:
            raise ArchiveError(
                "Error descomprimiendo el archivo ZIP: No fue encontrado ningun documento XML válido."
            )
        if single and len(entries) > 1:
            raise ArchiveError("El método síncrono solo puede recibir un documento.")
        if len(entries) > MAX_BATCH:
            raise ArchiveError(
                f"Cantidad de documentos dentro del lote ZIP excede máximo permitido: {MAX_BATCH}"
            )
        files = []
        for info in entries:
            if info.file_size > MAX_XML_BYTES:
                raise ArchiveError(
                    f"Error descomprimiendo el archivo ZIP: {info.filename} excede el tamaño máximo."
                )
            with archive.open(info) as handle:
                content = handle.read(MAX_XML_BYTES + 1)
            if len(content) > MAX_XML_BYTES:
                raise ArchiveError(
                    f"Error descomprimiendo el archivo ZIP: {info.filename} excede el tamaño máximo."
                )
            if not content.strip():
                raise ArchiveError("El xml adjuntado se encuentra vacío.")
            name = info.filename.rsplit("/", 1)[-1]
            files.append(XmlFile(name=name[: -len(".xml")], content=content))
        return files
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,  # zipfile's answer to a compression method it cannot read
        EOFError,
        OSError,
    ) as exc:
        raise ArchiveError(f"Error descomprimiendo el archivo ZIP: {exc}") from exc
