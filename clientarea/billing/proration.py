"""Proration of a plan change: what the customer pays, or gets back, for the rest of the period.

Pure arithmetic, no database. The method is the one WHMCS documents for upgrades and
downgrades, and the one the issue asks for:

* the **due date does not move**: the change covers the days from today to the service's next
  due date (``days_remaining``), and from that date on the new plan is billed at its own price
  and cycle;
* **credit** for the unused days at the old price: ``old_price × days_remaining / old_days``,
  where ``old_days`` is the length of the old cycle that ends on the due date (a month of 28,
  30 or 31 days, a year of 365 or 366);
* **charge** for the same days at the new price: ``new_price × days_remaining / new_days``,
  with ``new_days`` the length of the new cycle ending on the due date (a change of cycle uses
  the new cycle's daily price);
* the **difference** ``charge − credit``: positive is an upgrade (the customer pays it),
  negative a downgrade (it becomes credit). Nothing is ever negative on its own: the amount to
  pay is ``max(difference, 0)`` and the credit ``max(−difference, 0)``.

Every figure is before IVA and rounded once to cents, half up (``lib/money.quantize``, the
project's single rounding rule); IVA is added per side at each product's rate by the caller
(``billing.planchanges``), as any order line. Because credit and charge are each rounded, the
change A → B and the change B → A on the same day are exact opposites.

``days_remaining`` is not capped at one cycle: a customer who paid a renewal early has paid up
to the later due date, and those days are credited (and charged) too. It is never negative: on
or after the due date there is nothing left to prorate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from clientarea.lib.dates import add_months
from clientarea.lib.money import ZERO, quantize, tax_for


@dataclass(frozen=True)
class Proration:
    """The two sides of a plan change for the days left until the due date (before IVA)."""

    days_remaining: int
    old_days: int
    new_days: int
    credit: Decimal  # unused days at the old price
    charge: Decimal  # the same days at the new price

    @property
    def difference(self) -> Decimal:
        """``charge − credit``: positive for an upgrade, negative for a downgrade."""
        return self.charge - self.credit

    @property
    def amount_due(self) -> Decimal:
        """What the customer pays now (never negative)."""
        return max(self.difference, ZERO)

    @property
    def credit_due(self) -> Decimal:
        """What the customer gets back as credit (never negative)."""
        return max(-self.difference, ZERO)


def cycle_days(*, due_date: dt.date, months: int, anchor_day: int | None = None) -> int:
    """Days in the cycle of ``months`` months that ends on ``due_date`` (at least 1)."""
    if months <= 0:
        raise ValueError("a recurring cycle has at least one month")
    start = add_months(due_date, -months, anchor_day=anchor_day)
    return max((due_date - start).days, 1)


def prorate(
    *,
    old_price: Decimal,
    old_months: int,
    new_price: Decimal,
    new_months: int,
    due_date: dt.date,
    today: dt.date,
    anchor_day: int | None = None,
) -> Proration:
    """Credit for the old plan's unused days and charge for the new plan's, due date unchanged.

    Prices are per cycle, before IVA, in COP (``Decimal``, not negative). ``old_months`` and
    ``new_months`` are the cycles' lengths (1 monthly … 36 triennial); one-time products have
    no cycle and cannot be prorated (the caller refuses them).
    """
    if old_price < 0 or new_price < 0:
        raise ValueError("prices cannot be negative")
    remaining = max((due_date - today).days, 0)
    old_days = cycle_days(due_date=due_date, months=old_months, anchor_day=anchor_day)
    new_days = cycle_days(due_date=due_date, months=new_months, anchor_day=anchor_day)
    credit = quantize(Decimal(old_price) * remaining / old_days)
    charge = quantize(Decimal(new_price) * remaining / new_days)
    return Proration(
        days_remaining=remaining,
        old_days=old_days,
        new_days=new_days,
        credit=credit,
        charge=charge,
    )


def credit_with_tax(proration: Proration, *, old_rate: Decimal, new_rate: Decimal) -> Decimal:
    """A downgrade's credit as money paid: each side with its own IVA (the old product's on the
    unused days, the new one's on the same days), never negative. Within one paid cycle it is at
    most the old price with its IVA, which is what the customer paid for it."""
    old_side = proration.credit + tax_for(proration.credit, old_rate)
    new_side = proration.charge + tax_for(proration.charge, new_rate)
    return max(old_side - new_side, ZERO)
