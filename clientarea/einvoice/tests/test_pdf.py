"""Printed representation: DIAN's required content is in the PDF text, QR, size limits."""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from functools import partial

import pytest
import segno
from fpdf import FPDF
from fpdf.enums import MethodReturnValue, XPos, YPos

from clientarea.einvoice import attached, qr, signing, ubl
from clientarea.einvoice import pdf as pdf_module
from clientarea.einvoice.documents import Line
from clientarea.einvoice.pdf import render_invoice_pdf
from clientarea.einvoice.tests import factories

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
        [PDFTOTEXT, "-layout", str(path), "-"], capture_output=True, text=True, check=True
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
    data = attached.build_email_zip(
        attached.build_attached_document(signed, doc), doc, sequence=1, pdf=pdf
    )
    assert len(data) < 2 * 1024 * 1024
    assert len(pdf) < 200 * 1024


# -- the fast paths render what plain fpdf / segno would ---------------------------------

ZBARIMG = shutil.which("zbarimg")
PDFTOPPM = shutil.which("pdftoppm")


def _twin_pages() -> tuple[pdf_module._InvoicePDF, pdf_module._InvoicePDF]:
    twins = []
    for _ in range(2):
        page = pdf_module._InvoicePDF(pdf_module.LABELS["es"], "pie")
        page.compress = False
        page.add_page()
        twins.append(page)
    return twins[0], twins[1]


def test_multi_cell_shortcut_draws_what_fpdf_draws(monkeypatch):
    """Same content stream, position, return value and glyph codes as FPDF.multi_cell."""
    taken = []
    shortcut = pdf_module._InvoicePDF._simple_multi_cell

    def counting(self, *args):
        result = shortcut(self, *args)
        taken.append(result is not None)
        return result

    monkeypatch.setattr(pdf_module._InvoicePDF, "_simple_multi_cell", counting)
    rng = random.Random(20261124)
    words = ["Hosting", "Pyme", "·", "ana.co", "(renovación)", "Bogotá,", "D.C.", "María", "José", "Pérez", "Gómez",
             "Ñandú", "01/12/2026", "–", "$", "228.691,34", "Σωκράτης", "NIT", "900373076-4", "a", "descripción",
             "https://catalogo-vpfe-hab.dian.gov.co/document/searchqr?documentkey=" + "0f" * 48]  # fmt: skip
    ours, plain = _twin_pages()
    for case in range(400):
        text = " ".join(rng.choice(words) for _ in range(rng.choice([1, 2, 3, 6, 14])))
        if case % 17 == 0:
            text = rng.choice(
                ["  dos  espacios", "línea\nnueva", "", "tab\tulado", "con\u00adguion"]
            )
        bold, size = rng.random() < 0.4, rng.choice([5.6, 6.5, 7.2, 7.8, 9.5, 15])
        x, y = rng.uniform(0, 120), rng.choice([rng.uniform(10, 250)] * 5 + [rng.uniform(270, 285)])
        w = rng.choice([0, rng.uniform(8, 40), rng.uniform(40, 190)])
        kwargs = {"align": rng.choice(["L", "C", "R", "J"]),
                  "new_x": rng.choice([XPos.RIGHT, XPos.LEFT, XPos.LMARGIN] * 3 + list(XPos)),
                  "new_y": rng.choice([YPos.NEXT, YPos.TOP] * 3 + list(YPos))}  # fmt: skip
        if rng.random() < 0.5:
            kwargs["padding"] = rng.choice([(1.6, 1.4), (1.2, 2), 1, (1, 2, 0, 0)])
        if rng.random() < 0.3:
            kwargs["output"] = MethodReturnValue.PAGE_BREAK | MethodReturnValue.HEIGHT
        if rng.random() < 0.2:
            kwargs["max_line_height"] = rng.choice([3, 4.2])
        if rng.random() < 0.15:
            kwargs["fill"] = True
        h = rng.choice([None, 3.8, 4.2, 5])
        measuring = rng.random() < 0.25  # what fpdf's table does to size its rows
        results = []
        for page in (ours, plain):
            page.set_font(pdf_module.FONT, "B" if bold else "", size)
            page.set_fill_color(*pdf_module.ACCENT)
            page.set_xy(x, y)
            call = page.multi_cell if page is ours else partial(FPDF.multi_cell, page)
            if measuring:
                with page._disable_writing():
                    result = call(w, h, text, **kwargs)
            else:
                result = call(w, h, text, **kwargs)
            results.append(
                (
                    result,
                    page.page,
                    round(page.x, 9),
                    round(page.y, 9),
                    bytes(page.pages[page.page].contents),
                )
            )
        assert results[0] == results[1], (case, text, w, h, kwargs)
    font_state = [
        [(glyph.glyph_name, code) for glyph, code in page.current_font.subset.items()]
        for page in (ours, plain)
    ]
    assert font_state[0] == font_state[1]
    assert sum(taken) >= 100 and taken.count(False) >= 100  # both paths really exercised


