"""What a configured product costs: the product's price for a cycle plus its options, validated
against the product, and what a coupon takes off. Pure reads and arithmetic (no writes).

Amounts are before IVA, ``Decimal``, rounded once per line (lib/money.py). A percentage coupon
takes its percent off every recurring line of the item (the product and its options, never the
setup fee); a fixed coupon takes its amount off the product's line, never more than that line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from clientarea.catalog.models import (
    Coupon,
    CouponKind,
    Option,
    OptionGroup,
    OptionKind,
    Product,
)
from clientarea.lib.money import ZERO, format_cop, quantize


class ConfigurationError(Exception):
    """The chosen cycle or options do not fit the product (message is for people)."""


class CouponError(Exception):
    """The coupon cannot be used here (message is for people)."""


@dataclass(frozen=True)
class Selection:
    """What the customer chose for one option group: an option (None: nothing) and a quantity."""

    option_id: int | None
    quantity: int = 1


@dataclass(frozen=True)
class ChosenOption:
    group: OptionGroup
    option: Option
    quantity: int
    unit_price: Decimal

    @property
    def subtotal(self) -> Decimal:
        return quantize(self.unit_price * self.quantity)


@dataclass(frozen=True)
class Configuration:
    """A product, a cycle and its valid options, priced (before IVA) from the catalog today."""

    product: Product
    cycle: str
    price: Decimal
    options: tuple[ChosenOption, ...]

    @property
    def recurring_subtotal(self) -> Decimal:
        return self.price + sum((o.subtotal for o in self.options), ZERO)


def option_groups(product: Product) -> list[OptionGroup]:
    """The product's option groups with their active options and prices (three queries)."""
    return list(
        product.option_groups.prefetch_related("options__prices").order_by("sort_order", "id")
    )


def configure(
    *,
    product: Product,
    cycle: str,
    selections: Mapping[int, Selection],
    groups: list[OptionGroup] | None = None,
) -> Configuration:
    """Validate ``selections`` (group id → Selection) against the product and price them.

    Unknown groups or options, options of another product, quantities out of bounds, a required
    choice left empty or an option without a price for the cycle raise ConfigurationError.
    """
    price = next((p.price for p in product.prices.all() if p.cycle == cycle), None)
    if price is None or not product.active:
        raise ConfigurationError(_("This product is not available with that billing cycle."))
    groups = option_groups(product) if groups is None else groups
    by_id = {g.pk: g for g in groups}
    unknown = set(selections) - set(by_id)
    if unknown:
        raise ConfigurationError(_("One of the options does not belong to this product."))
    chosen: list[ChosenOption] = []
    for group in groups:
        name = group.name
        selection = selections.get(group.pk, Selection(option_id=None, quantity=0))
        options = {o.pk: o for o in group.options.all() if o.active}
        if group.kind == OptionKind.QUANTITY:
            quantity = selection.quantity
            if quantity < group.min_quantity or quantity > group.max_quantity:
                raise ConfigurationError(
                    _("%(name)s: choose a quantity between %(min)s and %(max)s.")
                    % {"name": name, "min": group.min_quantity, "max": group.max_quantity}
                )
            if quantity == 0:
                continue
            option = next(iter(options.values()), None)
            if option is None or (selection.option_id not in (None, option.pk)):
                raise ConfigurationError(_("%(name)s is not available.") % {"name": name})
        else:
            if selection.option_id is None:
                if group.required:
                    raise ConfigurationError(_("%(name)s: choose one.") % {"name": name})
                continue
            maybe = options.get(selection.option_id)
            if maybe is None:
                raise ConfigurationError(
                    _("%(name)s: that choice is not available.") % {"name": name}
                )
            option, quantity = maybe, 1
        unit = next((p.price for p in option.prices.all() if p.cycle == cycle), None)
        if unit is None:
            raise ConfigurationError(
                _("%(name)s is not offered with that billing cycle.") % {"name": name}
            )
        chosen.append(ChosenOption(group=group, option=option, quantity=quantity, unit_price=unit))
    return Configuration(product=product, cycle=cycle, price=price, options=tuple(chosen))


def normalize_code(code: str) -> str:
    return (code or "").strip().upper()


def check_coupon_terms(*, coupon: Coupon, today: dt.date) -> None:
    """The coupon itself can be used today (active, started, not expired)."""
    if not coupon.active:
        raise CouponError(_("This coupon is no longer valid."))
    if coupon.valid_from and today < coupon.valid_from:
        raise CouponError(_("This coupon is not valid yet."))
    if coupon.valid_until and today > coupon.valid_until:
        raise CouponError(_("This coupon expired."))


def coupon_fits(*, coupon: Coupon, product: Product, cycle: str, product_ids: set[int]) -> bool:
    """The coupon covers this product and cycle (``product_ids``: the coupon's products, empty = all)."""
    if product_ids and product.pk not in product_ids:
        return False
    return not coupon.cycles or cycle in coupon.cycles


def percent_off(*, percent: Decimal, subtotal: Decimal) -> Decimal:
    return min(quantize(subtotal * percent / Decimal(100)), subtotal)


def line_discounts(
    *, kind: str, value: Decimal, product_subtotal: Decimal, option_subtotals: list[Decimal]
) -> tuple[Decimal, list[Decimal]]:
    """What a coupon takes off the product's line and off each option line (before IVA)."""
    if kind == CouponKind.PERCENT:
        return (
            percent_off(percent=value, subtotal=product_subtotal),
            [percent_off(percent=value, subtotal=s) for s in option_subtotals],
        )
    return min(quantize(value), product_subtotal), [ZERO for _s in option_subtotals]


def coupon_label(*, kind: str, value: Decimal) -> str:
    """How the discount reads on a line: "10 %" or "$ 5.000"."""
    if kind == CouponKind.PERCENT:
        return f"{value.normalize():f} %"
    return format_cop(value)
