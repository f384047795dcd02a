"""Demo service orders, made through the billing services so their effects are real. Idempotent.

ana@cliente.example gets every state at once (the Billing page shows red, green and grey):
  - a paid domain renewal (paid by bank transfer, registered by staff: the domain renewed),
  - a pending renewal of her hosting, due in a few days,
  - an overdue renewal of a second hosting, whose service is suspended for it,
  - a pending new-service order (an SSL certificate waiting for payment),
  - a cancelled new-service order (a VPS she changed her mind about).
Tienda Andina (a withholding agent) has a pending renewal, a new service ordered and paid today
(net of its withholdings) and a pending migration order that shows its withholdings and net;
Jorge has an overdue renewal and a suspended hosting.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from clientarea.accounts.models import Customer, User
from clientarea.billing import descriptions, services
from clientarea.billing.event_texts import EventText
from clientarea.billing.models import ItemKind, Order, OrderState
from clientarea.catalog.models import Product
from clientarea.lib.dates import local_today
from clientarea.subscriptions import services as subscription_services
from clientarea.subscriptions.models import Service, ServiceStatus, SuspensionReason


def renewal_order(*, service: Service, issue_date: dt.date, actor=None) -> Order:
    """The order a billing run would issue for the service's next period (due on its due date)."""
    start = service.next_due_date
    if start is None:
        raise ValueError(f"service {service.pk} has no next due date to renew")
    line = services.LineSpec(
        kind=ItemKind.RENEWAL,
        description=descriptions.texts_for(service.customer).renewal_for(
            product=service.product, label=service.label
        ),
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
        issue_date=issue_date,
        due_date=start,
        actor=actor,
        reason=EventText("renewal"),
    )


def _service(customer: Customer, code: str, label: str) -> Service | None:
    return (
        Service.objects.select_related("product", "customer__user")
        .filter(customer=customer, product__code=code, label=label)
        .first()
    )


def _overdue_and_suspended(service: Service | None, *, today: dt.date, staff) -> None:
    if service is None or service.status != ServiceStatus.ACTIVE or service.next_due_date is None:
        return
    due = service.next_due_date
    renewal_order(
        service=service,
        issue_date=due - dt.timedelta(days=settings.BILLING_RENEWAL_DAYS_BEFORE),
    )
    if (today - due).days >= settings.BILLING_SUSPEND_AFTER_DAYS:
        subscription_services.suspend_service(service=service, reason=SuspensionReason.OVERDUE)


def _ana(customer: Customer, *, today: dt.date, staff) -> None:
    domain = _service(customer, "dominio-co", "restrepogomez.co")
    if (
        domain is not None
        and domain.status == ServiceStatus.ACTIVE
        and domain.next_due_date is not None
    ):
        paid = renewal_order(
            service=domain, issue_date=domain.next_due_date - dt.timedelta(days=15)
        )
        services.mark_order_paid(
            order_id=paid.pk,
            # Paid now: the statement dates the order's charge when it is created (now), so
            # a payment dated before it would read as money received before anything was owed.
            paid_at=timezone.now(),
            via="manual",
            method="transfer",
            reference="Transferencia Bancolombia 20431877",
            actor=staff,
        )
    _overdue_and_suspended(
        _service(customer, "hosting-basico", "fotografia-ana.com"), today=today, staff=staff
    )
    hosting = _service(customer, "hosting-pyme", "restrepogomez.co")
    if hosting is not None:
        renewal_order(service=hosting, issue_date=today - dt.timedelta(days=9))
    vps = Product.objects.filter(code="vps-2-4", active=True).first()
    if vps is not None:
        order = services.order_new_service(
            customer=customer,
            product=vps,
            cycle="monthly",
            label="srv1.restrepogomez.co",
            actor=customer.user,
        )
        services.cancel_order(
            order=order, reason="La clienta prefirió cambiar a Hosting Empresarial.", actor=staff
        )
    ssl = Product.objects.filter(code="ssl-dv", active=True).first()
    if ssl is not None:
        services.order_new_service(
            customer=customer,
            product=ssl,
            cycle="annual",
            label="restrepogomez.co",
            actor=customer.user,
        )


def _tienda(customer: Customer, *, today: dt.date, staff) -> None:
    email = _service(customer, "correo-corporativo", "tiendaandina.com.co")
    if email is not None:
        renewal_order(service=email, issue_date=today - dt.timedelta(days=6))
    ssl = Product.objects.filter(code="ssl-dv", active=True).first()
    if ssl is not None:
        # Paid by transfer in the payments demo (``payments.demo``): staff register it there, so
        # it is kept as a payment that can be refunded.
        services.order_new_service(
            customer=customer,
            product=ssl,
            cycle="annual",
            label="tiendaandina.com.co",
            actor=customer.user,
        )
    # A withholding agent (withholdings demo): this order shows its withholdings and the net to pay.
    services.create_manual_order(
        customer=customer,
        description="Migración de la tienda en línea a Hosting Empresarial",
        unit_price=Decimal("850000"),
        reason="Cotización aprobada COT-2026-118",
        actor=staff,
        notify=False,
    )


def _jorge(customer: Customer, *, today: dt.date, staff) -> None:
    _overdue_and_suspended(
        _service(customer, "hosting-basico", "panaderiaelsol.com"), today=today, staff=staff
    )


SCENARIOS = (
    ("ana@cliente.example", _ana),
    ("compras@tiendaandina.example", _tienda),
    ("jorge@cliente.example", _jorge),
)


def load(stdout) -> None:
    today = local_today()
    staff = User.objects.filter(email="soporte@conexcol.example").first()
    for email, scenario in SCENARIOS:
        customer = Customer.objects.select_related("user").filter(user__email=email).first()
        if customer is None or Order.objects.filter(customer=customer).exists():
            continue  # not there, or already loaded
        scenario(customer, today=today, staff=staff)
        states = {
            s: Order.objects.filter(customer=customer, state=s).count() for s in OrderState.values
        }
        stdout.write(
            f"  orders for {email}: " + ", ".join(f"{n} {s}" for s, n in states.items() if n)
        )
