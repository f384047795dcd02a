"""Shared test case: the cast (alice, bob, carol) plus a fake network for the gateways' APIs."""

from __future__ import annotations

import json
from decimal import Decimal
from unittest import mock

from django.test import override_settings

from clientarea.lib.http import HttpResponse
from clientarea.payments import services
from clientarea.payments.tests.helpers import make_renewal_order
from clientarea.test import BaseTestCase


def json_response(data, status: int = 200) -> HttpResponse:
    return HttpResponse(
        status=status, body=json.dumps(data).encode(), headers={"content-type": "application/json"}
    )


class FakeNetwork:
    """Stands in for ``clientarea.lib.http.send``: answers PayU's Queries API and Payvalida's order API.

    ``payu_transactions[reference]`` lists the transactions the PayU query returns;
    ``payvalida_orders[po_id]`` is the consult DATA; ``unavailable`` makes every call fail.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bytes | None]] = []
        self.payu_transactions: dict[str, list[dict]] = {}
        self.payvalida_orders: dict[str, dict] = {}
        self.deleted: list[str] = []
        self.unavailable = False

    def __call__(self, method, url, body, headers, timeout=None):
        from clientarea.lib.http import HttpError

        self.calls.append((method, url, body))
        if self.unavailable:
            raise HttpError("connection refused")
        if "reports-api" in url or "/sandbox/payu/" in url:
            payload = json.loads(body)
            reference = payload["details"]["referenceCode"]
            transactions = self.payu_transactions.get(reference)
            if transactions is None:
                return json_response({"code": "SUCCESS", "error": None, "result": None})
            return json_response(
                {
                    "code": "SUCCESS",
                    "error": None,
                    "result": {
                        "payload": [
                            {
                                "id": 1400000123,
                                "referenceCode": reference,
                                "status": "IN_PROGRESS",
                                "transactions": transactions,
                            }
                        ]
                    },
                }
            )
        if "/api/v3/porders" in url:
            path = url.split("?", 1)[0]
            if method == "POST":
                order = json.loads(body)["order"]
                self.payvalida_orders.setdefault(
                    order,
                    {
                        "STATE": "PENDIENTE",
                        "ORDER": order,
                        "CODE": "95601",
                        "AMOUNT": json.loads(body)["amount"],
                        "CURRENCY": "COP",
                        "PAYMNENT_METHOD": json.loads(body).get("method", "").upper(),
                    },
                )
                return json_response(
                    {
                        "CODE": "0000",
                        "DESC": "OK",
                        "DATA": {
                            "OrdenID": order,
                            "Monto": "119000.0",
                            "PVordenID": "95601",
                            "Referencia": "989898101",
                            "Operacion": "CREADA",
                            "checkout": "checkout.payvalida.com/?token=eyJtoken",
                        },
                    }
                )
            order = path.rsplit("/", 1)[1]
            if method == "DELETE":
                self.deleted.append(order)
                if (
                    order in self.payvalida_orders
                    and self.payvalida_orders[order]["STATE"] == "PENDIENTE"
                ):
                    self.payvalida_orders[order]["STATE"] = "CANCELADA"
                    return json_response(
                        {
                            "CODE": "0000",
                            "DESC": "OK",
                            "DATA": {"OrderID": order, "Operation": "DELETED"},
                        }
                    )
                return json_response(
                    {
                        "CODE": "0041",
                        "DESC": "Order is not registered or are APPROVED, EXPIRED or CANCELLED",
                    }
                )
            data = self.payvalida_orders.get(order)
            if data is None:
                return json_response({"CODE": "0013", "DESC": "Not exist transaction ID"})
            return json_response({"CODE": "0000", "DESC": "OK", "DATA": data})
        return HttpResponse(status=404, body=b"not found")


def payu_transaction(
    transaction_id: str,
    *,
    state: str = "APPROVED",
    value=119000,
    currency: str = "COP",
    method: str = "VISA",
) -> dict:
    return {
        "id": transaction_id,
        "paymentMethod": method,
        "transactionResponse": {"state": state, "responseCode": state},
        "additionalValues": {"TX_VALUE": {"value": value, "currency": currency}},
    }


@override_settings(
    PAYMENTS_IP_ALLOWLIST=False,
    PAYU_ENABLED=True,
    PAYVALIDA_ENABLED=True,
    PAYU_SIGNATURE_ALGORITHM="SHA256",
    PAYU_SECRET_KEY="",
)
class PaymentsTestCase(BaseTestCase):
    """alice has a renewal order ($ 119.000) for an active service; bob has one too."""

    def setUp(self) -> None:
        super().setUp()
        self.network = FakeNetwork()
        patcher = mock.patch("clientarea.lib.http.send", self.network)
        patcher.start()
        self.addCleanup(patcher.stop)
        # The browser-return status check runs in the worker; tests call it explicitly.
        check = mock.patch("clientarea.payments.jobs.enqueue_check")
        self.scheduled_checks = check.start()
        self.addCleanup(check.stop)
        self.order, self.service = make_renewal_order(self.alice)
        self.assertEqual(self.order.total, Decimal("119000.00"))

    def start(self, gateway: str = "payu", *, order=None, customer=None, method=None):
        return services.start_payment(
            order=order or self.order,
            customer=customer or self.alice,
            gateway_code=gateway,
            method=method,
            language="es",
        )

    def refresh(self):
        self.order.refresh_from_db()
        self.service.refresh_from_db()
