"""The worker job that renders, emails and transmits one invoice at once after commit.

Services enqueue it through ``transaction.on_commit``. If it never runs (the process
died between commit and enqueue) or dies half-way, the invoice still has work left
and the sweep in ``tasks.py`` completes it (see ``delivery``).
"""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from clientarea.einvoice import delivery


@db_task()
def render_invoice_job(invoice_id: int) -> None:
    """Returns nothing, so Huey stores no result (nobody reads it): the invoice row is the record."""
    delivery.render_and_send_invoice(invoice_id=invoice_id)
