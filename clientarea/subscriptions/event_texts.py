"""Why a service changed, stored on its history row as a code and its values
(``ServiceEvent.reason_code`` / ``reason_values``) and put into words when someone reads it, in
their language: staff on the service's back-office page, the customer on the service's page (the
mechanism is ``lib.texts``; this module is the service events' table of codes).

The billing run, the worker, the paid path, a refund and the customer's cancellation record why a
service was activated, renewed, suspended, shortened or terminated in whatever language was active
then; the reader gets the code's words in theirs. The row keeps the English sentence in
``reason`` (logs, searches, and what rows recorded before the codes show). What a person typed
(staff's reason for suspending a service, a refund's reason) is stored and shown as typed, inside
the code's words where there is one. An order's own cancellation reason, when it is one of billing's
codes, is held nested (``EventText.nested()``) and put into words with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from clientarea.catalog.models import BillingCycle
from clientarea.lib.texts import CodedText, Texts
from clientarea.subscriptions.models import CancellationReason, TerminationReason

#: The words of each code (``%(name)s`` placeholders filled from the values). The first seven were
#: the codes rows stored in ``reason`` before (the data migration gave those rows their code).
MESSAGES = {
    "paid": _("payment received"),
    "ordered": _("ordered"),
    "staff": _("by our support team"),
    "overdue": _("overdue payment"),
    "manual": _("by our support team"),
    "imported": _("moved from our previous system"),
    "ordered_catalog": _("ordered from the catalog"),
    "order_not_paid": _("Order %(number)s not paid %(days)d days after due"),
    "terminated_not_paid": _("Not paid %(days)d days after due (%(number)s)"),
    "order_cancelled": _("Order %(number)s cancelled: %(reason)s"),
    "customer_cancellation": _("Cancelled at the customer's request (%(why)s)"),
    "customer_cancellation_comment": _(
        "Cancelled at the customer's request (%(why)s). In the customer's words: “%(comment)s”"
    ),
    "staff_termination": _("Terminated by our support team: %(cause)s"),
    "staff_termination_note": _(
        "Terminated by our support team: %(cause)s. Our support team's note: “%(note)s”"
    ),
    "refund": _("Refund of %(amount)s: %(reason)s"),
    "plan_changed": _("%(old_plan)s (%(old_cycle)s) → %(new_plan)s (%(new_cycle)s)"),
    "cycle_changed": _("%(plan)s: billing cycle %(old_cycle)s → %(new_cycle)s"),
    "label_edited": _("Label edited in the back office"),
}

#: Values that are our own words (a billing cycle, the customer's choice of why they cancel).
WORDS = {
    "old_cycle": dict(BillingCycle.choices),
    "new_cycle": dict(BillingCycle.choices),
    "why": dict(CancellationReason.choices),
    "cause": dict(TerminationReason.choices),
}

TABLE = Texts("subscriptions.service_event", MESSAGES, words=WORDS)


@dataclass(frozen=True)
class ServiceText(CodedText):
    """Why a service changed: ``code`` (a key of ``MESSAGES``) and its values (JSON values)."""

    table: ClassVar[Texts] = TABLE
    kind: ClassVar[str] = "service event text"


def stored_reason(reason: str | ServiceText) -> tuple[str, str, dict[str, Any]]:
    """A history row's ``reason`` (the English sentence, or what a person typed), ``reason_code``
    and ``reason_values`` for ``reason``."""
    if isinstance(reason, ServiceText):
        return reason.english()[:300], reason.code, dict(reason.values)
    return reason[:300], "", {}


#: Why, in the active language; ``fallback`` (the row's stored sentence) for a row recorded before
#: the codes, or one whose code this version no longer knows.
describe = TABLE.describe
