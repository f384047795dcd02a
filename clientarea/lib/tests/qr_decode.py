"""Test helper: read an SVG QR code the way a scanner would, with tools independent of our encoder.

Typst's SVG renderer rasterizes it to a PNG and zbar's ``zbarimg`` decodes that.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import typst

ZBARIMG = shutil.which("zbarimg")
needs_zbarimg = pytest.mark.skipif(ZBARIMG is None, reason="zbarimg (zbar-tools) not installed")

_PAGE = b'#set page(width: auto, height: auto, margin: 0pt)\n#image(bytes(sys.inputs.svg), format: "svg", width: 4cm)\n'


def decode_qr_svg(svg: str, tmp_path: Path) -> str:
    """The text zbarimg reads from ``svg`` printed 4 cm wide at 300 ppi ("" if it reads nothing)."""
    png = tmp_path / "qr.png"
    png.write_bytes(typst.compile(_PAGE, format="png", ppi=300, sys_inputs={"svg": svg}))
    read = subprocess.run([str(ZBARIMG), "-q", "--raw", str(png)], capture_output=True, text=True)
    return read.stdout.removesuffix("\n")
