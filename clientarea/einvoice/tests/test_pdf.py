"""Printed representation: DIAN's required content is in the PDF text, QR, size limits."""

from __future__ import annotations

import ast
import datetime as dt
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from clientarea.einvoice import attached, qr, signing, ubl
from clientarea.einvoice import pdf as pdf_module
from clientarea.einvoice.documents import Line
from clientarea.einvoice.pdf import render_invoice_pdf
from clientarea.einvoice.tests import factories
from clientarea.lib.qr import qr_svg
from clientarea.lib.tests.qr_decode import decode_qr_svg, needs_zbarimg

PDFTOTEXT = shutil.which("pdftotext")
needs_pdftotext = pytest.mark.skipif(
    PDFTOTEXT is None, reason="pdftotext (poppler-utils) not installed"
)


def _render(doc=None, **kwargs) -> tuple[bytes, str]:
    doc = doc or factories.invoice()
    cufe = ubl.invoice_cufe(ubl.build_invoice_xml(doc))
    return render_invoice_pdf(doc, cufe, qr.qr_text(doc, cufe), **kwargs), cufe


def _text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "invoice.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        [str(PDFTOTEXT), "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


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
    doc = factories.invoice(lines=lines, customer=factories.company_customer())
    pdf, cufe = _render(doc)
    text = _text(pdf, tmp_path)
    assert "Página 1 de" in text and "Servicio 44" in text
    assert cufe in "".join(text.split())
    assert "NIT 900108281-3" in text
    pages = text.split("\f")[:-1]
    assert len(pages) > 1
    for number, page in enumerate(pages, start=1):  # the footer, read from the body's metadata
        assert f"Factura electrónica de venta {doc.full_id} · CONEXCOL S.A.S." in page
        assert f"Página {number} de {len(pages)}" in page


def test_logo_is_accepted(tmp_path):
    logo = tmp_path / "logo.png"
    Image.new("RGB", (600, 200), (22, 54, 92)).save(logo)
    with_logo, _ = _render(logo_path=logo)
    without, _ = _render()
    assert len(with_logo) > len(without)


def test_unknown_language_is_refused():
    with pytest.raises(ValueError):
        _render(language="fr")


def test_qr_text():
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
    with pytest.raises(ValueError):
        qr.qr_url(cufe, "3")


def test_zip_with_pdf_fits_the_2_mb_email_limit(tmp_path):
    doc = factories.invoice()
    key, cert = signing.create_demo_certificate(tmp_path / "demo.p12", "x", "Conexcol Demo")
    signed = signing.sign_invoice(ubl.build_invoice_xml(doc), key, cert)
    cufe = ubl.invoice_cufe(ubl.build_invoice_xml(doc))
    pdf = render_invoice_pdf(doc, cufe, qr.qr_text(doc, cufe))
    data = attached.build_email_zip(
        attached.build_attached_document(signed, doc), doc, sequence=1, pdf=pdf
    )
    assert len(data) < 2 * 1024 * 1024
    assert len(pdf) < 200 * 1024


# -- how it is drawn: public APIs, fonts, images -------------------------------------------

ZBARIMG = shutil.which("zbarimg")
PDFTOPPM = shutil.which("pdftoppm")


@needs_pdftotext
def test_rare_characters_still_render(tmp_path):
    customer = factories.natural_customer(
        legal_name="Σωκράτης Παπαδόπουλος", address_line="Calle 5 → Ñ"
    )
    text = _text(_render(factories.invoice(customer=customer))[0], tmp_path)
    assert "Σωκράτης Παπαδόπουλος" in text and "Calle 5 → Ñ" in text


