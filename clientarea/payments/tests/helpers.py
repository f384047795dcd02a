"""Test helpers: orders to pay, and gateway messages signed from the documented formulas.

The signing here is written from the gateways' documentation on purpose, without
importing the adapters' signing functions: if an adapter got a formula wrong, these
tests would catch it rather than agree with it.

* PayU confirmation ``sign`` = hash of ``apiKey~merchant_id~reference_sale~new_value~currency~state_pol``,
  where ``new_value`` keeps two decimals unless the second one is 0, then one
  ("150.00" → "150.0", "150.25" → "150.25") (PayU, Confirmation page).
* Payvalida notification ``pv_checksum`` = SHA-256 hex of ``po_id + status + NOTIFICATION_HASH``
  (Payvalida, Notification).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import urllib.parse
import uuid
from decimal import Decimal

from django.conf import settings
from django.test import Client

from clientarea.billing import services as billing_services
from clientarea.billing.models import ItemKind, Order
from clientarea.catalog.models import Product, ProductPrice
from clientarea.lib.dates import local_today
from clientarea.subscriptions.models import Service, ServiceStatus

_seq = itertools.count(1)


# --- Orders ------------------------------------------------------------------------------


def make_product(price: Decimal = Decimal("100000.00")) -> Product:
    n = next(_seq)
    product = Product.objects.create(code=f"host-{n}", name=f"Hosting {n}", kind="hosting")
    ProductPrice.objects.create(product=product, cycle="monthly", price=price)
    return product


def make_renewal_order(customer, *, price: Decimal = Decimal("100000.00")) -> tuple[Order, Service]:
    """An active service due in 5 days and its pending renewal order (price + 19 % IVA)."""
    product = make_product(price)
    due = local_today() + dt.timedelta(days=5)
    service = Service.objects.create(
        customer=customer,
        product=product,
        cycle="monthly",
        price=price,
        status=ServiceStatus.ACTIVE,
        start_date=due - dt.timedelta(days=30),
        next_due_date=due,
        anchor_day=due.day,
    )
    order = billing_services.create_order(
        customer=customer,
        lines=[
            billing_services.LineSpec(
                kind=ItemKind.RENEWAL,
                description=f"Renewal {product.name}",
                unit_price=price,
                service=service,
                period_start=due,
                period_end=due + dt.timedelta(days=30),
            )
        ],
        notify=False,
    )
    return order, service


def renewals(service: Service) -> int:
    return service.events.filter(kind="renewed").count()


# --- PayU ------------------------------------------------------------------------------------


def payu_new_value(value: str) -> str:
    two = Decimal(value).quantize(Decimal("0.01"))
    one = two.quantize(Decimal("0.1"))
    return f"{one}" if one == two else f"{two}"


def payu_sign(
    *, merchant_id: str, reference: str, value: str, currency: str, state_pol: str
) -> str:
    payload = "~".join(
        [settings.PAYU_API_KEY, merchant_id, reference, payu_new_value(value), currency, state_pol]
    ).encode()
    algorithm = settings.PAYU_SIGNATURE_ALGORITHM.upper()
    if algorithm == "MD5":
        return hashlib.md5(payload).hexdigest()
    if algorithm in ("SHA", "SHA1"):
        return hashlib.sha1(payload).hexdigest()
    if algorithm == "SHA256":
        return hashlib.sha256(payload).hexdigest()
    key = (settings.PAYU_SECRET_KEY or settings.PAYU_API_KEY).encode()
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def payu_confirmation(
    reference: str,
    value: str,
    *,
    state_pol: str = "4",
    transaction_id: str | None = None,
    currency: str = "COP",
    merchant_id: str | None = None,
    method_type: str = "2",
    **extra,
) -> dict[str, str]:
    """The fields of a PayU confirmation POST, signed."""
    merchant = merchant_id or settings.PAYU_MERCHANT_ID
    fields = {
        "merchant_id": merchant,
        "state_pol": state_pol,
        "risk": "0.0",
        "response_code_pol": "1" if state_pol == "4" else "5",
        "response_message_pol": {
            "4": "APPROVED",
            "6": "ENTITY_DECLINED",
            "5": "EXPIRED_TRANSACTION",
            "7": "PENDING",
        }.get(state_pol, "ERROR"),
        "reference_sale": reference,
        "reference_pol": "1400000123",
        "value": value,
        "currency": currency,
        "tax": "0.00",
        "transaction_id": transaction_id or str(uuid.uuid4()),
        "payment_method_type": method_type,
        "payment_method_name": {"2": "VISA", "4": "PSE", "7": "EFECTY"}.get(method_type, "VISA"),
        "email_buyer": "alice@example.com",
        "transaction_date": "2026-11-24 10:00:00",
        "test": "1",
        "attempts": "1",
    }
    fields.update(extra)
    fields["sign"] = payu_sign(
        merchant_id=merchant,
        reference=reference,
        value=value,
        currency=currency,
        state_pol=state_pol,
    )
    return fields


def post_payu(client: Client, fields: dict[str, str], **kwargs):
    return client.post(
        "/payments/payu/confirmation/",
        data=urllib.parse.urlencode(fields),
        content_type="application/x-www-form-urlencoded",
        **kwargs,
    )


# --- Payvalida ---------------------------------------------------------------------------------


def payvalida_notification(
    reference: str,
    *,
    status: str = "approved",
    amount: str | None = None,
    pv_po_id: str = "95601",
    currency: str = "COP",
    method: str = "efecty",
    checksum: str | None = None,
) -> dict[str, str]:
    po_id = reference.replace("-", "")
    body = {
        "pv_po_id": pv_po_id,
        "po_id": po_id,
        "status": status,
        "pv_checksum": checksum
        or hashlib.sha256(
            f"{po_id}{status}{settings.PAYVALIDA_NOTIFICATION_HASH}".encode()
        ).hexdigest(),
        "iso_currency": currency,
        "pv_payment": method,
    }
    if amount is not None:
        body["amount"] = amount
    return body


def post_payvalida(client: Client, body: dict[str, str]):
    return client.post(
        "/payments/payvalida/notification/", data=json.dumps(body), content_type="application/json"
    )
