"""Printed representation (representación gráfica) of the invoice, as a PDF.

Content follows what DIAN asks of it (§4 of ``shared/docs/dian-einvoice.md``):
the legal title "Factura electrónica de venta", seller name and NIT, buyer name
and document, authorized numbering (resolution, prefix, range and validity),
the consecutive number, issue date and time, items, tax rate and value per
rate, totals, payment form and means, whether the seller withholds IVA, the
CUFE and a QR code that shows it. The English version keeps the Spanish legal
title next to the English one.

Pure function of an :class:`InvoiceDocument`; fonts are bundled (DejaVu Sans)
so accents render identically everywhere.

Speed (~60 documents per second and core, from ~6): the fonts are parsed once
per process and their embedded subsets cached by glyph set, ``multi_cell`` takes
a shortcut for plain text, the logo is prepared once per file version and the QR
is drawn as vector art with a fixed mask (see each section). Each shortcut
writes what plain fpdf / segno would, and ``tests/test_pdf.py`` checks that byte
for byte; the caches are safe to use from several threads.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import logging
import os
import threading
import types
import zlib
from collections import OrderedDict
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from fontTools import subset as ftsubset
from fontTools import ttLib
from fpdf import FPDF, FontFace
from fpdf.enums import Align, MethodReturnValue, TableBordersLayout, TableCellFillMode, XPos, YPos
from fpdf.fonts import SubsetMap, TTFFont
from fpdf.image_datastructures import ImageCache, RasterImageInfo
from fpdf.image_parsing import preload_image
from fpdf.output import CIDSystemInfo, OutputProducer, PDFFont, _build_cmap_blocks, _cid_font_widths
from fpdf.syntax import Name, PDFArray, PDFContentStream
from fpdf.table import draw_box_borders
from fpdf.util import Padding

from clientarea.einvoice.documents import InvoiceDocument, Line, Party
from clientarea.einvoice.qr import printed_qr_matrix, qr_url
from clientarea.lib.codelists import codelist
from clientarea.lib.money import format_cop

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVu"
SOFTWARE_NAME = "ClientArea"

NAVY = (22, 54, 92)
ACCENT = (232, 239, 247)
ZEBRA = (246, 248, 251)
TEXT = (45, 45, 45)
MUTED = (105, 112, 122)
RULE = (200, 208, 218)
WHITE = (255, 255, 255)

LEGAL_TITLE = "Factura electrónica de venta"

LABELS: dict[str, dict[str, str]] = {
    "es": {
        "title": "FACTURA ELECTRÓNICA DE VENTA",
        "number": "No.",
        "issued": "Emitida",
        "resolution": (
            "Autorización de numeración DIAN No. {number} · Prefijo {prefix} · "
            "Rango {start} a {end} · Vigencia {valid_from} a {valid_to}"
        ),
        "iva_responsible": "Responsable de IVA",
        "iva_not_responsible": "No responsable de IVA",
        "withholder_yes": "Agente retenedor de IVA",
        "withholder_no": "No es agente retenedor de IVA",
        "buyer": "ADQUIRIENTE",
        "details": "DATOS DE LA FACTURA",
        "issue_date": "Fecha de emisión",
        "issue_time": "Hora de emisión",
        "due_date": "Fecha de vencimiento",
        "payment_form": "Forma de pago",
        "payment_means": "Medio de pago",
        "order": "Orden de servicio",
        "currency": "Moneda",
        "col_no": "#",
        "col_description": "Descripción",
        "col_period": "Periodo",
        "col_qty": "Cant.",
        "col_price": "Valor unitario",
        "col_tax": "IVA",
        "col_total": "Valor",
        "exempt": "Exento",
        "excluded": "Excluido",
        "subtotal": "Subtotal",
        "iva_on": "IVA {rate} % sobre {base}",
        "exempt_base": "Base exenta de IVA (0 %)",
        "excluded_base": "Base excluida de IVA",
        "iva_total": "Total IVA",
        "rounding": "Redondeo a pesos enteros",
        "payable": "TOTAL A PAGAR",
        "notes": "Observaciones",
        "cufe": "CUFE",
        "qr_hint": "Escanee el código QR o consulte el documento en:",
        "representation": "Representación gráfica de la factura electrónica de venta.",
        "software": "Software de facturación: {name} · Proveedor NIT {nit} · ID de software {software_id}",
        "page": "Página {page} de {pages}",
        "phone": "Tel.",
    },
    "en": {
        "title": "ELECTRONIC SALES INVOICE",
        "number": "No.",
        "issued": "Issued",
        "resolution": (
            "DIAN numbering authorization No. {number} · Prefix {prefix} · "
            "Range {start} to {end} · Valid {valid_from} to {valid_to}"
        ),
        "iva_responsible": "VAT (IVA) registered",
        "iva_not_responsible": "Not VAT (IVA) registered",
        "withholder_yes": "IVA withholding agent",
        "withholder_no": "Not an IVA withholding agent",
        "buyer": "BILL TO",
        "details": "INVOICE DETAILS",
        "issue_date": "Issue date",
        "issue_time": "Issue time",
        "due_date": "Due date",
        "payment_form": "Payment terms",
        "payment_means": "Payment method",
        "order": "Service order",
        "currency": "Currency",
        "col_no": "#",
        "col_description": "Description",
        "col_period": "Period",
        "col_qty": "Qty",
        "col_price": "Unit price",
        "col_tax": "VAT",
        "col_total": "Amount",
        "exempt": "Exempt",
        "excluded": "Excluded",
        "subtotal": "Subtotal",
        "iva_on": "VAT (IVA) {rate} % on {base}",
        "exempt_base": "VAT-exempt base (0 %)",
        "excluded_base": "Base excluded from VAT",
        "iva_total": "Total VAT (IVA)",
        "rounding": "Rounding to whole pesos",
        "payable": "TOTAL DUE",
        "notes": "Notes",
        "cufe": "CUFE",
        "qr_hint": "Scan the QR code or look the document up at:",
        "representation": "Printed representation of the electronic sales invoice (factura electrónica de venta).",
        "software": "Invoicing software: {name} · Provider NIT {nit} · Software ID {software_id}",
        "page": "Page {page} of {pages}",
        "phone": "Phone",
    },
}

DOCUMENT_TYPES = {
    "es": {"11": "R.C.", "12": "T.I.", "13": "C.C.", "21": "T.E.", "22": "C.E.", "31": "NIT",
           "41": "Pasaporte", "42": "Doc. extranjero", "50": "NIT extranjero", "91": "NUIP"},
    "en": {"11": "Birth reg.", "12": "Identity card", "13": "C.C. (ID)", "21": "Foreigner card",
           "22": "C.E. (foreign ID)", "31": "NIT", "41": "Passport", "42": "Foreign ID",
           "50": "Foreign NIT", "91": "NUIP"},
}  # fmt: skip
PAYMENT_FORMS = {"es": {"1": "Contado", "2": "Crédito"}, "en": {"1": "Cash (paid)", "2": "Credit"}}
PAYMENT_MEANS = {
    "es": {"10": "Efectivo", "42": "Consignación bancaria", "47": "Transferencia bancaria",
           "48": "Tarjeta crédito", "49": "Tarjeta débito", "ZZZ": "Acuerdo mutuo"},
    "en": {"10": "Cash", "42": "Bank deposit", "47": "Bank transfer", "48": "Credit card",
           "49": "Debit card", "ZZZ": "Mutual agreement"},
}  # fmt: skip
FISCAL_RESPONSIBILITIES = {
    "es": {"O-13": "Gran contribuyente", "O-15": "Autorretenedor", "O-23": "Agente de retención IVA",
           "O-47": "Régimen simple de tributación", "R-99-PN": "No aplica"},
    "en": {"O-13": "Large taxpayer", "O-15": "Self-withholder", "O-23": "IVA withholding agent",
           "O-47": "Simple tax regime", "R-99-PN": "Not applicable"},
}  # fmt: skip


# -- formatting helpers -------------------------------------------------------------------


def _date(value: dt.date, language: str) -> str:
    return value.strftime("%d/%m/%Y") if language == "es" else value.isoformat()


def _quantity(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text.replace(".", ",")


def _rate(value: Decimal) -> str:
    """``19`` or ``5,5``: a percentage without trailing zeros, Colombian decimal comma."""
    return _quantity(value)


def _document(party: Party, language: str) -> str:
    kind = DOCUMENT_TYPES[language].get(party.document_type, party.document_type)
    return f"{kind} {party.document_label}"


def _payment_means(code: str, language: str) -> str:
    return PAYMENT_MEANS[language].get(code) or codelist("MediosPago").get(code, code)


def _line_tax(line: Line, labels: dict[str, str]) -> str:
    if line.tax_treatment == "taxed":
        return f"{_rate(line.tax_rate)} %"
    return labels[line.tax_treatment]


def _period(line: Line, language: str) -> str:
    if line.period_start and line.period_end:
        return f"{_date(line.period_start, language)} – {_date(line.period_end, language)}"
    return ""


# -- fonts: parsed once per process, embedded from a per-glyph-set cache -------------------
#
# With plain fpdf, ``add_font`` parses the whole TTF (6,000+ glyphs) for every
# document and ``output`` then subsets it with fontTools; that was most of the
# render time. Here:
#
# * each bundled font is parsed once per process (``_SharedFont``) and every
#   document gets its own ``TTFFont`` that shares the read-only tables (cmap,
#   glyph ids, descriptor values) and owns the per-document state (used-glyph
#   map, width cache, PDF descriptor object);
# * the embedded subset is cut once per glyph set and cached. Its glyph set is
#   the glyphs the document uses plus those of ``COMMON_CHARACTERS`` (letters,
#   digits, Spanish accents), so invoices that differ only in names, addresses
#   and amounts share one cached subset per font; a rarer character just makes
#   another cache entry. Content streams, widths and ToUnicode map are exactly
#   fpdf's; only the embedded font file holds the few common glyphs a document
#   does not use (~4 kB per PDF);
# * ``_OutputProducer`` writes the font objects the way fpdf 2.8's
#   ``OutputProducer._add_fonts`` does for a TrueType font, from that cache.
#   ``test_shared_fonts_embed_what_fpdf_embeds`` checks that, without the common
#   characters, the PDF is byte-for-byte the one plain fpdf writes.

FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
COMMON_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789ÁÉÍÓÚÜÑáéíóúüñ"
SUBSET_CACHE_SIZE = 64  # glyph sets per font; an entry is ~15 kB
_PDF_LOG = logging.getLogger("fpdf.output")  # where fpdf reports missing glyphs

# fontTools logs ~35 INFO timing lines per subset; keep them out of the app log
# unless logging was configured for that logger explicitly.
if logging.getLogger("fontTools.subset").level == logging.NOTSET:
    logging.getLogger("fontTools.subset").setLevel(logging.WARNING)


def _subset_options() -> ftsubset.Options:
    """The options ``fpdf.output.OutputProducer._add_fonts`` (fpdf2 2.8) subsets with."""
    options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True)
    options.drop_tables += [
        "FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta", "sbix", "CBDT", "CBLC",
        "EBDT", "EBLC", "EBSC", "SVG ", "CPAL", "COLR",
    ]  # fmt: skip
    return options


class _EmbeddedFont:
    """A subset ready to embed: its glyph ids and its FontFile2 stream, compressed as fpdf does."""

    __slots__ = ("compressed", "gid_by_name", "length")

    def __init__(self, data: bytes, gid_by_name: dict[str, int]) -> None:
        self.compressed = zlib.compress(data, level=PDFContentStream._COMPRESSION_LEVEL)
        self.length = len(data)
        self.gid_by_name = gid_by_name


class _CompressedStream(PDFContentStream):
    """A ``PDFContentStream(contents, compress=True)`` made from already compressed bytes.

    With ``length1`` it is ``fpdf.output.PDFFontStream``; the object written is the same.
    """

    def __init__(self, compressed: bytes, length1: int | None = None) -> None:
        super().__init__(contents=compressed, compress=False)
        self.filter = Name("FlateDecode")
        if length1 is not None:
            self.length1 = length1


_cid_to_gid_maps: OrderedDict[tuple[tuple[int, int], ...], bytes] = OrderedDict()
_cid_to_gid_lock = threading.Lock()


def _cid_to_gid_map(code_to_glyph: tuple[tuple[int, int], ...]) -> bytes:
    """The compressed CIDToGIDMap stream (2 bytes per CID, big-endian) of a mapping, cached."""
    with _cid_to_gid_lock:
        found = _cid_to_gid_maps.get(code_to_glyph)
        if found is not None:
            _cid_to_gid_maps.move_to_end(code_to_glyph)
            return found
    data = bytearray(256 * 256 * 2)
    for char_id, gid in code_to_glyph:
        data[char_id * 2] = gid >> 8
        data[char_id * 2 + 1] = gid & 0xFF
    found = zlib.compress(bytes(data), level=PDFContentStream._COMPRESSION_LEVEL)
    with _cid_to_gid_lock:
        _cid_to_gid_maps[code_to_glyph] = found
        while len(_cid_to_gid_maps) > 2 * SUBSET_CACHE_SIZE:
            _cid_to_gid_maps.popitem(last=False)
    return found


class _SharedFont:
    """One bundled TTF parsed once; hands every document its own :class:`TTFFont`."""

    def __init__(self, style: str, path: Path) -> None:
        host = FPDF()
        host.add_font(FONT, style, str(path))
        template = next(iter(host.fonts.values()))
        if template.color_font is not None or template.is_cff or template.is_symbol:
            raise ValueError(f"{path.name}: only plain TrueType fonts can be shared")
        template.ttfont.close()  # metrics are extracted; the file is re-read only to subset
        template.ttfont = None
        self.template = template
        self.fontkey = template.fontkey
        self.data = path.read_bytes()
        self.common_glyphs = frozenset(
            template.cmap[ord(c)] for c in COMMON_CHARACTERS if ord(c) in template.cmap
        )
        self._embedded: OrderedDict[frozenset[str], _EmbeddedFont] = OrderedDict()
        self._lock = threading.Lock()

    def _open(self, data: bytes, **kwargs) -> ttLib.TTFont:
        return ttLib.TTFont(io.BytesIO(data), recalcTimestamp=False, lazy=True, **kwargs)

    def for_document(self, pdf: FPDF) -> TTFFont:
        """What ``pdf.add_font`` would register, without parsing the file again."""
        font = copy.copy(self.template)  # shares cmap, glyph_ids and the scalar metrics
        font.i = len(pdf.fonts) + 1
        font.cw = self.template.cw.copy()  # a defaultdict: looking up an unknown char inserts
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font.desc = copy.copy(self.template.desc)  # output gives it an id, a name and a file
        font.ttfont = self._open(self.data)  # not parsed unless plain fpdf output needs it
        font._hbfont = None
        font.subset = SubsetMap(font)
        return font

    def embedded(self, glyph_names: Iterable[str], pad: bool = True) -> _EmbeddedFont:
        """The subset holding ``glyph_names`` (plus the common glyphs), cut once per set."""
        key = frozenset(glyph_names)
        if pad:
            key |= self.common_glyphs
        with self._lock:
            found = self._embedded.get(key)
            if found is not None:
                self._embedded.move_to_end(key)
                return found
        ttfont = self._open(self.data)
        subsetter = ftsubset.Subsetter(_subset_options())
        subsetter.populate(glyphs=sorted(key))
        subsetter.subset(ttfont)
        buffer = io.BytesIO()
        ttfont.save(buffer)
        gid_by_name = {name: gid for gid, name in enumerate(ttfont.getGlyphOrder())}
        ttfont.close()
        found = _EmbeddedFont(buffer.getvalue(), gid_by_name)
        with self._lock:
            self._embedded[key] = found
            while len(self._embedded) > SUBSET_CACHE_SIZE:
                self._embedded.popitem(last=False)
        return found


_shared_fonts: dict[str, _SharedFont] = {}
_shared_fonts_lock = threading.Lock()


def _fonts() -> dict[str, _SharedFont]:
    """The bundled fonts by style, parsed on first use (thread-safe)."""
    if len(_shared_fonts) < len(FONT_FILES):
        with _shared_fonts_lock:
            for style, name in FONT_FILES.items():
                if style not in _shared_fonts:
                    _shared_fonts[style] = _SharedFont(style, FONT_DIR / name)
    return _shared_fonts


def _unicode_hex(code: int) -> str:
    if code > 0xFFFF:  # UTF-16 surrogate pair
        return f"{0xD800 | (code - 0x10000) >> 10:04X}{0xDC00 | (code & 0x3FF):04X}"
    return f"{code:04X}"


class _OutputProducer(OutputProducer):
    """fpdf's producer; the shared fonts are embedded from the subset cache."""

    def _add_fonts(self, image_objects_per_index, gfxstate_objs_per_name, pattern_objs_per_name):
        fpdf = self.fpdf
        shared = getattr(fpdf, "_shared_by_key", {})
        if (
            not shared
            or set(fpdf.fonts)
            != set(shared)  # other fonts too: fpdf does them all (subsetting ours itself)
            or getattr(fpdf, "_compliance", None)  # PDF/A needs more (a CIDSet): fpdf does it
        ):
            return super()._add_fonts(
                image_objects_per_index, gfxstate_objs_per_name, pattern_objs_per_name
            )
        return {
            font.i: self._add_shared_font(font, shared[key])
            for key, font in sorted(fpdf.fonts.items(), key=lambda item: item[1].i)
        }

    def _add_shared_font(self, font: TTFFont, shared: _SharedFont) -> PDFFont:
        """``OutputProducer._add_fonts`` for one TrueType font (fpdf2 2.8.9), cached subset."""
        fontname = f"MPDFAA+{font.name}"
        if font.missing_glyphs:
            msg = ", ".join(
                f"'{chr(x)}' ({chr(x).encode('unicode-escape').decode()})"
                for x in font.missing_glyphs[:10]
            )
            if len(font.missing_glyphs) > 10:
                msg += f", ... (and {len(font.missing_glyphs) - 10} others)"
            _PDF_LOG.warning("Font %s is missing the following glyphs: %s", fontname, msg)
        used = [(glyph, char_id) for glyph, char_id in font.subset.items() if glyph is not None]
        embedded = shared.embedded(
            (glyph.glyph_name for glyph, _ in used), pad=getattr(self.fpdf, "_pad_fonts", True)
        )

        composite_font_obj = PDFFont(subtype="Type0", base_font=fontname, encoding="Identity-H")
        self._add_pdf_obj(composite_font_obj, "fonts")
        cid_font_obj = PDFFont(
            subtype="CIDFontType2",
            base_font=fontname,
            d_w=font.desc.missing_width,
            w=_cid_font_widths({char_id: glyph.glyph_width for glyph, char_id in used}),
        )
        self._add_pdf_obj(cid_font_obj, "fonts")
        composite_font_obj.descendant_fonts = PDFArray([cid_font_obj])

        bf_char = [
            f"<{char_id:04X}> <{''.join(_unicode_hex(code) for code in glyph.unicode)}>\n"
            for glyph, char_id in used
            if isinstance(glyph.unicode, tuple) and glyph.unicode
        ]
        to_unicode_obj = PDFContentStream(
            (
                "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo\n"
                "<</Registry (Adobe)\n/Ordering (UCS)\n/Supplement 0\n>> def\n"
                "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
                "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
                f"{_build_cmap_blocks(bf_char, 'bfchar')}"
                "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
            ).encode("latin-1")
        )
        self._add_pdf_obj(to_unicode_obj, "fonts")
        composite_font_obj.to_unicode = to_unicode_obj

        cid_system_info_obj = CIDSystemInfo()
        self._add_pdf_obj(cid_system_info_obj, "fonts")
        cid_font_obj.c_i_d_system_info = cid_system_info_obj

        font_descriptor_obj = font.desc
        font_descriptor_obj.font_name = Name(fontname)
        self._add_pdf_obj(font_descriptor_obj, "fonts")
        cid_font_obj.font_descriptor = font_descriptor_obj

        code_to_glyph = tuple(
            sorted((char_id, embedded.gid_by_name[glyph.glyph_name]) for glyph, char_id in used)
        )
        cid_to_gid_map_obj = _CompressedStream(_cid_to_gid_map(code_to_glyph))
        self._add_pdf_obj(cid_to_gid_map_obj, "fonts")
        cid_font_obj.c_i_d_to_g_i_d_map = cid_to_gid_map_obj

        font_file_cs_obj = _CompressedStream(embedded.compressed, length1=embedded.length)
        self._add_pdf_obj(font_file_cs_obj, "fonts")
        font_descriptor_obj.font_file2 = font_file_cs_obj

        font.subset.pick.cache_clear()
        font.subset.get_glyph.cache_clear()
        font.close()
        return composite_font_obj


