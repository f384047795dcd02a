"""Payvalida "API Recaudo" (CashIn v3) protocol math, written from docs.payvalida.com.

Independent from the merchant-side adapter on purpose (see ``payu_protocol``).
Pure functions only; callers pass the merchant's hashes.

Doc pages (docs.payvalida.com/api-recaudo/api-recaudo-en/...):

- REG = purchase-orders/register   (POST /api/v3/porders);
- CON = purchase-orders/consult    (GET /api/v3/porders/{order});
- DEL = purchase-orders/delete     (DELETE /api/v3/porders/{order});
- NOT = notification               (POST to the merchant's webhook);
- EXC = messages/excepciones       (error CODE table).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from decimal import Decimal

# --- Checksums -------------------------------------------------------------------------------


def register_checksum(
    *, email: str, country: str, order: str, money: str, amount: str, fixed_hash: str
) -> str:
    """REG: ``SHA512(email + country + order + money + amount + FIXED_HASH)``, hex."""
    text = f"{email}{country}{order}{money}{amount}{fixed_hash}"
    return hashlib.sha512(text.encode("utf-8")).hexdigest()


def order_checksum(*, order: str, merchant: str, fixed_hash: str) -> str:
    """CON/DEL: ``SHA512(order + merchant + FIXED_HASH)``, hex."""
    return hashlib.sha512(f"{order}{merchant}{fixed_hash}".encode()).hexdigest()


def notification_checksum(*, po_id: str, status: str, notification_hash: str) -> str:
    """NOT: ``pv_checksum = SHA256(po_id + status + NOTIFICATION_HASH)`` (ES pages:
    ``FIXED_HASH_NOTIFICACION``), lower-case hex."""
    return hashlib.sha256(f"{po_id}{status}{notification_hash}".encode()).hexdigest()


def checksums_match(expected: str, given: str) -> bool:
    """Case-insensitive constant-time compare: CON/DEL examples print UPPER-case hex
    (``7CA70805…``) while PHP's ``hash()`` gives lower case; both must pass."""
    return hmac.compare_digest(expected.lower().encode(), str(given or "").lower().encode())


# --- Field rules --------------------------------------------------------------------------------

#: REG: "Currently only 343 is available" (Colombia).
COUNTRY_COLOMBIA = 343
CURRENCY_COP = "COP"
#: REG: expiration "can't surpass 30 days".
MAX_EXPIRATION_DAYS = 30
#: REG (ES): order "no debe contener guiones bajos ni caracteres especiales", max 200.
ORDER_RE = re.compile(r"^[A-Za-z0-9]{1,200}$")
#: REG: reference "can't be alphanumeric", max 25.
REFERENCE_RE = re.compile(r"^[0-9]{1,25}$")
#: REG: amount "Only accepts integers".
INTEGER_RE = re.compile(r"^[0-9]+$")

#: ``method`` values the simulator knows. Documented by Payvalida: ``baloto`` (doc-root
#: example) and ``efecty`` (ORDER_METHOD in the REG example's token). [INF] ``tc`` comes
#: from third-party code for the older v2 API; ``pse``, ``sured``, ``gana`` and
#: ``puntored`` are this simulator's own guesses. Others get 0027. The adapter sends only
#: ``efecty`` unless ``PAYVALIDA_METHOD_CODES`` says otherwise.
CASH_METHODS = {
    "efecty": "EFECTY",
    "baloto": "BALOTO",
    "sured": "SURED",
    "gana": "GANA",
    "puntored": "PUNTORED",
}
METHOD_PSE = "pse"
METHOD_CARD = "tc"
KNOWN_METHODS = frozenset({*CASH_METHODS, METHOD_PSE, METHOD_CARD})

#: Names reported as ``PAYMNENT_METHOD`` (CON example: "PSE") and ``pv_payment``.
#: "TC" for cards is [INF].
PAYMENT_NAME_PSE = "PSE"
PAYMENT_NAME_CARD = "TC"

#: Order states (NOT): PENDIENTE → APROBADA (notified "approved"), VENCIDA (notified
#: "cancelled"), CANCELADA (deleted through the API, not notified).
PENDIENTE = "PENDIENTE"
APROBADA = "APROBADA"
VENCIDA = "VENCIDA"
CANCELADA = "CANCELADA"
STATUS_APPROVED = "approved"
STATUS_CANCELLED = "cancelled"


def parse_expiration(text: str) -> dt.date | None:
    """REG: ``DD/MM/YYYY`` → date, or ``None`` when malformed."""
    match = re.fullmatch(r"(\d{2})/(\d{2})/(\d{4})", str(text or "").strip())
    if not match:
        return None
    try:
        return dt.date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
    except ValueError:
        return None


def monto(amount: str | int | Decimal) -> str:
    """REG/DEL answer format: ``"Monto":"45000.0"`` (one decimal)."""
    return f"{Decimal(str(amount)):.1f}"


def amount_2dp(amount: str | int | Decimal) -> str:
    """CON answer format: ``"AMOUNT":"120.00"``."""
    return f"{Decimal(str(amount)):.2f}"


# --- Answer codes (EXC) --------------------------------------------------------------------------
# The simulator answers business errors with HTTP 200 and a non-"0000" CODE, like the
# documented answers ([INF]: the docs only show 200 answers). Codes come from EXC.
OK = ("0000", "OK")
ERR_CONTENT = ("0011", "Error in the content")
ERR_MERCHANT_INVALID = ("0017", "MerchantID is not valid")
ERR_MERCHANT_UNKNOWN = ("0018", "Merchant not register on Payvalida")
ERR_AMOUNT = ("0021", "The amount is not valid")
ERR_COUNTRY = ("0022", "Country code is not valid")
ERR_CURRENCY = ("0023", "Currency is not valid")
ERR_LIFETIME = ("0024", "The life time of order must be between 30m and 30d")
ERR_CHECKSUM = ("0025", "The checksum is not valid")
ERR_METHOD = ("0027", "Payment method is not valid")
ERR_DESCRIPTION = ("0029", "Description can not be null or empty")
ERR_EXPIRATION_FORMAT = ("0031", "Expiring date is not valid. Must be DDMMYYYY")
ERR_EXPIRATION_PAST = ("0032", "Expiring date must be greather that today")
ERR_NOT_PENDING = ("0041", "Order is not registered or are APPROVED, EXPIRED or CANCELLED")
ERR_DUPLICATE_ORDER = ("0042", "Already exist orden with same PO_ID")
ERR_DUPLICATE_REFERENCE = ("0043", "Already exist orden with same payment reference")
