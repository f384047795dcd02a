"""What we say about a transmission to DIAN, stored as a code and its values on the attempt
(``TransmissionAttempt.message_code`` / ``message_values``) and put into words when staff read it,
in their language. The English sentence stays in ``message`` (logs, searches, and what attempts
recorded before the codes show). DIAN's own answer (its status description and rule messages) is
stored and shown as DIAN wrote it, in Spanish: it is DIAN's word, not ours. When DIAN gave no
usable answer, our words say what happened (no connection, no answer in time, an HTTP error, an
answer that could not be read, a SOAP fault) and the client's or transport's own text (English,
for whoever debugs it) is kept apart in ``TransmissionAttempt.detail``, shown to staff as the
technical detail: it is never put inside our sentence. (The mechanism is ``lib.texts``; this
module is the attempts' table of codes.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from clientarea.lib.texts import Texts

MESSAGES = {
    "not_signed": _("Not signed yet: nothing was sent to DIAN."),
    "timeout_unknown": _(
        "DIAN did not answer within %(seconds)s seconds and does not know the invoice "
        "yet; it will be sent again."
    ),
    # DIAN gave no usable answer: sent again (DIAN's retry rule, then contingency).
    "unavailable": _("DIAN is not available; the document will be sent again."),
    "unavailable_no_connection": _(
        "DIAN could not be reached (no connection); the document will be sent again."
    ),
    "unavailable_http": _(
        "DIAN answered with HTTP error %(status)s and no readable answer; the document will be "
        "sent again."
    ),
    "unavailable_unreadable": _(
        "DIAN's answer could not be read; the document will be sent again."
    ),
    "unavailable_fault": _(
        "DIAN reported an error on its side (in its words: “%(reason)s”); the document will be "
        "sent again."
    ),
    # The request itself was refused: sending the same again cannot succeed.
    "refused_request": _("DIAN refused the request; it is not sent again until this is fixed."),
    "refused_fault": _(
        "DIAN refused the request (in its words: “%(reason)s”); it is not sent again until this "
        "is fixed."
    ),
    "refused_http": _(
        "DIAN's web service address answered HTTP error %(status)s (check DIAN_WS_URL); it is "
        "not sent again until this is fixed."
    ),
    "stored_only": _("stored only (no DIAN transmitter configured)"),
    "no_application_response": _(
        "%(message)s (accepted, but DIAN sent no ApplicationResponse; asking again)"
    ),
    "application_response_unusable": _(
        "%(message)s (DIAN's ApplicationResponse could not be used: see the technical detail; "
        "asking again)"
    ),
}

#: A DIAN rule message's kind (``rule_messages[].kind``), in words.
RULE_KINDS = {"rejection": _("rejection"), "notification": _("notification")}


TABLE = Texts("einvoice.attempt", MESSAGES, values_as_text=True)


#: The message in the active language; ``fallback`` (the stored sentence) for an attempt recorded
#: before the codes, or a code this version no longer knows.
describe = TABLE.describe

#: The message in English, for the attempt's ``message`` (logs, searches).
english = TABLE.english


def rule_kind(kind: str) -> str:
    return str(RULE_KINDS.get(kind, kind))


@dataclass(frozen=True)
class Legacy:
    """An attempt recorded before the codes, read back: its code, values and technical detail."""

    code: str
    values: dict[str, str] = field(default_factory=dict)
    detail: str = ""


#: The sentences the code wrote in ``message`` before the codes existed (migration 0008), in
#: English or, where they went through gettext in a Spanish worker, in Spanish: each read back as
#: the code it is now (``detail``: the DIAN client's text that was inside the sentence). A lookup
#: on the text alone, no data migration: anything else is DIAN's answer or the client's text.
LEGACY_SENTENCES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), code)
    for pattern, code in (
        (r"Not signed yet: nothing was sent to DIAN\.", "not_signed"),
        (r"Aún no está firmada: no se envió nada a la DIAN\.", "not_signed"),
        (
            r"DIAN did not answer within (?P<seconds>[\d.]+) seconds and does not know the "
            r"invoice yet; it will be sent again\.",
            "timeout_unknown",
        ),
        (
            r"La DIAN no respondió en (?P<seconds>[\d.]+) segundos y aún no conoce la factura; "
            r"se enviará de nuevo\.",
            "timeout_unknown",
        ),
        (
            r"DIAN is not available \((?P<detail>.*)\); the invoice will be sent again\.",
            "unavailable",
        ),
        (
            r"La DIAN no está disponible \((?P<detail>.*)\); la factura se enviará de nuevo\.",
            "unavailable",
        ),
        (
            r"DIAN refused the request \((?P<detail>.*)\); it is not sent again until this is "
            r"fixed\.",
            "refused_request",
        ),
        (
            r"La DIAN rechazó la solicitud \((?P<detail>.*)\); no se volverá a enviar hasta que "
            r"esto se corrija\.",
            "refused_request",
        ),
        (r"stored only \(no DIAN transmitter configured\)", "stored_only"),
        (
            r"(?P<message>.*?) \(accepted, but DIAN sent no ApplicationResponse; asking again\)",
            "no_application_response",
        ),
        (
            r"(?P<message>.*?) \(ApplicationResponse unusable: (?P<detail>.*)\)",
            "application_response_unusable",
        ),
    )
)


def legacy(message: str) -> Legacy | None:
    """An attempt's ``message`` without a code, read back as the code it is now when it is a
    sentence the code wrote before the codes (``LEGACY_SENTENCES``); None: DIAN's answer, or the
    client's text, to be shown as written."""
    text = message.strip()
    for pattern, code in LEGACY_SENTENCES:
        found = pattern.fullmatch(text)
        if found:
            values = {k: v for k, v in found.groupdict().items() if k != "detail"}
            return Legacy(code, values, found.groupdict().get("detail") or "")
    return None