def test_shared_fonts_embed_what_fpdf_embeds(monkeypatch):
    """Without the common glyphs, the PDF is byte-for-byte the one add_font + fpdf's output write."""
    doc = factories.invoice(
        customer=factories.natural_customer(legal_name="Σωκράτης Ñandú")
    )  # an uncommon glyph too
    cufe = ubl.invoice_cufe(ubl.build_invoice_xml(doc))
    text = qr.qr_text(doc, cufe)
    monkeypatch.setattr(pdf_module._InvoicePDF, "_pad_fonts", False)
    shared = render_invoice_pdf(doc, cufe, text)

    plain_init = pdf_module._InvoicePDF.__init__

    def init_with_add_font(self, labels, footer_text):
        plain_init(self, labels, footer_text)
        self.add_font(pdf_module.FONT, "", str(pdf_module.FONT_DIR / "DejaVuSans.ttf"))
        self.add_font(pdf_module.FONT, "B", str(pdf_module.FONT_DIR / "DejaVuSans-Bold.ttf"))

    monkeypatch.setattr(pdf_module, "_fonts", dict)  # no shared fonts...
    monkeypatch.setattr(pdf_module._InvoicePDF, "__init__", init_with_add_font)  # ...fpdf's own
    assert render_invoice_pdf(doc, cufe, text) == shared


@needs_pdftotext
def test_rare_characters_still_render(tmp_path):
    customer = factories.natural_customer(
        legal_name="Σωκράτης Παπαδόπουλος", address_line="Calle 5 → Ñ"
    )
    text = _text(_render(factories.invoice(customer=customer))[0], tmp_path)
    assert "Σωκράτης Παπαδόπουλος" in text and "Calle 5 → Ñ" in text


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


def test_printed_qr_is_segnos_symbol():
    for text in [*_qr_texts(), "Conexcol", "x" * 700, "Ñandú → ✓", "1234567890" * 9]:
        expected = tuple(
            bytes(row) for row in segno.make_qr(text, error="m", mask=qr.PRINTED_QR_MASK).matrix
        )
        assert qr.printed_qr_matrix(text) == expected
    assert qr._fast_qr is not None and qr._fast_qr.enabled


def test_printed_qr_mask_is_the_best_one():
    """segno's own penalty evaluation picks the fixed mask for invoice QR texts."""
    for text in _qr_texts():
        assert segno.make_qr(text, error="m").mask == qr.PRINTED_QR_MASK


@pytest.mark.skipif(
    ZBARIMG is None or PDFTOPPM is None, reason="zbarimg (zbar-tools) or pdftoppm not installed"
)
def test_printed_qr_decodes_to_the_qr_text(tmp_path):
    doc = factories.invoice()
    pdf, cufe = _render(doc)
    (tmp_path / "invoice.pdf").write_bytes(pdf)
    subprocess.run(
        [PDFTOPPM, "-png", "-r", "200", str(tmp_path / "invoice.pdf"), str(tmp_path / "page")],
        check=True,
    )
    decoded = subprocess.run(
        [ZBARIMG, "-q", "--raw", str(tmp_path / "page-1.png")], capture_output=True, text=True
    ).stdout
    assert decoded.rstrip("\n") == qr.qr_text(doc, cufe)


def test_logo_is_prepared_once_and_embedded_as_fpdf_embeds_it(tmp_path, monkeypatch):
    from PIL import Image, ImageCms

    logo = tmp_path / "logo.png"
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.new("RGBA", (300, 100), (22, 54, 92, 200)).save(logo, icc_profile=srgb)
    first, _ = _render(logo_path=logo)
    second, _ = _render(logo_path=str(logo))  # from the cache
    with monkeypatch.context() as patched:
        patched.setattr(pdf_module, "_reuse_logo", lambda pdf, path: None)
        plain, _ = _render(logo_path=logo)
    assert first == second == plain

    # a new version of the file is read again
    Image.new("RGB", (300, 100), (232, 120, 40)).save(logo)
    stat = logo.stat()
    os.utime(logo, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    changed, _ = _render(logo_path=logo)
    with monkeypatch.context() as patched:
        patched.setattr(pdf_module, "_reuse_logo", lambda pdf, path: None)
        assert changed == _render(logo_path=logo)[0] != first
