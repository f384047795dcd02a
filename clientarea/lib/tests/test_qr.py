"""QR codes from zxing-cpp: the module matrix and the SVG that scanners read."""

from __future__ import annotations

import re

import pytest

from clientarea.lib.qr import qr_matrix, qr_svg
from clientarea.lib.tests.qr_decode import decode_qr_svg, needs_zbarimg

OTPAUTH = "otpauth://totp/Conexcol%3Aana%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Conexcol"


def test_matrix_is_a_square_of_zeros_and_ones_with_the_finder_patterns():
    matrix = qr_matrix(OTPAUTH)
    size = len(matrix)
    assert (size - 17) % 4 == 0 and size >= 21  # versions 1-40: 21, 25, ... modules
    assert all(len(row) == size and set(row) <= {0, 1} for row in matrix)
    finder = [b"\x01" * 7, b"\x01\x00\x00\x00\x00\x00\x01", *[b"\x01\x00\x01\x01\x01\x00\x01"] * 3]
    finder += [b"\x01\x00\x00\x00\x00\x00\x01", b"\x01" * 7]
    assert [row[:7] for row in matrix[:7]] == finder  # top left
    assert [row[-7:] for row in matrix[:7]] == finder  # top right
    assert [row[:7] for row in matrix[-7:]] == finder  # bottom left


def test_svg_has_the_quiet_zone_and_one_path():
    svg = qr_svg(OTPAUTH, quiet_zone=4)
    size = len(qr_matrix(OTPAUTH)) + 8
    assert svg.startswith(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}"')
    assert svg.count("<path") == 1
    starts = [(int(x), int(y)) for x, y in re.findall(r"M(\d+) (\d+)h", svg)]
    assert min(starts) == (4, 4) and max(y for _, y in starts) == size - 5


@needs_zbarimg
@pytest.mark.parametrize(
    "text",
    [
        OTPAUTH,
        "NumFac: SETP990000123\nCUFE: " + "0f" * 48 + "\nhttps://catalogo-vpfe.dian.gov.co/x",
        "Factura Nº 12 — Peña",
    ],
)
def test_a_scanner_reads_back_the_text(text, tmp_path):
    assert decode_qr_svg(qr_svg(text, quiet_zone=4), tmp_path) == text
    assert decode_qr_svg(qr_svg(text, quiet_zone=1), tmp_path) == text
