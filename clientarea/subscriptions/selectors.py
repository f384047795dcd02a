"""Read queries for a customer's services (the catalog to order from is in catalog.selectors)."""

from __future__ import annotations

from django.db.models import Case, Count, IntegerField, Min, Prefetch, Q, QuerySet, Value, When
from django.http import Http404
from django.utils import translation

from clientarea.subscriptions import event_texts
from clientarea.subscriptions.models import (
    CancellationRequest,
    CancellationStatus,
    Service,
    ServiceEvent,
    ServiceStatus,
)

# Live services first (those that bill), then the ones that ended.
_STATUS_RANK = Case(
    When(status=ServiceStatus.SUSPENDED, then=Value(0)),
    When(status=ServiceStatus.ACTIVE, then=Value(1)),
    When(status=ServiceStatus.PENDING, then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)
LIVE_STATUSES = (ServiceStatus.PENDING, ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED)


def services_for_customer(customer) -> QuerySet[Service]:
    """The customer's services with their product: suspended and active first, by next due date."""
    return (
        Service.objects.filter(customer=customer)
        .select_related("product")
        .annotate(status_rank=_STATUS_RANK)
        .order_by("status_rank", "next_due_date", "id")
    )


def service_for_customer(customer, pk: int) -> Service:
    """One of the customer's services with its product and history, or 404."""
    events = ServiceEvent.objects.order_by("-created_at", "-id")
    service = (
        Service.objects.filter(customer=customer, pk=pk)
        .select_related("product", "coupon")
        .prefetch_related(Prefetch("events", queryset=events), "options")
        .first()
    )
    if service is None:
        raise Http404("No such service")
    return service


def dashboard_summary(customer) -> dict:
    """Keys for the dashboard's "Services" card, in one query."""
    row = Service.objects.filter(customer=customer, status__in=LIVE_STATUSES).aggregate(
        count=Count("id"),
        active=Count("id", filter=Q(status=ServiceStatus.ACTIVE)),
        next_due=Min(
            "next_due_date", filter=Q(status__in=(ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED))
        ),
    )
    return {
        "services_count": row["count"] or 0,
        "active_services_count": row["active"] or 0,
        "next_due": row["next_due"],
    }


# --- Presentation helpers (pure) --------------------------------------------------


#: The values of a plan or billing-cycle change that name a product (its name as saved then).
PRODUCT_VALUES = ("plan", "old_plan", "new_plan")


def event_reason(event: ServiceEvent) -> str:
    """Why the service changed, in the active language: its code's words, otherwise its stored
    sentence (typed by a person, or a row recorded before the codes). A plan or billing-cycle
    change names products as saved (their Spanish name): the one that is the service's product
    now reads in the reader's language (``Product.name_en`` for an English reader); another
    product is shown as saved."""
    values = event.reason_values
    if event.reason_code in ("plan_changed", "cycle_changed") and isinstance(values, dict):
        product = event.service.product
        name = product.display_name(translation.get_language() or "")
        if name != product.name:
            values = {
                key: name if key in PRODUCT_VALUES and value == product.name else value
                for key, value in values.items()
            }
    return event_texts.describe(event.reason_code, values, fallback=event.reason)


def status_label(status: str) -> str:
    """A status stored on a history row (``from_status``, ``to_status``), in the reader's words."""
    return str(dict(ServiceStatus.choices).get(status, status))


def pending_cancellation(service: Service) -> CancellationRequest | None:
    """The service's pending cancellation request, if the customer asked for one."""
    return CancellationRequest.objects.filter(
        service=service, status=CancellationStatus.PENDING
    ).first()