@needs_pdftotext
def test_typst_markup_and_quotes_in_the_data_print_as_they_are(tmp_path):
    """The data reach Typst inside a string literal: quotes, backslashes and markup stay text."""
    customer = factories.natural_customer(
        legal_name='Ana "La Jefa" \\ Ruiz #set text(red) ]',
        address_line="Calle *5* _B_ $x$ // 9 \\n",
    )
    doc = factories.invoice(customer=customer, note='Pago "anticipado"\\\\ #emph[no] ) ]')
    compact = "".join(_text(_render(doc)[0], tmp_path).split())
    for expected in (customer.legal_name, customer.address_line, doc.note):
        assert "".join(expected.split()) in compact, expected


class _RecordingCompiler:
    """Records what each compile gets, and compiles with the real compiler."""

    def __init__(self, compiler):
        self.compiler = compiler
        self.calls: list[dict] = []

    def compile(self, main, **kwargs):
        self.calls.append({"main": main.decode(), **kwargs})
        return self.compiler.compile(main, **kwargs)


def test_sys_inputs_are_the_same_for_every_invoice_of_a_seller(tmp_path, monkeypatch):
    """What changes per invoice goes in the main file: a new sys.inputs voids Typst's caches."""
    recorder = _RecordingCompiler(pdf_module._compiler())
    monkeypatch.setattr(pdf_module, "_compiler", lambda: recorder)
    logo = tmp_path / "logo.png"
    Image.new("RGB", (600, 200), (22, 54, 92)).save(logo)
    first = factories.invoice(number=990000123)
    second = factories.invoice(
        number=990000124, customer=factories.company_customer(), note="Otra nota"
    )
    for doc in (first, second):
        _render(doc, logo_path=logo)
        _render(doc, logo_path=logo, language="en")
        _render(doc)
    with_logo = [call["sys_inputs"] for call in recorder.calls if call["sys_inputs"]]
    assert len(with_logo) == 4 and all(inputs == with_logo[0] for inputs in with_logo)
    assert [call["sys_inputs"] for call in recorder.calls if not call["sys_inputs"]] == [{}, {}]
    assert first.full_id in recorder.calls[0]["main"]
    assert second.full_id in recorder.calls[3]["main"]


