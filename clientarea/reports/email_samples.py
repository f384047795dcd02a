"""Sample data for the email template editor: what the preview shows and validation renders.

Unsaved model instances (nothing is written), shaped like the real contexts of each template
(``billing.services``, ``billing.automation``, ``accounts.services``). The secrets are visibly
fake, and a saved template's preview never shows a real customer.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from clientarea.accounts.models import Customer, User
from clientarea.billing.models import ItemKind, Order, OrderItem, OrderState
from clientarea.billing.run_emails import attach_items
from clientarea.catalog.models import Product
from clientarea.einvoice.models import DocumentKind, Invoice
from clientarea.lib.dates import local_today
from clientarea.notifications.editable import EDITABLE
from clientarea.subscriptions.models import (
    CancellationReason,
    CancellationRequest,
    CancellationWhen,
    PlanChange,
    PlanChangeDirection,
    PlanChangeStatus,
    Service,
    ServiceStatus,
)
from clientarea.withholdings.models import (
    AgentStatus,
    CertificatePeriod,
    CertificateStatus,
    WithholdingAgent,
    WithholdingCertificate,
)


def sample_context(template: str) -> dict[str, Any]:
    """The sample values of ``template``'s variables (exactly the variables it has)."""
    today = local_today()
    user = User(email="ana.gomez@example.com", full_name="Ana Gómez")
    customer = Customer(
        user=user,
        person_type="natural",
        document_type="13",
        document_number="1020304050",
        first_name="Ana",
        last_name="Gómez",
        phone="3001234567",
        address="Carrera 7 # 12-34",
        municipality_code="11001",
        preferred_language="es-co",
    )
    order = Order(
        pk=-1,
        number="ODS-000123",
        customer=customer,
        state=OrderState.PENDING,
        issue_date=today,
        due_date=today + dt.timedelta(days=7),
        subtotal=Decimal("45990.00"),
        tax_total=Decimal("8738.10"),
        rounding=Decimal("-0.10"),
        total=Decimal("54728.00"),
    )
    item = OrderItem(
        pk=-2,
        order=order,
        kind=ItemKind.RENEWAL,
        description="Hosting Pyme · ejemplo.co",
        period_start=today + dt.timedelta(days=7),
        period_end=today + dt.timedelta(days=37),
        quantity=Decimal("1.00"),
        unit_price=Decimal("45990.00"),
        tax_treatment="taxed",
        tax_rate=Decimal("19.00"),
        subtotal=Decimal("45990.00"),
        tax_amount=Decimal("8738.10"),
        total=Decimal("54728.10"),
    )
    order_url = settings.SITE_URL + reverse("billing:order", kwargs={"number": order.number})
    service = Service(
        pk=-3,
        customer=customer,
        product=Product(code="hosting-pyme", name="Hosting Pyme", kind="hosting"),
        cycle="monthly",
        price=Decimal("45990.00"),
        label="ejemplo.co",
        status=ServiceStatus.ACTIVE,
        start_date=today,
        next_due_date=today + dt.timedelta(days=30),
    )
    invoice = Invoice(
        pk=-4,
        kind=DocumentKind.INVOICE,
        full_number="SETP990000123",
        cufe="ejemplo" + "0" * 89,
        customer=customer,
        order=order,
        total=order.total,
        issued_at=timezone.now(),
        paid_at=timezone.now(),
    )
    note = Invoice(
        pk=-5,
        kind=DocumentKind.CREDIT_NOTE,
        full_number="NC12",
        cufe="ejemplo" + "1" * 89,
        customer=customer,
        reference=invoice,
        concept="1",
        reason="Servicio no prestado durante tres días",
        total=Decimal("11900.00"),
        issued_at=timezone.now(),
        paid_at=timezone.now(),
    )
    values: dict[str, Any] = {
        "order": attach_items(order, [item]),
        "customer": customer,
        "pay_url": order_url,
        "order_url": order_url,
        "reason": "Solicitud del cliente" if template == "order_cancelled" else "registered",
        "days_left": 5,
        "days_overdue": 3,
        "notice_number": 1,
        "notice_total": 3,
        "suspended": False,
        "has_services": True,
        "suspend_date": today + dt.timedelta(days=12),
        "terminate_date": today + dt.timedelta(days=37),
        "login_url": settings.SITE_URL + reverse("accounts:login"),
        "login_email": customer.user.email,
        "code": "EJEM-PLOC-ODIG-OX",
        "hours": 1,
        "minutes": 60,
        "link": settings.SITE_URL + "/clientarea/login/link/sample/",
        # the account
        "amount": Decimal("109456.00"),
        "reference": "payu:ejemplo-123",
        "orders": [order, Order(number="ODS-000124", customer=customer, total=order.total)],
        "orders_url": settings.SITE_URL + reverse("billing:orders"),
        "took": Decimal("30000.00"),
        "left": Decimal("24728.00"),
        "paid": Decimal("45728.00"),  # order_paid: money, credit and withholdings settled it
        "credit_applied": Decimal("9000.00"),
        "to_pay": Decimal("45728.00"),  # order_created: what the credit left to pay
        "withheld": Decimal("0.00"),
        "credited": Decimal("20000.00"),  # credit_added; order_paid: an overpayment's rest
        "not_withheld": False,  # order_paid: an agent paid the total without withholding
        "bills_services": True,  # order(s)_paid: the orders activate or renew a service
        "credit": Decimal("20000.00"),
        "auto_apply": True,
        # invoices and notes
        "invoice": invoice,
        "note": note,
        "invoices_url": settings.SITE_URL + "/clientarea/invoices/",
        "due": True,  # a debit note still owed on the account
        "note_credited": True,  # a staff credit note added to the customer's credit
        "statement_url": settings.SITE_URL + reverse("billing:statement"),
        # services
        "service": service,
        "product_name": "Hosting Pyme",  # the service's product in the customer's language
        "service_url": settings.SITE_URL + reverse("subscriptions:detail", args=[1]),
        "action": "suspend",
        "days": 5,
        "services": [{"name": "Hosting Pyme", "label": "ejemplo.co"}],
        "request": CancellationRequest(
            service=service,
            when=CancellationWhen.END_OF_PERIOD,
            reason=CancellationReason.NO_LONGER_NEEDED,
            comment="",
            effective_date=today + dt.timedelta(days=30),
        ),
        # withholdings
        "agent": WithholdingAgent(customer=customer, status=AgentStatus.APPROVED),
        "certificate": WithholdingCertificate(
            customer=customer,
            kind="06",
            year=today.year,
            period_type=CertificatePeriod.MONTH,
            period_number=today.month,
            status=CertificateStatus.ACCEPTED,
        ),
        # plan changes
        "change": PlanChange(
            service=service,
            direction=PlanChangeDirection.UPGRADE,
            status=PlanChangeStatus.APPLIED,
            from_cycle="monthly",
            from_price=Decimal("45990.00"),
            to_cycle="annual",
            to_price=Decimal("480000.00"),
            amount=Decimal("0.00"),
            effective_date=today + dt.timedelta(days=30),
        ),
        "old_name": "Hosting Pyme",
        "new_name": "Hosting Empresarial",
        # refunds
        "refund": None,
        "gateway": "PayU Latam",
        "through_gateway": True,
        "bank_reference": "",
        "from_credit": Decimal("0.00"),
        "notes": ["NC12"],
        "notes_pending": False,
        "services_action": "shorten",
        "billing_url": settings.SITE_URL + reverse("billing:orders"),
        # registration
        "name": "Ana Gómez",
        "forgot_url": settings.SITE_URL + reverse("accounts:forgot"),
    }
    if "due" in EDITABLE[template].variables and "note" not in EDITABLE[template].variables:
        # The billing run's reminders and notices: what Pay now charges (after a partial
        # payment of 9.000); a note's email has its own "due" (still owed or not).
        values["due"] = order.total - Decimal("9000.00")
    if template == "service_status_changed":
        values["reason"] = "Mantenimiento del servidor"
    elif template == "registration_attempt":
        values["reason"] = "email"
    elif template == "refund_issued":
        values["orders"] = ["ODS-000123"]
    return {name: values[name] for name in EDITABLE[template].variables}
