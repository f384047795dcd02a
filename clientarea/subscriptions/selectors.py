"""Read queries for a customer's services and for the "order a new service" catalog."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Case, Count, IntegerField, Min, Prefetch, Q, QuerySet, Value, When
from django.http import Http404
from django.utils.translation import gettext as _

from clientarea.catalog.models import BillingCycle, Product, ProductKind, ProductPrice, TaxTreatment
from clientarea.lib.money import tax_for
from clientarea.subscriptions.models import Service, ServiceEvent, ServiceStatus

# Live services first (those that bill), then the ones that ended.
_STATUS_RANK = Case(
    When(status=ServiceStatus.SUSPENDED, then=Value(0)),
    When(status=ServiceStatus.ACTIVE, then=Value(1)),
    When(status=ServiceStatus.PENDING, then=Value(2)),
    default=Value(3), output_field=IntegerField(),
)
LIVE_STATUSES = (ServiceStatus.PENDING, ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED)
CYCLE_ORDER = {value: i for i, value in enumerate(BillingCycle.values)}


def services_for_customer(customer) -> QuerySet[Service]:
    """The customer's services with their product: suspended and active first, by next due date."""
    return (
        Service.objects.filter(customer=customer).select_related("product")
        .annotate(status_rank=_STATUS_RANK).order_by("status_rank", "next_due_date", "id")
    )


def service_for_customer(customer, pk: int) -> Service:
    """One of the customer's services with its product and history, or 404."""
    events = ServiceEvent.objects.order_by("-created_at", "-id")
    service = (
        Service.objects.filter(customer=customer, pk=pk).select_related("product")
        .prefetch_related(Prefetch("events", queryset=events)).first()
    )
    if service is None:
        raise Http404("No such service")
    return service


def dashboard_summary(customer) -> dict:
    """Keys for the dashboard's "Services" card, in one query."""
    row = Service.objects.filter(customer=customer, status__in=LIVE_STATUSES).aggregate(
        count=Count("id"),
        active=Count("id", filter=Q(status=ServiceStatus.ACTIVE)),
        next_due=Min("next_due_date", filter=Q(status__in=(ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED))),
    )
    return {
        "services_count": row["count"] or 0,
        "active_services_count": row["active"] or 0,
        "next_due": row["next_due"],
    }


# --- The catalog a customer can order from --------------------------------------

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


def orderable_catalog(language: str) -> list[OfferGroup]:
    """Active products with at least one price, grouped by kind, with IVA and total per cycle (two queries)."""
    products = Product.objects.filter(active=True).prefetch_related(
        Prefetch("prices", queryset=ProductPrice.objects.all()),
    ).order_by("sort_order", "name")
    groups: dict[str, OfferGroup] = {}
    for product in products:
        prices = sorted(product.prices.all(), key=lambda p: CYCLE_ORDER.get(p.cycle, 99))
        if not prices:
            continue
        rate = product.effective_tax_rate
        offer = Offer(
            product=product, name=product.display_name(language),
            description=(product.description_en if language == "en" and product.description_en else product.description),
            tax_label=_tax_label(product), setup_fee=product.setup_fee, setup_tax=tax_for(product.setup_fee, rate),
        )
        for p in prices:
            tax = tax_for(p.price, rate)
            offer.prices.append(PriceOption(cycle=p.cycle, cycle_label=p.get_cycle_display(), price=p.price, tax=tax, total=p.price + tax))
        group = groups.setdefault(product.kind, OfferGroup(kind=product.kind, label=ProductKind(product.kind).label if product.kind in ProductKind.values else product.kind))
        group.offers.append(offer)
    kind_order = {value: i for i, value in enumerate(ProductKind.values)}
    return sorted(groups.values(), key=lambda g: kind_order.get(g.kind, 99))


# --- Presentation helpers (pure) --------------------------------------------------

def event_reason(reason: str) -> str:
    """Internal reason codes written by the services, in words for the customer."""
    words = {
        "paid": _("payment received"),
        "ordered": _("ordered"),
        "staff": _("by our support team"),
        "overdue": _("overdue payment"),
        "manual": _("by our support team"),
        "imported": _("moved from our previous system"),
    }
    return words.get(reason, reason)
