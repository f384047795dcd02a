from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from clientarea.einvoice import services


@db_task(retries=5, retry_delay=60)
def render_invoice_task(invoice_id: int) -> None:
    services.render_and_send_invoice(invoice_id=invoice_id)


@db_periodic_task(crontab(minute="*/10"))
def issue_waiting_invoices_task() -> dict:
    return services.issue_waiting_invoices()
