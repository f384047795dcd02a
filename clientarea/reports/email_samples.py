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

from clientarea.accounts.models import Customer, User
from clientarea.billing.models import ItemKind, Order, OrderItem, OrderState
from clientarea.billing.run_emails import attach_items
from clientarea.lib.dates import local_today
from clientarea.notifications.editable import EDITABLE


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
        "link": settings.SITE_URL + "/clientarea/login/link/sample/",
    }
    return {name: values[name] for name in EDITABLE[template].variables}
