"""Worker tasks of the gateway simulators: notification delivery and voucher expiry."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from huey import crontab
from huey.api import Task
from huey.contrib.djhuey import db_task

from clientarea.lib.periodic import periodic_task
from clientarea.payments.sandbox import delivery

#: PayU: "a maximum of nine (9) attempts" (confirmation-page.html) = 1 + 8 retries.
#: The intervals are not documented: the simulator waits 30 s, then doubles
#: (30 s, 1 min, 2 min ... about 64 min before the ninth attempt).
RETRIES = 8
RETRY_DELAY_SECONDS = 30
RETRY_BACKOFF = 2


class NotificationRefused(Exception):
    """The merchant did not accept this delivery attempt; Huey will retry."""


@db_task(
    retries=RETRIES, retry_delay=RETRY_DELAY_SECONDS, retry_backoff=RETRY_BACKOFF, context=True
)
def deliver_notification_task(notification_id: int, task: Task | None = None) -> bool:
    """Try to deliver one notification; raise to make Huey retry until the attempts run out."""
    final = task is None or not task.retries
    if delivery.attempt_delivery(notification_id, final=final):
        return True
    if final:
        return False
    raise NotificationRefused(f"sandbox notification {notification_id} not accepted")


@periodic_task(crontab(minute="*/5"), label=_("Expire the simulators' unpaid vouchers"))
def expire_vouchers_task() -> dict[str, int]:
    """Expire unpaid vouchers/orders every five minutes (only when the simulators are on)."""
    if not settings.PAYMENTS_SANDBOX:
        return {}
    from clientarea.payments.sandbox.expiry import expire_vouchers

    return expire_vouchers()
