"""A payment's gateway details in words a support agent reads: its ``instructions`` (the cash
voucher's reference and network, the PSE bank and CUS, the page to pay at, the deadline) and its
``checkout_payload`` (what the customer's browser was sent to the gateway with, and the gateway's
answer when it registered the order: Payvalida).

Each stored key gets a label in the reader's language; amounts read the Colombian way, dates
dd/mm/yyyy HH:MM in Bogotá time, addresses are links, codes of the gateways (PayU's pending
reasons, Payvalida's operation, the checkout's language) are put into words. Keys this version does
not know are shown as they are, never dropped. The raw JSON stays available for audit
(:func:`raw_json`), with anything that looks like a credential hidden (the checkout never stores
one: ``services.checkout.SECRET_FIELDS``; this is the second lock).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from clientarea.lib.dates import BOGOTA
from clientarea.lib.money import format_cop

#: Parts of a key's name that mark a credential: shown hidden, in words and in the raw JSON.
#: (Signatures are derived from the key but reveal nothing of it: they may be shown.)
SECRET_MARKS = ("apikey", "api_key", "apilogin", "api_login", "secret", "password", "token", "hash")
HIDDEN = "••••••"


def is_secret(key: str) -> bool:
    name = key.lower().replace("-", "_")
    return name == "key" or any(mark in name for mark in SECRET_MARKS)


@dataclass(frozen=True)
class Detail:
    """One line: its label, its value in words, and the address it links to (if a URL)."""

    key: str
    label: str
    value: str
    url: str = ""


# --- How a value reads -------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _amount(value: Any) -> str:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return _text(value)
    if not amount.is_finite():
        return _text(value)
    return format_cop(amount)


def _moment(value: Any) -> str:
    """An ISO moment ("2026-12-13T10:00:00-05:00") or PayU's local "2026-12-13 10:00:00"
    (Bogotá time) as dd/mm/yyyy HH:MM in Bogotá time."""
    text = str(value).strip()
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return text
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=BOGOTA)
    return f"{timezone.localtime(moment, BOGOTA):%d/%m/%Y %H:%M} ({_('Colombia time')})"


def _url(value: Any) -> str:
    text = str(value)
    return text if text.startswith(("https://", "http://")) else ""


def _words(table: Mapping[str, Promise | str]):
    def read(value: Any) -> str:
        return str(table.get(str(value), value))

    return read


YES_NO = {"1": _("yes"), "0": _("no"), "true": _("yes"), "false": _("no")}

#: PayU's ``pendingReason`` (queries API).
PENDING_REASONS = {
    "AWAITING_NOTIFICATION": _("waiting for the payment network to report the payment"),
    "AWAITING_PAYMENT_IN_ENTITY": _("waiting for the customer to pay at the cash network"),
    "AWAITING_PAYMENT_IN_BANK": _("waiting for the customer to pay at the bank"),
    "AWAITING_TRANSACTION_REVIEW": _("under review at the gateway"),
    "PENDING_REVIEW": _("under review at the gateway"),
}

#: Payvalida's ``Operacion`` when it registered the order.
OPERATIONS = {"CREADA": _("order created at Payvalida")}

#: How the browser went to the gateway.
BROWSER_METHODS = {
    "POST": _("a form the browser posted to the gateway"),
    "GET": _("sent to the gateway's page (redirect)"),
}

LANGUAGES = {"es": _("Spanish"), "en": _("English")}

#: PayU's document types (``payerDocumentType``).
DOCUMENT_TYPES: dict[str, Promise | str] = {
    "CC": _("Cédula de ciudadanía"),
    "CE": _("Cédula de extranjería"),
    "NIT": "NIT",
    "PP": _("Passport"),
    "DE": _("Foreign document"),
    "RC": _("Registro civil"),
    "TI": _("Tarjeta de identidad"),
}

#: PayU's method families offered at its checkout (``paymentMethods``).
PAYU_METHODS: dict[str, Promise | str] = {
    "VISA": "Visa",
    "MASTERCARD": "Mastercard",
    "AMEX": "American Express",
    "DINERS": "Diners",
    "CODENSA": "Codensa",
    "PSE": "PSE",
    "EFECTY": "Efecty",
    "BALOTO": "Baloto",
    "OTHERS_CASH": _("other cash networks"),
}


def _methods(value: Any) -> str:
    return ", ".join(
        str(PAYU_METHODS.get(part.strip(), part.strip())) for part in str(value).split(",")
    )


#: key → (label, how its value reads). Keys of the instructions, of PayU's checkout form and of
#: Payvalida's answer do not collide, so one table serves them.
FIELDS: dict[str, tuple[Promise | str, Any]] = {
    # instructions
    "voucher_reference": (_("Payment reference (voucher)"), _text),
    "network": (_("Cash network"), _text),
    "bank": (_("Bank (PSE)"), _text),
    "cus": (_("CUS (bank tracking code)"), _text),
    "pending_reason": (_("Why it is pending (gateway)"), _words(PENDING_REASONS)),
    "gateway_order": (_("Order id at the gateway"), _text),
    "checkout_url": (_("Page to pay or see the voucher"), _text),
    "expires_at": (_("Pay before"), _moment),
    "bank_reference": (_("bank reference"), _text),
    # checkout: how the browser was sent
    "method": (_("How the customer was sent"), _words(BROWSER_METHODS)),
    "url": (_("Gateway address"), _text),
    # PayU's WebCheckout form
    "merchantId": (_("Merchant id"), _text),
    "accountId": (_("Account id"), _text),
    "description": (_("Description"), _text),
    "referenceCode": (_("Reference"), _text),
    "amount": (_("Amount"), _amount),
    "tax": (_("IVA"), _amount),
    "taxReturnBase": (_("IVA base"), _amount),
    "currency": (_("Currency"), _text),
    "algorithmSignature": (_("Signature algorithm"), _text),
    "test": (_("Test mode"), _words(YES_NO)),
    "buyerEmail": (_("Buyer's email"), _text),
    "buyerFullName": (_("Buyer's name"), _text),
    "telephone": (_("Buyer's phone"), _text),
    "payerFullName": (_("Payer's name"), _text),
    "payerEmail": (_("Payer's email"), _text),
    "payerPhone": (_("Payer's phone"), _text),
    "payerDocumentType": (_("Payer's document type"), _words(DOCUMENT_TYPES)),
    "payerDocument": (_("Payer's document"), _text),
    "buyerDocumentType": (_("Buyer's document type"), _words(DOCUMENT_TYPES)),
    "buyerDocument": (_("Buyer's document"), _text),
    "responseUrl": (_("Page the customer returns to"), _text),
    "confirmationUrl": (_("Address the gateway confirms to"), _text),
    "lng": (_("Language of the gateway's page"), _words(LANGUAGES)),
    "expirationDate": (_("Pay before"), _moment),
    "paymentMethods": (_("Methods offered"), _methods),
    "selectedPaymentMethod": (_("Method chosen"), _methods),
    # Payvalida's answer when it registered the order
    "OrdenID": (_("Order (our reference, without dashes)"), _text),
    "Monto": (_("Amount"), _amount),
    "PVordenID": (_("Payvalida order id"), _text),
    "Referencia": (_("Payment reference (voucher)"), _text),
    "Operacion": (_("Operation"), _words(OPERATIONS)),
}

#: The order lines are shown in (what a support agent looks for first); unknown keys last.
_ORDER = {key: index for index, key in enumerate(FIELDS)}


#: Labels that depend on the payment's method: PayU's tracking code (``trazabilityCode``) is the
#: bank's CUS for PSE only; for cash and cards it is the gateway's own.
BY_METHOD: dict[tuple[str, str], Promise | str] = {
    ("cus", "cash"): _("Tracking code at the gateway"),
    ("cus", "card"): _("Tracking code at the gateway"),
}


def details(data: Mapping[str, Any] | None, *, method: str = "") -> list[Detail]:
    """One line per stored key (nested objects flattened: a checkout's ``fields`` and
    ``gateway_answer`` are read as lines of their own); ``method`` is the payment's (card, pse,
    cash)."""
    lines: list[Detail] = []
    for key, value in _flat(data or {}):
        if value in ("", None):
            continue
        label, read = FIELDS.get(key, (key, _text))
        label = BY_METHOD.get((key, method), label)
        if is_secret(key):
            lines.append(Detail(key=key, label=capfirst(str(label)), value=HIDDEN))
            continue
        shown = read(value)
        lines.append(Detail(key=key, label=capfirst(str(label)), value=shown, url=_url(value)))
    return sorted(lines, key=lambda line: _ORDER.get(line.key, len(_ORDER)))


def _flat(data: Mapping[str, Any]):
    for key, value in data.items():
        if key in ("fields", "gateway_answer") and isinstance(value, Mapping):
            yield from _flat(value)
        else:
            yield str(key), value


def checkout_sections(payload: Mapping[str, Any] | None) -> list[tuple[str, list[Detail]]]:
    """The checkout in parts: how the browser was sent, what it carried, what the gateway
    answered (only the parts the payload has)."""
    payload = payload or {}
    sent = {k: v for k, v in payload.items() if k not in ("fields", "gateway_answer")}
    fields = payload.get("fields") if isinstance(payload.get("fields"), Mapping) else {}
    answer = (
        payload.get("gateway_answer") if isinstance(payload.get("gateway_answer"), Mapping) else {}
    )
    sections = [
        (str(_("Sent to the gateway")), details(sent)),
        (str(_("What the form carried")), details(fields)),
        (str(_("The gateway's answer")), details(answer)),
    ]
    return [(title, lines) for title, lines in sections if lines]


def raw_json(data: Any) -> str:
    """The stored JSON, indented, credentials hidden (for audit)."""
    return json.dumps(_masked(data), ensure_ascii=False, indent=2, sort_keys=True, default=str)


def _masked(data: Any) -> Any:
    if isinstance(data, Mapping):
        return {
            key: HIDDEN if is_secret(str(key)) else _masked(value) for key, value in data.items()
        }
    if isinstance(data, list):
        return [_masked(item) for item in data]
    return data
