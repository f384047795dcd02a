"""Colombian NIT check digit (dígito de verificación, DV).

The algorithm is DIAN's (Orden Administrativa 4 de 1989); python-stdnum
implements it, so we use it rather than our own weights table.
"""

from __future__ import annotations

from stdnum.co import nit as _nit


def clean_number(value: str) -> str:
    """Digits only: drop dots, dashes and spaces people type."""
    return "".join(ch for ch in str(value) if ch.isdigit())


def check_digit(number: str) -> str:
    """Return the DV of a NIT given without its DV (e.g. '800197268' → '4')."""
    digits = clean_number(number)
    if not digits:
        raise ValueError("empty NIT")
    return _nit.calc_check_digit(digits)


def is_valid(number: str, dv: str) -> bool:
    digits = clean_number(number)
    return bool(digits) and len(digits) <= 15 and check_digit(digits) == str(dv).strip()
