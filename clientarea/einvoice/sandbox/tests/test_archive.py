"""The simulator's unzipping answers a ZIP it cannot read as DIAN does, never with a traceback."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest

from clientarea.einvoice.sandbox.archive import ArchiveError, unzip


def _zip(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


def test_a_compression_method_zipfile_cannot_read_is_an_unzipping_error():
    data = bytearray(_zip("fv.xml", b"<Invoice/>"))
    # Method 99 (AES, as some zip tools write) in the local header and the central directory.
    struct.pack_into("<H", data, 8, 99)
    central = data.rindex(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 10, 99)
    with pytest.raises(ArchiveError, match="Error descomprimiendo el archivo ZIP"):
        unzip(bytes(data), single=True)


def test_a_readable_zip_gives_its_xml():
    (xml,) = unzip(_zip("fv.xml", b"<Invoice/>"), single=True)
    assert (xml.name, xml.content) == ("fv", b"<Invoice/>")
