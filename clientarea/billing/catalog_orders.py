"""Ordering from the catalog: a cart of configured products, an optional coupon, one order.

``quote_cart`` prices a cart (the cart page shows it; nothing is written). ``place_cart_order``
prices it again inside one transaction and writes, all or nothing: one pending service per item
with its options (``subscriptions.ServiceOption``), ONE pending service order through
``services.create_orders`` (product, option and setup-fee lines; the coupon's discount on each
line it covers) and the coupon's use. The order is then paid like any other (Pay now); the paid
path activates the services (``mark_order_paid``).

Coupon rules (one coupon per order, so nothing stacks): active, within its dates, for the item's
product and cycle (items it does not cover pay full price; a coupon that covers none is refused),
``max_uses`` orders in total and ``max_uses_per_customer`` per customer, counting orders that were
not cancelled. The counts are read under the coupon's row lock (after the customer's, the lock
order of ``billing.ledger``), so two checkouts cannot both take the last use on PostgreSQL; on
SQLite writers are serialized anyway. A recurring coupon is kept on the service and its discount
applies to every renewal (``automation.renewal_lines``), whatever its dates and limits by then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from clientarea.accounts.audit import record
from clientarea.accounts.models import AuditEvent, Customer
from clientarea.billing import descriptions
from clientarea.billing import services as order_services
from clientarea.billing.event_texts import EventText
from clientarea.billing.models import CouponRedemption, ItemKind, Order, OrderState
from clientarea.catalog.models import Coupon, CouponDuration, Product, ProductKind
from clientarea.catalog.pricing import (
    Configuration,
    ConfigurationError,
    CouponError,
    Selection,
    check_coupon_terms,
    configure,
    coupon_fits,
    coupon_label,
    line_discounts,
    normalize_code,
)
from clientarea.lib.dates import local_today
from clientarea.lib.money import ZERO
from clientarea.lib.text import fold
from clientarea.subscriptions import services as subscription_services
from clientarea.subscriptions.event_texts import ServiceText
from clientarea.subscriptions.forms import LABEL_REQUIRED_KINDS, normalize_hostname
from clientarea.subscriptions.models import Service, ServiceOption

#: At most this many items in one cart (one order).
MAX_CART_ITEMS = 20


class CartError(Exception):
    """The cart cannot become an order (message is for people)."""


@dataclass(frozen=True)
class CartItem:
    """One configured product as the cart keeps it (ids and choices, no prices)."""

    product_id: int
    cycle: str
    label: str = ""
    selections: dict[int, Selection] = field(default_factory=dict)


@dataclass(frozen=True)
class QuotedItem:
    """One cart item priced: its configuration and its order lines (without a service yet)."""

    index: int
    configuration: Configuration
    label: str
    lines: tuple[order_services.LineSpec, ...]
    option_descriptions: tuple[str, ...]
    coupon_applies: bool

    @property
    def product(self) -> Product:
        return self.configuration.product


@dataclass(frozen=True)
class Quote:
    items: tuple[QuotedItem, ...]
    coupon: Coupon | None
    subtotal: Decimal  # before discount and IVA
    discount: Decimal
    tax: Decimal
    rounding: Decimal
    total: Decimal


def clean_label(*, product: Product, label: str) -> str:
    """The domain or hostname an item is for: required and a valid hostname for domains, hosting
    and certificates; free text (up to 200 characters) for the rest."""
    label = (label or "").strip()
    if product.kind in LABEL_REQUIRED_KINDS:
        if not label:
            raise CartError(_("Enter your domain or hostname, e.g. mitienda.com.co"))
        hostname = normalize_hostname(label)
        if hostname is None:
            raise CartError(
                _(
                    "Enter only the domain or hostname, e.g. mitienda.com.co (without http://, spaces or slashes)."
                )
            )
        return hostname
    if len(label) > 200:
        raise CartError(_("The label is too long (200 characters at most)."))
    return label


def check_item(*, item: CartItem) -> Configuration:
    """Validate one item before it goes into the cart (ConfigurationError / CartError)."""
    product = _products([item.product_id]).get(item.product_id)
    if product is None:
        raise ConfigurationError(_("This product is not available with that billing cycle."))
    clean_label(product=product, label=item.label)
    return configure(product=product, cycle=item.cycle, selections=item.selections)


def _products(ids: Sequence[int]) -> dict[int, Product]:
    return {
        p.pk: p
        for p in Product.objects.filter(pk__in=set(ids), active=True).prefetch_related(
            "prices", "option_groups__options__prices"
        )
    }


def _find_coupon(code: str, *, lock: bool) -> Coupon:
    query = Coupon.objects.select_for_update() if lock else Coupon.objects
    coupon = query.filter(code=normalize_code(code)).first()
    if coupon is None:
        raise CouponError(_("We do not know that coupon code."))
    return coupon


def check_coupon_limits(*, coupon: Coupon, customer: Customer | None) -> None:
    """Uses so far (orders not cancelled) against the coupon's limits; the caller holds its lock
    when it matters (checkout)."""
    live = CouponRedemption.objects.filter(coupon=coupon).exclude(order__state=OrderState.CANCELLED)
    if coupon.max_uses is not None and live.count() >= coupon.max_uses:
        raise CouponError(_("This coupon has been used up."))
    if (
        customer is not None
        and coupon.max_uses_per_customer is not None
        and live.filter(customer=customer).count() >= coupon.max_uses_per_customer
    ):
        raise CouponError(_("You already used this coupon."))


def quote_cart(
    *,
    items: Sequence[CartItem],
    customer: Customer | None,
    coupon_code: str = "",
    today: dt.date | None = None,
    lock_coupon: bool = False,
) -> Quote:
    """Price a cart. Raises CartError / ConfigurationError for an item that no longer fits the
    catalog, CouponError for a coupon that cannot be used (with the reason)."""
    if not items:
        raise CartError(_("Your cart is empty."))
    if len(items) > MAX_CART_ITEMS:
        raise CartError(_("One order can have at most %(n)s items.") % {"n": MAX_CART_ITEMS})
    today = today or local_today()
    products = _products([item.product_id for item in items])
    coupon = None
    coupon_products: set[int] = set()
    if coupon_code.strip():
        coupon = _find_coupon(coupon_code, lock=lock_coupon)
        check_coupon_terms(coupon=coupon, today=today)
        check_coupon_limits(coupon=coupon, customer=customer)
        coupon_products = set(coupon.products.values_list("pk", flat=True))
    texts = (
        descriptions.texts_for(customer)
        if customer is not None
        else descriptions.LineTexts.translate(settings.LANGUAGE_CODE)
    )
    quoted: list[QuotedItem] = []
    for index, item in enumerate(items):
        product = products.get(item.product_id)
        if product is None:
            raise CartError(_("A product in your cart is no longer offered. Remove it to go on."))
        label = clean_label(product=product, label=item.label)
        configuration = configure(
            product=product,
            cycle=item.cycle,
            selections=item.selections,
            groups=list(product.option_groups.all()),
        )
        applies = coupon is not None and coupon_fits(
            coupon=coupon, product=product, cycle=item.cycle, product_ids=coupon_products
        )
        quoted.append(
            _quote_item(
                index=index,
                configuration=configuration,
                label=label,
                texts=texts,
                coupon=coupon if applies else None,
            )
        )
    if coupon is not None and not any(q.coupon_applies for q in quoted):
        raise CouponError(_("This coupon does not apply to the products in your cart."))
    amounts = [
        order_services.line_amounts(line) for quoted_item in quoted for line in quoted_item.lines
    ]
    totals = order_services.order_totals(amounts)
    discount = sum((line.discount for q in quoted for line in q.lines), ZERO)
    return Quote(
        items=tuple(quoted),
        coupon=coupon,
        subtotal=totals["subtotal"] + discount,
        discount=discount,
        tax=totals["tax_total"],
        rounding=totals["rounding"],
        total=totals["total"],
    )


def _quote_item(
    *,
    index: int,
    configuration: Configuration,
    label: str,
    texts: descriptions.LineTexts,
    coupon: Coupon | None,
) -> QuotedItem:
    product = configuration.product
    language = texts.language
    option_texts = tuple(
        f"{o.group.display_name(language)}: {o.option.display_name(language)}"
        if o.group.kind == "choice"
        else o.group.display_name(language)
        for o in configuration.options
    )
    product_discount, option_discounts = (
        line_discounts(
            kind=coupon.kind,
            value=coupon.value,
            product_subtotal=configuration.price,
            option_subtotals=[o.subtotal for o in configuration.options],
        )
        if coupon is not None
        else (ZERO, [ZERO for _o in configuration.options])
    )
    reason = (
        texts.coupon_for(code=coupon.code, value=coupon_label(kind=coupon.kind, value=coupon.value))
        if coupon is not None
        else ""
    )
    name = texts.new_service(product=product, label=label)
    treatment, rate = product.tax_treatment, product.effective_tax_rate
    lines = [
        order_services.LineSpec(
            kind=ItemKind.DOMAIN if product.kind == ProductKind.DOMAIN else ItemKind.NEW_SERVICE,
            description=name,
            unit_price=configuration.price,
            discount=product_discount,
            discount_reason=reason if product_discount else "",
            tax_treatment=treatment,
            tax_rate=rate,
        )
    ]
    for option, text, discount in zip(
        configuration.options, option_texts, option_discounts, strict=True
    ):
        lines.append(
            order_services.LineSpec(
                kind=ItemKind.OPTION,
                description=texts.option_for(service_text=name, option=text),
                unit_price=option.unit_price,
                quantity=Decimal(option.quantity),
                discount=discount,
                discount_reason=reason if discount else "",
                tax_treatment=treatment,
                tax_rate=rate,
            )
        )
    if product.setup_fee:
        lines.append(
            order_services.LineSpec(
                kind=ItemKind.SETUP_FEE,
                description=texts.setup_fee_for(product=product),
                unit_price=product.setup_fee,
                tax_treatment=treatment,
                tax_rate=rate,
            )
        )
    return QuotedItem(
        index=index,
        configuration=configuration,
        label=label,
        lines=tuple(lines),
        option_descriptions=option_texts,
        coupon_applies=coupon is not None,
    )


@transaction.atomic
def place_cart_order(
    *,
    customer: Customer,
    items: Sequence[CartItem],
    coupon_code: str = "",
    actor=None,
    ip: str | None = None,
    cart_token: str = "",
) -> Order:
    """The cart becomes pending services and ONE pending order (see the module's docstring).

    ``cart_token`` names one cart: placing the same cart again (a double click, a second tab)
    returns the order it already became. Raises CartError, ConfigurationError or CouponError
    and writes nothing."""
    Customer.objects.select_for_update().filter(pk=customer.pk).first()  # customer, then coupon
    if cart_token:
        placed = (
            AuditEvent.objects.filter(
                action="order.catalog", customer=customer, changes__cart=cart_token
            )
            .values_list("target", flat=True)
            .first()
        )
        existing = Order.objects.filter(customer=customer, number=placed).first()
        if placed and existing is not None:
            return existing
    today = local_today()
    quote = quote_cart(
        items=items, customer=customer, coupon_code=coupon_code, today=today, lock_coupon=True
    )
    lines: list[order_services.LineSpec] = []
    service_ids: list[int] = []
    for quoted in quote.items:
        configuration = quoted.configuration
        recurring = (
            quote.coupon
            if quoted.coupon_applies
            and quote.coupon is not None
            and quote.coupon.duration == CouponDuration.RECURRING
            else None
        )
        service = Service.objects.create(
            customer=customer,
            product=configuration.product,
            cycle=configuration.cycle,
            price=configuration.price,
            label=quoted.label,
            search_label=fold(quoted.label),
            coupon=recurring,
        )
        ServiceOption.objects.bulk_create(
            [
                ServiceOption(
                    service=service,
                    option=option.option,
                    quantity=option.quantity,
                    price=option.unit_price,
                    description=text,
                )
                for option, text in zip(
                    configuration.options, quoted.option_descriptions, strict=True
                )
            ]
        )
        subscription_services.record_event(
            service, kind="created", actor=actor, reason=ServiceText("ordered_catalog")
        )
        service_ids.append(service.pk)
        end = order_services.period_end_for(cycle=configuration.cycle, start=today)
        for line in quoted.lines:
            recurring_line = line.kind != ItemKind.SETUP_FEE
            lines.append(
                replace(
                    line,
                    service=service,
                    period_start=today if recurring_line else None,
                    period_end=end if recurring_line else None,
                )
            )
    order = order_services.create_order(
        customer=customer,
        lines=lines,
        actor=actor,
        reason=EventText("catalog_order"),
        due_date=today + dt.timedelta(days=settings.BILLING_CANCEL_UNPAID_NEW_AFTER_DAYS),
    )
    if quote.coupon is not None:
        CouponRedemption.objects.create(
            coupon=quote.coupon, order=order, customer=customer, discount=quote.discount
        )
    record(
        action="order.catalog",
        actor=actor,
        customer=customer,
        target=order.number,
        changes={
            "services": service_ids,
            "coupon": quote.coupon.code if quote.coupon else "",
            "discount": str(quote.discount),
            "total": str(order.total),
            "cart": cart_token,
        },
        ip=ip,
    )
    return order
