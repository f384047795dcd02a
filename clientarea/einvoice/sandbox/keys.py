"""The simulator's own key formulas: CUFE/CUDE, SoftwareSecurityCode, NIT check digit.

Written from ``shared/docs/dian-einvoice.md`` §1 and §6.1 and ``dian-webservice.md`` §4.3,
independently of the product's ``einvoice.cufe`` and ``lib.nit`` (a bug there must not hide here).
"""

from __future__ import annotations

import hashlib
from decimal import ROUND_DOWN, Decimal, InvalidOperation

# DIAN's weights for the NIT check digit, leftmost first over 15 digits (§6.1).
_NIT_WEIGHTS = (71, 67, 59, 53, 47, 43, 41, 37, 29, 23, 19, 17, 13, 7, 3)


def nit_check_digit(nit: str) -> str:
    """DV of a NIT (digits only, without the DV)."""
    if not nit.isdigit() or len(nit) > 15:
        raise ValueError(f"not a NIT: {nit!r}")
    padded = nit.zfill(15)
    total = sum(int(d) * w for d, w in zip(padded, _NIT_WEIGHTS, strict=True))
    remainder = total % 11
    return str(remainder if remainder in (0, 1) else 11 - remainder)


def truncated(value: str) -> str:
    """An amount as DIAN hashes it: truncated (not rounded) to 2 decimals; empty → 0.00 (§4.3)."""
    if not value or not value.strip():
        return "0.00"
    try:
        number = Decimal(value.strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    return str(number.quantize(Decimal("0.01"), rounding=ROUND_DOWN))


def document_key(
    *,
    number: str,
    issue_date: str,
    issue_time: str,
    line_extension: str,
    iva: str,
    inc: str,
    ica: str,
    payable: str,
    supplier_nit: str,
    customer_id: str,
    secret: str,
    environment: str,
) -> str:
    """CUFE (secret = technical key) or CUDE (secret = software PIN), lower-case hex SHA-384."""
    text = (
        f"{number}{issue_date}{issue_time}{truncated(line_extension)}"
        f"01{truncated(iva)}04{truncated(inc)}03{truncated(ica)}{truncated(payable)}"
        f"{supplier_nit}{customer_id}{secret}{environment}"
    )
    return hashlib.sha384(text.encode("utf-8")).hexdigest()


def software_security_code(software_id: str, pin: str, number: str) -> str:
    """SHA-384(SoftwareID + PIN + document number) (dian-einvoice.md §1.4)."""
    return hashlib.sha384(f"{software_id}{pin}{number}".encode()).hexdigest()
