"""The PayU simulator's behaviour: accept WebCheckout forms, run payment attempts,
build the confirmation POST and the response-page redirect, answer the Queries API.

Protocol math lives in :mod:`payu_protocol`; this module applies it to the rows in
:mod:`models`. Credentials are read from settings at call time: the simulator signs
and verifies with the same keys the merchant is configured with, like a real PayU
test account.

Why one file: it is the gateway side of one whole protocol (checkout form, payment attempt,
confirmation POST, response redirect, Queries API), kept together so it reads against PayU's
documentation in one place; each step's message is built from the same attempt row and the
same signing rules.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import urllib.parse
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clientarea.payments.sandbox import delivery, instruments, payu_refund_report
from clientarea.payments.sandbox import payu_protocol as proto
from clientarea.payments.sandbox.models import (
    Gateway,
    Instrument,
    PayUOrderState,
    PayUTransactionState,
    SandboxPayUOrder,
    SandboxPayUTransaction,
)

REQUIRED_FIELDS = (
    "merchantId",
    "accountId",
    "description",
    "referenceCode",
    "amount",
    "currency",
    "signature",
    "buyerEmail",
)
#: Colombian VAT applied when the form sends no ``tax`` (payment-form.html: "In Colombia,
#: if no VAT is sent, the system applies 19% automatically").
DEFAULT_VAT = Decimal("0.19")


@dataclass(frozen=True)
class Credentials:
    """The PayU account the simulator plays (same values as the merchant's settings)."""

    merchant_id: str
    account_id: str
    api_login: str
    api_key: str
    secret_key: str  # HMAC-SHA256 key: PAYU_SECRET_KEY, or the API key when empty


def credentials() -> Credentials:
    """Read the PayU settings now (tests override them per test)."""
    return Credentials(
        merchant_id=str(settings.PAYU_MERCHANT_ID),
        account_id=str(settings.PAYU_ACCOUNT_ID),
        api_login=settings.PAYU_API_LOGIN,
        api_key=settings.PAYU_API_KEY,
        secret_key=getattr(settings, "PAYU_SECRET_KEY", "") or settings.PAYU_API_KEY,
    )


class FormRejected(Exception):
    """The WebCheckout form is refused: PayU shows an error page (HTTP 200)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class OrderClosed(Exception):
    """The order no longer accepts payment attempts (approved, pending or expired)."""


class VoucherError(Exception):
    """A voucher reference cannot be paid at the cash point."""


# --- The payment form ------------------------------------------------------------------------


def _optional(data: Mapping[str, str], name: str) -> str | None:
    value = data.get(name)
    return None if value is None else str(value)


def _parse_expiration(text: str, now: dt.datetime) -> dt.datetime:
    """``expirationDate`` (``YYYY-MM-DD HH:mm:ss``), read in the account's time zone (Bogotá).

    payment-form.html: "within the allowed range: 15 days in Argentina, 7 days
    elsewhere". [INF] the time zone is not documented; Colombia's is assumed.
    """
    try:
        naive = dt.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007 made aware below, in Bogotá
    except ValueError:
        raise FormRejected(
            "invalid_expiration_date", "expirationDate must be YYYY-MM-DD HH:mm:ss"
        ) from None
    value = timezone.make_aware(naive, timezone.get_default_timezone())
    if value <= now:
        raise FormRejected("invalid_expiration_date", "expirationDate is in the past")
    if value > now + dt.timedelta(days=proto.CASH_EXPIRATION_DAYS):
        raise FormRejected(
            "invalid_expiration_date",
            f"expirationDate is more than {proto.CASH_EXPIRATION_DAYS} days ahead (read as {value:%Y-%m-%d %H:%M:%S %Z})",
        )
    return value


def _check_url(name: str, value: str) -> str:
    """An absolute http(s) URL. Hosts without a dot (localhost, testserver) are fine: this
    simulator runs next to a local merchant, unlike PayU which wants a public URL."""
    if not value:
        return ""
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise FormRejected("invalid_url", f"{name} is not a valid http(s) URL")
    return value


def accept_form(data: Mapping[str, str], *, now: dt.datetime | None = None) -> SandboxPayUOrder:
    """Validate a posted WebCheckout form like PayU does and store the order.

    Raises :class:`FormRejected` with a PayU-like code and message.
    """
    now = now or timezone.now()
    creds = credentials()
    for name in REQUIRED_FIELDS:
        if not str(data.get(name) or "").strip():
            raise FormRejected("missing_parameter", f"The parameter {name} is required")
    merchant_id, account_id = str(data["merchantId"]), str(data["accountId"])
    reference_code, amount_text, currency = (
        str(data["referenceCode"]),
        str(data["amount"]),
        str(data["currency"]),
    )
    if merchant_id != creds.merchant_id:
        raise FormRejected("merchant_not_found", f"Merchant {merchant_id} not found")
    if account_id != creds.account_id:
        raise FormRejected(
            "account_not_found", f"Account {account_id} does not belong to merchant {merchant_id}"
        )
    try:
        algorithm = proto.normalize_algorithm(data.get("algorithmSignature"))
    except proto.UnknownAlgorithm:
        raise FormRejected(
            "invalid_algorithm",
            f"algorithmSignature {data.get('algorithmSignature')!r} is not supported",
        ) from None

    # payment-form.html "Signature": apiKey~merchantId~referenceCode~amount~currency
    # (+ ~paymentMethods~iin~pseBanks when sent), with the posted strings.
    candidates = proto.form_signature_candidates(
        api_key=creds.api_key,
        merchant_id=merchant_id,
        reference_code=reference_code,
        amount=amount_text,
        currency=currency,
        algorithm=algorithm,
        secret_key=creds.secret_key,
        payment_methods=_optional(data, "paymentMethods"),
        iin=_optional(data, "iin"),
        pse_banks=_optional(data, "pseBanks"),
    )
    given = str(data["signature"])
    if not any(proto.signatures_match(candidate, given) for candidate in candidates):
        # The message PayU shows for a bad signature (odoo/odoo PR #96947).
        raise FormRejected(
            "order_not_processed_by_sign", "invalid sign / order_not_processed_by_sign"
        )

    try:
        amount = proto.parse_amount(amount_text, field="TX_VALUE")
        tax_text, base_text = _optional(data, "tax"), _optional(data, "taxReturnBase")
        if tax_text is not None and not tax_text.strip():
            tax_text = None  # blank is the same as not given
        if tax_text is None:
            base = (amount / (1 + DEFAULT_VAT)).quantize(proto.CENT)
            tax = amount - base
        else:
            tax = proto.parse_amount(tax_text, field="TX_TAX", allow_zero=True)
            base = proto.parse_amount(base_text or "0", field="TX_TAX_RETURN_BASE", allow_zero=True)
    except proto.AmountError as exc:
        raise FormRejected("invalid_amount", str(exc)) from None
    if tax + base > amount:
        # payment-form.html: "Tax + taxReturnBase cannot be greater than the Total Value".
        raise FormRejected("invalid_tax", "tax + taxReturnBase cannot be greater than amount")
    if currency not in proto.CURRENCIES:
        raise FormRejected("invalid_currency", f"Currency {currency} is not accepted")
    buyer_email = str(data["buyerEmail"]).strip()
    try:
        validate_email(buyer_email)
    except ValidationError:
        raise FormRejected(
            "invalid_buyer_email", "buyerEmail is not a valid e-mail address"
        ) from None
    for name, limit in (("referenceCode", 255), ("description", 255), ("buyerEmail", 255)):
        if len(str(data[name])) > limit:
            raise FormRejected("invalid_length", f"{name} is longer than {limit} characters")
    response_url = _check_url("responseUrl", str(data.get("responseUrl") or "").strip())
    confirmation_url = _check_url("confirmationUrl", str(data.get("confirmationUrl") or "").strip())
    expiration = (
        _parse_expiration(str(data["expirationDate"]), now)
        if str(data.get("expirationDate") or "").strip()
        else None
    )

    def field(name: str, limit: int) -> str:
        return str(data.get(name) or "")[:limit]

    if SandboxPayUOrder.objects.filter(
        merchant_id=merchant_id, reference_code=reference_code
    ).exists():
        raise FormRejected(
            "duplicate_reference",
            f"The reference {reference_code} was already used (referenceCode must be unique)",
        )
    try:
        with transaction.atomic():
            order = SandboxPayUOrder.objects.create(
                merchant_id=merchant_id,
                account_id=account_id,
                reference_code=reference_code,
                description=str(data["description"]),
                amount=amount_text,
                currency=currency,
                tax=proto.format_value(tax) if tax_text is None else tax_text,
                tax_return_base=proto.format_value(base)
                if tax_text is None
                else (base_text or "0"),
                buyer_email=buyer_email,
                buyer_full_name=field("buyerFullName", 150),
                buyer_document_type=field("buyerDocumentType", 10)
                or field("payerDocumentType", 10),
                buyer_document=field("buyerDocument", 30) or field("payerDocument", 30),
                telephone=field("telephone", 30) or field("payerPhone", 30),
                response_url=response_url,
                confirmation_url=confirmation_url,
                extra1=field("extra1", 255),
                extra2=field("extra2", 255),
                extra3=field("extra3", 255),
                lng=(field("lng", 5) or "es").lower(),
                test=str(data.get("test") or "").strip().lower() in {"1", "true"},
                algorithm=algorithm,
                payment_methods=field("paymentMethods", 255),
                selected_payment_method=field("selectedPaymentMethod", 255),
                expiration_date=expiration,
            )
            order.payu_order_id = SandboxPayUOrder.ORDER_ID_OFFSET + order.pk
            order.save(update_fields=["payu_order_id"])
    except IntegrityError:
        raise FormRejected(
            "duplicate_reference",
            f"The reference {reference_code} was already used (referenceCode must be unique)",
        ) from None
    return order


# --- What the checkout offers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """Payment methods the checkout shows, after the form's ``paymentMethods`` filter."""

    card_brands: tuple[str, ...]
    pse: bool
    cash_networks: tuple[tuple[str, str], ...]
    #: "card", "pse", "cash" or "": the method ``selectedPaymentMethod`` preselects.
    preselected: str = ""


#: Checkout section of each payment-method type code (2 card, 4 PSE, 7 cash).
_CHECKOUT_SECTIONS = {2: "card", 4: "pse", 7: "cash"}


def offer(order: SandboxPayUOrder) -> Offer:
    allowed = proto.allowed_methods(order.payment_methods)
    selected = proto.preselected_method(order.selected_payment_method, allowed)
    return Offer(
        preselected=_CHECKOUT_SECTIONS[proto.PAYMENT_METHODS[selected].type_code]
        if selected
        else "",
        card_brands=tuple(b for b in proto.CARD_METHODS if allowed is None or b in allowed),
        pse=allowed is None or "PSE" in allowed,
        cash_networks=tuple(
            n
            for n in proto.CASH_NETWORKS
            if allowed is None or n[0] in allowed or (n[0] == "OTHERS_CASH" and "EFECTY" in allowed)
        ),
    )


# --- Payment attempts ------------------------------------------------------------------------------


def _locked_open_order(order: SandboxPayUOrder) -> SandboxPayUOrder:
    locked = SandboxPayUOrder.objects.select_for_update().get(pk=order.pk)
    if not locked.is_open:
        raise OrderClosed(locked.state)
    return locked


def _authorization_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def _apply_final(tx: SandboxPayUTransaction, code: str) -> None:
    """Move a transaction to a final response code, update its order and queue the confirmation."""
    rc = proto.response_code(code)
    tx.response_code = code
    tx.state = rc.state
    if rc.state == proto.STATE_APPROVED and not tx.authorization_code:
        tx.authorization_code = _authorization_code()
    tx.save()
    order = tx.order
    order.state = {
        proto.STATE_APPROVED: PayUOrderState.APPROVED,
        proto.STATE_EXPIRED: PayUOrderState.EXPIRED,
    }.get(rc.state, PayUOrderState.DECLINED)
    order.save(update_fields=["state", "updated"])
    queue_confirmation(tx)


def pay_with_card(
    order: SandboxPayUOrder,
    *,
    holder: str,
    number: str,
    installments: int = 1,
    ip: str | None = None,
) -> SandboxPayUTransaction:
    """A card attempt, approved or declined at once (outcome rules: :mod:`instruments`)."""
    with transaction.atomic():
        order = _locked_open_order(order)
        tx = SandboxPayUTransaction(
            order=order,
            instrument=Instrument.CARD,
            payment_method=instruments.card_brand(number) or "VISA",
            state=PayUTransactionState.PENDING,
            response_code="",
            card_holder=holder.strip()[:150],
            card_last4=number[-4:],
            installments=installments,
            ip=ip,
        )
        _apply_final(tx, instruments.card_outcome(number, holder))
    return tx


def start_pse(
    order: SandboxPayUOrder,
    *,
    person_type: str,
    document_type: str,
    document_number: str,
    bank_code: str,
    ip: str | None = None,
) -> SandboxPayUTransaction:
    """A PSE attempt: pending until the tester decides on the bank page (no confirmation yet)."""
    bank = instruments.pse_bank(bank_code)
    if bank is None:
        raise ValueError(f"unknown PSE bank {bank_code!r}")
    with transaction.atomic():
        order = _locked_open_order(order)
        tx = SandboxPayUTransaction.objects.create(
            order=order,
            instrument=Instrument.PSE,
            payment_method="PSE",
            state=PayUTransactionState.PENDING,
            response_code=proto.PENDING_PSE,
            trazability_code=str(secrets.randbelow(9 * 10**7) + 10**7),
            pse_person_type=person_type,
            pse_document_type=document_type,
            pse_document_number=document_number[:30],
            pse_bank_code=bank.code,
            pse_bank_name=bank.name,
            ip=ip,
        )
        order.state = PayUOrderState.PENDING
        order.save(update_fields=["state", "updated"])
    return tx


PSE_DECISIONS = ("approve", "reject", "pending")


def resolve_pse(tx: SandboxPayUTransaction, decision: str) -> SandboxPayUTransaction:
    """The bank's answer to a pending PSE attempt. "pending" leaves it as is."""
    if decision not in PSE_DECISIONS:
        raise ValueError(decision)
    with transaction.atomic():
        tx = (
            SandboxPayUTransaction.objects.select_for_update().select_related("order").get(pk=tx.pk)
        )
        if (
            tx.instrument != Instrument.PSE
            or tx.state != PayUTransactionState.PENDING
            or decision == "pending"
        ):
            return tx
        _apply_final(tx, "APPROVED" if decision == "approve" else proto.PSE_REJECTED)
    return tx


def issue_cash_voucher(
    order: SandboxPayUOrder,
    *,
    network: str,
    ip: str | None = None,
    now: dt.datetime | None = None,
) -> SandboxPayUTransaction:
    """A cash attempt: a voucher payable until ``expirationDate`` (or +7 days); pending, no confirmation."""
    if network not in dict(proto.CASH_NETWORKS):
        raise ValueError(f"unknown cash network {network!r}")
    now = now or timezone.now()
    with transaction.atomic():
        order = _locked_open_order(order)
        expires = order.expiration_date or now + dt.timedelta(days=proto.CASH_EXPIRATION_DAYS)
        tx = SandboxPayUTransaction(
            order=order,
            instrument=Instrument.CASH,
            payment_method=network,
            state=PayUTransactionState.PENDING,
            response_code=proto.PENDING_CASH,
            cash_expires_at=expires,
            ip=ip,
        )
        tx.trazability_code = str(tx.transaction_id)  # as on real cash answers
        tx.save()
        order.state = PayUOrderState.PENDING
        order.save(update_fields=["state", "updated"])
    return tx


def voucher_reference(tx: SandboxPayUTransaction) -> str:
    """The payment reference printed on the voucher: PayU's order id
    (payments-api-colombia.html cash answer: ``extraParameters.REFERENCE`` = orderId)."""
    return str(tx.order.payu_order_id)


def find_voucher(reference: str) -> SandboxPayUTransaction | None:
    """The most recent cash voucher with that payment reference."""
    reference = (reference or "").strip()
    if not reference.isdigit():
        return None
    return (
        SandboxPayUTransaction.objects.select_related("order")
        .filter(instrument=Instrument.CASH, order__payu_order_id=int(reference))
        .order_by("-created", "-id")
        .first()
    )


def pay_voucher(reference: str, *, now: dt.datetime | None = None) -> SandboxPayUTransaction:
    """The cashier receives the money for a voucher: the attempt is approved and confirmed."""
    now = now or timezone.now()
    found = find_voucher(reference)
    if found is None:
        raise VoucherError(_("No PayU voucher has that payment reference."))
    with transaction.atomic():
        tx = (
            SandboxPayUTransaction.objects.select_for_update()
            .select_related("order")
            .get(pk=found.pk)
        )
        if tx.state == PayUTransactionState.APPROVED:
            raise VoucherError(_("This voucher was already paid."))
        if tx.state == PayUTransactionState.EXPIRED:
            raise VoucherError(_("This voucher has expired and cannot be paid."))
        if tx.state != PayUTransactionState.PENDING:
            raise VoucherError(
                _("This voucher cannot be paid (state %(state)s).") % {"state": tx.state}
            )
        if tx.cash_expires_at and tx.cash_expires_at <= now:
            _apply_final(tx, proto.EXPIRED_TRANSACTION)
            expired = True
        else:
            _apply_final(tx, "APPROVED")
            expired = False
    if expired:
        raise VoucherError(_("This voucher has expired and cannot be paid."))
    return tx


def expire_voucher(tx: SandboxPayUTransaction) -> bool:
    """Expire one pending cash voucher now (state_pol 5, response_code_pol 20)."""
    with transaction.atomic():
        tx = (
            SandboxPayUTransaction.objects.select_for_update().select_related("order").get(pk=tx.pk)
        )
        if tx.instrument != Instrument.CASH or tx.state != PayUTransactionState.PENDING:
            return False
        tx.cash_expires_at = min(tx.cash_expires_at or timezone.now(), timezone.now())
        _apply_final(tx, proto.EXPIRED_TRANSACTION)
    return True


def expire_cash_vouchers(now: dt.datetime | None = None) -> int:
    """Expire every pending voucher whose expiration has passed; each gets an EXPIRED confirmation."""
    now = now or timezone.now()
    due = SandboxPayUTransaction.objects.filter(
        instrument=Instrument.CASH,
        state=PayUTransactionState.PENDING,
        cash_expires_at__lte=now,
    ).values_list("pk", flat=True)
    count = 0
    for pk in list(due):
        with transaction.atomic():
            tx = (
                SandboxPayUTransaction.objects.select_for_update()
                .select_related("order")
                .get(pk=pk)
            )
            if tx.state == PayUTransactionState.PENDING:
                _apply_final(tx, proto.EXPIRED_TRANSACTION)
                count += 1
    return count


# --- Confirmation (server to server) ----------------------------------------------------------------


def _local(value: dt.datetime) -> dt.datetime:
    return timezone.localtime(value)


def confirmation_fields(tx: SandboxPayUTransaction) -> dict[str, str]:
    """The confirmation POST fields (confirmation-page.html "POST Parameters"), without ``attempts``.

    Card-only fields (``cc_number``, ``cc_holder``, ``franchise``, ``cardType``) are
    sent only for cards: "PayU adjusts the payload dynamically based on the payment method".
    """
    order = tx.order
    creds = credentials()
    rc = proto.response_code(tx.response_code)
    method = proto.PAYMENT_METHODS[tx.payment_method]
    value = proto.format_value(Decimal(order.amount))
    when = _local(tx.updated)
    fields = {
        "merchant_id": order.merchant_id,
        "state_pol": str(rc.pol_state),
        "risk": "0.0",
        "response_code_pol": str(rc.pol_response_code),
        "response_message_pol": tx.response_code,
        "reference_sale": order.reference_code,
        "reference_pol": str(order.payu_order_id),
        "sign": proto.confirmation_sign(
            api_key=creds.api_key,
            merchant_id=order.merchant_id,
            reference_sale=order.reference_code,
            value=value,
            currency=order.currency,
            state_pol=rc.pol_state,
            algorithm=order.algorithm,
            secret_key=creds.secret_key,
        ),
        "extra1": order.extra1,
        "extra2": order.extra2,
        "extra3": order.extra3,
        "payment_method": str(method.pol_id),
        "payment_method_type": str(method.type_code),
        "payment_method_id": str(method.type_code),  # sample: payment_method_id=2 for a card
        "payment_method_name": tx.payment_method,
        "installments_number": str(tx.installments),
        "value": value,
        "tax": proto.format_value(Decimal(order.tax)),
        "additional_value": "0.00",
        "transaction_date": f"{when:%Y-%m-%d %H:%M:%S}",
        "date": f"{when:%Y.%m.%d %I:%M:%S}",  # sample: "2015.05.27 01:07:35"
        "currency": order.currency,
        "email_buyer": order.buyer_email,
        "cus": tx.trazability_code if tx.instrument == Instrument.PSE else "",
        "pse_bank": tx.pse_bank_name,
        "pse_reference1": (tx.ip or "") if tx.instrument == Instrument.PSE else "",
        "pse_reference2": tx.pse_document_type,
        "pse_reference3": tx.pse_document_number,
        "test": "1" if order.test else "0",
        "description": order.description,
        "billing_address": "",
        "shipping_address": "",
        "phone": order.telephone,
        "office_phone": "",
        "administrative_fee": "0.00",
        "administrative_fee_base": "0.00",
        "administrative_fee_tax": "0.00",
        "authorization_code": tx.authorization_code,
        "bank_id": str(method.pol_id),
        "customer_number": "",
        "error_code_bank": "",
        "error_message_bank": "",
        "exchange_rate": "1.00",
        "ip": tx.ip or "",
        "nickname_buyer": "",
        "nickname_seller": "",
        "payment_request_state": {"APPROVED": "A", "EXPIRED": "E"}.get(
            rc.state, "R"
        ),  # sample "R" for a rejection
        "transaction_bank_id": "",
        "transaction_id": str(tx.transaction_id),
    }
    if tx.instrument == Instrument.CARD:
        fields.update(
            cc_number=tx.masked_card,
            cc_holder=tx.card_holder,
            franchise=tx.payment_method,
            cardType="CREDIT",
        )
    return fields


def queue_confirmation(tx: SandboxPayUTransaction) -> None:
    """Queue the confirmation of a transaction in a final state, if the order has a confirmationUrl.

    confirmation-page.html: sent "only when the transaction reaches a final state";
    one per attempt, all with the same reference_sale and reference_pol.
    """
    if tx.state not in proto.FINAL_STATES or not tx.order.confirmation_url:
        return
    delivery.queue_notification(
        gateway=Gateway.PAYU,
        url=tx.order.confirmation_url,
        payload=confirmation_fields(tx),
        payu_transaction=tx,
    )


# --- Response page (browser GET) ----------------------------------------------------------------------


def response_params(tx: SandboxPayUTransaction) -> dict[str, str]:
    """Response-page GET parameters (response-page.html, "Parameters")."""
    order = tx.order
    creds = credentials()
    rc = proto.response_code(tx.response_code)
    method = proto.PAYMENT_METHODS[tx.payment_method]
    tx_value = proto.format_pol_decimal(Decimal(order.amount))
    pse = tx.instrument == Instrument.PSE
    return {
        "merchantId": order.merchant_id,
        "merchant_name": "ClientArea sandbox merchant",
        "transactionState": str(rc.transaction_state),
        "lapTransactionState": rc.state,
        "message": rc.message,
        "referenceCode": order.reference_code,
        "reference_pol": str(order.payu_order_id),
        "transactionId": str(tx.transaction_id),
        "description": order.description,
        "trazabilityCode": tx.trazability_code,
        "cus": tx.trazability_code if pse else "",
        "orderLanguage": order.lng,
        "extra1": order.extra1,
        "extra2": order.extra2,
        "extra3": order.extra3,
        "polTransactionState": str(rc.pol_state),
        "signature": proto.response_signature(
            api_key=creds.api_key,
            merchant_id=order.merchant_id,
            reference_code=order.reference_code,
            tx_value=tx_value,
            currency=order.currency,
            transaction_state=rc.transaction_state,
            algorithm=order.algorithm,
            secret_key=creds.secret_key,
        ),
        "polResponseCode": str(rc.pol_response_code),
        "lapResponseCode": tx.response_code,
        "risk": ".00",
        "polPaymentMethod": str(method.pol_id),
        "lapPaymentMethod": tx.payment_method,
        "polPaymentMethodType": str(method.type_code),
        "lapPaymentMethodType": method.type_name,
        "installmentsNumber": str(tx.installments),
        "TX_VALUE": tx_value,
        "TX_TAX": proto.format_pol_decimal(Decimal(order.tax)),
        "currency": order.currency,
        "lng": order.lng,
        "pseCycle": "-1" if pse else "",
        "buyerEmail": order.buyer_email,
        "pseBank": tx.pse_bank_name,
        "pseReference1": (tx.ip or "") if pse else "",
        "pseReference2": tx.pse_document_type,
        "pseReference3": tx.pse_document_number,
        "authorizationCode": tx.authorization_code,
        "TX_ADMINISTRATIVE_FEE": ".00",
        "TX_TAX_ADMINISTRATIVE_FEE": ".00",
        "TX_TAX_ADMINISTRATIVE_FEE_RETURN_BASE": ".00",
        "processingDate": f"{_local(tx.updated):%Y-%m-%d}",
    }


def response_redirect_url(tx: SandboxPayUTransaction) -> str | None:
    """``responseUrl`` with the response-page parameters, or ``None`` when the order has none
    (response-page.html: then "the flow ends on PayU's page")."""
    url = tx.order.response_url
    if not url:
        return None
    separator = "&" if urllib.parse.urlsplit(url).query else ("" if url.endswith("?") else "?")
    return f"{url}{separator}{urllib.parse.urlencode(response_params(tx))}"


# --- Queries API ------------------------------------------------------------------------------------------


def _epoch_ms(value: dt.datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def _money(value: str, currency: str) -> dict[str, Any]:
    return {"value": Decimal(value).quantize(proto.CENT), "currency": currency}


def _transaction_response(tx: SandboxPayUTransaction) -> dict[str, Any]:
    return {
        "state": tx.state,
        "paymentNetworkResponseCode": None,
        "paymentNetworkResponseErrorMessage": None,
        "trazabilityCode": tx.trazability_code or None,
        "authorizationCode": tx.authorization_code or None,
        "pendingReason": "AWAITING_NOTIFICATION"
        if tx.state == PayUTransactionState.PENDING
        else None,
        "responseCode": tx.response_code,
        "errorCode": None,
        "responseMessage": None,
        "transactionDate": None,
        "transactionTime": None,
        "operationDate": _epoch_ms(tx.updated),
        "extraParameters": None,
    }


def _order_values(order: SandboxPayUOrder) -> dict[str, Any]:
    return {
        "TX_VALUE": _money(order.amount, order.currency),
        "TX_TAX": _money(order.tax, order.currency),
        "TX_TAX_RETURN_BASE": _money(order.tax_return_base, order.currency),
    }


def _transaction_json(tx: SandboxPayUTransaction) -> dict[str, Any]:
    order = tx.order
    extra: dict[str, Any] = {"INSTALLMENTS_NUMBER": str(tx.installments)}
    if order.response_url:
        extra["RESPONSE_URL"] = order.response_url
    if tx.instrument == Instrument.CASH:
        # payments-api-colombia.html, cash: REFERENCE, EXPIRATION_DATE and the receipt URLs.
        from django.conf import settings
        from django.urls import reverse

        receipt = settings.SITE_URL + reverse(
            "sandbox:payu_voucher", kwargs={"transaction_id": tx.transaction_id}
        )
        extra.update(
            REFERENCE=order.payu_order_id,
            EXPIRATION_DATE=_epoch_ms(tx.cash_expires_at),
            URL_PAYMENT_RECEIPT_HTML=receipt,
        )
    if tx.instrument == Instrument.PSE:
        extra.update(FINANCIAL_INSTITUTION_CODE=tx.pse_bank_code, USER_TYPE=tx.pse_person_type)
    return {
        "id": str(tx.transaction_id),
        "order": None,
        "creditCard": (
            {"maskedNumber": tx.masked_card, "name": tx.card_holder, "issuerBank": None}
            if tx.instrument == Instrument.CARD
            else None
        ),
        "type": "AUTHORIZATION_AND_CAPTURE",
        "parentTransactionId": None,
        "paymentMethod": tx.payment_method,
        "source": None,
        "paymentCountry": "CO",
        "transactionResponse": _transaction_response(tx),
        "deviceSessionId": None,
        "ipAddress": tx.ip,
        "cookie": None,
        "userAgent": None,
        "expirationDate": None,
        "payer": {
            "merchantPayerId": None,
            "fullName": order.buyer_full_name or None,
            "billingAddress": None,
            "emailAddress": order.buyer_email,
            "contactPhone": order.telephone or None,
            "dniNumber": order.buyer_document or None,
        },
        "additionalValues": _order_values(order),
        "extraParameters": extra,
    }


def order_json(order: SandboxPayUOrder) -> dict[str, Any]:
    """One order as the Queries API shows it (queries-api.html response examples)."""
    return {
        "id": order.payu_order_id,
        "accountId": int(order.account_id) if order.account_id.isdigit() else order.account_id,
        "status": proto.ORDER_STATUS_BY_STATE[order.state],
        "referenceCode": order.reference_code,
        "description": order.description,
        "airlineCode": None,
        "language": order.lng,
        "notifyUrl": order.confirmation_url or None,
        "shippingAddress": None,
        "buyer": {
            "merchantBuyerId": None,
            "fullName": order.buyer_full_name or None,
            "emailAddress": order.buyer_email,
            "contactPhone": order.telephone or None,
        },
        "transactions": payu_refund_report.transactions_with_refunds(
            order, [_transaction_json(tx) for tx in order.transactions.all()]
        ),
        "additionalValues": _order_values(order),
    }


def _api_error(message: str) -> dict[str, Any]:
    return {"code": "ERROR", "error": message, "result": None}


def _success(payload: Any) -> dict[str, Any]:
    return {"code": "SUCCESS", "error": None, "result": {"payload": payload}}


def queries_api(request: Any) -> dict[str, Any]:
    """Answer one Queries API request (``reports-api/4.0/service.cgi``, queries-api.html).

    Unknown references/ids answer ``{"code":"SUCCESS","result":{"payload":null}}``:
    [INF] the real "not found" shape is undocumented (payment-gateways.md §4).
    """
    if not isinstance(request, dict):
        return _api_error("Invalid request format")
    creds = credentials()
    given_merchant = request.get("merchant")
    merchant: dict[str, Any] = given_merchant if isinstance(given_merchant, dict) else {}
    login_ok = hmac.compare_digest(
        str(merchant.get("apiLogin") or "").encode(), creds.api_login.encode()
    )
    key_ok = hmac.compare_digest(str(merchant.get("apiKey") or "").encode(), creds.api_key.encode())
    if not (login_ok and key_ok):
        return _api_error("Invalid credentials")
    command = request.get("command")
    given_details = request.get("details")
    details: dict[str, Any] = given_details if isinstance(given_details, dict) else {}
    orders = SandboxPayUOrder.objects.filter(merchant_id=creds.merchant_id).prefetch_related(
        "transactions", "refunds__parent"
    )
    if command == "PING":
        return {"code": "SUCCESS", "error": None, "transactionResponse": None}
    if command == "ORDER_DETAIL_BY_REFERENCE_CODE":
        reference = details.get("referenceCode")
        if not reference:
            return _api_error("details.referenceCode is required")
        found = [order_json(order) for order in orders.filter(reference_code=str(reference))]
        return _success(found or None)
    if command == "ORDER_DETAIL":
        try:
            order_id = int(str(details.get("orderId")))
        except ValueError:
            return _api_error("details.orderId is required")
        order = orders.filter(payu_order_id=order_id).first()
        return _success(order_json(order) if order else None)
    if command == "TRANSACTION_RESPONSE_DETAIL":
        tx_id = _uuid_or_none(str(details.get("transactionId") or ""))
        tx = (
            SandboxPayUTransaction.objects.filter(
                order__merchant_id=creds.merchant_id, transaction_id=tx_id
            ).first()
            if tx_id
            else None
        )
        if tx is not None:
            return _success(_transaction_response(tx))
        refund = (
            payu_refund_report.transaction_response_of(creds.merchant_id, tx_id) if tx_id else None
        )
        return _success(refund)
    return _api_error(f"Invalid command {command!r}")


def _uuid_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
