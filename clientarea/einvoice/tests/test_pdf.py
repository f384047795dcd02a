"""Printed representation: DIAN's required content is in the PDF text, QR, size limits."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from decimal import Decimal

import pytest

from clientarea.einvoice import attached, qr, signing, ubl
from clientarea.einvoice.documents import Line
from clientarea.einvoice.pdf import render_invoice_pdf
from clientarea.einvoice.tests import factories

PDFTOTEXT = shutil.which("pdftotext")
needs_pdftotext = pytest.mark.skipif(PDFTOTEXT is None, reason="pdftotext (poppler-utils) not installed")


def _render(doc=None, **kwargs) -> tuple[bytes, str]:
    doc = doc or factories.invoice()
    cufe = ubl.invoice_cufe(ubl.build_invoice_xml(doc))
    return render_invoice_pdf(doc, cufe, qr.qr_text(doc, cufe), **kwargs), cufe


def _text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "invoice.pdf"
    path.write_bytes(pdf)
    return subprocess.run([PDFTOTEXT, "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_pdf_is_a_pdf():
    pdf, _ = _render()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")


@needs_pdftotext
def test_spanish_pdf_has_dians_required_content(tmp_path):
    doc = factories.invoice()
    pdf, cufe = _render(doc)
    text = _text(pdf, tmp_path)
    compact = "".join(text.split())
    assert cufe in compact
    for expected in (
        "FACTURA ELECTRÓNICA DE VENTA",
        "SETP990000123",  # number with prefix
        "NIT 900373076-4",  # seller NIT-DV
        "CONEXCOL S.A.S.",
        "María José Pérez Gómez",  # accents render (bundled Unicode font)
        "C.C. 1020304050",  # buyer document
        "18760000001",  # resolution, range and validity
        "990000000 a 995000000",
        "19/01/2019 a 19/01/2030",
        "14:30:05-05:00",  # issue time
        "Contado",  # payment form
        "Tarjeta crédito",  # payment means
        "ODS-000123",
        "01/01/2025 –",  # service period
        "19 %",
        "Exento",
        "Excluido",
        "$ 228.691,34",  # Colombian format
        "$ 19.000,00",
        "No es agente retenedor de IVA",
        "Software de facturación: ClientArea",
    ):
        assert expected in text, expected


@needs_pdftotext
def test_english_pdf_keeps_the_spanish_legal_title(tmp_path):
    text = _text(_render(language="en")[0], tmp_path)
    assert "ELECTRONIC SALES INVOICE" in text
    assert "Factura electrónica de venta" in text
    assert "TOTAL DUE" in text and "Credit card" in text and "2025-01-15" in text


@needs_pdftotext
def test_long_invoice_spans_pages_and_keeps_the_cufe(tmp_path):
    lines = tuple(
        Line.build(description=f"Servicio {i} con descripción larga para forzar el ajuste de línea en la tabla",
                   quantity=Decimal(i % 3 + 1), unit_price=Decimal("45900.50"),
                   tax_treatment=("taxed", "exempt", "excluded")[i % 3],
                   period_start=dt.date(2025, 1, 1), period_end=dt.date(2025, 3, 31))
        for i in range(45)
    )  # fmt: skip
    pdf, cufe = _render(factories.invoice(lines=lines, customer=factories.company_customer()))
    text = _text(pdf, tmp_path)
    assert "Página 1 de" in text and "Servicio 44" in text
    assert cufe in "".join(text.split())
    assert "NIT 900108281-3" in text


def test_logo_is_accepted(tmp_path):
    logo = tmp_path / "logo.png"
    logo.write_bytes(qr.qr_png("Conexcol"))
    with_logo, _ = _render(logo_path=logo)
    without, _ = _render()
    assert len(with_logo) > len(without)


def test_unknown_language_is_refused():
    with pytest.raises(ValueError):
        _render(language="fr")


def test_qr_text_and_png():
    doc = factories.invoice()
    cufe = ubl.invoice_cufe(ubl.build_invoice_xml(doc))
    text = qr.qr_text(doc, cufe)
    assert text.splitlines() == [
        "NumFac: SETP990000123",
        "FecFac: 2025-01-15",
        "HorFac: 14:30:05-05:00",
        "NitFac: 900373076",
        "DocAdq: 1020304050",
        "ValFac: 209691.34",
        "ValIva: 19000.00",
        "ValOtroIm: 0.00",
        "ValTolFac: 228691.34",
        f"CUFE: {cufe}",
        f"https://catalogo-vpfe-hab.dian.gov.co/document/searchqr?documentkey={cufe}",
    ]
    assert qr.qr_png(text).startswith(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ValueError):
        qr.qr_url(cufe, "3")


def test_zip_with_pdf_fits_the_2_mb_email_limit(tmp_path):
    doc = factories.invoice()
    key, cert = signing.create_demo_certificate(tmp_path / "demo.p12", "x", "Conexcol Demo")
    signed = signing.sign_invoice(ubl.build_invoice_xml(doc), key, cert)
    cufe = ubl.invoice_cufe(ubl.build_invoice_xml(doc))
    pdf = render_invoice_pdf(doc, cufe, qr.qr_text(doc, cufe))
    data = attached.build_email_zip(attached.build_attached_document(signed, doc), doc, sequence=1, pdf=pdf)
    assert len(data) < 2 * 1024 * 1024
    assert len(pdf) < 200 * 1024
