"""A refund's failure in two parts, as a payment's state is (0012): the gateway's own words
(``gateway_message``, as they came) and ours, as a code and its values (``note_code`` /
``note_values``, ``payments.status_notes``), read in the reader's language. And the detail of an
approval that could not be applied (``problem``), stored as a code of its own
(``payments.mismatch``) inside the payment's note and review reason.

Refunds written before kept the Python exception's English text in ``gateway_message`` when
asking the gateway failed. Those that match, exactly, one of the texts the code wrote get their
code and values, and ``gateway_message`` keeps only what the gateway said (nothing: none of those
texts carried the gateway's words). A problem that matches one of the sentences the code wrote
becomes its code. Anything else stays as it is.
"""

import re

from django.db import migrations, models

#: What the refund call raised when the answer was unknown (GatewayUnavailable).
UNREACHABLE = re.compile(r"PayU payments API unreachable: .*", re.DOTALL)
HTTP_STATUS = re.compile(r"PayU payments API answered HTTP \d+")
UNAVAILABLE = (
    "PayU payments API answer is not JSON",
    "PayU payments API answer is not an object",
    "PayU payments API accepted a refund without an id",
)
#: What it raised before sending (our own checks: the refund was declined at once).
NO_API = re.compile(r"\S+ has no refund API")
INVALID = (
    "PayU refund: the payment has no PayU order id",
    "PayU accepts at most two decimals",
    "amount must be a finite, non-negative Decimal",
)


def refund_note(message):
    """``(code, values)`` for a stored exception text of ours; ``None`` for the gateway's words."""
    if UNREACHABLE.fullmatch(message):
        if "TimeoutError" in message:
            return "refund_unknown", {"failure": "timeout"}
        if "ConnectionRefusedError" in message:
            return "refund_unknown", {"failure": "refused_connection"}
        return "refund_unknown", {"failure": "unreachable"}
    if HTTP_STATUS.fullmatch(message) or message in UNAVAILABLE:
        return "refund_unknown", {"failure": "unavailable"}
    if message in INVALID or NO_API.fullmatch(message):
        return "refund_not_made", {"failure": "invalid", "detail": message}
    return None


MISMATCHES = (
    (re.compile(r"amount missing"), "amount_missing"),
    (re.compile(r"amount mismatch: got (?P<got>\S+), expected (?P<expected>\S+)"), "amount"),
    (re.compile(r"currency mismatch: got none, expected (?P<expected>\S+)"), "currency_missing"),
    (re.compile(r"currency mismatch: got (?P<got>\S+), expected (?P<expected>\S+)"), "currency"),
    (re.compile(r"merchant mismatch: got (?P<got>.+)", re.DOTALL), "merchant"),
)


def mismatch(problem):
    """The stored problem as another table's text held as a value; ``None`` when it is not one
    of the sentences the code wrote (or is one already)."""
    if not isinstance(problem, str):
        return None
    for pattern, code in MISMATCHES:
        if match := pattern.fullmatch(problem):
            return {"table": "payments.mismatch", "code": code, "values": match.groupdict()}
    return None


def forward(apps, schema_editor):
    Refund = apps.get_model("payments", "Refund")
    for refund in Refund.objects.exclude(gateway_message="").filter(note_code="").iterator():
        found = refund_note(refund.gateway_message)
        if found is None:
            continue
        refund.note_code, refund.note_values = found
        refund.gateway_message = ""
        refund.save(update_fields=["note_code", "note_values", "gateway_message"])
    Payment = apps.get_model("payments", "Payment")
    rows = Payment.objects.filter(
        models.Q(status_note_code="approved_not_applied")
        | models.Q(review_code__in=("mismatch", "mismatch_not_signed"))
    )
    for payment in rows.iterator():
        fields = []
        if payment.status_note_code == "approved_not_applied":
            if nested := mismatch(payment.status_note_values.get("problem")):
                payment.status_note_values = {**payment.status_note_values, "problem": nested}
                fields.append("status_note_values")
        if payment.review_code in ("mismatch", "mismatch_not_signed"):
            if nested := mismatch(payment.review_values.get("problem")):
                payment.review_values = {**payment.review_values, "problem": nested}
                fields.append("review_values")
        if fields:
            payment.save(update_fields=fields)


#: Code → the English text rows kept before (going back).
ENGLISH = {
    ("refund_unknown", "timeout"): "PayU payments API unreachable: TimeoutError",
    ("refund_unknown", "refused_connection"): "PayU payments API unreachable: "
    "ConnectionRefusedError",
    ("refund_unknown", "unreachable"): "PayU payments API unreachable",
    ("refund_unknown", "unavailable"): "PayU payments API answered with a temporary error",
}
MISMATCH_ENGLISH = {
    "amount_missing": "amount missing",
    "amount": "amount mismatch: got %(got)s, expected %(expected)s",
    "currency_missing": "currency mismatch: got none, expected %(expected)s",
    "currency": "currency mismatch: got %(got)s, expected %(expected)s",
    "merchant": "merchant mismatch: got %(got)s",
}


def _problem_back(values):
    problem = values.get("problem")
    if not isinstance(problem, dict):
        return None
    try:
        return MISMATCH_ENGLISH[problem["code"]] % problem.get("values", {})
    except (KeyError, TypeError, ValueError):
        return None


def back(apps, schema_editor):
    Refund = apps.get_model("payments", "Refund")
    for refund in Refund.objects.exclude(note_code="").iterator():
        if refund.gateway_message:
            continue  # the gateway's words stay
        failure = refund.note_values.get("failure", "")
        text = refund.note_values.get("detail") or ENGLISH.get((refund.note_code, failure))
        if text:
            refund.gateway_message = text[:200]
            refund.save(update_fields=["gateway_message"])
    Payment = apps.get_model("payments", "Payment")
    for payment in Payment.objects.filter(
        models.Q(status_note_code="approved_not_applied")
        | models.Q(review_code__in=("mismatch", "mismatch_not_signed"))
    ).iterator():
        if (text := _problem_back(payment.status_note_values)) is not None:
            payment.status_note_values = {**payment.status_note_values, "problem": text}
        if (text := _problem_back(payment.review_values)) is not None:
            payment.review_values = {**payment.review_values, "problem": text}
        payment.save(update_fields=["status_note_values", "review_values"])


class Migration(migrations.Migration):
    dependencies = [("payments", "0012_payment_status_note")]

    operations = [
        migrations.AlterField(
            model_name="refund",
            name="gateway_message",
            field=models.CharField(
                blank=True,
                help_text="The gateway's own words about the refund, as it sent them.",
                max_length=200,
                verbose_name="gateway message",
            ),
        ),
        migrations.AddField(
            model_name="refund",
            name="note_code",
            field=models.CharField(
                blank=True,
                help_text="What went wrong asking the gateway, put into words in the reader's "
                "language.",
                max_length=40,
                verbose_name="our explanation code",
            ),
        ),
        migrations.AddField(
            model_name="refund",
            name="note_values",
            field=models.JSONField(
                blank=True, default=dict, verbose_name="our explanation values"
            ),
        ),
        migrations.RunPython(forward, back),
    ]
