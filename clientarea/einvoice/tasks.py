"""Worker tasks of the electronic invoice: the per-invoice job (``jobs.py``) and the sweeps."""

from django.utils.translation import gettext_lazy as _
from huey import crontab

from clientarea.einvoice import delivery, habilitacion, services
from clientarea.einvoice.habilitacion_jobs import advance_test_set_job
from clientarea.einvoice.jobs import render_invoice_job
from clientarea.lib.periodic import periodic_task

__all__ = [
    "advance_test_set_job",
    "issue_waiting_invoices_task",
    "process_pending_invoices_task",
    "process_running_test_sets_task",
    "render_invoice_job",
]


@periodic_task(
    crontab(minute="*"), label=_("Finish invoices left half-way (PDF, email, sending to DIAN)")
)
def process_pending_invoices_task() -> dict:
    """Every minute: issued invoices not yet rendered, emailed or transmitted, whose job was lost."""
    return delivery.process_pending_invoices()


@periodic_task(
    crontab(minute="*/10"),
    label=_("Issue the invoices waiting for a numbering resolution or customer data"),
)
def issue_waiting_invoices_task() -> dict:
    return services.issue_waiting_invoices()


@periodic_task(crontab(minute="*"), label=_("Follow the habilitación test sets in progress"))
def process_running_test_sets_task() -> dict:
    """Every minute: habilitación runs in progress whose job was lost (or whose polls are due)."""
    return habilitacion.process_running_test_sets()
