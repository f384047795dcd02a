"""Demo services: the ones the demo customers already had (imported, active). Idempotent.

Suspended and pending-activation services come from the billing demo, because
they are the effect of orders (an overdue renewal, an unpaid new-service order).
"""

from __future__ import annotations

import datetime as dt

from clientarea.accounts.models import Customer
from clientarea.catalog.models import CYCLE_MONTHS, Option, OptionKind, Product
from clientarea.lib.dates import add_months, local_today
from clientarea.lib.text import fold
from clientarea.subscriptions import services
from clientarea.subscriptions.event_texts import ServiceText
from clientarea.subscriptions.models import Service, ServiceEventKind, ServiceOption

# (customer email, product code, cycle, label, days from today to the next due date)
DEMO_SERVICES = (
    ("ana@cliente.example", "hosting-pyme", "monthly", "restrepogomez.co", 6),
    ("ana@cliente.example", "dominio-co", "annual", "restrepogomez.co", -20),
    ("ana@cliente.example", "hosting-basico", "monthly", "fotografia-ana.com", -12),
    ("compras@tiendaandina.example", "hosting-empresarial", "annual", "tiendaandina.com.co", 40),
    ("compras@tiendaandina.example", "dominio-com-co", "annual", "tiendaandina.com.co", 40),
    ("compras@tiendaandina.example", "correo-corporativo", "monthly", "tiendaandina.com.co", 9),
    ("compras@tiendaandina.example", "vps-2-4", "quarterly", "app.tiendaandina.com.co", 60),
    ("jorge@cliente.example", "hosting-basico", "monthly", "panaderiaelsol.com", -8),
    ("jorge@cliente.example", "dominio-com", "annual", "panaderiaelsol.com", 150),
)

# The options a demo service was bought with: (product code, label) -> (group, option, quantity),
# names as in the catalog demo. The company's VPS is what "Change options" is shown on (help
# screenshots); its due date is after the company's hosting, which the plan flow uses.
DEMO_SERVICE_OPTIONS = {
    ("vps-2-4", "app.tiendaandina.com.co"): (
        ("Disco adicional (GB)", "GB NVMe", 40),
        ("Panel de control", "cPanel", 1),
    ),
}


def import_active_service(
    *,
    customer: Customer,
    product: Product,
    cycle: str,
    label: str,
    next_due: dt.date,
    options: tuple[tuple[str, str, int], ...] = (),
) -> Service:
    """A service brought over from the previous system: active, its current period ending on ``next_due``,
    with ``options`` (group name, option name, quantity) at today's catalog prices for its cycle."""
    price = product.prices.get(cycle=cycle).price
    service = Service.objects.create(
        customer=customer,
        product=product,
        cycle=cycle,
        price=price,
        label=label,
        search_label=fold(label),
    )
    for group_name, option_name, quantity in options:
        option = Option.objects.select_related("group").get(
            group__product=product, group__name=group_name, name=option_name
        )
        ServiceOption.objects.create(
            service=service,
            option=option,
            quantity=quantity,
            price=option.prices.get(cycle=cycle).price,
            description=(
                f"{option.group.name}: {option.name}"
                if option.group.kind == OptionKind.CHOICE
                else option.group.name
            ),
        )
    services.record_event(service, kind=ServiceEventKind.CREATED, reason=ServiceText("imported"))
    months = CYCLE_MONTHS[cycle]
    if months is None:
        raise ValueError(f"a one-time product has no period to import ({product.code})")
    start = add_months(next_due, -months)
    services.activate_service(service=service, start=start)
    return service


def load(stdout) -> None:
    today = local_today()
    created = 0
    for email, code, cycle, label, due_in in DEMO_SERVICES:
        customer = Customer.objects.filter(user__email=email).first()
        product = Product.objects.filter(code=code).first()
        if customer is None or product is None:
            continue
        if Service.objects.filter(customer=customer, product=product, label=label).exists():
            continue
        import_active_service(
            customer=customer,
            product=product,
            cycle=cycle,
            label=label,
            next_due=today + dt.timedelta(days=due_in),
            options=DEMO_SERVICE_OPTIONS.get((code, label), ()),
        )
        created += 1
    if created:
        stdout.write(f"  services: {created} active services")
