"""What we say about a payment's state, apart from what the gateway said: a stable code and its
values, stored on the payment (``status_note_code``, ``status_note_values``) and put into words
when someone reads it, in their language (the mechanism is ``lib.texts``; this module is the
payments' table of codes for it).

``Payment.status_message`` keeps only the gateway's own words (PayU's ``responseMessage``,
Payvalida's status or its refusal): they are shown as they came, labelled as the gateway's. Our
explanation (the attempt was replaced, reconciliation closed it, the approval was not applied,
the gateway could not be reached when it started) is one of the codes below. A Python error's
text is never stored for a person to read: :func:`start_failure` maps what can happen when a
payment starts (timeout, connection refused, an answer that cannot be read, a refusal) to codes.
"""

from __future__ import annotations

import urllib.error
from dataclasses import dataclass
from typing import Any, ClassVar

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from clientarea.lib.http import HttpError
from clientarea.lib.texts import CodedText, Texts
from clientarea.payments.gateways.base import (
    GatewayError,
    GatewayRefused,
    GatewayStatus,
    GatewayUnavailable,
    PaymentUpdate,
    UnreadableAnswer,
)

#: The words of each code (``%(name)s`` placeholders filled from the values).
MESSAGES = {
    "approved": _("approved"),
    "pending": _("pending at the gateway"),
    "declined": _("declined by the gateway"),
    "expired": _("expired at the gateway"),
    "error": _("the gateway reported an error"),
    "card_declined": _(
        "the card was declined (the gateway's response code is beside this); the order can be "
        "paid again"
    ),
    "payvalida_closed": _(
        "Payvalida closed the order without a payment: its deadline passed or it was cancelled "
        "at Payvalida"
    ),
    "replaced": _("replaced by a new attempt"),
    "closed_expired": _("its deadline passed: closed by reconciliation"),
    "closed_abandoned": _(
        "abandoned at the gateway's page (nothing there a day later): closed by reconciliation"
    ),
    "closed_orders_paid": _("its order was paid another way: closed by reconciliation"),
    "closed_orders_cancelled": _("its order was cancelled: closed by reconciliation"),
    "closed_orders_settled": _(
        "its orders were paid another way or cancelled: closed by reconciliation"
    ),
    "approved_not_applied": _("approved at the gateway, not applied: %(problem)s"),
    "transaction_reused": _("transaction %(transaction)s already approved another payment"),
    "registered_by_staff": _("Registered by staff: %(method)s, reference %(reference)s"),
    "start_timeout": _("the gateway did not answer in time: the payment was not started"),
    "start_refused_connection": _(
        "the gateway refused the connection: the payment was not started"
    ),
    "start_unreachable": _("the gateway could not be reached: the payment was not started"),
    "start_unavailable": _(
        "the gateway answered with a temporary error: the payment was not started"
    ),
    "start_bad_answer": _("the gateway's answer could not be read: the payment was not started"),
    "start_refused": _("the gateway refused the payment (its words are beside this)"),
    "start_invalid": _(
        "the payment could not be prepared for the gateway (amount, reference or deadline "
        "outside its limits): it was not sent"
    ),
    "refund_unknown": _(
        "%(failure)s: whether the refund reached it is not known (it is asked before the refund "
        "is sent again)"
    ),
    "refund_not_made": _("%(failure)s: the refund was not made"),
}

#: :func:`failure_kind` in words: a message to staff (a query that failed), and the ``failure``
#: of a refund that could not be made.
FAILURES: dict[str, Promise | str] = {
    "timeout": _("the gateway did not answer in time"),
    "refused_connection": _("the gateway refused the connection"),
    "unreachable": _("the gateway could not be reached"),
    "unavailable": _("the gateway answered with a temporary error"),
    "bad_answer": _("the gateway's answer could not be read"),
    "refused": _("the gateway refused the request"),
    "invalid": _("the request could not be prepared for the gateway"),
}


#: Values that are our own words: how staff received the money they registered; what went wrong
#: when a refund was asked for.
WORDS: dict[str, dict[str, Promise | str]] = {
    "method": {
        "card": _("card"),
        "pse": "PSE",
        "cash": _("cash"),
        "transfer": _("bank transfer"),
    },
    "failure": FAILURES,
}

TABLE = Texts("payments.status", MESSAGES, words=WORDS, values_as_text=True)

#: How reconciliation's reason for closing an attempt reads as a code.
CLOSED_CODES = {
    "expired": "closed_expired",
    "abandoned": "closed_abandoned",
    "order paid": "closed_orders_paid",
    "order cancelled": "closed_orders_cancelled",
}


@dataclass(frozen=True)
class StatusNote(CodedText):
    """Our explanation of a payment's state: ``code`` (a key of ``MESSAGES``) and its values
    (kept as text; a value that is another table's text, :meth:`CodedText.nested`, stays one)."""

    table: ClassVar[Texts] = TABLE
    kind: ClassVar[str] = "status note"


