"""How an inbound gateway message is written down: bytes-safe, capped, headers filtered.

The ``body`` column holds readable text (PostgreSQL text cannot hold NUL); when the bytes
are not plain UTF-8 text, ``raw_base64`` keeps them exactly, so nothing a gateway sent is
lost and a stored notification can always be parsed again from what arrived.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from clientarea.payments.gateways.base import Gateway, PaymentUpdate
from clientarea.payments.models import PaymentMessage

#: Stored bodies are cut here (notifications above PAYMENTS_NOTIFICATION_MAX_BYTES are refused anyway).
BODY_CAP = 16 * 1024
#: Request headers kept with a message: nothing that authenticates anybody.
KEPT_HEADERS = (
    "content-type",
    "content-length",
    "user-agent",
    "x-forwarded-for",
    "x-real-ip",
    "x-forwarded-proto",
    "accept",
)


def sanitize_headers(headers: Mapping[str, str]) -> dict[str, str]:
    lowered = {str(key).lower(): str(value).replace("\x00", "") for key, value in headers.items()}
    return {key: lowered[key][:300] for key in KEPT_HEADERS if key in lowered}


def cap_body(body: bytes | str, *, limit: int = BODY_CAP) -> str:
    """The body as readable text for the ``body`` column: invalid UTF-8 and NUL bytes are shown
    as U+FFFD (PostgreSQL text cannot hold NUL); :func:`raw_copy` keeps the exact bytes."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    text = text.replace("\x00", "\ufffd")
    return text if len(text) <= limit else text[:limit] + "…[truncated]"


def raw_copy(body: bytes | str, *, limit: int = BODY_CAP) -> str:
    """The exact bytes, base64, when ``body`` is not plain text that ``body`` can hold as it is
    ("" otherwise, the usual case): nothing a gateway sent is lost to the text column."""
    data = body if isinstance(body, bytes) else body.encode("utf-8", errors="surrogatepass")
    if b"\x00" not in data:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return ""
    return base64.b64encode(data[:limit]).decode("ascii")


def stored_body(message: PaymentMessage) -> bytes:
    """The bytes a stored message arrived with (for parsing it again)."""
    if message.raw_base64:
        return base64.b64decode(message.raw_base64)
    return message.body.encode("utf-8")


def text_field(value: str, limit: int) -> str:
    """A gateway-supplied value for an indexed text column: NUL-free and cut to the column."""
    return value.replace("\x00", "\ufffd")[:limit]


def finish_message(message: PaymentMessage, **changes) -> None:
    changes.setdefault("processed", True)
    changes.setdefault("processed_at", timezone.now())
    if "outcome" in changes:
        changes["outcome"] = changes["outcome"][:200]
    PaymentMessage.objects.filter(pk=message.pk).update(**changes)


def claim_key(gateway: Gateway, update: PaymentUpdate) -> str:
    """The inbox's dedupe key for a notification: the gateway's key, plus every field that
    changes what applying it does and that the signature does not cover (Payvalida's amount
    and currency). A copy with such a field changed is then a message of its own: it can
    never claim the key of the genuine message and make it look like a redelivery."""
    key = update.dedupe_key
    for name in ("amount", "currency"):
        if name not in gateway.signed_fields:
            value = getattr(update, name)
            if isinstance(value, Decimal):
                value = f"{value.normalize():f}"  # "119000" and "119000.00" are one amount
            key += f":{name}={value or ''}"
    if len(key) > 200:
        # Too long for the column: a digest keeps it unique instead of cutting it.
        key = update.dedupe_key[:100] + ":sha256=" + hashlib.sha256(key.encode()).hexdigest()
    return key


def notification_cap() -> int:
    return max(BODY_CAP, settings.PAYMENTS_NOTIFICATION_MAX_BYTES)
