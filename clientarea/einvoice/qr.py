"""QR code of the invoice: DIAN lookup URL and the printed key-fields text (§4).

Two forms are used on purpose (see ``shared/docs/dian-einvoice.md`` §4):
- ``sts:QRCode`` in the XML carries only the URL, because the DIAN XSD types
  it ``anyURI`` and the multi-line text fails strict validation;
- the printed QR carries the ``Key: value`` block observed in a
  DIAN-accepted invoice (S3), whose last line is that same URL, so scanning it
  shows the CUFE as DIAN's site asks.
"""

from __future__ import annotations

import io
import itertools
import operator
import threading

import segno

from clientarea.einvoice.documents import InvoiceDocument, money_str

_HOSTS = {
    "1": "https://catalogo-vpfe.dian.gov.co",  # producción
    "2": "https://catalogo-vpfe-hab.dian.gov.co",  # habilitación / pruebas
}


def qr_url(cufe: str, environment: str) -> str:
    """DIAN's public lookup URL for a CUFE (``-hab`` host for environment 2)."""
    try:
        host = _HOSTS[environment]
    except KeyError:
        raise ValueError(f"unknown DIAN environment {environment!r}") from None
    return f"{host}/document/searchqr?documentkey={cufe}"


def qr_text(doc: InvoiceDocument, cufe: str) -> str:
    """The printed QR content: one ``Key: value`` per line, URL last (§4, S3).

    Amounts use the same formatting as the XML, so the QR matches the CUFE input.
    """
    other_taxes = money_str(doc.tax_inclusive_amount - doc.line_extension_total - doc.iva_total)
    lines = [
        f"NumFac: {doc.full_id}",
        f"FecFac: {doc.issue_date_str}",
        f"HorFac: {doc.issue_time_str}",
        f"NitFac: {doc.supplier.document_number}",
        f"DocAdq: {doc.customer.document_number}",
        f"ValFac: {money_str(doc.line_extension_total)}",
        f"ValIva: {money_str(doc.iva_total)}",
        f"ValOtroIm: {other_taxes}",
        f"ValTolFac: {money_str(doc.payable_amount)}",
        f"CUFE: {cufe}",
        qr_url(cufe, doc.environment),
    ]
    return "\n".join(lines)


# Data mask pattern of the printed QR. ISO/IEC 18004 §7.8.3 picks, among the 8
# patterns, the one with the lowest penalty score; for the printed key-fields
# text (a version 16-M symbol) that is pattern 2 every time: it won all of 300
# sampled invoices, the others scoring 17-65 % worse (production and test hosts,
# varied prefixes, numbers and amounts). Fixing it skips evaluating the 8
# candidates (~75 % of segno's time) and yields the same symbol;
# ``test_printed_qr_mask_is_the_best_one`` keeps that claim checked.
PRINTED_QR_MASK = 2


def printed_qr_matrix(text: str) -> tuple[bytes, ...]:
    """Modules (1 = dark, no quiet zone) of the printed QR: error correction M, mask 2.

    The same matrix as ``segno.make_qr(text, error="m", mask=2).matrix``, built
    about 3x faster (see ``_FastQR``); segno itself is the fallback.
    """
    if _fast_qr is not None:
        try:
            matrix = _fast_qr.matrix(text)
        except Exception:
            matrix = None
        if matrix is not None:
            return matrix
    return tuple(bytes(row) for row in segno.make_qr(text, error="m", mask=PRINTED_QR_MASK).matrix)


