"""A payment's state is explained in two parts: the gateway's own words (``status_message``, as
they came) and ours, as a code and its values (``status_note_code`` / ``status_note_values``,
``payments.status_notes``), read in the reader's language.

Rows written before kept our English sentences (or a Python exception's text, or staff's sentence
in their language) in ``status_message``. Those that match one of the sentences the code wrote,
exactly, get their code and values, and ``status_message`` keeps only what the gateway said in
them (a Payvalida refusal's description and code), or nothing. Anything else is the gateway's own
words and stays as it is.
"""

import re

from django.db import migrations, models

#: Sentence → code, for the sentences without values.
PLAIN = {
    "replaced by a new attempt": "replaced",
    "approved": "approved",
    "expired: closed by reconciliation": "closed_expired",
    "abandoned: closed by reconciliation": "closed_abandoned",
    "order paid: closed by reconciliation": "closed_orders_paid",
    "order cancelled: closed by reconciliation": "closed_orders_cancelled",
    "Payvalida answer has no checkout": "start_bad_answer",
}

#: What PayU's adapter refused before sending a checkout (our checks, not the gateway's words).
PAYU_CHECKS = (
    "PayU referenceCode must be 1-255 ASCII letters, digits or '-'",
    "amount must be positive",
    "tax + taxReturnBase cannot exceed the amount",
    "expires_at must be timezone-aware",
    "the payment window has already expired",
    "PayU accepts at most two decimals",
    "amount must be a finite, non-negative Decimal",
)

SETTLED = re.compile(r"order [a-z/]+: closed by reconciliation")
NOT_APPLIED = re.compile(r"approved at the gateway, not applied: (?P<problem>.+)", re.DOTALL)
REUSED = re.compile(r"transaction (?P<transaction>\S+) already approved another payment")
BY_STAFF = (
    re.compile(r"Registered by staff: (?P<label>.+), reference (?P<reference>.*)", re.DOTALL),
    re.compile(r"Registrado por el equipo: (?P<label>.+), referencia (?P<reference>.*)", re.DOTALL),
)
UNREACHABLE = re.compile(r"Payvalida unreachable: .*", re.DOTALL)
NO_JSON = re.compile(r"Payvalida answered HTTP \d+ without a JSON object")
HTTP_ERROR = re.compile(r"Payvalida answered HTTP \d+")
TRANSIENT = re.compile(r"Payvalida error (?P<code>[^:]*): (?P<desc>.*)", re.DOTALL)
REFUSED = re.compile(r"Payvalida refused the order: (?P<desc>.*) \((?P<code>[^()]*)\)", re.DOTALL)


def note_for(message, *, gateway, raw_method, instructions):
    """``(code, values, gateway's words)`` for a stored sentence of ours; ``None`` for the
    gateway's own words."""
    if message in PLAIN:
        return PLAIN[message], {}, ""
    if SETTLED.fullmatch(message):
        return "closed_orders_settled", {}, ""
    if match := NOT_APPLIED.fullmatch(message):
        return "approved_not_applied", {"problem": match["problem"]}, ""
    if match := REUSED.fullmatch(message):
        return "transaction_reused", {"transaction": match["transaction"]}, ""
    if gateway == "manual":
        for pattern in BY_STAFF:
            if match := pattern.fullmatch(message):
                reference = str((instructions or {}).get("bank_reference") or match["reference"])
                return "registered_by_staff", {"method": raw_method, "reference": reference}, ""
    if match := UNREACHABLE.fullmatch(message):
        code = "start_timeout" if "TimeoutError" in message else "start_unreachable"
        return code, {}, ""
    if NO_JSON.fullmatch(message):
        return "start_bad_answer", {}, ""
    if HTTP_ERROR.fullmatch(message):
        return "start_unavailable", {}, ""
    if match := TRANSIENT.fullmatch(message):
        return "start_unavailable", {}, f"{match['desc']} ({match['code']})"[:200]
    if match := REFUSED.fullmatch(message):
        return "start_refused", {}, f"{match['desc']} ({match['code']})"[:200]
    if gateway == "payu" and message in PAYU_CHECKS:
        return "start_invalid", {"detail": message}, ""
    return None


def notes_forward(apps, schema_editor):
    Payment = apps.get_model("payments", "Payment")
    rows = (
        Payment.objects.exclude(status_message="")
        .filter(status_note_code="")
        .only("id", "status_message", "gateway", "raw_method", "instructions")
    )
    changed = []
    for payment in rows.iterator(chunk_size=500):
        found = note_for(
            payment.status_message,
            gateway=payment.gateway,
            raw_method=payment.raw_method,
            instructions=payment.instructions,
        )
        if found is None:
            continue
        payment.status_note_code, payment.status_note_values, payment.status_message = found
        changed.append(payment)
        if len(changed) >= 500:
            Payment.objects.bulk_update(
                changed, ["status_note_code", "status_note_values", "status_message"]
            )
            changed = []
    if changed:
        Payment.objects.bulk_update(
            changed, ["status_note_code", "status_note_values", "status_message"]
        )


#: Code → the English sentence rows kept before (going back).
ENGLISH = {
    "approved": "approved",
    "replaced": "replaced by a new attempt",
    "closed_expired": "expired: closed by reconciliation",
    "closed_abandoned": "abandoned: closed by reconciliation",
    "closed_orders_paid": "order paid: closed by reconciliation",
    "closed_orders_cancelled": "order cancelled: closed by reconciliation",
    "closed_orders_settled": "order settled: closed by reconciliation",
    "approved_not_applied": "approved at the gateway, not applied: %(problem)s",
    "transaction_reused": "transaction %(transaction)s already approved another payment",
    "registered_by_staff": "Registered by staff: %(method)s, reference %(reference)s",
}


def notes_back(apps, schema_editor):
    Payment = apps.get_model("payments", "Payment")
    for payment in Payment.objects.exclude(status_note_code="").iterator(chunk_size=500):
        sentence = ENGLISH.get(payment.status_note_code)
        if sentence is None or payment.status_message:
            continue  # the gateway's words stay
        try:
            payment.status_message = (sentence % payment.status_note_values)[:200]
        except (KeyError, TypeError, ValueError):
            continue
        payment.save(update_fields=["status_message"])


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0011_manual_payments"),
    ]

    operations = [
        migrations.AlterField(
            model_name="payment",
            name="status_message",
            field=models.CharField(
                blank=True,
                help_text="The gateway's own words about the transaction, as it sent them.",
                max_length=200,
                verbose_name="gateway message",
            ),
        ),
        migrations.AddField(
            model_name="payment",
            name="status_note_code",
            field=models.CharField(
                blank=True,
                help_text="What we say about the payment's state, put into words in the reader's language.",
                max_length=40,
                verbose_name="our explanation code",
            ),
        ),
        migrations.AddField(
            model_name="payment",
            name="status_note_values",
            field=models.JSONField(
                blank=True, default=dict, verbose_name="our explanation values"
            ),
        ),
        migrations.RunPython(notes_forward, notes_back),
    ]
