"""``manage.py sandbox_expire``: expire unpaid cash vouchers of the gateway simulators."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from clientarea.payments.sandbox.expiry import expire_vouchers


class Command(BaseCommand):
    help = (
        "Expire PayU simulator cash vouchers past their expiration (EXPIRED confirmation, state_pol 5) "
        "and Payvalida simulator orders past their expiration day (VENCIDA, notified 'cancelled')."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = expire_vouchers()
        self.stdout.write(
            f"Expired {result['payu']} PayU voucher(s) and {result['payvalida']} Payvalida order(s)."
        )
