"""QR codes drawn by zxing-cpp's C++ encoder: the modules of a symbol and one SVG path of them.

Error correction level M (up to about 15 % of the symbol may be lost or smudged). The encoder
picks the data mask itself by ISO/IEC 18004's penalty rule, as a conforming encoder must.

The text goes in as UTF-8 bytes (byte mode, no ECI header), which scanners read as UTF-8. Given a
``str``, zxing-cpp 3.1 picks a legacy code page for it without saying so in the symbol (an em
dash came out as Windows-1252 byte 0x97, which zbar read as a control character). Byte mode
throughout costs no size on our texts: the invoice text stays a version 16 symbol (81 modules),
the otpauth URL version 6, as with a ``str``.
"""

from __future__ import annotations

import zxingcpp

# zxing-cpp's image has one byte per module: 0x00 dark, 0xff light; ours: 1 dark, 0 light.
_TO_MODULES = bytes.maketrans(b"\x00\xff", b"\x01\x00")


def qr_matrix(text: str) -> tuple[bytes, ...]:
    """The modules of ``text`` as a QR code (error correction M, no quiet zone): a row per bytes, 1 = dark."""
    symbol = zxingcpp.create_barcode(text.encode(), zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = symbol.to_image(scale=1, add_quiet_zones=False)
    height, width = image.shape
    # The Image implements the buffer protocol; zxing-cpp's stub file does not declare it.
    modules = bytes(memoryview(image)).translate(_TO_MODULES)  # type: ignore[arg-type]
    return tuple(modules[row : row + width] for row in range(0, height * width, width))


#: The SVG path's pieces, made once: ``M{x} `` for a run starting at column x (before the quiet
#: zone is added) and ``h{w}v1h-{w}z`` for a run w modules wide. A symbol is at most 177 modules.
_MAX_MODULES = 177
_RUN_WIDTHS = tuple(f"h{w}v1h-{w}z" for w in range(_MAX_MODULES + 1))


def _run_starts(quiet_zone: int) -> tuple[str, ...]:
    return tuple(f"M{x + quiet_zone} " for x in range(_MAX_MODULES + 1))


_STARTS: dict[int, tuple[str, ...]] = {}


def qr_svg(text: str, *, quiet_zone: int) -> str:
    """``text`` as an SVG QR code in module units: a white square and one path of dark-module runs.

    ``quiet_zone`` is the light margin in modules (the standard asks for 4; the printed invoice
    uses less inside its own white space). One filled path, not a square per module, shows no
    seams between modules at any zoom. The caller sets the displayed size (there is a viewBox).
    Each run is ``M{x} {y}h{w}v1h-{w}z``, put together from pieces made once (the invoice's
    symbol has ≈ 1,500 runs: formatting each one's numbers was most of this function's time).
    """
    matrix = qr_matrix(text)
    size = len(matrix) + 2 * quiet_zone
    starts = _STARTS.get(quiet_zone)
    if starts is None:
        starts = _STARTS.setdefault(quiet_zone, _run_starts(quiet_zone))
    path: list[str] = []
    add = path.append
    for y, row in enumerate(matrix, start=quiet_zone):
        row_y = str(y)
        x = 0
        for dark in row.split(b"\x00"):  # the runs of dark modules, light ones between them
            width = len(dark)
            if width:
                add(starts[x])
                add(row_y)
                add(_RUN_WIDTHS[width])
            x += width + 1
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(path)}"/></svg>'
    )
