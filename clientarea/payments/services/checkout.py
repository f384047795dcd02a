"""Checkout: start one attempt at one gateway and tell the browser where to go.

``start_orders_payment`` (one or several orders; ``start_payment`` for one) and
``start_funds_payment`` (add funds to the credit) are the only ways a ``Payment`` row is
created. They refuse what cannot be paid (another customer's order, a settled order, nothing
left to pay, an incomplete profile, a gateway that is off or cannot carry the amount), close
older attempts left at a gateway's page, and call the gateway outside the database transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from clientarea.accounts import audit
from clientarea.accounts.models import Customer
from clientarea.accounts.selectors import get_provider
from clientarea.billing import selectors as billing_selectors
from clientarea.billing import services as billing_services
from clientarea.billing.models import Order, OrderState
from clientarea.lib.money import ZERO, format_cop, quantize
from clientarea.payments import selectors
from clientarea.payments.gateways import get_gateway
from clientarea.payments.gateways.base import (
    Buyer,
    CheckoutAction,
    CheckoutRequest,
    Gateway,
    GatewayError,
    PaymentMethod,
    UnknownGateway,
)
from clientarea.payments.models import Payment, PaymentOrder, PaymentStatus
from clientarea.payments.status_notes import StatusNote, start_failure, status_fields

logger = logging.getLogger(__name__)

#: How long a payment (and a cash voucher) should stay valid. PayU allows at most 7 days for
#: cash ``expirationDate`` outside Argentina (payment-form doc); Payvalida up to 30 and only
#: whole days: each adapter fits this to its gateway and reports the deadline it set.
PAYMENT_VALIDITY = dt.timedelta(days=7)

#: Checkout fields never stored: they are (or are derived from) secrets.
SECRET_FIELDS = frozenset(
    {"signature", "checksum", "apikey", "apilogin", "api_key", "api_login", "sign", "key", "secret"}
)

RESPONSE_URL_NAMES = {"payu": "payments:payu_response", "payvalida": "payments:payvalida_return"}
NOTIFY_URL_NAMES = {
    "payu": "payments:payu_confirmation",
    "payvalida": "payments:payvalida_notification",
}


class PaymentRefused(Exception):
    """A payment cannot be started; ``message`` is for the customer, ``code`` for the caller.

    Codes: ``not_found`` (not the customer's order), ``not_payable`` (paid or cancelled, or
    nothing left to pay), ``amount`` (funds outside the allowed range),
    ``profile_incomplete``, ``gateway`` (unknown/disabled gateway or method),
    ``gateway_error`` (the gateway refused or could not be reached).
    """

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def buyer_for(customer: Customer) -> Buyer:
    return Buyer(
        full_name=customer.display_name,
        email=customer.user.email,
        phone=customer.phone,
        document_type=customer.document_type,
        document_number=customer.document_number,
        person_type=customer.person_type,
    )


def gateway_language(language: str | None) -> str:
    return "en" if (language or "").lower().startswith("en") else "es"


def _absolute(url_name: str) -> str:
    return settings.SITE_URL + reverse(url_name)


def _safe_checkout(action: CheckoutAction) -> dict:
    """What the browser was sent with, minus anything derived from a secret."""
    fields = {
        key: value for key, value in action.fields.items() if key.lower() not in SECRET_FIELDS
    }
    payload: dict = {"method": action.method, "url": action.url.split("?", 1)[0], "fields": fields}
    if isinstance(action.raw_response, dict):
        data = action.raw_response.get("DATA")
        if isinstance(data, dict):
            payload["gateway_answer"] = {
                k: str(v)
                for k, v in data.items()
                if k.lower() not in SECRET_FIELDS and k != "checkout"
            }
    return payload


def _initial_instructions(action: CheckoutAction, payment: Payment) -> dict:
    instructions: dict = {
        "expires_at": payment.expires_at.isoformat() if payment.expires_at else ""
    }
    if action.method == "GET":
        # Payvalida's hosted checkout shows the voucher again: the customer can reopen it.
        instructions["checkout_url"] = action.url
    data = action.raw_response.get("DATA") if isinstance(action.raw_response, dict) else None
    if isinstance(data, dict) and data.get("Referencia"):
        instructions["voucher_reference"] = str(data["Referencia"])
    return instructions


def start_payment(
    *,
    order: Order,
    customer: Customer,
    gateway_code: str,
    method: str | None = None,
    language: str = "es",
) -> tuple[Payment, CheckoutAction]:
    """Create a new attempt for ``order`` at ``gateway_code`` and return what the browser must do
    (``start_orders_payment`` with one order)."""
    return start_orders_payment(
        orders=[order],
        customer=customer,
        gateway_code=gateway_code,
        method=method,
        language=language,
    )


def _gateway_for(
    customer: Customer, gateway_code: str, method: str | None
) -> tuple[Gateway, PaymentMethod | None]:
    missing = customer.missing_invoice_fields()
    if missing:
        raise PaymentRefused(
            _(
                "Complete your profile before paying, so that we can issue your electronic invoice. Missing: %(fields)s."
            )
            % {"fields": ", ".join(missing)},
            code="profile_incomplete",
        )
    try:
        gateway = get_gateway(gateway_code)
    except UnknownGateway:
        raise PaymentRefused(_("This payment option is not available."), code="gateway") from None
    if not gateway.enabled:
        raise PaymentRefused(_("This payment option is not available."), code="gateway")
    chosen: PaymentMethod | None = None
    if method:
        try:
            chosen = PaymentMethod(method)
        except ValueError:
            chosen = None
        if chosen is None or chosen not in gateway.methods:
            raise PaymentRefused(
                _("%(gateway)s does not offer this payment method.") % {"gateway": gateway.name},
                code="gateway",
            )
    return gateway, chosen


def _check_available(gateway: Gateway, amount: Decimal) -> None:
    unavailable = selectors.unavailable_reason(gateway, amount=amount)
    if unavailable:  # switched off by staff, or cannot carry the amount
        raise PaymentRefused(unavailable, code="gateway")


def start_orders_payment(
    *,
    orders: Sequence[Order],
    customer: Customer,
    gateway_code: str,
    method: str | None = None,
    language: str = "es",
    actor=None,
) -> tuple[Payment, CheckoutAction]:
    """One attempt at ``gateway_code`` that pays all of ``orders`` at once; return what the
    browser must do.

    It charges what the orders still owe (``billing.selectors.amount_to_charge``: after partial
    payments and credit applied). On approval the payment is allocated to every order in one
    transaction: each becomes paid with its own invoice, or none does. Refuses
    (``PaymentRefused``) another customer's order, a paid or cancelled one, nothing left to
    pay, a customer whose profile lacks invoice data, and an unknown or disabled gateway or
    method. Older attempts still in ``created`` for these orders are closed (they get one last
    status query from the reconciliation). The gateway is called outside the database
    transaction; if it fails, the attempt is recorded as ``error``.
    """
    if not orders or any(order.customer_id != customer.pk for order in orders):
        raise PaymentRefused(_("This order does not exist."), code="not_found")
    gateway, chosen = _gateway_for(customer, gateway_code, method)
    _check_available(gateway, billing_selectors.amount_to_charge(orders))
    now = timezone.now()
    expires_at = now + PAYMENT_VALIDITY
    with transaction.atomic():
        locked = [billing_services.lock_order(order_id=pk) for pk in sorted({o.pk for o in orders})]
        for order in locked:
            if order.state == OrderState.PAID:
                raise PaymentRefused(
                    _("Order %(number)s is already paid.") % {"number": order.number},
                    code="not_payable",
                )
            if order.state != OrderState.PENDING:
                raise PaymentRefused(
                    _("Order %(number)s is cancelled and can no longer be paid.")
                    % {"number": order.number},
                    code="not_payable",
                )
        # What to charge and its tax split: one selector for both (billing.selectors.charge_for).
        charge = billing_selectors.charge_for(locked)
        dues, amount = charge.dues, charge.amount
        locked = [order for order in locked if dues[order.pk] > 0]
        if amount <= 0 or not locked:
            raise PaymentRefused(
                _("There is nothing left to pay on this order."), code="not_payable"
            )
        _check_available(gateway, amount)
        first = locked[0]
        # The customer left those attempts at the gateway's page; if one was paid after
        # all, its late approval is still applied (or kept as credit).
        Payment.objects.filter(
            basket__order__in=locked, status=PaymentStatus.CREATED
        ).distinct().update(
            status=PaymentStatus.EXPIRED,
            **status_fields(StatusNote("replaced")),
            next_check_at=now,
            updated_at=now,
        )
        payment = _create_attempt(
            gateway=gateway,
            customer=customer,
            order=first,
            prefix=first.number,
            chosen=chosen,
            amount=amount,
            tax=charge.tax,
            tax_base=charge.tax_base,
            currency=first.currency,
            expires_at=expires_at,
            now=now,
        )
        PaymentOrder.objects.bulk_create(
            [PaymentOrder(payment=payment, order=o, amount=dues[o.pk]) for o in locked]
        )
        _audit_start(payment=payment, customer=customer, actor=actor)
    return _launch(
        payment=payment,
        gateway=gateway,
        chosen=chosen,
        customer=customer,
        description=orders_description([o.number for o in locked], provider=_provider_name()),
        language=language,
        expires_at=expires_at,
    )


#: The longest description both gateways take (PayU 255, Payvalida 250 characters).
DESCRIPTION_LIMIT = 250


def orders_description(numbers: Sequence[str], *, provider: str) -> str:
    """What the gateway shows and keeps as the payment's description: every order it pays.

    "Conexcol service orders ODS-000101, ODS-000102". When they do not fit the gateways'
    250 characters, the prefix the numbers share is written once ("ODS-000101, 000102, …");
    only when even that does not fit: how many orders, the first and the last (the reference
    and the back office list them all)."""
    numbers = sorted(numbers)
    if len(numbers) == 1:
        return (_("%(provider)s service order %(number)s") % {
            "provider": provider, "number": numbers[0],
        })[:DESCRIPTION_LIMIT]  # fmt: skip
    full = _("%(provider)s service orders %(numbers)s") % {
        "provider": provider,
        "numbers": ", ".join(numbers),
    }
    if len(full) <= DESCRIPTION_LIMIT:
        return full
    shared = numbers[0]
    while shared and not all(n.startswith(shared) for n in numbers):
        shared = shared[:-1]
    while shared and shared[-1].isdigit():  # keep each number whole: cut after "ODS-"
        shared = shared[:-1]
    short = _("%(provider)s service orders %(numbers)s") % {
        "provider": provider,
        "numbers": ", ".join([numbers[0]] + [n[len(shared) :] for n in numbers[1:]]),
    }
    if len(short) <= DESCRIPTION_LIMIT:
        return short
    return (
        _("%(provider)s: %(count)s service orders, %(first)s to %(last)s")
        % {"provider": provider, "count": len(numbers), "first": numbers[0], "last": numbers[-1]}
    )[:DESCRIPTION_LIMIT]


def start_funds_payment(
    *,
    amount: Decimal,
    customer: Customer,
    gateway_code: str,
    method: str | None = None,
    language: str = "es",
    actor=None,
) -> tuple[Payment, CheckoutAction]:
    """Add funds: one attempt whose approval becomes the customer's credit (no order), between
    ``BILLING_ADD_FUNDS_MIN`` and ``BILLING_ADD_FUNDS_MAX`` whole pesos."""
    if amount != amount.to_integral_value() or not (
        settings.BILLING_ADD_FUNDS_MIN <= amount <= settings.BILLING_ADD_FUNDS_MAX
    ):
        raise PaymentRefused(
            _("Enter whole pesos between %(min)s and %(max)s.")
            % {
                "min": format_cop(settings.BILLING_ADD_FUNDS_MIN),
                "max": format_cop(settings.BILLING_ADD_FUNDS_MAX),
            },
            code="amount",
        )
    gateway, chosen = _gateway_for(customer, gateway_code, method)
    _check_available(gateway, amount)
    now = timezone.now()
    expires_at = now + PAYMENT_VALIDITY
    with transaction.atomic():
        payment = _create_attempt(
            gateway=gateway,
            customer=customer,
            order=None,
            prefix=billing_services.next_number(name="FUNDS", prefix="SAL-"),
            chosen=chosen,
            amount=quantize(amount),
            tax=ZERO,
            tax_base=ZERO,
            currency="COP",
            expires_at=expires_at,
            now=now,
        )
        _audit_start(payment=payment, customer=customer, actor=actor)
    return _launch(
        payment=payment,
        gateway=gateway,
        chosen=chosen,
        customer=customer,
        description=(
            _("%(provider)s: funds for the account of %(customer)s")
            % {"provider": _provider_name(), "customer": customer.display_name}
        )[:250],
        language=language,
        expires_at=expires_at,
    )


def _audit_start(*, payment: Payment, customer: Customer, actor) -> None:
    """Who started the attempt (the contact logged in), when a person did."""
    if actor is None:
        return
    audit.record(
        action="payment.started",
        actor=actor,
        customer=customer,
        target=payment.reference,
        changes={"amount": str(payment.amount), "gateway": payment.gateway},
    )


def _provider_name() -> str:
    provider = get_provider()
    return (provider.trade_name or provider.legal_name) if provider else "ClientArea"


def _create_attempt(
    *,
    gateway: Gateway,
    customer: Customer,
    order: Order | None,
    prefix: str,
    chosen: PaymentMethod | None,
    amount: Decimal,
    tax: Decimal,
    tax_base: Decimal,
    currency: str,
    expires_at: dt.datetime,
    now: dt.datetime,
) -> Payment:
    attempt = (
        Payment.objects.filter(order=order).aggregate(n=Max("attempt"))["n"] or 0 if order else 0
    )
    for _try in range(5):
        attempt += 1
        reference = f"{prefix}-{attempt}"
        try:
            with transaction.atomic():
                return Payment.objects.create(
                    reference=reference,
                    gateway_reference=gateway.gateway_reference(reference),
                    attempt=attempt,
                    order=order,
                    customer=customer,
                    gateway=gateway.code,
                    requested_method=chosen.value if chosen else "",
                    amount=amount,
                    currency=currency,
                    tax=tax,
                    tax_base=tax_base,
                    expires_at=expires_at,
                    created_at=now,
                )
        except IntegrityError:
            # Payvalida drops the dashes: "ODS-1234561-2" and "ODS-123456-12" meet; skip that attempt number.
            continue
    raise PaymentRefused(  # pragma: no cover - five collisions in a row
        _("The payment could not be started. Please try again."), code="gateway_error"
    )


def _launch(
    *,
    payment: Payment,
    gateway: Gateway,
    chosen: PaymentMethod | None,
    customer: Customer,
    description: str,
    language: str,
    expires_at: dt.datetime,
) -> tuple[Payment, CheckoutAction]:
    request = CheckoutRequest(
        reference=payment.reference,
        amount=payment.amount,
        tax=payment.tax,
        tax_base=payment.tax_base,
        currency=payment.currency,
        description=description,
        buyer=buyer_for(customer),
        response_url=_absolute(RESPONSE_URL_NAMES.get(gateway.code, "payments:payu_response")),
        confirmation_url=_absolute(
            NOTIFY_URL_NAMES.get(gateway.code, "payments:payu_confirmation")
        ),
        language=gateway_language(language),
        expires_at=expires_at,
        method=chosen,
    )
    try:
        action = gateway.start_checkout(request)
    except GatewayError as exc:
        note, gateway_words = start_failure(exc)
        Payment.objects.filter(pk=payment.pk).update(
            status=PaymentStatus.ERROR,
            **status_fields(note, gateway_words),
            updated_at=timezone.now(),
        )
        logger.warning(
            "payment %s could not start at %s: %s (%s)",
            payment.reference,
            gateway.code,
            type(exc).__name__,
            note.code,
        )
        raise PaymentRefused(
            _(
                "%(gateway)s could not start the payment. Please try again in a few minutes or choose another option."
            )
            % {"gateway": gateway.name},
            code="gateway_error",
        ) from exc
    payment.gateway_order_id = (action.gateway_order_id or "")[:64]
    if action.expires_at is not None:
        # One deadline everywhere: the one the gateway was given (and prints on its voucher).
        payment.expires_at = action.expires_at
    payment.checkout_payload = _safe_checkout(action)
    payment.instructions = _initial_instructions(action, payment)
    payment.save(
        update_fields=[
            "gateway_order_id",
            "expires_at",
            "checkout_payload",
            "instructions",
            "updated_at",
        ]
    )
    logger.info(
        "payment started %s gateway=%s method=%s amount=%s",
        payment.reference,
        gateway.code,
        payment.requested_method or "-",
        payment.amount,
    )
    return payment, action
