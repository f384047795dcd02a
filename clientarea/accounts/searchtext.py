"""The folded text a customer is found by (back-office search): names, email, document, phone.

Kept in ``Customer.search_text`` by the services that write customers, and by the migration
that added the column. Pure: it reads attributes only, so migrations can use it too.
"""

from __future__ import annotations

import re
from typing import Any

from clientarea.lib.text import fold

_NOT_DIGITS = re.compile(r"\D")


def search_text_for(customer: Any, email: str) -> str:
    """One line: ``"ana maria restrepo | tienda andina sas | ana@x.co | 1020304050 | 3001234567"``."""
    names = " ".join(
        part
        for part in (
            customer.first_name,
            customer.last_name,
            customer.legal_name,
            customer.trade_name,
        )
        if part
    )
    document = customer.document_number or ""
    if customer.check_digit:
        document = f"{document} {document}-{customer.check_digit}"
    phone = _NOT_DIGITS.sub("", customer.phone or "")
    return fold(" | ".join(p for p in (names, email, document, phone) if p))[:600]
