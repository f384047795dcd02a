"""Expire unpaid cash vouchers/orders of both simulators (command ``sandbox_expire``, periodic task)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from clientarea.payments.sandbox import payu_sim, payvalida_sim


def expire_vouchers(now: dt.datetime | None = None) -> dict[str, int]:
    """Expire what is due and queue the notifications.

    PayU: pending cash vouchers past ``expirationDate`` (or +7 days) become EXPIRED and
    get a confirmation with state_pol 5 / response_code_pol 20.
    Payvalida: PENDIENTE orders past their expiration day become VENCIDA, notified as "cancelled".
    Returns how many of each were expired.
    """
    now = now or timezone.now()
    return {
        "payu": payu_sim.expire_cash_vouchers(now),
        "payvalida": payvalida_sim.expire_orders(now),
    }
