"""A failed transmission's technical detail apart from our words.

Attempts recorded while DIAN gave no usable answer stored the DIAN client's English text inside
our sentence (``message_values["error"]``): "DIAN is not available (SendBillSync: HTTP 503, not a
SOAP answer (…)); …". Where the stored sentence is exactly what that code wrote, the text moves to
``detail`` and the attempt gets the code of what happened (read in the reader's language); any
other row is left as it is.
"""

import re

from django.db import migrations, models

#: What the code wrote before, for each old code (English, as stored in ``message``).
OLD_SENTENCES = {
    "unavailable": "DIAN is not available ({error}); the invoice will be sent again.",
    "refused_request": "DIAN refused the request ({error}); it is not sent again until this is fixed.",
    "application_response_unusable": "{message} (ApplicationResponse unusable: {error})",
}
NOT_SOAP = re.compile(r"^\w+: HTTP (\d+), not a SOAP answer \(")
HTTP_ONLY = re.compile(r"^\w+: HTTP (\d+)$")
FAULT = re.compile(r"^SOAP fault \S+: (.*)$", re.DOTALL)


def _code(old: str, error: str) -> tuple[str, dict]:
    if old == "application_response_unusable":
        return old, {}
    retry = old == "unavailable"
    fault = FAULT.match(error)
    if fault:
        return ("unavailable_fault" if retry else "refused_fault"), {
            "reason": "—" if fault.group(1) == "no reason given" else fault.group(1)
        }
    for pattern in (NOT_SOAP, HTTP_ONLY):
        found = pattern.match(error)
        if found:
            return ("unavailable_http" if retry else "refused_http"), {"status": found.group(1)}
    return old, {}


def split_detail(apps, schema_editor):
    Attempt = apps.get_model("einvoice", "TransmissionAttempt")
    rows = Attempt.objects.filter(message_code__in=OLD_SENTENCES).only(
        "message", "message_code", "message_values"
    )
    for attempt in rows.iterator():
        values = attempt.message_values if isinstance(attempt.message_values, dict) else {}
        error = values.get("error")
        if not isinstance(error, str):
            continue
        old = attempt.message_code
        try:
            written = OLD_SENTENCES[old].format(**values)
        except (KeyError, IndexError, ValueError):
            continue
        if attempt.message != written:
            continue
        code, new_values = _code(old, error)
        if old == "application_response_unusable":
            new_values = {"message": values.get("message", "")}
        Attempt.objects.filter(pk=attempt.pk).update(
            message_code=code, message_values=new_values, detail=error
        )


class Migration(migrations.Migration):
    dependencies = [
        ("einvoice", "0008_transmission_message_code"),
    ]

    operations = [
        migrations.AddField(
            model_name="transmissionattempt",
            name="detail",
            field=models.TextField(blank=True, verbose_name="technical detail"),
        ),
        migrations.RunPython(split_detail, migrations.RunPython.noop),
    ]
