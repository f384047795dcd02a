"""The withholdings of one order: a pure function of its amounts, the rules and the year's UVT.

Rules (shared/docs/dian-webservice.md §6.1):
- ReteFuente: ``rate`` % of the value before IVA (the order's subtotal);
- ReteIVA: ``rate`` % of the IVA (15 % of the IVA is 2.85 % of a base taxed at 19 %);
- ReteICA: ``rate`` per mil of the value before IVA.

Each applies only when the value before IVA reaches the rule's minimum base, ``min_base_uvt``
× the UVT of the order's year (2 UVT of 2026 = 2 × 52.374 = 104.748 pesos for ReteFuente on
services).

Rounding: each withholding is rounded once, to whole pesos (half up), because it is paid to
the tax office in pesos and the order's total is whole pesos already, so the net to pay is
whole pesos too (Payvalida and cash networks take nothing else). The net is the total minus
the withholdings; the invoice keeps the full total.

Worked example: a service of 1.000.000 + IVA 19 % 190.000 = 1.190.000, from a customer in
Bogotá that applies ReteFuente 4 %, ReteIVA 15 % and ReteICA 9,66 ‰: ReteFuente 40.000,
ReteIVA 28.500, ReteICA 9.660; net to pay 1.190.000 − 78.160 = 1.111.840.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from clientarea.lib.money import ZERO, quantize

RETEIVA, RETEFUENTE, RETEICA = "05", "06", "07"  # DIAN TipoImpuesto-2.1
KINDS = (RETEFUENTE, RETEIVA, RETEICA)  # the order they are shown and written in
NAMES = {RETEIVA: "ReteIVA", RETEFUENTE: "ReteFuente", RETEICA: "ReteICA"}


class MissingUvt(ValueError):
    """A rule has a minimum base in UVT and the order's year has no UVT value."""


@dataclass(frozen=True, kw_only=True)
class RuleData:
    kind: str  # "05", "06" or "07"
    rate: Decimal  # % (ReteFuente, ReteIVA) or ‰ (ReteICA)
    min_base_uvt: Decimal = ZERO

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown withholding kind {self.kind!r}")
        if not isinstance(self.rate, Decimal) or not isinstance(self.min_base_uvt, Decimal):
            raise TypeError("rate and min_base_uvt must be Decimal")
        if self.rate <= 0 or self.min_base_uvt < 0:
            raise ValueError("a rate must be positive and a minimum base not negative")


@dataclass(frozen=True, kw_only=True)
class Withheld:
    kind: str
    base: Decimal
    rate: Decimal
    amount: Decimal

    @property
    def name(self) -> str:
        return NAMES[self.kind]

    @property
    def per_mil(self) -> bool:
        return self.kind == RETEICA

    @property
    def percent(self) -> Decimal:
        """The rate as a percent of its base (ReteICA's per mil / 10), as UBL's ``Percent``."""
        return self.rate / 10 if self.per_mil else self.rate


@dataclass(frozen=True, kw_only=True)
class OrderWithholdings:
    total: Decimal
    lines: tuple[Withheld, ...] = ()

    @property
    def withheld(self) -> Decimal:
        return quantize(sum((line.amount for line in self.lines), ZERO))

    @property
    def net(self) -> Decimal:
        return quantize(self.total - self.withheld)

    def __bool__(self) -> bool:
        return bool(self.lines)


