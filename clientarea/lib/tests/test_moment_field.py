"""A date and time staff type (when money was received) reads day first, 24-hour, in both
languages; the browser's own date box showed and took it in the browser's order instead."""

from __future__ import annotations

import datetime as dt

import pytest
from django import forms
from django.utils import translation

from clientarea.lib.dates import BOGOTA
from clientarea.lib.forms import MomentField


@pytest.mark.parametrize("language", ["es-co", "en"])
@pytest.mark.parametrize(
    ("typed", "moment"),
    [
        ("04/12/2026 09:30", dt.datetime(2026, 12, 4, 9, 30, tzinfo=BOGOTA)),
        ("13/11/2026 17:05", dt.datetime(2026, 11, 13, 17, 5, tzinfo=BOGOTA)),
        (" 4/12/2026   9:30 ", dt.datetime(2026, 12, 4, 9, 30, tzinfo=BOGOTA)),
        ("04/12/2026 09:30:15", dt.datetime(2026, 12, 4, 9, 30, 15, tzinfo=BOGOTA)),
        ("04/12/26 09:30", dt.datetime(2026, 12, 4, 9, 30, tzinfo=BOGOTA)),
        ("2026-12-04T09:30", dt.datetime(2026, 12, 4, 9, 30, tzinfo=BOGOTA)),  # ISO, machines
    ],
)
def test_a_moment_is_read_day_first_in_both_languages(language, typed, moment):
    with translation.override(language):
        assert MomentField().clean(typed) == moment


@pytest.mark.parametrize("typed", ["12/13/2026 09:30", "04/12/2026", "04/12/2026 9:30 PM", "ayer"])
def test_anything_else_is_refused_with_the_format_to_use(typed):
    with translation.override("es-co"), pytest.raises(forms.ValidationError) as refused:
        MomentField().clean(typed)
    assert refused.value.messages == [
        "Escriba la fecha y la hora en día/mes/año y hora de 24 horas, p. ej. 04/12/2026 09:30."
    ]


def test_the_box_is_text_with_the_format_shown_in_the_reader_s_language():
    class Form(forms.Form):
        when = MomentField()

    moment = dt.datetime(2026, 12, 4, 14, 5, tzinfo=dt.UTC)  # 09:05 in Bogotá
    with translation.override("es-co"):
        html = str(Form(initial={"when": moment})["when"])
    assert 'type="text"' in html and "datetime-local" not in html
    assert 'value="04/12/2026 09:05"' in html
    assert 'placeholder="dd/mm/aaaa hh:mm"' in html
    with translation.override("en"):
        assert 'placeholder="dd/mm/yyyy hh:mm"' in str(Form()["when"])
