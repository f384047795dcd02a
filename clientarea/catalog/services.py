"""Staff changes to the catalog that are more than editing a row: switching coupons on or off."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from clientarea.accounts.audit import record
from clientarea.catalog.models import Coupon


@transaction.atomic
def set_coupons_active(*, coupon_ids: Iterable[int], active: bool, actor=None) -> int:
    """Activate or deactivate coupons (audited). Orders that already used one keep their
    discount, and a recurring coupon keeps applying to the services that have it."""
    coupons = list(Coupon.objects.select_for_update().filter(pk__in=list(coupon_ids)))
    changed = [c for c in coupons if c.active != active]
    Coupon.objects.filter(pk__in=[c.pk for c in changed]).update(active=active)
    for coupon in changed:
        record(
            action="coupon.activated" if active else "coupon.deactivated",
            actor=actor,
            target=coupon.code,
            changes={"active": active},
        )
    return len(changed)
