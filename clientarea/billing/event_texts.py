"""What an order event says, stored as a code and its values and put into words when someone reads
it, in their language (as ``payments.reasons`` does for a payment's review reason; the mechanism is
``lib.texts``, this module is the order events' table of codes).

The billing run, the worker and the customer's own requests record why an order was issued or
cancelled; staff read the order's history in the back office in English or Spanish, and the
customer reads a cancellation's reason on the order's page. The event keeps its English sentence
in ``message`` (logs, searches, and what events recorded before the codes show); the code and its
values are in ``data["text"]``. What a person typed (a cancellation reason, a custom order's note)
is stored and shown as typed. Reminder and resend events store a code in ``message`` (the
reminder's stage, the email's template): they are put into words too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from clientarea.lib.texts import CodedText, Texts

#: The words of each code (``%(name)s`` placeholders filled from the values).
MESSAGES = {
    "renewal": _("renewal (billing run)"),
    "catalog_order": _("catalog order"),
    "new_service": _("new service"),
    "plan_change": _("plan change"),
    "custom_order": _("custom order"),
    "debit_note": _("debit note %(number)s"),
    "reissued": _("Issued again without the cancelled service (was %(n)s)"),
    "customer_cancellation": _("Cancellation requested by the customer"),
    "not_paid_after_issue": _("Not paid %(days)d days after issue"),
    "not_paid_after_due": _("Not paid %(days)d days after due"),
    "plan_change_not_paid": _("Plan change not paid by its due date: the plan did not change"),
}

#: A reminder event's stage (its ``message``), in words.
REMINDER_STAGES = {
    "before": _("before the due date"),
    "due": _("on the due date"),
}


TABLE = Texts("billing.order_event", MESSAGES)


@dataclass(frozen=True)
class EventText(CodedText):
    """One thing an event says: ``code`` (a key of ``MESSAGES``) and its values (JSON values)."""

    table: ClassVar[Texts] = TABLE
    kind: ClassVar[str] = "order event text"


describe = TABLE.describe


def sentence(reason: str | EventText) -> str:
    """``reason`` as one sentence to store: as typed, or a code's words in the site language."""
    return reason.in_site_language() if isinstance(reason, EventText) else reason


def message_and_data(reason: str | EventText) -> tuple[str, dict[str, Any]]:
    """An event's ``message`` and the ``data`` that holds its code, for ``reason``."""
    if isinstance(reason, EventText):
        return reason.english()[:500], {"text": reason.stored()}
    return reason[:500], {}


def event_message(*, kind: str, message: str, data: Any) -> str:
    """What an event says, in the active language: its code's words, a reminder's stage or a
    resent email in words, otherwise its stored message (typed by a person, or an event recorded
    before the codes)."""
    text = data.get("text") if isinstance(data, dict) else None
    if isinstance(text, dict):
        return describe(str(text.get("code") or ""), text.get("values"), fallback=message)
    if kind == "reminder":
        if message in REMINDER_STAGES:
            return str(REMINDER_STAGES[message])
        number = message.removeprefix("overdue-")
        if number != message and number.isdigit():
            return str(_("overdue notice %(n)s")) % {"n": number}
    return message
