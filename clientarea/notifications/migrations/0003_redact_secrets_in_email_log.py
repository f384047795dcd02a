"""Redact the access codes and one-time login links already stored in the email log.

Before 0002 the "New Access Code" and login-link emails were stored exactly as sent. Their
codes and links are replaced by "••••" (the same marker new emails get); the emails stay in
the log as a record that they were sent, and cannot be sent again (a new code is issued).
"""

import re

from django.db import migrations

REDACTED = "••••"
SECRET_TEMPLATES = ("new_access_code", "login_link")
# Access codes are groups of up to four letters and digits joined by dashes (ABCD-EFGH-JKMN-PQ);
# the demo code (DEMO-CODE-7777) has the same shape.
CODE = re.compile(r"\b[A-Z0-9]{4}(?:-[A-Z0-9]{1,4}){2,}\b")
LINK = re.compile(r"""[a-z][a-z0-9+.-]*://[^\s"'<>]*/login-link/[^\s"'<>]*""", re.IGNORECASE)


def redact(text):
    return CODE.sub(REDACTED, LINK.sub(REDACTED, text or ""))


def redact_rows(apps, schema_editor):
    OutgoingEmail = apps.get_model("notifications", "OutgoingEmail")
    rows = OutgoingEmail.objects.filter(template__in=SECRET_TEMPLATES, redacted=False)
    for email in rows.iterator(chunk_size=500):
        email.subject = redact(email.subject)
        email.body_text = redact(email.body_text)
        email.body_html = redact(email.body_html)
        email.redacted = True
        email.secret_payload = ""
        email.save(update_fields=["subject", "body_text", "body_html", "redacted", "secret_payload"])


class Migration(migrations.Migration):
    dependencies = [("notifications", "0002_email_secrets_redacted")]

    operations = [migrations.RunPython(redact_rows, migrations.RunPython.noop, elidable=True)]
