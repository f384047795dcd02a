"""One payment deadline, in Bogotá time: the one the gateway is given (and prints on its
voucher), the one the portal shows, and the one the reconciliation closes the attempt at."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from django.utils import timezone

from clientarea.payments import services
from clientarea.payments.models import PaymentStatus
from clientarea.payments.tests.base import PaymentsTestCase

BOGOTA = ZoneInfo("America/Bogota")


class CashDeadlineTests(PaymentsTestCase):
    def registered_expiration(self) -> dt.date:
        (body,) = [
            json.loads(body)
            for method, url, body in self.network.calls
            if method == "POST" and body is not None
        ]
        day, month, year = (int(part) for part in body["expiration"].split("/"))
        return dt.date(year, month, day)

    def test_a_payvalida_voucher_and_the_portal_share_one_deadline(self):
        payment, _ = self.start("payvalida", method="cash")
        day = self.registered_expiration()
        # Payvalida takes a date: its voucher is payable through that whole day in Colombia.
        deadline = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=BOGOTA)
        payment.refresh_from_db()
        self.assertEqual(payment.expires_at, deadline)
        self.assertEqual(dt.datetime.fromisoformat(payment.instructions["expires_at"]), deadline)
        # The customer printed the voucher: the result page gives the same deadline.
        self.network.payvalida_orders[payment.gateway_reference]["PAYMNENT_METHOD"] = "EFECTY"
        services.check_payment(payment, close_expired=False)
        self.login(self.alice)
        page = self.client.get(f"/payments/result/{payment.reference}/")
        self.assertContains(page, 'data-status="pending"')
        self.assertRegex(
            page.content.decode(),
            rf'<dd id="pay-before">{day.day} \w+ {day.year} 23:59 \(hora de Colombia\)</dd>',
        )

    def test_the_attempt_is_not_closed_while_its_voucher_can_still_be_paid(self):
        payment, _ = self.start("payvalida", method="cash")
        self.network.payvalida_orders[payment.gateway_reference]["PAYMNENT_METHOD"] = "EFECTY"
        last_minute = dt.datetime.combine(
            self.registered_expiration(), dt.time(23, 59), tzinfo=BOGOTA
        )
        services.reconcile_payments(now=last_minute)
        payment.refresh_from_db()
        self.assertIn(payment.status, (PaymentStatus.CREATED, PaymentStatus.PENDING))
        self.assertEqual(self.network.deleted, [])
        services.reconcile_payments(now=last_minute + dt.timedelta(hours=2))
        payment.refresh_from_db()
        self.assertEqual(payment.status, PaymentStatus.EXPIRED)

    def test_payu_is_given_the_payments_own_deadline(self):
        payment, action = self.start("payu", method="cash")
        self.assertEqual(
            timezone.localtime(payment.expires_at, BOGOTA).strftime("%Y-%m-%d %H:%M:%S"),
            action.fields["expirationDate"],
        )
