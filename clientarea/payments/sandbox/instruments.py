"""Payment instruments the simulators accept: test cards, PSE banks, cash networks.

These are the simulator's own rules (how a tester chooses an outcome), shared by
the PayU and Payvalida checkouts. Card numbers are only validated here; the
models keep the last four digits and nothing else.

Outcome rules for cards (checked in this order):

1. holder name ``APPROVED`` approves and ``REJECTED`` declines, as PayU's legacy
   sandbox page says (developers-payu-latam.github.io ``_en/web_checkout/sandbox.html``:
   "enter APPROVED as the card holder name ... REJECTED to get a rejection");
2. a number of :data:`TEST_CARD_OUTCOMES` gives that outcome
   (4111111111111111 and PayU's documented 4097440000000004 approve,
   4000000000000002 declines);
3. any other Luhn-valid number of a known brand approves.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

#: Outcome codes are PayU ``lapResponseCode`` names; Payvalida reuses them internally.
APPROVED = "APPROVED"
ENTITY_DECLINED = "ENTITY_DECLINED"
INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
INTERNAL_ERROR = "INTERNAL_PAYMENT_PROVIDER_ERROR"

TEST_CARD_OUTCOMES: dict[str, str] = {
    "4111111111111111": APPROVED,
    "4097440000000004": APPROVED,  # PayU's sandbox VISA test card
    "5500000000000004": APPROVED,
    "4000000000000002": ENTITY_DECLINED,
    "4000000000009995": INSUFFICIENT_FUNDS,
    "4000000000000119": INTERNAL_ERROR,  # transactionState 104 (ERROR)
}

#: Holder names with a fixed outcome (PayU legacy sandbox doc).
HOLDER_OUTCOMES: dict[str, str] = {"APPROVED": APPROVED, "REJECTED": ENTITY_DECLINED}


def luhn_ok(number: str) -> bool:
    """True when ``number`` (digits only) passes the Luhn check."""
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def clean_card_number(raw: str) -> str:
    """The number without spaces or dashes (the form lets testers type groups)."""
    return re.sub(r"[\s-]", "", raw or "")


def card_brand(number: str) -> str | None:
    """PayU franchise name for a card number, from its BIN, or ``None`` if unknown."""
    if number.startswith("590712"):
        return "CODENSA"
    if number.startswith(("34", "37")):
        return "AMEX"
    if number.startswith(("36", "38")) or number[:3] in {"300", "301", "302", "303", "304", "305"}:
        return "DINERS"
    if number.startswith("4"):
        return "VISA"
    if number[:2] in {"51", "52", "53", "54", "55"} or 2221 <= int(number[:4] or 0) <= 2720:
        return "MASTERCARD"
    return None


def card_outcome(number: str, holder: str) -> str:
    """The response code a card payment gets in the simulator (see module docstring)."""
    by_holder = HOLDER_OUTCOMES.get(holder.strip().upper())
    if by_holder:
        return by_holder
    return TEST_CARD_OUTCOMES.get(number, APPROVED)


def parse_card_expiry(text: str) -> dt.date | None:
    """``MM/YY`` or ``MM/YYYY`` → last day of that month, or ``None`` when malformed."""
    match = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", text or "")
    if not match:
        return None
    month, year = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        return None
    if year < 100:
        year += 2000
    first_of_next = dt.date(year + (month == 12), month % 12 + 1, 1)
    return first_of_next - dt.timedelta(days=1)


@dataclass(frozen=True)
class Bank:
    """A PSE bank as ``GET_BANKS_LIST`` returns it (``pseCode`` + description)."""

    code: str
    name: str


#: PSE banks (codes as published by ACH Colombia). The first entry is PayU's
#: placeholder, not a bank: payments-api-colombia.html ("GET_BANKS_LIST": the
#: first entry has pseCode "0", "A continuación seleccione su banco").
PSE_BANKS: tuple[Bank, ...] = (
    Bank("0", "A continuación seleccione su banco"),
    Bank("1022", "BANCO UNION COLOMBIANO"),
    Bank("1007", "BANCOLOMBIA"),
    Bank("1051", "BANCO DAVIVIENDA"),
    Bank("1001", "BANCO DE BOGOTA"),
    Bank("1023", "BANCO DE OCCIDENTE"),
    Bank("1013", "BANCO BBVA COLOMBIA S.A."),
    Bank("1019", "SCOTIABANK COLPATRIA"),
    Bank("1052", "BANCO AV VILLAS"),
    Bank("1040", "BANCO AGRARIO"),
    Bank("1062", "BANCO FALABELLA"),
    Bank("1507", "NEQUI"),
)
PSE_PLACEHOLDER_CODE = "0"


def pse_bank(code: str) -> Bank | None:
    """The bank with that PSE code, ``None`` for unknown codes and the placeholder."""
    for bank in PSE_BANKS:
        if bank.code == code and code != PSE_PLACEHOLDER_CODE:
            return bank
    return None


#: PSE person types (``USER_TYPE``): N natural, J jurídica (payments-api-colombia.html).
PSE_PERSON_TYPES: tuple[tuple[str, StrOrPromise], ...] = (
    ("N", _("Natural person")),
    ("J", _("Legal entity (company)")),
)

#: Document types accepted by PSE (``PSE_REFERENCE2``, payments-api-colombia.html).
#: Labels in the buyer's language; Colombian document names stay as they are in both.
PSE_DOCUMENT_TYPES: tuple[tuple[str, StrOrPromise], ...] = (
    ("CC", _("Cédula de ciudadanía")),
    ("CE", _("Cédula de extranjería")),
    ("NIT", "NIT"),
    ("TI", "Tarjeta de identidad"),
    ("PP", _("Passport")),
    ("IDC", _("Unique customer identifier")),
    ("CEL", _("Mobile phone number")),
    ("RC", "Registro civil"),
    ("DE", _("Foreign identity document")),
)
