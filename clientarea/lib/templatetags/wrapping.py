"""Where long text may wrap in a narrow table cell."""

import re

from django import template
from django.utils.html import format_html, format_html_join

register = template.Library()

# After a dot followed by a letter (between a domain's labels, "srv1.restrepogomez.com.co", never
# in an amount's thousands separators, "1.250.000") and after an email address's @.
# A hyphen or slash inside a word, after which a browser may break a line.
_INNER_BREAK = re.compile(r"[-/‐‑–]")
_DOMAIN_BREAK = re.compile(r"(?<=\.)(?=[^\W\d_])|(?<=@)(?=\w)")


@register.filter
def break_domains(value) -> str:
    """``{{ item.description|break_domains }}``: plain text, escaped, with ``<wbr>`` after each dot
    of a domain and after an email address's @, so that a long domain wraps after one of its dots
    ("srv1.restrepogomez." / "com.co") rather than mid-word (the cell's ``break-word`` class)."""
    parts = _DOMAIN_BREAK.split(str(value))
    return format_html(
        "{}{}", format_html_join("", "{}<wbr>", ((part,) for part in parts[:-1])), parts[-1]
    )


@register.filter
def keep_words(value) -> str:
    """``{{ reference|keep_words }}``: plain text, escaped, with each word that holds a hyphen or a
    slash in a ``nowrap`` span, so that a reference ("ODS-000012-1/R1", "Transferencia
    Davivienda 88120045") wraps only between its words, never after a hyphen or slash in one."""
    return format_html_join(
        " ",
        "{}",
        (
            (
                format_html('<span class="nowrap">{}</span>', word)
                if _INNER_BREAK.search(word)
                else word,
            )
            for word in str(value).split()
        ),
    )
