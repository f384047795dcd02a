"""Staff orders with free lines (a sale by phone, a migration, extra work): checked, then made
by ``create_orders`` like every other order.

Kept apart from ``services.py`` (already long); it only adds the checks and the audit entry
around ``services.create_orders``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from clientarea.accounts import audit
from clientarea.accounts.models import Customer, User
from clientarea.billing.event_texts import EventText
from clientarea.billing.models import ItemKind, Order
from clientarea.billing.services import LineSpec, OrderSpec, OrderStateError, create_orders
from clientarea.catalog.models import TaxTreatment
from clientarea.lib.dates import local_today
from clientarea.lib.money import format_cop
from clientarea.subscriptions.models import Service

#: IVA choices of a free line: a rate (taxed), exempt (0 %, still reported) or excluded.
IVA_RATES = {"19": Decimal("19.00"), "5": Decimal("5.00")}
IVA_EXEMPT = "exempt"
IVA_EXCLUDED = "excluded"
#: Above these, a line is a typo rather than a sale (COP before IVA; units).
MAX_LINE_SUBTOTAL = Decimal("200000000")
MAX_QUANTITY = Decimal("1000")
MAX_LINES = 20
MAX_DUE_DAYS = 366


@dataclass(frozen=True)
class CustomLine:
    description: str
    quantity: Decimal
    unit_price: Decimal
    iva: str  # "19" | "5" | "exempt" | "excluded"
    service: Service | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None


def line_errors(line: CustomLine, *, customer: Customer) -> list[str]:
    """Why this line cannot be billed (empty: it can)."""
    errors = []
    if not line.description.strip():
        errors.append(_("Describe what the line bills."))
    if line.quantity <= 0 or line.quantity > MAX_QUANTITY:
        errors.append(
            _("The quantity must be greater than 0 and at most %(max)s.") % {"max": MAX_QUANTITY}
        )
    if line.unit_price <= 0:
        errors.append(_("The unit price must be greater than zero."))
    elif line.quantity > 0 and line.quantity * line.unit_price > MAX_LINE_SUBTOTAL:
        errors.append(
            _("A line may bill at most %(max)s before IVA.")
            % {"max": format_cop(MAX_LINE_SUBTOTAL)}
        )
    if line.iva not in (*IVA_RATES, IVA_EXEMPT, IVA_EXCLUDED):
        errors.append(_("Choose the IVA of the line."))
    if line.service is not None and line.service.customer_id != customer.pk:
        errors.append(_("That service belongs to another customer."))
    if (line.period_start is None) != (line.period_end is None):
        errors.append(_("Give both dates of the period, or neither."))
    elif line.period_start and line.period_end and line.period_end <= line.period_start:
        errors.append(_("The period must end after it starts."))
    if line.period_start and line.service is None:
        errors.append(_("A period belongs to a service: choose the service."))
    return errors


def _line_spec(line: CustomLine) -> LineSpec:
    if line.iva in IVA_RATES:
        treatment, rate = TaxTreatment.TAXED, IVA_RATES[line.iva]
    else:
        treatment = TaxTreatment.EXEMPT if line.iva == IVA_EXEMPT else TaxTreatment.EXCLUDED
        rate = Decimal("0.00")
    return LineSpec(
        # A line for a service period renews that service when the order is paid.
        kind=ItemKind.RENEWAL if line.service and line.period_start else ItemKind.OTHER,
        description=line.description.strip()[:300],
        unit_price=line.unit_price,
        quantity=line.quantity,
        tax_treatment=treatment,
        tax_rate=rate,
        service=line.service,
        period_start=line.period_start,
        period_end=line.period_end,
    )


@transaction.atomic
def create_custom_order(
    *,
    customer: Customer,
    lines: Sequence[CustomLine],
    due_date: dt.date,
    actor: User,
    note: str = "",
    notify: bool = True,
) -> Order:
    """A pending order with staff's free lines, the "order created" email and an audit entry.

    Raises OrderStateError with every reason it is refused; nothing is written then.
    """
    if not lines:
        raise OrderStateError(_("Add at least one line."))
    if len(lines) > MAX_LINES:
        raise OrderStateError(_("An order has at most %(max)d lines.") % {"max": MAX_LINES})
    problems = [
        _("Line %(n)d: %(error)s") % {"n": n, "error": error}
        for n, line in enumerate(lines, start=1)
        for error in line_errors(line, customer=customer)
    ]
    today = local_today()
    if due_date < today:
        problems.append(_("The due date cannot be in the past."))
    elif due_date > today + dt.timedelta(days=MAX_DUE_DAYS):
        problems.append(_("The due date is more than a year away."))
    if problems:
        raise OrderStateError(" ".join(problems))
    try:
        with transaction.atomic():  # a savepoint: a billed period leaves nothing behind
            (order,) = create_orders(
                specs=[
                    OrderSpec(
                        customer=customer,
                        lines=[_line_spec(line) for line in lines],
                        issue_date=today,
                        due_date=due_date,
                        reason=note.strip()[:500] or EventText("custom_order"),
                        actor=actor,
                    )
                ],
                notify=notify,
            )
    except IntegrityError as exc:
        raise OrderStateError(
            _("A service period on this order is already billed by another live order.")
        ) from exc
    audit.record(
        action="order.created_by_staff",
        actor=actor,
        customer=customer,
        target=order.number,
        changes={"lines": len(lines), "total": str(order.total), "note": note.strip()[:200]},
    )
    return order
