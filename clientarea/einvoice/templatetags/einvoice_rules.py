"""``{{ rule|dian_plain_words }}``: a DIAN rule code explained for staff."""

from django import template

from clientarea.einvoice.rules import plain_words

register = template.Library()


@register.filter
def dian_plain_words(rule: str) -> str:
    return plain_words(rule or "")
