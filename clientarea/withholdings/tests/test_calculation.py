"""The pure computation of an order's withholdings (calculation.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clientarea.lib.money import quantize, tax_for
from clientarea.withholdings.calculation import (
    RETEFUENTE,
    RETEICA,
    RETEIVA,
    MissingUvt,
    RuleData,
    compute_withholdings,
)

UVT_2026 = Decimal("52374")
RULES = (
    RuleData(kind=RETEFUENTE, rate=Decimal("4"), min_base_uvt=Decimal("2")),
    RuleData(kind=RETEIVA, rate=Decimal("15"), min_base_uvt=Decimal("2")),
    RuleData(kind=RETEICA, rate=Decimal("9.66"), min_base_uvt=Decimal("2")),
)


def _order(subtotal: str):
    sub = Decimal(subtotal)
    iva = tax_for(sub, Decimal("19"))
    return {"subtotal": sub, "iva": iva, "total": sub + iva}


def test_the_worked_example():
    result = compute_withholdings(**_order("1000000"), rules=RULES, uvt=UVT_2026)
    assert [(w.name, w.base, w.amount) for w in result.lines] == [
        ("ReteFuente", Decimal("1000000.00"), Decimal("40000.00")),
        ("ReteIVA", Decimal("190000.00"), Decimal("28500.00")),
        ("ReteICA", Decimal("1000000.00"), Decimal("9660.00")),
    ]
    assert result.withheld == Decimal("78160.00")
    assert result.net == Decimal("1111840.00")


def test_each_withholding_is_rounded_to_whole_pesos_half_up():
    # 120.000: ReteICA 9,66 ‰ = 1.159,20 → 1.159; 130.050: ReteFuente 4 % = 5.202; ReteIVA 15 % of 24.709,50 = 3.706,425 → 3.706
    result = compute_withholdings(**_order("120000"), rules=RULES, uvt=UVT_2026)
    assert result.lines[2].amount == Decimal("1159.00")
    result = compute_withholdings(**_order("130050"), rules=RULES, uvt=UVT_2026)
    assert [w.amount for w in result.lines] == [
        Decimal("5202.00"),
        Decimal("3706.00"),
        Decimal("1256.00"),
    ]


def test_below_the_minimum_base_nothing_is_withheld():
    # 2 UVT of 2026 = 104.748: one peso less withholds nothing, the base itself withholds.
    assert not compute_withholdings(**_order("104747"), rules=RULES, uvt=UVT_2026)
    assert len(compute_withholdings(**_order("104748"), rules=RULES, uvt=UVT_2026).lines) == 3


def test_a_minimum_base_needs_the_years_uvt():
    with pytest.raises(MissingUvt):
        compute_withholdings(**_order("500000"), rules=RULES, uvt=None)
    no_minimum = (RuleData(kind=RETEFUENTE, rate=Decimal("3.5")),)
    result = compute_withholdings(**_order("500000"), rules=no_minimum, uvt=None)
    assert result.lines[0].amount == Decimal("17500.00")


def test_no_iva_no_reteiva():
    result = compute_withholdings(
        subtotal=Decimal("500000"),
        iva=Decimal("0"),
        total=Decimal("500000"),
        rules=RULES,
        uvt=UVT_2026,
    )
    assert [w.kind for w in result.lines] == [RETEFUENTE, RETEICA]


def test_bad_input_is_refused():
    with pytest.raises(TypeError):
        compute_withholdings(subtotal=100.0, iva=Decimal(0), total=Decimal(0), rules=(), uvt=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        compute_withholdings(**_order("100"), rules=RULES[:1] * 2, uvt=UVT_2026)
    with pytest.raises(ValueError):
        RuleData(kind="01", rate=Decimal("4"))
    with pytest.raises(ValueError):
        RuleData(kind=RETEFUENTE, rate=Decimal("0"))


@given(
    subtotal=st.decimals(min_value=0, max_value=10**10, places=2),
    rate=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("20"), places=3),
)
def test_net_plus_withholdings_is_the_total_in_whole_pesos(subtotal, rate):
    iva = tax_for(subtotal, Decimal("19"))
    total = quantize(subtotal + iva).quantize(Decimal("1"))
    rules = (
        RuleData(kind=RETEFUENTE, rate=rate),
        RuleData(kind=RETEIVA, rate=Decimal("15")),
        RuleData(kind=RETEICA, rate=rate),
    )
    result = compute_withholdings(subtotal=subtotal, iva=iva, total=total, rules=rules, uvt=None)
    assert result.net + result.withheld == total
    assert result.net == result.net.to_integral_value()
    assert all(w.amount > 0 and w.amount == w.amount.to_integral_value() for w in result.lines)
