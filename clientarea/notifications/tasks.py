"""Worker tasks for email delivery."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from clientarea.notifications import services


@db_task()
def deliver_email_task(email_id: int) -> bool:
    return services.deliver_email(email_id=email_id)


@db_periodic_task(crontab(minute="*"))
def deliver_due_emails_task() -> int:
    return services.deliver_due_emails()