# -- the logo: decoded and compressed once per file version -------------------------------

_logos: dict[str, tuple[tuple[int, int], RasterImageInfo, bytes | None]] = {}
_logos_lock = threading.Lock()


def _reuse_logo(pdf: FPDF, path: str) -> None:
    """Put the logo, as fpdf prepared it for an earlier document, in ``pdf``'s image cache.

    fpdf decodes the image and compresses its pixels (and alpha) for every document,
    which for a large logo costs more than the rest of the invoice. The prepared
    image is kept per file path and version (mtime and size); ``pdf.image(path)``
    then finds it in its cache, exactly as for a second use in the same document.
    """
    stat = os.stat(path)
    version = (stat.st_mtime_ns, stat.st_size)
    cached = _logos.get(path)
    if cached is None or cached[0] != version:
        scratch = ImageCache(image_filter=pdf.image_cache.image_filter)
        _, _, info = preload_image(scratch, path)
        if not isinstance(info, RasterImageInfo):
            return  # an SVG logo is drawn, not cached
        profile = next(
            (icc for icc, index in scratch.icc_profiles.items() if index == info["iccp_i"]), None
        )
        cached = (version, info, profile)
        with _logos_lock:
            if len(_logos) >= 16:
                _logos.clear()
            _logos[path] = cached
    _, info, profile = cached
    images = pdf.image_cache.images
    if path in images:
        return
    info = RasterImageInfo(info)  # this document's copy: output() records its object id in it
    info["i"] = len(images) + 1
    info["usages"] = 0  # image() counts the use
    if profile is not None:
        info["iccp_i"] = pdf.image_cache.icc_profiles.setdefault(
            profile, len(pdf.image_cache.icc_profiles)
        )
    images[path] = info