#: Why an approval cannot pay its attempt (the ``problem`` of ``approved_not_applied`` and of the
#: review reasons ``mismatch`` / ``mismatch_not_signed``): amounts and ids as the gateway sent
#: them and as we expected them.
MISMATCHES = Texts(
    "payments.mismatch",
    {
        "amount_missing": _("amount missing"),
        "amount": _("amount mismatch: got %(got)s, expected %(expected)s"),
        "currency_missing": _("currency missing, expected %(expected)s"),
        "currency": _("currency mismatch: got %(got)s, expected %(expected)s"),
        "merchant": _("merchant mismatch: got %(got)s"),
    },
    values_as_text=True,
)


@dataclass(frozen=True)
class Mismatch(CodedText):
    """What does not match in an approval: ``code`` (a key of ``MISMATCHES``), values as text."""

    table: ClassVar[Texts] = MISMATCHES
    kind: ClassVar[str] = "mismatch"


def closed(reason: str) -> StatusNote:
    """Reconciliation closed the attempt: ``reason`` is ``expired``, ``abandoned`` or
    ``order <states>`` (its orders' states, e.g. ``order cancelled/paid``)."""
    return StatusNote(CLOSED_CODES.get(reason, "closed_orders_settled"))


def gateway_note(update: PaymentUpdate, gateway: str = "") -> StatusNote | None:
    """What we add to a gateway's statement: its status in our words when it said nothing
    itself, or what its code means (a card declined at Payvalida, the order still payable; an
    order Payvalida closed unpaid, which it words "cancelled", "VENCIDA" or "CANCELADA").
    None: the gateway's words say it all. ``gateway``: the payment's gateway code."""
    if gateway == "payvalida" and update.status == GatewayStatus.EXPIRED:
        return StatusNote("payvalida_closed")
    if not update.message:
        return StatusNote(update.status.value)
    if update.status == GatewayStatus.DECLINED and update.extra.get("card_response_code"):
        return StatusNote("card_declined")
    return None


def failure_kind(exc: GatewayError) -> str:
    """What went wrong talking to a gateway, as one word: ``timeout``, ``refused_connection``,
    ``unreachable`` (another network failure), ``unavailable`` (it answered a temporary error),
    ``bad_answer``, ``refused`` (it answered no), or ``invalid`` (our own checks before sending)."""
    if isinstance(exc, GatewayRefused):
        return "refused"
    if isinstance(exc, UnreadableAnswer):
        return "bad_answer"
    if isinstance(exc, GatewayUnavailable):
        causes = list(_causes(exc))
        if any(_is_timeout(cause) for cause in causes):
            return "timeout"
        if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
            return "refused_connection"
        if any(isinstance(cause, HttpError) for cause in causes):
            return "unreachable"
        return "unavailable"
    return "invalid"


def start_failure(exc: GatewayError) -> tuple[StatusNote, str]:
    """What went wrong when a payment was sent to the gateway, as our code, and the gateway's own
    words if it said any (its refusal, its error code): never the Python exception's text."""
    kind = failure_kind(exc)
    if kind == "invalid":
        return StatusNote("start_invalid", {"detail": str(exc)[:200]}), exc.gateway_message
    return StatusNote(f"start_{kind}"), exc.gateway_message


def refund_failure(exc: GatewayError) -> tuple[StatusNote, str]:
    """What went wrong when a refund was asked of the gateway, as our code (the failure's kind
    read in :data:`FAILURES`' words), and the gateway's own words if it said any. Unavailable:
    the request may have reached it (``refund_unknown``); anything else: it was not made."""
    kind = failure_kind(exc)
    values = {"failure": kind}
    if kind == "invalid":
        values["detail"] = str(exc)[:200]  # our own check's words, for logs
    code = "refund_unknown" if isinstance(exc, GatewayUnavailable) else "refund_not_made"
    return StatusNote(code, values), exc.gateway_message


def failure_text(exc: GatewayError) -> str:
    """What went wrong, in the reader's language, with the gateway's own words if it said any."""
    words = str(FAILURES[failure_kind(exc)])
    if exc.gateway_message:
        return _("%(failure)s; the gateway said: %(words)s") % {
            "failure": words,
            "words": exc.gateway_message,
        }
    return words


def _causes(exc: BaseException):
    """The exception and what caused it, down the chain (a URLError's ``reason`` too)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if isinstance(current, urllib.error.URLError) and isinstance(current.reason, BaseException):
            yield current.reason
        current = current.__cause__ or current.__context__


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, TimeoutError):
        return True
    return isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, TimeoutError)


def status_fields(note: StatusNote | None, gateway_words: str | None = "") -> dict[str, Any]:
    """The payment's fields that say what its state means: the gateway's words as they came
    (cut to the column) and our note (none: the gateway's words say it all)."""
    return {
        "status_message": (gateway_words or "")[:200],
        "status_note_code": note.code if note else "",
        "status_note_values": dict(note.values) if note else {},
    }


#: The fields :func:`status_fields` sets (for ``save(update_fields=...)``).
STATUS_FIELDS = ("status_message", "status_note_code", "status_note_values")
