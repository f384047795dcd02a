"""The statement of account page as a Spanish-speaking customer first sees it."""

import pytest
from django.urls import reverse

from clientarea.lib.dates import local_today
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db


def test_the_range_fields_show_the_range_in_spanish_too(client, settings):
    """A date input shows only ISO values: es-CO's dd/mm/yyyy left both fields blank."""
    make_provider()
    alice = make_customer("alice@example.com")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es-co"
    client.force_login(alice.user)
    page = client.get(reverse("billing:statement")).content.decode()
    today = local_today()
    assert f'name="start" value="{today.replace(month=1, day=1).isoformat()}"' in page
    assert f'name="end" value="{today.isoformat()}"' in page
