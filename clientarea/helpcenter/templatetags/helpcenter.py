"""Template helpers for contextual help links: ``{% load helpcenter %}``.

<a href="{% help_url 'pay' %}">{% translate "How to pay" %}</a>       (the page's language)
<a href="{% help_url 'pse' 'en' %}">Paying by PSE</a>                  (a given language)
"""

from __future__ import annotations

from django import template

from clientarea.helpcenter.selectors import article_url_for

register = template.Library()


@register.simple_tag
def help_url(key: str, language: str | None = None) -> str:
    """URL of the help article with this key (see ``selectors.article_url_for``)."""
    return article_url_for(key, language)


@register.filter
def percent(value: float | None) -> str:
    """0.8333 → "83 %"; None → "—"."""
    return "—" if value is None else f"{round(value * 100)} %"
