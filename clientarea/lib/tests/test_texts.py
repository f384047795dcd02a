"""The shared mechanism of texts stored as a code and its values (``lib.texts``)."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

import pytest
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from clientarea.lib.texts import CodedText, Texts

INNER = Texts("tests.inner", {"late": _("Not paid %(days)d days after issue")})
OUTER = Texts(
    "tests.outer",
    {
        "cancelled": _("Order %(number)s cancelled: %(reason)s"),
        "status": _(
            "gateway now reports %(status)s for the approved transaction (void or refund claim?)"
        ),
    },
    words={"status": {"declined": _("Declined")}},
)


class Inner(CodedText):
    table: ClassVar[Texts] = INNER
    kind: ClassVar[str] = "inner"


def test_a_nested_text_and_our_words_read_in_the_active_language():
    nested = Inner("late", {"days": 7}).nested()
    values = {"number": "ODS-1", "reason": nested}
    assert (
        OUTER.english("cancelled", values) == "Order ODS-1 cancelled: Not paid 7 days after issue"
    )
    with translation.override("es"):
        assert OUTER.describe("cancelled", values) == (
            "Orden ODS-1 anulada: Sin pago 7 días después de la emisión"
        )
        reported = OUTER.describe("status", {"status": "declined"})
        assert "Rechazado" in reported and "declined" not in reported
    # What a value says as it came (not one of our words) is shown as it is.
    assert OUTER.english("cancelled", {"number": "ODS-1", "reason": "typed"}) == (
        "Order ODS-1 cancelled: typed"
    )


def test_the_stored_sentence_when_the_code_cannot_be_put_into_words():
    fallback = "as it was written"
    assert OUTER.describe("", {}, fallback) == fallback  # recorded before the codes
    assert OUTER.describe("gone", {}, fallback) == fallback  # a code this version dropped
    assert OUTER.describe("cancelled", {"number": "ODS-1"}, fallback) == fallback  # a value missing
    gone = {"number": "ODS-1", "reason": {"table": "tests.nowhere", "code": "x", "values": {}}}
    assert OUTER.describe("cancelled", gone, fallback) == fallback
    dropped = {"number": "ODS-1", "reason": {"table": "tests.inner", "code": "x", "values": {}}}
    assert OUTER.describe("cancelled", dropped, fallback) == fallback


def test_an_unknown_code_is_refused_when_written():
    with pytest.raises(ValueError, match="unknown inner code"):
        Inner("nope")
    assert Inner("late", {"days": 3}).stored() == {"code": "late", "values": {"days": 3}}


AS_TEXT = Texts("tests.as_text", {"paid": _("Order %(number)s not paid")}, values_as_text=True)


class AsText(CodedText):
    table: ClassVar[Texts] = AS_TEXT


def test_a_table_that_shows_values_as_text_stores_them_as_text_and_keeps_nested_texts():
    nested = Inner("late", {"days": 7}).nested()
    text = AsText("paid", {"number": 12, "amount": Decimal("1500.50"), "why": nested})
    assert text.stored() == {
        "code": "paid",
        "values": {"number": "12", "amount": "1500.50", "why": nested},
    }
    # A table whose values keep their JSON type (``%(days)d``) is left as it is.
    assert Inner("late", {"days": 7}).values == {"days": 7}
