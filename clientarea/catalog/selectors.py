"""Read queries for the catalog: what a customer can order, with IVA and total per billing cycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Prefetch
from django.utils.translation import gettext as _

from clientarea.catalog.models import BillingCycle, Product, ProductKind, ProductPrice, TaxTreatment
from clientarea.lib.money import tax_for

CYCLE_ORDER = {value: i for i, value in enumerate(BillingCycle.values)}


@dataclass(frozen=True)
class PriceOption:
    cycle: str
    cycle_label: str
    price: Decimal
    tax: Decimal
    total: Decimal


@dataclass
class Offer:
    product: Product
    name: str
    description: str
    tax_label: str
    setup_fee: Decimal
    setup_tax: Decimal
    prices: list[PriceOption] = field(default_factory=list)


@dataclass
class OfferGroup:
    kind: str
    label: str
    offers: list[Offer] = field(default_factory=list)


def _tax_label(product: Product) -> str:
    if product.tax_treatment == TaxTreatment.EXEMPT:
        return _("Exempt from IVA")
    if product.tax_treatment == TaxTreatment.EXCLUDED:
        return _("Excluded from IVA")
    return _("IVA %(rate)s%%") % {"rate": f"{product.tax_rate.normalize():f}"}


def _offer(product: Product, language: str) -> Offer | None:
    prices = sorted(product.prices.all(), key=lambda p: CYCLE_ORDER.get(p.cycle, 99))
    if not prices:
        return None
    rate = product.effective_tax_rate
    offer = Offer(
        product=product,
        name=product.display_name(language),
        description=(
            product.description_en
            if language == "en" and product.description_en
            else product.description
        ),
        tax_label=_tax_label(product),
        setup_fee=product.setup_fee,
        setup_tax=tax_for(product.setup_fee, rate),
    )
    for p in prices:
        tax = tax_for(p.price, rate)
        offer.prices.append(
            PriceOption(
                cycle=p.cycle,
                cycle_label=p.get_cycle_display(),
                price=p.price,
                tax=tax,
                total=p.price + tax,
            )
        )
    return offer


def orderable_offer(*, code: str, language: str) -> Offer | None:
    """One active product with its prices, IVA and totals per cycle (None: not orderable)."""
    product = Product.objects.filter(code=code, active=True).prefetch_related("prices").first()
    return _offer(product, language) if product is not None else None


def orderable_catalog(language: str) -> list[OfferGroup]:
    """Active products with at least one price, grouped by kind, with IVA and total per cycle (two queries)."""
    products = (
        Product.objects.filter(active=True)
        .prefetch_related(
            Prefetch("prices", queryset=ProductPrice.objects.all()),
        )
        .order_by("sort_order", "name")
    )
    groups: dict[str, OfferGroup] = {}
    for product in products:
        offer = _offer(product, language)
        if offer is None:
            continue
        group = groups.setdefault(
            product.kind,
            OfferGroup(
                kind=product.kind,
                label=str(ProductKind(product.kind).label)
                if product.kind in ProductKind.values
                else product.kind,
            ),
        )
        group.offers.append(offer)
    kind_order = {value: i for i, value in enumerate(ProductKind.values)}
    return sorted(groups.values(), key=lambda g: kind_order.get(g.kind, 99))
