"""The simulator's own key formulas against published vectors (dian-einvoice.md §1.2, §6.1;
dian-webservice.md §4.3) and against python-stdnum as an independent oracle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.co import nit as stdnum_nit

from clientarea.einvoice.sandbox import keys


@pytest.mark.parametrize(
    ("nit", "dv"),
    [
        ("800197268", "4"),
        ("900108281", "3"),
        ("981223983", "1"),
        ("989123123", "4"),
        ("901210113", "3"),
    ],
)
def test_nit_check_digit_matches_dians_samples(nit, dv):
    assert keys.nit_check_digit(nit) == dv


@given(st.integers(min_value=1, max_value=10**15 - 1))
def test_nit_check_digit_agrees_with_stdnum(number):
    assert keys.nit_check_digit(str(number)) == stdnum_nit.calc_check_digit(str(number))


def test_nit_check_digit_refuses_non_digits():
    with pytest.raises(ValueError):
        keys.nit_check_digit("900-373")


def test_cufe_of_dians_sample_invoice():
    """DIAN's Generica.xml: its Note holds the CUFE input, its UUID the hash (§1.2)."""
    assert keys.document_key(
        number="SETP990000002", issue_date="2019-06-20", issue_time="09:15:23-05:00",
        line_extension="12600.06", iva="2424.01", inc="0.00", ica="0.00", payable="14024.07",
        supplier_nit="900508908", customer_id="900108281",
        secret="fc8eac422eba16e22ffd8c6f94b3f40a6e38162c", environment="2",
    ) == (
        "941cf36af62dbbc06f105d2a80e9bfe683a90e84960eae4d351cc3afbe8f848c"
        "26c39bac4fbc80fa254824c6369ea694"
    )  # fmt: skip


def test_cude_of_a_published_credit_note():
    """CN RSETP/2024/00001 (PIN 12345, ambiente 2) hashes to c6f6ea5e…8b14c6 (§4.3)."""
    cude = keys.document_key(
        number="RSETP/2024/00001", issue_date="2024-01-29", issue_time="19:00:00-05:00",
        line_extension="3919109.58", iva="195955.48", inc="", ica="0", payable="4115065.06",
        supplier_nit="101841900", customer_id="890010828", secret="12345", environment="2",
    )  # fmt: skip
    assert cude.startswith("c6f6ea5e") and cude.endswith("8b14c6")


def test_amounts_are_truncated_not_rounded():
    assert keys.truncated("12.349") == "12.34"
    assert keys.truncated("7") == "7.00"
    assert keys.truncated("") == "0.00"
    with pytest.raises(ValueError):
        keys.truncated("12,5")


def test_simulator_code_is_independent_of_the_product():
    """No module of the simulator imports the product's invoice code or lib's DIAN helpers."""
    package = Path(keys.__file__).parent
    offenders = []
    for path in [*package.glob("*.py"), *package.glob("management/commands/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name.startswith(
                    ("clientarea.einvoice", "clientarea.lib")
                ) and not name.startswith("clientarea.einvoice.sandbox"):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []
