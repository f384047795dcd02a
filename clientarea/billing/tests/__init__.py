"""Factories shared by the billing, subscriptions and catalog tests: products, active services, orders."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from clientarea.billing import services
from clientarea.billing.models import ItemKind, Order
from clientarea.catalog.models import Product, ProductKind
from clientarea.subscriptions import services as subscription_services
from clientarea.subscriptions.event_texts import ServiceText
from clientarea.subscriptions.models import Service


def make_product(
    code: str = "hosting-pyme",
    *,
    kind: str = ProductKind.HOSTING,
    name: str | None = None,
    prices: dict[str, str] | None = None,
    tax_treatment: str = "taxed",
    tax_rate: str = "19.00",
    setup_fee: str = "0",
    active: bool = True,
) -> Product:
    product, _ = Product.objects.get_or_create(
        code=code,
        defaults=dict(
            kind=kind,
            name=name or code.replace("-", " ").title(),
            tax_treatment=tax_treatment,
            tax_rate=Decimal(tax_rate),
            setup_fee=Decimal(setup_fee),
            active=active,
        ),
    )
    for cycle, price in (prices or {"monthly": "29000", "annual": "300000"}).items():
        product.prices.get_or_create(cycle=cycle, defaults={"price": Decimal(price)})
    return product


def make_active_service(
    customer,
    product: Product,
    *,
    cycle: str = "monthly",
    label: str = "example.co",
    start: dt.date = dt.date(2026, 1, 15),
) -> Service:
    service = Service.objects.create(
        customer=customer,
        product=product,
        cycle=cycle,
        price=product.prices.get(cycle=cycle).price,
        label=label,
    )
    subscription_services.record_event(service, kind="created", reason=ServiceText("ordered"))
    return subscription_services.activate_service(service=service, start=start)


def make_renewal_order(
    service: Service,
    *,
    issue_date: dt.date | None = None,
    due_date: dt.date | None = None,
    notify: bool = False,
) -> Order:
    start = service.next_due_date
    assert start is not None, "a renewal order bills the period from the service's next due date"
    line = services.LineSpec(
        kind=ItemKind.RENEWAL,
        description=f"{service.product.name} · {service.label}",
        unit_price=service.price,
        tax_treatment=service.product.tax_treatment,
        tax_rate=service.product.effective_tax_rate,
        service=service,
        period_start=start,
        period_end=subscription_services.next_due_after(service=service, due=start),
    )
    return services.create_order(
        customer=service.customer,
        lines=[line],
        issue_date=issue_date or start - dt.timedelta(days=15),
        due_date=due_date or start,
        notify=notify,
    )


def make_order(
    customer,
    *,
    lines: int = 1,
    price: str = "100000",
    issue_date: dt.date | None = None,
    due_date: dt.date | None = None,
) -> Order:
    """A pending order with ``lines`` plain items (no service)."""
    specs = [
        services.LineSpec(kind=ItemKind.OTHER, description=f"Item {i}", unit_price=Decimal(price))
        for i in range(1, lines + 1)
    ]
    return services.create_order(
        customer=customer, lines=specs, issue_date=issue_date, due_date=due_date, notify=False
    )


def aware(y: int, m: int, d: int, h: int = 12) -> dt.datetime:
    """A datetime in Bogotá time."""
    from clientarea.lib.dates import BOGOTA

    return dt.datetime(y, m, d, h, tzinfo=BOGOTA)