class _FastQR:
    """segno's encoder with the module placement and masking precomputed per version.

    segno places the ~3,400 bits of a version 16 symbol and applies the mask one
    module at a time through Python callbacks; here, per (version, error level),
    the symbol's fixed modules (finder, timing, alignment, format and version
    information) and the module each bit lands on are worked out once, by
    running segno's own placement on a template, and a symbol is then one C-level
    gather. The codewords (segments, padding, Reed-Solomon blocks) come from
    segno's encoder functions. Each new template is checked against
    ``segno.make_qr`` on the text that created it; on any mismatch the fast path
    switches itself off.
    """

    _BITS = tuple(bytes((value >> shift) & 1 for shift in range(7, -1, -1)) for value in range(256))

    def __init__(self) -> None:
        from segno import consts, encoder

        self.consts, self.encoder = consts, encoder
        self.error = consts.ERROR_LEVEL_M
        self._layouts: dict[tuple[int, int], tuple] = {}
        self._lock = threading.Lock()
        self.enabled = True

    def _codewords(self, text: str) -> tuple[int, int, bytes]:
        """(version, error level, final message bits) exactly as ``segno.encoder.encode``."""
        enc, consts = self.encoder, self.consts
        segments = enc.prepare_data(text, None, None)
        version = enc.find_version(segments, self.error, eci=False, micro=False)
        error = enc.boost_error_level(version, self.error, segments, False)
        buff = enc.Buffer()
        ver_range = enc.version_range(version)
        for segment in segments:
            enc.write_segment(buff, segment, None, ver_range, False)
        capacity = consts.SYMBOL_CAPACITY[version][error]
        enc.write_terminator(buff, capacity, None, len(buff))
        enc.write_padding_bits(buff, version, len(buff))
        enc.write_pad_codewords(buff, version, capacity, len(buff))
        data_blocks, error_blocks = enc.make_blocks(consts.ECC[version][error], buff)
        bits = self._BITS
        message = b"".join(
            bits[value]
            for blocks in (data_blocks, error_blocks)
            for column in itertools.zip_longest(*blocks)
            for value in column
            if value is not None
        )
        return version, error, message

    def _layout(self, version: int, error: int) -> tuple:
        """(size, number of data modules, gather indexes, mask as an int) for a symbol kind."""
        enc = self.encoder
        size = enc.calc_matrix_size(version)
        matrix = enc.make_matrix(size, size)
        enc.add_finder_patterns(matrix, size, size)
        enc.add_alignment_patterns(matrix, size, size)
        # bit number of each data module, in segno's placement order (values >= 16)
        rows = [list(row) for row in matrix]
        data_modules = sum(row.count(0x2) for row in rows)
        enc.add_codewords(rows, range(16, 16 + data_modules), version)
        # fixed modules: function patterns, then format and version information
        enc.add_format_info(matrix, version, error, PRINTED_QR_MASK)
        enc.add_version_info(matrix, version)
        masked = enc.get_data_mask_functions(False)[PRINTED_QR_MASK]
        mask_bits = bytearray(data_modules)
        fixed = bytes(value for row in matrix for value in row)
        gather = []
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                if value >= 16 and matrix[i][j] == 0x2:  # a data module nothing overwrote
                    gather.append(value - 16)
                    mask_bits[value - 16] = masked(i, j)
                else:
                    gather.append(data_modules + i * size + j)
        mask = int.from_bytes(mask_bits, "big")
        return size, data_modules, operator.itemgetter(*gather), mask, fixed

    def matrix(self, text: str) -> tuple[bytes, ...] | None:
        if not self.enabled:
            return None
        version, error, message = self._codewords(text)
        layout = self._layouts.get((version, error))
        check = layout is None
        if check:
            layout = self._layout(version, error)
        size, data_modules, gather, mask, fixed = layout
        if len(message) > data_modules:
            return None
        message += bytes(data_modules - len(message))  # remainder bits
        masked = (int.from_bytes(message, "big") ^ mask).to_bytes(data_modules, "big")
        flat = bytes(gather(masked + fixed))
        result = tuple(flat[i : i + size] for i in range(0, size * size, size))
        if check:
            expected = tuple(
                bytes(row) for row in segno.make_qr(text, error="m", mask=PRINTED_QR_MASK).matrix
            )
            with self._lock:
                if result != expected:
                    self.enabled = False
                    return None
                self._layouts[(version, error)] = layout
        return result


try:
    _fast_qr: _FastQR | None = _FastQR()
except (ImportError, AttributeError):  # pragma: no cover - segno reorganized: use make_qr
    _fast_qr = None


def qr_png(text: str, *, scale: int = 4, border: int = 2) -> bytes:
    """PNG bytes of ``text`` as a QR code (error correction M, black on white)."""
    buffer = io.BytesIO()
    segno.make_qr(text, error="m").save(buffer, kind="png", scale=scale, border=border)
    return buffer.getvalue()
