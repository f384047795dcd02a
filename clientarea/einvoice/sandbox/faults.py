"""Fault switches: faults the simulator injects into its next answers (tests and demos)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F

from .models import Fault, FaultKind

logger = logging.getLogger(__name__)

TRANSPORT_FAULTS = (
    FaultKind.SLOW, FaultKind.TIMEOUT, FaultKind.HTTP_500, FaultKind.HTTP_503, FaultKind.GARBAGE,
)  # fmt: skip


@transaction.atomic
def arm_fault(
    *, kind: str, seconds: int = 0, rule_code: str = "", rule_text: str = "", times: int = 1
) -> Fault:
    """Inject a fault into the next ``times`` answers (0: until cleared)."""
    if kind not in FaultKind.values:
        raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FaultKind.values)}")
    if kind == FaultKind.REJECT_NEXT and not rule_code:
        rule_code, rule_text = "FAD06", "Valor del CUFE no está calculado correctamente."
    fault = Fault.objects.create(
        kind=kind, seconds=max(0, seconds), rule_code=rule_code, rule_text=rule_text,
        remaining=max(0, times),
    )  # fmt: skip
    logger.info(
        "DIAN simulator: fault %s armed (%s s, rule %s, %s uses)", kind, seconds, rule_code, times
    )
    return fault


@transaction.atomic
def clear_faults() -> int:
    count = Fault.objects.filter(active=True).update(active=False)
    logger.info("DIAN simulator: %s faults cleared", count)
    return count


def armed_kinds() -> frozenset[str]:
    """The kinds of the faults armed now: one read a request passes to each ``take_fault``."""
    return frozenset(Fault.objects.filter(active=True).order_by().values_list("kind", flat=True))


def take_fault(kinds: tuple[str, ...], *, armed: frozenset[str] | None = None) -> Fault | None:
    """Consume one use of the oldest active fault of these kinds.

    ``armed``: what ``armed_kinds()`` read earlier in this request; none of ``kinds`` in it
    answers None without reading again (a fault armed since then applies to the next request).
    """
    if armed is not None and armed.isdisjoint(kinds):
        return None  # the usual case, answered from the request's one read
    if armed is None and not Fault.objects.filter(active=True, kind__in=kinds).exists():
        return None  # the usual case, answered without a lock
    with transaction.atomic():
        return _take(kinds)


def _take(kinds: tuple[str, ...]) -> Fault | None:
    fault = (
        Fault.objects.select_for_update().filter(active=True, kind__in=kinds).order_by("id").first()
    )
    if fault is None:  # another request used it first
        return None
    fault.used = F("used") + 1
    if fault.remaining == 1:
        fault.active = False
    if fault.remaining > 0:
        fault.remaining -= 1
    fault.save(update_fields=["used", "remaining", "active"])
    logger.info("DIAN simulator: fault %s used", fault.kind)
    return fault
