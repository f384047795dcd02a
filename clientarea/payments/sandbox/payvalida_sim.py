"""The Payvalida simulator's behaviour: register/consult/delete orders, run checkout
attempts, expire orders and queue the notifications.

Checksums and field rules live in :mod:`payvalida_protocol`. Credentials are read
from settings at call time (the simulator uses the merchant's own hashes).

Why one file: it is the gateway side of one whole protocol (order registration, consult,
delete, checkout attempts, expiry and notifications), kept together so it reads against
Payvalida's documentation in one place; every step works on the same order row and checksums.
"""

from __future__ import annotations

import datetime as dt
import secrets
import urllib.parse
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from clientarea.payments.sandbox import delivery, instruments
from clientarea.payments.sandbox import payvalida_protocol as proto
from clientarea.payments.sandbox.models import (
    Gateway,
    Instrument,
    PayvalidaState,
    SandboxPayvalidaAttempt,
    SandboxPayvalidaOrder,
)

Answer = dict[str, Any]
REQUIRED_FIELDS = (
    "merchant",
    "email",
    "country",
    "order",
    "money",
    "amount",
    "description",
    "recurrent",
    "expiration",
    "checksum",
)


@dataclass(frozen=True)
class Credentials:
    merchant: str
    fixed_hash: str
    notification_hash: str


def credentials() -> Credentials:
    """Read the Payvalida settings now (tests override them per test)."""
    return Credentials(
        merchant=settings.PAYVALIDA_MERCHANT,
        fixed_hash=settings.PAYVALIDA_FIXED_HASH,
        notification_hash=settings.PAYVALIDA_NOTIFICATION_HASH,
    )


def notification_url() -> str:
    """Where notifications go: "configured in the merchant module" on the real gateway."""
    return (
        getattr(settings, "SANDBOX_PAYVALIDA_NOTIFICATION_URL", "")
        or f"{settings.SITE_URL}/payments/payvalida/notification/"
    )


def return_url(order: SandboxPayvalidaOrder) -> str:
    """Where the buyer goes back after paying (also configured in the merchant module)."""
    base = (
        getattr(settings, "SANDBOX_PAYVALIDA_RETURN_URL", "")
        or f"{settings.SITE_URL}/payments/payvalida/return/"
    )
    separator = "&" if urllib.parse.urlsplit(base).query else "?"
    return f"{base}{separator}{urllib.parse.urlencode({'order': order.order})}"


def answer(code: tuple[str, str], data: Any = None, *, detail: str = "") -> Answer:
    """A Payvalida API answer: ``{"CODE", "DESC", "DATA"}``."""
    desc = f"{code[1]}: {detail}" if detail else code[1]
    return {"CODE": code[0], "DESC": desc, "DATA": data}


