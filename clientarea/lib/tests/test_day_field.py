"""A date people type (a due date, a report's period) reads day first in both languages; the
browser's own date box showed and took it in the browser's order instead (month first in an
English browser, on a Spanish page)."""

from __future__ import annotations

import datetime as dt

import pytest
from django import forms
from django.utils import translation

from clientarea.lib.forms import DayField


@pytest.mark.parametrize("language", ["es-co", "en"])
@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("04/12/2026", dt.date(2026, 12, 4)),
        ("13/11/2026", dt.date(2026, 11, 13)),
        (" 4/12/2026 ", dt.date(2026, 12, 4)),
        ("04 / 12 / 2026", dt.date(2026, 12, 4)),
        ("04/12/26", dt.date(2026, 12, 4)),
        ("2026-12-04", dt.date(2026, 12, 4)),  # ISO: links, machines
    ],
)
def test_a_date_is_read_day_first_in_both_languages(language, typed, day):
    with translation.override(language):
        assert DayField().clean(typed) == day


@pytest.mark.parametrize("language", ["es-co", "en"])
@pytest.mark.parametrize(
    "typed", ["12/13/2026", "31/11/2026", "04/12/2026 09:30", "2026-12-4x", "Dec 4, 2026", "ayer"]
)
def test_anything_else_is_refused_with_the_format_to_use(language, typed):
    expected = {
        "es-co": "Escriba la fecha en día/mes/año, p. ej. 04/12/2026.",
        "en": "Write the date as day/month/year, e.g. 04/12/2026.",
    }[language]
    with translation.override(language):
        with pytest.raises(forms.ValidationError) as refused:
            DayField().clean(typed)
        assert refused.value.messages == [expected]


def test_an_empty_optional_date_is_none_and_a_required_one_says_so():
    assert DayField(required=False).clean("  ") is None
    with translation.override("en"):
        with pytest.raises(forms.ValidationError) as refused:
            DayField().clean("")
        assert refused.value.messages == ["This field is required."]


def test_the_box_is_text_with_the_date_day_first_and_the_format_in_the_reader_s_language():
    class Form(forms.Form):
        when = DayField()

    with translation.override("en"):
        html = str(Form(initial={"when": dt.date(2026, 12, 4)})["when"])
    assert 'type="text"' in html and 'type="date"' not in html
    assert 'value="04/12/2026"' in html
    assert 'placeholder="dd/mm/yyyy"' in html
    with translation.override("es-co"):
        assert 'placeholder="dd/mm/aaaa"' in str(Form()["when"])
