"""DIAN's ZIP-in-base64 packaging and file names (``dian-webservice.md`` §1.6)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest

from clientarea.einvoice.dian import files


@pytest.mark.parametrize(
    ("kind", "xml_name"),
    [
        (files.DocumentKind.INVOICE, "fv0900373076000260000001f.xml"),
        (files.DocumentKind.CREDIT_NOTE, "nc0900373076000260000001f.xml"),
        (files.DocumentKind.DEBIT_NOTE, "nd0900373076000260000001f.xml"),
    ],
)
def test_names_follow_the_anexo_rule(kind, xml_name):
    assert files.file_names(kind, supplier_nit="900373076", year=2026, sequence=31) == (
        "z0900373076000260000001f.zip",
        xml_name,
    )


def test_a_package_holds_exactly_the_signed_xml():
    when = dt.datetime(2026, 3, 1, 10, 3, 8)
    parcel = files.package(
        b"<Invoice/>", files.DocumentKind.INVOICE, supplier_nit="900373076", year=2026,
        sequence=1, when=when,
    )  # fmt: skip
    assert parcel.file_name == "z090037307600026" + "00000001.zip"
    with zipfile.ZipFile(io.BytesIO(parcel.content)) as archive:
        (info,) = archive.infolist()
        assert info.filename == parcel.xml_name and info.compress_type == zipfile.ZIP_DEFLATED
        assert info.date_time == (2026, 3, 1, 10, 3, 8)
    assert files.unzip_xml(parcel.content) == {parcel.xml_name: b"<Invoice/>"}
    again = files.package(
        b"<Invoice/>", files.DocumentKind.INVOICE, supplier_nit="900373076", year=2026,
        sequence=1, when=when,
    )  # fmt: skip
    assert again.content == parcel.content  # reproducible


def test_an_empty_document_or_a_bad_name_is_refused():
    with pytest.raises(ValueError, match="empty"):
        files.package(
            b"  ", files.DocumentKind.INVOICE, supplier_nit="900373076", year=2026, sequence=1
        )
    with pytest.raises(ValueError):
        files.file_names(
            files.DocumentKind.INVOICE, supplier_nit="90037307-6", year=2026, sequence=1
        )
    with pytest.raises(ValueError):
        files.file_names(
            files.DocumentKind.INVOICE, supplier_nit="900373076", year=2026, sequence=0
        )
