"""What the tests of a deferred email share: deliver one as the worker does and read what it
rendered. (The ``no_delivery_job`` fixture, which loses the after-commit job so that an email waits
for the worker, is in the project's conftest.py.)"""

from __future__ import annotations

from clientarea.notifications import delivery
from clientarea.notifications.models import OutgoingEmail


def deliver(email: OutgoingEmail) -> OutgoingEmail:
    """Render and send ``email`` as the worker does; the row as it is afterwards."""
    delivery.deliver_email(email_id=email.pk)
    email.refresh_from_db()
    return email


def rendered(email: OutgoingEmail) -> dict[str, str]:
    return {"subject": email.subject, "body_text": email.body_text, "body_html": email.body_html}