def whole_pesos(amount: Decimal) -> Decimal:
    return quantize(amount.quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def compute_withholdings(
    *,
    subtotal: Decimal,
    iva: Decimal,
    total: Decimal,
    rules: Sequence[RuleData],
    uvt: Decimal | None,
) -> OrderWithholdings:
    """The withholdings of an order worth ``subtotal`` before IVA, ``iva`` and ``total`` to pay.

    ``rules`` are the ones the customer applies (at most one per kind). Raises
    :class:`MissingUvt` when a rule has a minimum base and ``uvt`` is None.
    """
    for name, value in (("subtotal", subtotal), ("iva", iva), ("total", total)):
        if not isinstance(value, Decimal):
            raise TypeError(f"{name} must be a Decimal")
        if value < 0:
            raise ValueError(f"{name} must not be negative")
    by_kind = {rule.kind: rule for rule in rules}
    if len(by_kind) != len(rules):
        raise ValueError("at most one rule per withholding kind")
    lines: list[Withheld] = []
    for kind in KINDS:
        rule = by_kind.get(kind)
        if rule is None:
            continue
        if rule.min_base_uvt > 0:
            if uvt is None:
                raise MissingUvt("no UVT value for the order's year")
            if subtotal < quantize(rule.min_base_uvt * uvt):
                continue
        base = quantize(iva if kind == RETEIVA else subtotal)
        divisor = Decimal(1000) if kind == RETEICA else Decimal(100)
        amount = whole_pesos(base * rule.rate / divisor)
        if amount > 0:
            lines.append(Withheld(kind=kind, base=base, rate=rule.rate, amount=amount))
    result = OrderWithholdings(total=quantize(total), lines=tuple(lines))
    if result.net < 0:
        raise ValueError("withholdings exceed the order's total")
    return result


# -- credit notes on an order an agent paid net ---------------------------------------------
#
# A credit note (annulment, partial return, price correction, plan change, refund) on the invoice
# of an order a withholding agent paid net does not give back what the agent withheld: that went
# to DIAN, and the agent recovers it from its own next withholding return (DUR 1625/2016 art.
# 1.2.4.17: on annulment, rescission or return, the agent deducts what it withheld). So what we
# owe the customer for a note is the note's total minus the withholdings that correspond to the
# credited part. That part is proportional to the gross credited (IVA included), over the
# order's total, and rounded to whole pesos (half up) on the running total of what was credited,
# so that the notes of one order, added up, give back exactly what was withheld (never more).


def withheld_share(
    *, withheld: Decimal, total: Decimal, credited_before: Decimal, credited: Decimal
) -> Decimal:
    """The part of ``withheld`` (what the agent withheld from an order worth ``total``) that a
    note crediting ``credited`` (IVA included) corresponds to, after ``credited_before`` was
    credited by earlier notes. Whole pesos, never negative, never more than ``credited``.

    Worked example: 1.190.000 withheld 78.160; a note of 595.000 → 39.080 (credit 555.920); a
    second one of 595.000 → 39.080; an annulment of the whole → 78.160 (credit 1.111.840)."""
    for name, value in (
        ("withheld", withheld),
        ("total", total),
        ("credited_before", credited_before),
        ("credited", credited),
    ):
        if not isinstance(value, Decimal):
            raise TypeError(f"{name} must be a Decimal")
    if withheld <= 0 or total <= 0 or credited <= 0:
        return ZERO

    def upto(amount: Decimal) -> Decimal:
        ratio = min(max(amount, ZERO) / total, Decimal(1))
        return whole_pesos(withheld * ratio)

    share = upto(credited_before + credited) - upto(credited_before)
    return quantize(min(max(share, ZERO), credited))


def gross_for_net(
    *, withheld: Decimal, total: Decimal, credited_before: Decimal, net: Decimal
) -> Decimal:
    """The gross (IVA included) a credit note must credit so that what goes back to the customer
    in money is ``net``: ``net`` plus the withholdings of that part (:func:`withheld_share`).
    Money of an agent's order is the net it paid, so refunding all of what is left of it credits
    all that is left of the order (an annulment, when nothing was credited before)."""
    net = quantize(net)
    if net <= 0 or withheld <= 0 or total <= withheld:
        return net
    left = max(quantize(total - credited_before), ZERO)
    left_net = left - withheld_share(
        withheld=withheld, total=total, credited_before=credited_before, credited=left
    )
    if net >= left_net:
        return left
    gross = quantize(net * total / (total - withheld))
    for _attempt in range(5):  # a fixed point of gross = net + share(gross), in whole pesos
        share = withheld_share(
            withheld=withheld, total=total, credited_before=credited_before, credited=gross
        )
        if net + share == gross:
            break
        gross = net + share
    return min(gross, left)


def spread_reversal(
    *, withheld: Mapping[str, Decimal], reversed_before: Mapping[str, Decimal], amount: Decimal
) -> dict[str, Decimal]:
    """How a reversal of ``amount`` (the withholdings of the part a credit note credits,
    :func:`withheld_share`) falls on each kind an order withheld (``withheld``: kind → amount,
    ``reversed_before``: kind → what earlier notes reversed of it): in proportion to what each
    kind withheld, never more than is left of a kind, in whole pesos when the amounts are (else
    cents), the units the proportion leaves going to the largest remainders (ties in ``KINDS``
    order). The shares add up to ``amount`` (at most what is left of them all), so an order's
    reversals, added up, reach each kind's amount once its whole sale was credited.

    Worked example: 40.000 ReteFuente, 28.500 ReteIVA, 9.660 ReteICA (78.160); a half note
    reverses 39.080 → 20.000, 14.250 and 4.830; the other half the same, and nothing is left."""
    every = [amount, *withheld.values(), *reversed_before.values()]
    unit = Decimal(1) if all(v == v.to_integral_value() for v in every) else Decimal("0.01")
    units = {kind: int(value / unit) for kind, value in withheld.items() if value > 0}
    left = {
        kind: max(units[kind] - int(reversed_before.get(kind, ZERO) / unit), 0) for kind in units
    }
    total = sum(units.values())
    wanted = min(int(max(amount, ZERO) / unit), sum(left.values()))
    if total <= 0 or wanted <= 0:
        return {}
    shares = {kind: min(wanted * units[kind] // total, left[kind]) for kind in units}
    order = sorted(
        units,
        key=lambda kind: (
            -((wanted * units[kind]) % total),
            KINDS.index(kind) if kind in KINDS else len(KINDS),
        ),
    )
    rest = wanted - sum(shares.values())
    while rest > 0:  # ends: ``wanted`` is at most what is left of all the kinds
        for kind in order:
            if rest > 0 and shares[kind] < left[kind]:
                shares[kind] += 1
                rest -= 1
    return {kind: quantize(share * unit) for kind, share in shares.items() if share}