# -- the document -------------------------------------------------------------------------

# multi_cell() arguments the shortcut accepts only at their default value,
# and those it handles whatever their value
_MULTI_CELL_DEFAULTS = {
    "split_only": False, "link": None, "ln": "DEPRECATED", "markdown": False, "print_sh": False,
    "dry_run": False, "center": False,
}  # fmt: skip
_MULTI_CELL_FREE = frozenset(
    {
        "align",
        "border",
        "fill",
        "new_x",
        "new_y",
        "output",
        "padding",
        "max_line_height",
        "wrapmode",
    }
)


class _InvoicePDF(FPDF):
    """A4 page with the bundled fonts and a page-number footer."""

    _pad_fonts = True  # embed COMMON_CHARACTERS too (see the fonts section)

    def __init__(self, labels: dict[str, str], footer_text: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._labels = labels
        self._footer_text = footer_text
        self._shared_by_key = {shared.fontkey: shared for shared in _fonts().values()}
        for key, shared in self._shared_by_key.items():  # as add_font(FONT, style, path) would
            self.fonts[key] = shared.for_document(self)
        self.set_margins(12, 12, 12)
        self.set_auto_page_break(auto=True, margin=16)
        self.alias_nb_pages("{nb}")

    def header(self) -> None:
        self.set_fill_color(*NAVY)
        self.rect(0, 0, self.w, 3.5, style="F")
        self.set_y(9)

    def footer(self) -> None:
        self.set_y(-11)
        self.set_draw_color(*RULE)
        self.line(self.l_margin, self.get_y() - 1, self.w - self.r_margin, self.get_y() - 1)
        self.set_font(FONT, "", 6.5)
        self.set_text_color(*MUTED)
        page = self._labels["page"].format(page=self.page_no(), pages="{nb}")
        self.cell(self.epw * 0.75, 4, self._footer_text, new_x=XPos.RIGHT, new_y=YPos.TOP)
        self.cell(self.epw * 0.25, 4, page, align="R")

    def output(self, *args, **kwargs):  # type: ignore[override]
        kwargs.setdefault("output_producer_class", _OutputProducer)
        return super().output(*args, **kwargs)

    def multi_cell(self, w, h=None, text="", *args, **kwargs):  # type: ignore[override]
        """``FPDF.multi_cell``, with a shortcut for plain text.

        fpdf's line breaker re-measures the whole line for every character it adds,
        which made ``multi_cell`` (ours and the items table's) most of the layout
        time. For plain text (one font, single spaces, no control characters, no
        page break, no justified line with spaces to stretch), the lines are broken
        with fpdf's arithmetic in one pass and each is drawn by ``cell``: the content
        stream, glyph codes, position and return value are exactly ``multi_cell``'s
        (``test_multi_cell_shortcut_draws_what_fpdf_draws``). Anything else goes to
        fpdf unchanged.
        """
        result = None if args else self._simple_multi_cell(w, h, text, kwargs)
        if result is None:
            return super().multi_cell(w, h, text, *args, **kwargs)
        return result

    def _simple_multi_cell(self, w, h, text, kwargs):
        """What ``multi_cell`` does for a plain text, through ``cell``; None where unsure."""
        for key, value in kwargs.items():
            if key in _MULTI_CELL_DEFAULTS:
                if value != _MULTI_CELL_DEFAULTS[key]:
                    return None
            elif key not in _MULTI_CELL_FREE:
                return None
        if (
            not self.page
            or self.text_shaping
            or not isinstance(self.current_font, TTFFont)
            or not text
            or not text.isprintable()  # no newline, tab, soft hyphen, NBSP or exotic space
            or text != text.strip()
            or "  " in text  # single spaces: every break drops exactly one
        ):
            return None
        align = Align.coerce(kwargs.get("align", Align.J))
        new_x = XPos.coerce(kwargs.get("new_x", XPos.RIGHT))
        new_y = YPos.coerce(kwargs.get("new_y", YPos.NEXT))
        output = MethodReturnValue.coerce(kwargs.get("output", MethodReturnValue.PAGE_BREAK))
        padding = Padding.new(kwargs.get("padding", 0))
        if (
            align == Align.X
            or new_x not in (XPos.RIGHT, XPos.LEFT, XPos.LMARGIN)
            or new_y not in (YPos.NEXT, YPos.TOP)
            or output & MethodReturnValue.LINES
            or bool(padding.left) != bool(padding.right)  # one-sided cell margin
        ):
            return None
        if h is None:
            h = self.font_size
        if w == 0:
            w = self.w - self.r_margin - self.x
        width = w - padding.left - padding.right
        lines = self._break_lines(text, width, 0 if padding.left else self.c_margin, align)
        fill, border = kwargs.get("fill", False), kwargs.get("border", 0)
        if lines is None or ((fill or border) and len(lines) > 1):
            return None
        max_line_height = kwargs.get("max_line_height")
        line_height = h if max_line_height is None or len(lines) == 1 else min(h, max_line_height)
        total_height = 0
        for _ in lines:  # summed line by line, as fpdf does (floats)
            total_height += line_height
        if self.will_page_break(padding.top + total_height + h + padding.bottom):
            return None  # fpdf breaks the page somewhere in there: let it
        height = max(total_height, h) + padding.top + padding.bottom
        if not isinstance(self._out, types.MethodType):
            # Inside fpdf's _disable_writing() (the table measuring its rows): nothing drawn
            # survives, only the glyphs the text uses, which get their codes in order of use.
            for line, _ in lines:
                self.current_font.encode_text(line)
            return self._multi_cell_result(output, height)
        top = self.y
        self.x += padding.left
        self.y += padding.top
        if fill or border:  # the box multi_cell draws behind a single line
            draw_box_borders(
                self, self.x - padding.left, self.y - padding.top, self.x + width + padding.right,
                self.y + h + padding.bottom, border, self.fill_color if fill else None,
            )  # fmt: skip
        cell_margin = self.c_margin
        if padding.left:  # multi_cell drops the cell margin on padded sides
            self.c_margin = 0
        try:
            for index, (line, line_align) in enumerate(lines):
                last = index == len(lines) - 1
                self.cell(
                    width, line_height, line, align=line_align,
                    new_x=new_x if last else XPos.LEFT, new_y=new_y if last else YPos.NEXT,
                )  # fmt: skip
        finally:
            self.c_margin = cell_margin
        if total_height < h and new_y == YPos.NEXT:
            self.y += h - total_height
        if new_y == YPos.TOP:
            self.y = top
        else:
            self.y += padding.bottom
        if new_x == XPos.RIGHT:
            self.x += padding.right
        elif new_x == XPos.LEFT:
            self.x -= padding.left
        return self._multi_cell_result(output, height)

    def _break_lines(self, text: str, width: float, cell_margin: float, align: Align):
        """fpdf's ``MultiLineBreak`` (word wrap) for one font, single spaces, no hyphens.

        Same arithmetic (widths as fpdf sums them, its 1e-9 tolerance), without the
        re-measuring of the whole line per character. Returns ``[(line, align)]``,
        or None for what a cell cannot draw (a justified line with spaces).
        """
        widths = self.current_font.cw
        size, k = self.font_size_pt, self.k
        max_width = width - cell_margin - cell_margin
        last_align = Align.L if align == Align.J else align
        lines = []
        start = index = line_units = 0
        space = -1  # index of the last space on the current line
        while index < len(text):
            char = text[index]
            char_units = widths[ord(char)]
            if line_units * size * 0.001 / k + char_units * size * 0.001 / k - max_width > 1e-9:
                if char == " ":  # the space that overflows ends the line and is dropped
                    lines.append((text[start:index], align))
                    start = index = index + 1
                elif space >= 0:  # break at the last space
                    lines.append((text[start:space], align))
                    start = index = space + 1
                elif index > start:  # a word longer than the line: cut it
                    lines.append((text[start:index], last_align))
                    start = index
                else:
                    return None
                line_units, space = 0, -1
                continue
            if char == " ":
                space = index
            line_units += char_units
            index += 1
        if start < len(text):
            lines.append((text[start:], last_align))
        for number, (line, line_align) in enumerate(lines):
            if line_align == Align.J:
                if " " in line:
                    return None  # justified: word spacing, which cell() does not do
                lines[number] = (line, Align.L)  # no space to stretch: drawn as left-aligned
        return lines

    @staticmethod
    def _multi_cell_result(output: MethodReturnValue, height: float):
        result = ()
        if output & MethodReturnValue.PAGE_BREAK:
            result += (False,)  # no page break: the shortcut is not taken when one is due
        if output & MethodReturnValue.HEIGHT:
            result += (height,)
        return result[0] if len(result) == 1 else result

    # small drawing helpers
    def text_style(
        self, size: float, bold: bool = False, color: tuple[int, int, int] = TEXT
    ) -> None:
        self.set_font(FONT, "B" if bold else "", size)
        self.set_text_color(*color)

    def label_value(
        self, x: float, width: float, label: str, value: str, label_width: float
    ) -> None:
        """One ``label  value`` row of a details box."""
        self.set_x(x)
        self.text_style(7.5, color=MUTED)
        self.cell(label_width, 4.6, label, new_x=XPos.RIGHT, new_y=YPos.TOP)
        self.text_style(7.5, bold=True)
        self.multi_cell(width - label_width, 4.6, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _header(
    pdf: _InvoicePDF, doc: InvoiceDocument, labels: dict[str, str], language: str, logo_path
) -> None:
    """Logo or seller name on the left, title box with number on the right."""
    seller = doc.supplier
    top = pdf.get_y()
    box_w, box_h = 78, 30
    box_x = pdf.w - pdf.r_margin - box_w
    left_w = box_x - pdf.l_margin - 6

    y = top
    if logo_path:
        logo = str(logo_path)
        _reuse_logo(pdf, logo)
        pdf.image(logo, x=pdf.l_margin, y=y, h=14, keep_aspect_ratio=True)
        y += 16
        pdf.set_xy(pdf.l_margin, y)
        pdf.text_style(11, bold=True, color=NAVY)
        pdf.multi_cell(left_w, 5.2, seller.display_name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    else:
        pdf.set_xy(pdf.l_margin, y)
        pdf.text_style(19, bold=True, color=NAVY)
        pdf.multi_cell(left_w, 8.5, seller.display_name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(pdf.l_margin)
    pdf.text_style(8.2, bold=True)
    identity = f"{seller.legal_name} · NIT {seller.document_label}"
    pdf.multi_cell(left_w, 4.3, identity, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.text_style(7.5, color=MUTED)
    address = ", ".join(
        p for p in (seller.address_line, seller.municipality_name, seller.department_name) if p
    )
    phone = f"{labels['phone']} {seller.phone}" if seller.phone else ""
    contact = " · ".join(part for part in (phone, seller.email) if part)
    regime = (
        labels["iva_responsible"] if seller.tax_scheme == "01" else labels["iva_not_responsible"]
    )
    withholder = (
        labels["withholder_yes"]
        if "O-23" in seller.fiscal_responsibilities
        else labels["withholder_no"]
    )
    responsibilities = ", ".join(
        FISCAL_RESPONSIBILITIES[language].get(code, code) for code in seller.fiscal_responsibilities
    )
    for text in (address, contact, f"{regime} · {withholder}", responsibilities):
        if text:
            pdf.set_x(pdf.l_margin)
            pdf.multi_cell(left_w, 3.9, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    left_bottom = pdf.get_y()

    # title box; every line is placed with set_xy (ln() would jump to the left margin)
    pdf.set_fill_color(*NAVY)
    pdf.rect(box_x, top, box_w, box_h, style="F", round_corners=True, corner_radius=2)
    inner_x, inner_w = box_x + 3, box_w - 6
    title_lines = [(labels["title"], 10.5, True, 5.5)]
    if language != "es":
        title_lines.append((LEGAL_TITLE, 7, False, 3.8))
    title_lines += [
        (labels["number"], 7.5, False, 4.2),
        (doc.full_id, 15, True, 7.5),
        (
            f"{labels['issued']} {_date(doc.issue_date, language)} {doc.issue_time_str}",
            7.5,
            False,
            4.2,
        ),
    ]
    content_h = sum(height for *_, height in title_lines) + 2.0
    y = top + (box_h - content_h) / 2
    for index, (text, size, bold, height) in enumerate(title_lines):
        if index == len(title_lines) - 3:
            y += 2.0  # a little air between the title and the number
        pdf.set_xy(inner_x, y)
        pdf.text_style(size, bold=bold, color=WHITE)
        pdf.cell(inner_w, height, text, align="C")
        y += height

    pdf.set_y(max(left_bottom, top + box_h) + 3)
    res = doc.resolution
    resolution = labels["resolution"].format(
        number=res.number, prefix=res.prefix or "—", start=res.range_from, end=res.range_to,
        valid_from=_date(res.valid_from, language), valid_to=_date(res.valid_to, language),
    )  # fmt: skip
    pdf.set_fill_color(*ACCENT)
    pdf.text_style(7.2, color=NAVY)
    pdf.multi_cell(
        0,
        4.2,
        resolution,
        fill=True,
        align="C",
        padding=(1.2, 2),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(3.5)


def _box_title(pdf: _InvoicePDF, x: float, y: float, width: float, title: str) -> None:
    pdf.set_xy(x, y)
    pdf.text_style(7.5, bold=True, color=NAVY)
    pdf.cell(width, 5, title, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_draw_color(*NAVY)
    pdf.set_line_width(0.4)
    pdf.line(x, pdf.get_y(), x + width, pdf.get_y())
    pdf.set_line_width(0.2)
    pdf.ln(1.5)


def _parties(pdf: _InvoicePDF, doc: InvoiceDocument, labels: dict[str, str], language: str) -> None:
    """Buyer on the left, invoice details on the right."""
    gap = 8
    width = (pdf.epw - gap) / 2
    top = pdf.get_y()
    left_x, right_x = pdf.l_margin, pdf.l_margin + width + gap

    buyer = doc.customer
    _box_title(pdf, left_x, top, width, labels["buyer"])
    pdf.set_x(left_x)
    pdf.text_style(9.5, bold=True)
    pdf.multi_cell(width, 5, buyer.legal_name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.text_style(8)
    lines = [
        _document(buyer, language),
        ", ".join(
            p for p in (buyer.address_line, buyer.municipality_name, buyer.department_name) if p
        ),
        buyer.email,
        f"{labels['phone']} {buyer.phone}" if buyer.phone else "",
    ]
    for text in lines:
        if text:
            pdf.set_x(left_x)
            pdf.multi_cell(width, 4.3, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    left_bottom = pdf.get_y()

    _box_title(pdf, right_x, top, width, labels["details"])
    rows = [
        (labels["issue_date"], _date(doc.issue_date, language)),
        (labels["issue_time"], doc.issue_time_str),
        (labels["due_date"], _date(doc.due, language)),
        (labels["payment_form"], PAYMENT_FORMS[language].get(doc.payment_form, doc.payment_form)),
        (labels["payment_means"], _payment_means(doc.payment_means_code, language)),
        (labels["order"], doc.order_reference),
        (labels["currency"], doc.currency),
    ]
    for label, value in rows:
        if value:
            pdf.label_value(right_x, width, label, value, label_width=34)
    pdf.set_y(max(left_bottom, pdf.get_y()) + 5)


def _items(pdf: _InvoicePDF, doc: InvoiceDocument, labels: dict[str, str], language: str) -> None:
    widths = (7, 75, 23, 12, 25, 17, 27)
    heading = FontFace(family=FONT, emphasis="B", size_pt=7.5, color=WHITE, fill_color=NAVY)
    pdf.text_style(7.8)
    pdf.set_draw_color(*RULE)
    with pdf.table(
        col_widths=widths,
        width=pdf.epw,
        text_align=("CENTER", "LEFT", "CENTER", "RIGHT", "RIGHT", "CENTER", "RIGHT"),
        headings_style=heading,
        cell_fill_color=ZEBRA,
        cell_fill_mode=TableCellFillMode.EVEN_ROWS,
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        line_height=4.2,
        padding=(1.6, 1.4),
        v_align="MIDDLE",
    ) as table:
        header = table.row()
        for key in (
            "col_no",
            "col_description",
            "col_period",
            "col_qty",
            "col_price",
            "col_tax",
            "col_total",
        ):
            header.cell(labels[key])
        for index, line in enumerate(doc.lines, start=1):
            row = table.row()
            row.cell(str(index))
            row.cell(line.description + (f"\n{line.code}" if line.code else ""))
            row.cell(_period(line, language))
            row.cell(_quantity(line.quantity))
            row.cell(format_cop(line.unit_price, decimals=True))
            row.cell(_line_tax(line, labels))
            row.cell(format_cop(line.line_extension, decimals=True))
    pdf.ln(4)


def _totals(pdf: _InvoicePDF, doc: InvoiceDocument, labels: dict[str, str]) -> None:
    """Notes on the left, the totals box on the right."""
    box_w = 84
    box_x = pdf.w - pdf.r_margin - box_w
    # (label, value, bold): informative bases are not bold, amounts that add up are.
    rows: list[tuple[str, str, bool]] = [
        (labels["subtotal"], format_cop(doc.line_extension_total, decimals=True), True)
    ]
    for sub in doc.iva_subtotals:
        if sub.rate > 0:
            label = labels["iva_on"].format(
                rate=_rate(sub.rate), base=format_cop(sub.taxable_amount, decimals=True)
            )
            rows.append((label, format_cop(sub.tax_amount, decimals=True), False))
        else:
            rows.append(
                (labels["exempt_base"], format_cop(sub.taxable_amount, decimals=True), False)
            )
    if doc.excluded_total:
        rows.append((labels["excluded_base"], format_cop(doc.excluded_total, decimals=True), False))
    rows.append((labels["iva_total"], format_cop(doc.iva_total, decimals=True), True))
    if doc.payable_rounding:
        sign = "-" if doc.payable_rounding < 0 else "+"
        rows.append(
            (labels["rounding"], sign + format_cop(abs(doc.payable_rounding), decimals=True), True)
        )

    needed = 5.2 * len(rows) + 14
    if pdf.get_y() + needed > pdf.page_break_trigger:
        pdf.add_page()
    top = pdf.get_y()

    if doc.note:
        pdf.set_xy(pdf.l_margin, top)
        width = box_x - pdf.l_margin - 8
        pdf.text_style(7.5, bold=True, color=NAVY)
        pdf.cell(width, 5, labels["notes"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.text_style(7.8)
        pdf.multi_cell(width, 4.2, doc.note, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    notes_bottom = pdf.get_y()

    pdf.set_xy(box_x, top)
    for label, value, bold in rows:
        pdf.set_x(box_x)
        pdf.text_style(7.8, color=MUTED)
        pdf.cell(box_w - 32, 5.2, label, new_x=XPos.RIGHT, new_y=YPos.TOP)
        pdf.text_style(8, bold=bold, color=TEXT if bold else MUTED)
        pdf.cell(32, 5.2, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_fill_color(*NAVY)
    y = pdf.get_y() + 1.5
    pdf.rect(box_x, y, box_w, 10, style="F", round_corners=True, corner_radius=1.5)
    pdf.set_xy(box_x + 3, y)
    pdf.text_style(9.5, bold=True, color=WHITE)
    pdf.cell(box_w - 40, 10, labels["payable"], new_x=XPos.RIGHT, new_y=YPos.TOP)
    pdf.text_style(11.5, bold=True, color=WHITE)
    pdf.cell(34, 10, format_cop(doc.payable_amount, decimals=True), align="R")
    pdf.set_y(max(notes_bottom, y + 10) + 6)


def _draw_qr(
    pdf: FPDF, matrix: tuple[bytes, ...], x: float, y: float, size: float, border: int
) -> None:
    """The QR as vector art: one black path of dark-module runs, ``size`` mm square.

    ``border`` light modules of quiet zone are included in ``size`` (the page is
    white, so they are simply left blank). Sharp at any zoom or print resolution
    and much cheaper than a PNG, which fpdf would decode and re-encode. The path
    is written in module units under a ``cm`` transform and filled once, so
    abutting modules show no anti-aliasing seams.
    """
    modules = len(matrix) + 2 * border
    unit = size / modules * pdf.k  # points per module
    origin_x = (x + border * size / modules) * pdf.k
    origin_y = (pdf.h - y - border * size / modules) * pdf.k
    ops = [f"q 0 g {unit:.5f} 0 0 {-unit:.5f} {origin_x:.3f} {origin_y:.3f} cm"]
    append = ops.append
    for row_index, row in enumerate(matrix):
        # runs of dark modules, found with bytes.find (fast) rather than per module
        data = bytes(row)
        start = data.find(1)
        while start != -1:
            end = data.find(0, start)
            if end == -1:
                end = len(data)
            append(f"{start} {row_index} {end - start} 1 re")
            start = data.find(1, end)
    ops.append("f Q")
    pdf._out("\n".join(ops))


def _validation_footer(
    pdf: _InvoicePDF, doc: InvoiceDocument, cufe: str, qr_text: str, labels: dict[str, str]
) -> None:
    """QR and CUFE block, kept at the bottom of the last page."""
    qr_size = 34
    height = qr_size + 4
    if pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()
    top = max(pdf.get_y(), pdf.page_break_trigger - height)
    x = pdf.l_margin
    pdf.set_draw_color(*RULE)
    pdf.line(x, top - 2, pdf.w - pdf.r_margin, top - 2)
    _draw_qr(pdf, printed_qr_matrix(qr_text), x, top, qr_size, border=1)

    text_x = x + qr_size + 5
    width = pdf.w - pdf.r_margin - text_x
    software = labels["software"].format(
        name=SOFTWARE_NAME,
        nit=f"{doc.software_provider_nit}-{doc.software_provider_dv}",
        software_id=doc.software_id,
    )
    # (text, size, bold, colour, line height, space before); the CUFE stays on
    # one line so it can be copied from the PDF as a single string.
    blocks = [
        (labels["cufe"], 8, True, NAVY, 4.5, 0.5),
        (cufe, 6.3, False, TEXT, 3.8, 0),
        (labels["qr_hint"], 7, False, MUTED, 3.6, 1.8),
        (qr_url(cufe, doc.environment), 5.6, False, NAVY, 3.2, 0),
        (labels["representation"], 7, True, TEXT, 3.6, 1.8),
        (software, 6.5, False, MUTED, 3.4, 0.3),
    ]
    y = top
    for text, size, bold, color, height, before in blocks:
        y += before
        pdf.set_xy(text_x, y)
        pdf.text_style(size, bold=bold, color=color)
        pdf.multi_cell(width, height, text, new_x=XPos.LEFT, new_y=YPos.NEXT)
        y = pdf.get_y()


def render_invoice_pdf(
    doc: InvoiceDocument,
    cufe: str,
    qr_text: str,
    logo_path: str | Path | None = None,
    language: str = "es",
) -> bytes:
    """The invoice's printed representation as PDF bytes (Spanish or English labels)."""
    if language not in LABELS:
        raise ValueError(f"language must be one of {sorted(LABELS)}")
    labels = LABELS[language]
    footer = f"{LEGAL_TITLE} {doc.full_id} · {doc.supplier.legal_name} · NIT {doc.supplier.document_label}"
    pdf = _InvoicePDF(labels, footer)
    pdf.set_title(f"{LEGAL_TITLE} {doc.full_id}")
    pdf.set_author(doc.supplier.legal_name)
    pdf.set_subject(f"CUFE {cufe}")
    pdf.set_creator(SOFTWARE_NAME)
    pdf.set_lang("es-CO" if language == "es" else "en")
    pdf.set_creation_date(doc.issue)
    pdf.add_page()
    _header(pdf, doc, labels, language, logo_path)
    _parties(pdf, doc, labels, language)
    _items(pdf, doc, labels, language)
    _totals(pdf, doc, labels)
    _validation_footer(pdf, doc, cufe, qr_text, labels)
    return bytes(pdf.output())
