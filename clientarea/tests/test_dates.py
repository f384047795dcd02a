"""Dates read naturally in both languages: Spanish writes month names in lowercase.

Django's es-CO catalog capitalises month names ("4 de Diciembre de 2026") and the ``M`` format
character always does ("4 Dic 2026"); the site's own ``locale/es`` entries and format modules
(``clientarea/formats``) give "4 de diciembre de 2026" and "4 dic 2026".
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.template import Context, Template
from django.utils import formats, translation

from clientarea.notifications.rendering import render_email
from clientarea.portal.billing_views import _short_date

DAY = dt.date(2026, 12, 4)
MOMENT = dt.datetime(2026, 5, 4, 14, 5)


def _render(text: str, **context: object) -> str:
    return Template(text).render(Context(context))


@pytest.mark.parametrize(
    ("language", "short", "short_time", "long", "month"),
    [
        ("es-co", "4 dic 2026", "4 may 2026 14:05", "4 de diciembre de 2026", "diciembre 2026"),
        ("en", "4 Dec 2026", "4 May 2026 14:05", "4 December 2026", "December 2026"),
    ],
)
def test_template_dates(language, short, short_time, long, month):
    with translation.override(language):
        assert _render('{{ d|date:"SHORT_DATE_FORMAT" }}', d=DAY) == short
        assert _render('{{ d|date:"SHORT_DATETIME_FORMAT" }}', d=MOMENT) == short_time
        assert _render('{{ d|date:"DATE_FORMAT" }}', d=DAY) == long
        assert _render('{{ d|date:"F Y" }}', d=DAY) == month
        assert formats.date_format(DAY, "DATE_FORMAT") == long
        assert _short_date()(DAY) == short  # the Billing table's dates


def test_spanish_weekdays_and_abbreviations_are_lowercase():
    with translation.override("es-co"):
        assert _render('{{ d|date:"l N" }}', d=DAY) == "viernes dic."
        assert _render('{{ d|date:"D E" }}', d=DAY) == "vie diciembre"


@pytest.mark.django_db
def test_email_dates_in_spanish():
    subject, text, _html = render_email(
        template="cancellation_requested",
        context={"request": SimpleNamespace(effective_date=DAY), "service": "VPS 2"},
        language="es-co",
    )
    assert "4 de diciembre de 2026" in subject
    assert "4 de diciembre de 2026" in text
