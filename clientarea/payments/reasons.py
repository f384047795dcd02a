"""Why a payment needs a person: a stable code and its values, stored on the payment
(``review_code``, ``review_values``) and put into words when someone reads it, in their language
(the mechanism is ``lib.texts``; this module is the payments' table of codes).

The English sentence is also stored in ``review_reason`` (logs, searches, and what rows flagged
before the codes existed show). Values are what the gateway or the orders said (transaction ids,
order numbers, a mismatch's detail, amounts): they are shown as they are, except the few that
are our own words for a transaction's kind or a gateway status (``WORDS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from django.utils.functional import lazy
from django.utils.translation import gettext_lazy, pgettext_lazy

from clientarea.lib.texts import CodedText, Texts

#: The message of each code (``%(name)s`` placeholders filled from the values).
MESSAGES = {
    "second_approval": gettext_lazy(
        "second approved transaction %(transaction)s for this attempt (first: %(first)s), "
        "kept as credit"
    ),
    "negative_after_approval": gettext_lazy(
        "gateway now reports %(status)s for the approved transaction (void or refund claim?)"
    ),
    "mismatch_not_signed": gettext_lazy("%(problem)s (transaction %(transaction)s), not signed"),
    "mismatch": gettext_lazy("%(problem)s (transaction %(transaction)s)"),
    "transaction_reused": gettext_lazy(
        "transaction %(transaction)s already approved another payment"
    ),
    "orders_paid_credit": gettext_lazy("order %(numbers)s was already paid, kept as credit"),
    "orders_cancelled_credit": gettext_lazy(
        "approved after order %(numbers)s was cancelled, kept as credit"
    ),
    "share_paid_credit": gettext_lazy(
        "order %(numbers)s was already paid, its share kept as credit"
    ),
    "share_cancelled_credit": gettext_lazy(
        "order %(numbers)s was cancelled before this approval, its share kept as credit"
    ),
    "unrequested_refund": gettext_lazy(
        "%(gateway)s reports a %(kind)s of %(amount)s (%(transaction)s) that was not requested "
        "here (customer's claim or chargeback?): record it with Refund"
    ),
    "refund_needed": gettext_lazy("refund needed"),
    "partly_refunded_credit": gettext_lazy(
        "%(refunded)s refunded; the rest, %(kept)s, kept as the customer's credit"
    ),
    "refund_declined": gettext_lazy("refund of %(amount)s declined by the gateway: %(message)s"),
}


#: Reasons that say the whole payment was kept as the customer's credit (a duplicate): a refund of
#: part of it decides the rest (``refunds._complete``).
KEPT_AS_CREDIT = frozenset({"second_approval", "orders_paid_credit", "orders_cancelled_credit"})


#: Values that are words of ours, not the gateway's (a transaction's kind, a gateway status):
#: put into the reader's language too. Other values are shown as they are.
WORDS = {
    "kind": {
        "refund": pgettext_lazy("gateway transaction", "refund"),
        "chargeback": pgettext_lazy("gateway transaction", "chargeback"),
    },
    "status": {
        "approved": pgettext_lazy("gateway status", "approved"),
        "declined": pgettext_lazy("gateway status", "declined"),
        "expired": pgettext_lazy("gateway status", "expired"),
        "pending": pgettext_lazy("gateway status", "pending"),
        "error": pgettext_lazy("gateway status", "error"),
    },
}


TABLE = Texts("payments.review", MESSAGES, words=WORDS, values_as_text=True)


@dataclass(frozen=True)
class Reason(CodedText):
    """One reason a payment needs a person: ``code`` (a key of ``MESSAGES``) and its values
    (kept as text: what the gateway or the orders said; a value that is another table's text,
    :meth:`CodedText.nested`, stays one: a mismatch's ``problem``)."""

    table: ClassVar[Texts] = TABLE
    kind: ClassVar[str] = "review reason"


#: The reason in the active language; ``fallback`` (the stored English sentence) for a row flagged
#: before codes existed, or one whose code this version no longer knows.
describe = TABLE.describe

#: ``describe`` put into words only when rendered (an email queued now, rendered in its language).
describe_lazy = lazy(describe, str)
