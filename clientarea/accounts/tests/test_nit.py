import pytest
from hypothesis import given
from hypothesis import strategies as st

from clientarea.lib import nit

# Published NIT/DV pairs (../shared/docs/dian-einvoice.md §6.1): DIAN itself, and parties in DIAN's sample invoice.
PUBLISHED = [
    ("800197268", "4"),
    ("900108281", "3"),
    ("981223983", "1"),
    ("989123123", "4"),
    ("901210113", "3"),
]


@pytest.mark.parametrize("number, dv", PUBLISHED)
def test_check_digit_of_published_nits(number, dv):
    assert nit.check_digit(number) == dv
    assert nit.is_valid(number, dv)


def test_it_accepts_dots_and_dashes_as_typed():
    assert nit.check_digit("800.197.268") == "4"


@given(st.from_regex(r"[1-9][0-9]{7,9}", fullmatch=True))
def test_exactly_one_digit_is_valid(number):
    valid = [d for d in "0123456789" if nit.is_valid(number, d)]
    assert valid == [nit.check_digit(number)]