def test_concurrent_renders_match_sequential():
    docs = [factories.invoice(customer=factories.natural_customer(legal_name=name))
            for name in ("Ana Ruiz", "Íñigo Quintero", "Zoë Wagner", "Σοφία", "Luz Ángela Díaz", "Kevin Yepes")]  # fmt: skip
    jobs = [(doc, ubl.invoice_cufe(ubl.build_invoice_xml(doc))) for doc in docs]

    def render(job):
        doc, cufe = job
        return render_invoice_pdf(
            doc,
            cufe,
            qr.qr_text(doc, cufe),
            language="es" if doc.customer.legal_name < "M" else "en",
        )

    sequential = [render(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(2):
            assert list(pool.map(render, jobs * 2)) == sequential * 2


def _qr_texts() -> list[str]:
    texts = []
    for environment in ("1", "2"):
        for number, amount in ((990000123, "209691.34"), (994567890, "1234567.80")):
            doc = factories.invoice(number=number, environment=environment)
            cufe = ubl.invoice_cufe(ubl.build_invoice_xml(doc))
            texts.append(qr.qr_text(doc, cufe).replace("228691.34", amount))
    return texts


@needs_zbarimg
def test_printed_qr_reads_back_for_both_hosts_and_long_amounts(tmp_path):
    for text in _qr_texts():
        assert decode_qr_svg(qr_svg(text, quiet_zone=pdf_module.QR_QUIET_ZONE), tmp_path) == text


@pytest.mark.skipif(
    ZBARIMG is None or PDFTOPPM is None, reason="zbarimg (zbar-tools) or pdftoppm not installed"
)
def test_printed_qr_decodes_to_the_qr_text(tmp_path):
    doc = factories.invoice()
    pdf, cufe = _render(doc)
    (tmp_path / "invoice.pdf").write_bytes(pdf)
    subprocess.run(
        [str(PDFTOPPM), "-png", "-r", "200", str(tmp_path / "invoice.pdf"), str(tmp_path / "page")],
        check=True,
    )
    decoded = subprocess.run(
        [str(ZBARIMG), "-q", "--raw", str(tmp_path / "page-1.png")], capture_output=True, text=True
    ).stdout
    assert decoded.rstrip("\n") == qr.qr_text(doc, cufe)


def test_logo_is_prepared_once_per_file_version(tmp_path):
    logo = tmp_path / "logo.png"
    Image.new("RGBA", (3000, 1000), (22, 54, 92, 200)).save(logo)
    first, _ = _render(logo_path=logo)
    prepared = pdf_module._logos[str(logo)]
    assert _render(logo_path=str(logo))[0] == first
    assert pdf_module._logos[str(logo)] is prepared  # not decoded again
    assert f'height="{pdf_module.LOGO_MAX_PIXELS_HIGH}"' in prepared[1]  # scaled to what prints

    # a new version of the file is read again
    Image.new("RGB", (300, 100), (232, 120, 40)).save(logo)
    stat = logo.stat()
    os.utime(logo, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    changed, _ = _render(logo_path=logo)
    assert changed != first
    assert pdf_module._logos[str(logo)] is not prepared


@needs_pdftotext
def test_the_item_code_is_not_printed(tmp_path):
    """The line's code is our internal service id: DIAN does not ask for it on the PDF (§4)."""
    doc = factories.invoice()
    assert {line.code for line in doc.lines} >= {"HOST-PRO", "DOM-CO"}
    text = _text(_render(doc)[0], tmp_path)
    assert "Hosting Linux Pro" in text and "Registro de dominio .co (1 año)" in text
    assert "HOST-PRO" not in text and "DOM-CO" not in text


@needs_pdftotext
def test_municipality_names_print_as_dian_spells_them(tmp_path):
    from clientarea.lib.codelists import municipalities

    customer = factories.natural_customer(
        municipality_code="05148", municipality_name=municipalities()["05148"]
    )
    text = _text(_render(factories.invoice(customer=customer))[0], tmp_path)
    assert "El Carmen de Viboral, Antioquia" in text


PDFFONTS = shutil.which("pdffonts")


@pytest.mark.skipif(PDFFONTS is None, reason="pdffonts (poppler-utils) not installed")
def test_only_the_bundled_fonts_are_embedded_as_subsets(tmp_path):
    path = tmp_path / "invoice.pdf"
    path.write_bytes(_render(language="en")[0])
    listing = subprocess.run(
        [str(PDFFONTS), str(path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    names = {row.split()[0].split("+", 1)[1] for row in listing}
    assert names == {"DejaVuSans", "DejaVuSans-Bold"}
    assert all(" yes yes " in row for row in listing)  # embedded, subset


def test_the_pdf_code_uses_only_public_names_of_libraries():
    """No private (underscore) names imported from a library, no library class subclassed."""
    for module in ("pdf.py", "pdf_labels.py"):
        tree = ast.parse((Path(pdf_module.__file__).parent / module).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and not (node.module or "").startswith(
                ("clientarea", "__future__")
            ):
                private = [alias.name for alias in node.names if alias.name.startswith("_")]
                assert not private, f"{module}: {node.module} {private}"
            if isinstance(node, ast.ClassDef):
                assert not node.bases, f"{module}: class {node.name} subclasses {node.bases}"


@needs_pdftotext
def test_bogota_prints_once_in_the_address_and_the_xml_keeps_its_department(tmp_path):
    """DIAN's municipality "Bogotá, D.C." is also its department "Bogotá": the PDF's address line
    reads "…, Bogotá, D.C." (not "Bogotá, D.C., Bogotá"); the XML keeps both (test_ubl)."""
    doc = factories.invoice()
    assert doc.supplier.department_name == "Bogotá"
    text = " ".join(_text(_render(doc)[0], tmp_path).split())
    assert "Calle 100 # 19-54 Of. 701, Bogotá, D.C." in text
    assert "D.C., Bogotá" not in text