def _text(value: Any) -> str:
    """How a JSON value enters a checksum: the literal text of the field."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _local_now() -> dt.datetime:
    return timezone.localtime(timezone.now())


def expires_at(order: SandboxPayvalidaOrder) -> dt.datetime:
    """End of the expiration day in Bogotá. [INF] the docs give a date only (DD/MM/YYYY)."""
    end = dt.datetime.combine(order.expiration, dt.time(23, 59, 59))
    return timezone.make_aware(end, timezone.get_default_timezone())


def checkout_url(order: SandboxPayvalidaOrder, host: str) -> str:
    """The ``checkout`` value: host and path WITHOUT scheme, like the real API
    (register doc: ``"checkout":"checkout.payvalida.com/?token=…"``)."""
    return f"{host}{reverse('sandbox:payvalida_checkout')}?{urllib.parse.urlencode({'token': order.token})}"


def _new_reference() -> str:
    while True:
        candidate = str(secrets.randbelow(9 * 10**7) + 10**7)
        if not SandboxPayvalidaOrder.objects.filter(reference=candidate).exists():
            return candidate


# --- API: register -------------------------------------------------------------------------------


def register(data: Any, *, host: str) -> Answer:
    """``POST /api/v3/porders`` (purchase-orders/register)."""
    creds = credentials()
    if not isinstance(data, dict):
        return answer(proto.ERR_CONTENT, detail="the body must be a JSON object")
    missing = [
        name
        for name in REQUIRED_FIELDS
        if data.get(name) is None or _text(data.get(name)).strip() == ""
    ]
    if "description" in missing:
        return answer(proto.ERR_DESCRIPTION)
    if missing:
        return answer(proto.ERR_CONTENT, detail="missing " + ", ".join(missing))
    merchant = _text(data["merchant"])
    if merchant != creds.merchant:
        return answer(proto.ERR_MERCHANT_UNKNOWN)
    email, country, order_code, money, amount = (
        _text(data[k]) for k in ("email", "country", "order", "money", "amount")
    )
    expected = proto.register_checksum(
        email=email,
        country=country,
        order=order_code,
        money=money,
        amount=amount,
        fixed_hash=creds.fixed_hash,
    )
    if not proto.checksums_match(expected, _text(data["checksum"])):
        return answer(proto.ERR_CHECKSUM)
    if country != str(proto.COUNTRY_COLOMBIA):
        return answer(proto.ERR_COUNTRY)
    if money != proto.CURRENCY_COP:
        return answer(proto.ERR_CURRENCY)
    if isinstance(data["amount"], bool) or not proto.INTEGER_RE.match(amount) or int(amount) <= 0:
        # register doc: "Only accepts integers". Open-amount orders ("0") are not simulated.
        return answer(proto.ERR_AMOUNT, detail="amount must be a positive integer")
    try:
        validate_email(email)
    except ValidationError:
        return answer(proto.ERR_CONTENT, detail="email is not valid")
    if len(email) > 100:
        return answer(proto.ERR_CONTENT, detail="email is longer than 100 characters")
    if not proto.ORDER_RE.match(order_code):
        return answer(
            proto.ERR_CONTENT,
            detail="order must be letters and digits only (no underscores or special characters), max 200",
        )
    description = _text(data["description"])
    if len(description) > 250:
        return answer(proto.ERR_CONTENT, detail="description is longer than 250 characters")
    if not isinstance(data["recurrent"], bool):
        return answer(proto.ERR_CONTENT, detail="recurrent must be true or false")
    method = _text(data.get("method") or "").strip().lower()
    if method and method not in proto.KNOWN_METHODS:
        return answer(proto.ERR_METHOD)
    expiration = proto.parse_expiration(_text(data["expiration"]))
    if expiration is None:
        return answer(proto.ERR_EXPIRATION_FORMAT)
    today = _local_now().date()
    if expiration < today:
        return answer(proto.ERR_EXPIRATION_PAST)
    if expiration > today + dt.timedelta(days=proto.MAX_EXPIRATION_DAYS):
        return answer(proto.ERR_LIFETIME)
    reference = _text(data.get("reference") or "").strip()
    if reference and not proto.REFERENCE_RE.match(reference):
        return answer(proto.ERR_CONTENT, detail="reference must be numeric, max 25 digits")
    if reference and SandboxPayvalidaOrder.objects.filter(reference=reference).exists():
        return answer(proto.ERR_DUPLICATE_REFERENCE)
    if SandboxPayvalidaOrder.objects.filter(merchant=merchant, order=order_code).exists():
        return answer(proto.ERR_DUPLICATE_ORDER)
    try:
        with transaction.atomic():
            order = SandboxPayvalidaOrder.objects.create(
                merchant=merchant,
                order=order_code,
                reference=reference or _new_reference(),
                email=email,
                country=int(country),
                money=money,
                amount=amount,
                description=description,
                method=method,
                language=_text(data.get("language") or "es")[:2],
                recurrent=data["recurrent"],
                expiration=expiration,
                iva=_text(data.get("iva") or "")[:10],
                user_di=_text(data.get("user_di") or "")[:15],
                user_type_di=_text(data.get("user_type_di") or "")[:3],
                user_name=_text(data.get("user_name") or "")[:25],
                token=secrets.token_urlsafe(24),
            )
            order.pv_order_id = SandboxPayvalidaOrder.PV_ID_OFFSET + order.pk
            order.save(update_fields=["pv_order_id"])
    except IntegrityError:
        if SandboxPayvalidaOrder.objects.filter(merchant=merchant, order=order_code).exists():
            return answer(proto.ERR_DUPLICATE_ORDER)
        return answer(proto.ERR_DUPLICATE_REFERENCE)
    return answer(
        proto.OK,
        {
            "OrdenID": order.order,
            "Monto": proto.monto(order.amount),
            "PVordenID": str(order.pv_order_id),
            "Referencia": order.reference,
            "Operacion": "CREADA",
            "checkout": checkout_url(order, host),
        },
    )


# --- API: consult / delete ---------------------------------------------------------------------------


def _authorized_order(
    order_code: str, *, merchant: str, checksum: str
) -> SandboxPayvalidaOrder | Answer:
    creds = credentials()
    if merchant != creds.merchant:
        return answer(proto.ERR_MERCHANT_UNKNOWN)
    expected = proto.order_checksum(
        order=order_code, merchant=merchant, fixed_hash=creds.fixed_hash
    )
    if not proto.checksums_match(expected, checksum):
        return answer(proto.ERR_CHECKSUM)
    order = SandboxPayvalidaOrder.objects.filter(merchant=merchant, order=order_code).first()
    if order is None:
        return answer(proto.ERR_NOT_PENDING, detail="order not registered")
    return order


def _fmt(value: dt.datetime | None) -> str:
    return "" if value is None else f"{timezone.localtime(value):%Y-%m-%d %H:%M:%S}"


def consult(
    order_code: str, *, merchant: str, checksum: str, aditionalinfo: str, host: str
) -> Answer:
    """``GET /api/v3/porders/{order}`` (purchase-orders/consult). Field names keep the doc's typos."""
    order = _authorized_order(order_code, merchant=merchant, checksum=checksum)
    if isinstance(order, dict):
        return order
    life_hours = max(0, int((expires_at(order) - order.created).total_seconds() // 3600))
    transaction_info: dict[str, Any] = {}
    if order.state == PayvalidaState.APROBADA and order.payment_method == proto.PAYMENT_NAME_CARD:
        transaction_info = {
            "DATE": _fmt(order.paid_at),
            "RESPONSE_CODE": "APPROVED",
            "QUOTES": str(order.installments or 1),
            "ACCOUNT_TYPE": "CREDITO",
        }
    # While a PSE transaction waits at the bank, or once a cash voucher was printed at the
    # checkout, the order knows its method (and the CUS): ClientArea shows them on its
    # "payment in process" page. When the newest attempt is a declined card, the order
    # stays PENDIENTE (payable again) and TRANSACTION carries that card's response code.
    in_process = None
    if order.state == PayvalidaState.PENDIENTE:
        in_process = (
            order.attempts.filter(
                instrument__in=[Instrument.PSE, Instrument.CASH],
                state=SandboxPayvalidaAttempt.State.PENDING,
            )
            .order_by("-created", "-id")
            .first()
        )
        latest = order.attempts.order_by("-created", "-id").first()
        if (
            in_process is None
            and latest is not None
            and latest.instrument == Instrument.CARD
            and latest.state == SandboxPayvalidaAttempt.State.DECLINED
        ):
            in_process = latest
            transaction_info = {
                "DATE": _fmt(latest.created),
                "RESPONSE_CODE": latest.response_code or "DECLINED",
                "QUOTES": str(latest.installments or 1),
            }
    cus = order.cus or (
        in_process.cus if in_process and in_process.instrument == Instrument.PSE else ""
    )
    additional: dict[str, Any] = {}
    if aditionalinfo.strip().lower() == "cuspse" and cus:
        additional = {"CUS": cus}
    return answer(
        proto.OK,
        {
            "CURRENCY": order.money,
            "NOTIFICATION_RESPONSE": order.notification_response,
            "UDPATE_DATE": _fmt(order.updated),
            "CREATION_DATE": _fmt(order.created),
            "STATE": order.state,
            "PAYMNENT_METHOD": (
                order.payment_method
                or (in_process.payment_name if in_process else "")
                or proto.CASH_METHODS.get(order.method, order.method.upper())
            ),
            "EMAIL": order.email,
            "LIFE_TIME": f"{life_hours}h",
            "ORDER": order.order,
            "CODE": order.pv_order_id,
            "AMOUNT": proto.amount_2dp(order.amount),
            "DESCRIPTION": order.description,
            "REFERENCE": order.reference,
            "checkout": checkout_url(order, host),
            "TRANSACTION": transaction_info,
            "ADITIONAL_INFO": additional,
        },
    )


def delete(order_code: str, *, merchant: str, checksum: str) -> Answer:
    """``DELETE /api/v3/porders/{order}``: only PENDIENTE orders; they become CANCELADA, not notified."""
    order = _authorized_order(order_code, merchant=merchant, checksum=checksum)
    if isinstance(order, dict):
        return order
    with transaction.atomic():
        updated = SandboxPayvalidaOrder.objects.filter(
            pk=order.pk, state=PayvalidaState.PENDIENTE
        ).update(
            state=PayvalidaState.CANCELADA,
            updated=timezone.now(),
        )
        if updated:
            order.attempts.filter(state=SandboxPayvalidaAttempt.State.PENDING).update(
                state=SandboxPayvalidaAttempt.State.EXPIRED,
                updated=timezone.now(),
            )
    if not updated:
        return answer(proto.ERR_NOT_PENDING)
    return answer(
        proto.OK,
        {
            "OrderID": order.order,
            "Amount": proto.monto(order.amount),
            "PVOrderID": str(order.pv_order_id),
            "Reference": order.reference,
            "Operation": "DELETED",
        },
    )


# --- Checkout ------------------------------------------------------------------------------------------


class OrderNotPayable(Exception):
    """The order is approved, expired or cancelled (or its expiration has passed)."""


class VoucherError(Exception):
    """A reference cannot be paid at the cash point."""


@dataclass(frozen=True)
class Offer:
    card: bool
    pse: bool
    cash_networks: tuple[tuple[str, str], ...]


#: Cash networks shown at checkout: (method code, label).
CASH_NETWORKS: tuple[tuple[str, str], ...] = tuple(
    (code, name.title()) for code, name in proto.CASH_METHODS.items()
)


def offer(order: SandboxPayvalidaOrder) -> Offer:
    """Methods the checkout shows. ``method`` restricts them (register doc); recurrent orders
    are cash only ("only apply to cash payments")."""
    method = order.method
    if order.recurrent:
        networks = tuple(n for n in CASH_NETWORKS if not method or n[0] == method) or CASH_NETWORKS
        return Offer(card=False, pse=False, cash_networks=networks)
    if not method:
        return Offer(card=True, pse=True, cash_networks=CASH_NETWORKS)
    return Offer(
        card=method == proto.METHOD_CARD,
        pse=method == proto.METHOD_PSE,
        cash_networks=tuple(n for n in CASH_NETWORKS if n[0] == method),
    )


def expire_if_due(order: SandboxPayvalidaOrder) -> None:
    """Expire a PENDIENTE order whose expiration has passed (before anyone tries to pay it).

    Runs in its own transaction so that the expiry (and its notification) is kept even
    though the caller then refuses the payment.
    """
    if (
        order.state == PayvalidaState.PENDIENTE
        and not order.recurrent
        and expires_at(order) < timezone.now()
    ):
        expire_order(order)


def _locked_payable(order: SandboxPayvalidaOrder) -> SandboxPayvalidaOrder:
    """The order, locked, if it can still be paid; :class:`OrderNotPayable` otherwise."""
    locked = SandboxPayvalidaOrder.objects.select_for_update().get(pk=order.pk)
    if locked.state != PayvalidaState.PENDIENTE:
        raise OrderNotPayable(locked.state)
    if not locked.recurrent and expires_at(locked) < timezone.now():
        raise OrderNotPayable(PayvalidaState.VENCIDA)
    return locked


def notification_payload(
    order: SandboxPayvalidaOrder, *, status: str, pv_payment: str, po_id: str | None = None
) -> dict[str, Any]:
    """Notification body (notification doc). ``pv_payment`` is omitted when empty: "when
    notifying an expired order, pv_payment is the method given at registration; if none
    was given, this field is not sent" (api-cashin-multiproducto/notificacion)."""
    po_id = po_id or order.order
    payload: dict[str, Any] = {
        "pv_po_id": order.pv_order_id,
        "po_id": po_id,
        "status": status,
        "pv_checksum": proto.notification_checksum(
            po_id=po_id, status=status, notification_hash=credentials().notification_hash
        ),
        "amount": order.amount,  # [INF] format undocumented ("Monto de la orden", string): the registered integer
        "iso_currency": order.money,
    }
    if pv_payment:
        payload["pv_payment"] = pv_payment
    return payload


def _approve(order: SandboxPayvalidaOrder, attempt: SandboxPayvalidaAttempt) -> None:
    """Record a successful payment and queue the "approved" notification."""
    now = timezone.now()
    attempt.state = SandboxPayvalidaAttempt.State.APPROVED
    attempt.response_code = "APPROVED"
    attempt.save()
    if order.recurrent:
        # register doc: recurrent orders never expire; each payment is notified as order_<n>.
        order.recurrent_payments += 1
        order.payment_method = attempt.payment_name
        order.paid_at = now
        order.save(update_fields=["recurrent_payments", "payment_method", "paid_at", "updated"])
        po_id = f"{order.order}_{order.recurrent_payments}"
    else:
        order.state = PayvalidaState.APROBADA
        order.payment_method = attempt.payment_name
        order.paid_at = now
        order.cus = attempt.cus
        order.card_last4 = attempt.card_last4
        order.installments = attempt.installments if attempt.instrument == Instrument.CARD else None
        order.save()
        order.attempts.filter(state=SandboxPayvalidaAttempt.State.PENDING).exclude(
            pk=attempt.pk
        ).update(
            state=SandboxPayvalidaAttempt.State.EXPIRED,
            updated=now,
        )
        po_id = order.order
    delivery.queue_notification(
        gateway=Gateway.PAYVALIDA,
        url=notification_url(),
        payvalida_order=order,
        payload=notification_payload(
            order, status=proto.STATUS_APPROVED, pv_payment=attempt.payment_name, po_id=po_id
        ),
    )


def _expire(order: SandboxPayvalidaOrder) -> None:
    """PENDIENTE → VENCIDA, notified as "cancelled" (notification doc)."""
    now = timezone.now()
    order.state = PayvalidaState.VENCIDA
    order.save(update_fields=["state", "updated"])
    order.attempts.filter(state=SandboxPayvalidaAttempt.State.PENDING).update(
        state=SandboxPayvalidaAttempt.State.EXPIRED, updated=now
    )
    registered = proto.CASH_METHODS.get(order.method) or {
        proto.METHOD_PSE: proto.PAYMENT_NAME_PSE,
        proto.METHOD_CARD: proto.PAYMENT_NAME_CARD,
    }.get(order.method, "")
    delivery.queue_notification(
        gateway=Gateway.PAYVALIDA,
        url=notification_url(),
        payvalida_order=order,
        payload=notification_payload(order, status=proto.STATUS_CANCELLED, pv_payment=registered),
    )


def pay_with_card(
    order: SandboxPayvalidaOrder, *, holder: str, number: str, installments: int = 1
) -> SandboxPayvalidaAttempt:
    """A card attempt: approved (order APROBADA, notified) or declined (order stays PENDIENTE, not notified)."""
    expire_if_due(order)
    with transaction.atomic():
        order = _locked_payable(order)
        code = instruments.card_outcome(number, holder)
        attempt = SandboxPayvalidaAttempt(
            order=order,
            instrument=Instrument.CARD,
            payment_name=proto.PAYMENT_NAME_CARD,
            state=SandboxPayvalidaAttempt.State.DECLINED,
            response_code=code,
            card_holder=holder.strip()[:150],
            card_last4=number[-4:],
            installments=installments,
        )
        if code == instruments.APPROVED:
            _approve(order, attempt)
        else:
            attempt.save()
    return attempt


def start_pse(
    order: SandboxPayvalidaOrder,
    *,
    person_type: str,
    document_type: str,
    document_number: str,
    bank_code: str,
) -> SandboxPayvalidaAttempt:
    """A PSE attempt, pending until the tester decides on the bank page."""
    bank = instruments.pse_bank(bank_code)
    if bank is None:
        raise ValueError(f"unknown PSE bank {bank_code!r}")
    expire_if_due(order)
    with transaction.atomic():
        order = _locked_payable(order)
        return SandboxPayvalidaAttempt.objects.create(
            order=order,
            instrument=Instrument.PSE,
            payment_name=proto.PAYMENT_NAME_PSE,
            state=SandboxPayvalidaAttempt.State.PENDING,
            response_code="PENDING",
            pse_person_type=person_type,
            pse_document_type=document_type,
            pse_document_number=document_number[:30],
            pse_bank_code=bank.code,
            pse_bank_name=bank.name,
            cus=str(secrets.randbelow(9 * 10**7) + 10**7),
        )


def resolve_pse(attempt: SandboxPayvalidaAttempt, decision: str) -> SandboxPayvalidaAttempt:
    """Bank decision: approve (APROBADA + notification), reject (order stays PENDIENTE), pending (no change)."""
    if decision not in ("approve", "reject", "pending"):
        raise ValueError(decision)
    expire_if_due(attempt.order)
    with transaction.atomic():
        attempt = (
            SandboxPayvalidaAttempt.objects.select_for_update()
            .select_related("order")
            .get(pk=attempt.pk)
        )
        if attempt.state != SandboxPayvalidaAttempt.State.PENDING or decision == "pending":
            return attempt
        if decision == "reject":
            attempt.state = SandboxPayvalidaAttempt.State.DECLINED
            attempt.response_code = "REJECTED"
            attempt.save()
            return attempt
        order = _locked_payable(attempt.order)
        _approve(order, attempt)
    return attempt


def issue_cash_voucher(order: SandboxPayvalidaOrder, *, network: str) -> SandboxPayvalidaAttempt:
    """A cash voucher: payable with the order's ``reference`` at the cash point until the order expires."""
    if network not in proto.CASH_METHODS:
        raise ValueError(f"unknown cash network {network!r}")
    expire_if_due(order)
    with transaction.atomic():
        order = _locked_payable(order)
        return SandboxPayvalidaAttempt.objects.create(
            order=order,
            instrument=Instrument.CASH,
            payment_name=proto.CASH_METHODS[network],
            state=SandboxPayvalidaAttempt.State.PENDING,
            response_code="PENDING",
        )


def pay_voucher(reference: str) -> SandboxPayvalidaAttempt:
    """The cashier receives the money for an order reference (voucher printed or not)."""
    reference = (reference or "").strip()
    found = (
        SandboxPayvalidaOrder.objects.filter(reference=reference).first()
        if reference.isdigit()
        else None
    )
    if found is None:
        raise VoucherError(_("No Payvalida order has that reference."))
    expire_if_due(found)
    try:
        with transaction.atomic():
            order = _locked_payable(found)
            attempt = (
                order.attempts.filter(
                    instrument=Instrument.CASH, state=SandboxPayvalidaAttempt.State.PENDING
                )
                .order_by("-created", "-id")
                .first()
            )
            if attempt is None:
                network = order.method if order.method in proto.CASH_METHODS else "efecty"
                attempt = SandboxPayvalidaAttempt(
                    order=order,
                    instrument=Instrument.CASH,
                    payment_name=proto.CASH_METHODS[network],
                    state=SandboxPayvalidaAttempt.State.PENDING,
                )
            _approve(order, attempt)
            return attempt
    except OrderNotPayable as exc:
        state = str(exc)
    if state == PayvalidaState.VENCIDA:
        raise VoucherError(_("This order has expired (VENCIDA) and cannot be paid."))
    if state == PayvalidaState.APROBADA:
        raise VoucherError(_("This order was already paid."))
    raise VoucherError(_("This order cannot be paid (state %(state)s).") % {"state": state})


def expire_order(order: SandboxPayvalidaOrder) -> bool:
    """Expire one PENDIENTE order now (dashboard button)."""
    with transaction.atomic():
        locked = SandboxPayvalidaOrder.objects.select_for_update().get(pk=order.pk)
        if locked.state != PayvalidaState.PENDIENTE:
            return False
        _expire(locked)
    return True


def expire_orders(now: dt.datetime | None = None) -> int:
    """Expire every PENDIENTE, non-recurrent order past its expiration day (notified "cancelled")."""
    now = now or timezone.now()
    candidates = SandboxPayvalidaOrder.objects.filter(
        state=PayvalidaState.PENDIENTE,
        recurrent=False,
        expiration__lte=timezone.localtime(now).date(),
    )
    count = 0
    for order in list(candidates):
        if expires_at(order) >= now:
            continue
        with transaction.atomic():
            locked = SandboxPayvalidaOrder.objects.select_for_update().get(pk=order.pk)
            if locked.state == PayvalidaState.PENDIENTE:
                _expire(locked)
                count += 1
    return count
