"""What the customer is told about the "forgot your access code" link's lifetime is true.

The page said "expires in a few hours" and the email "expires in 1 hours" (``hours`` was
``LOGIN_LINK_TIMEOUT_SECONDS // 3600``: 1 by default, 0 below an hour); the link lasts 3600 s.
"""

import pytest

from clientarea.notifications.models import OutgoingEmail
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("seconds", "said"), [(3600, "60 minutos"), (1800, "30 minutos")])
def test_the_page_and_the_email_give_the_links_lifetime(client, settings, seconds, said):
    settings.PASSWORD_RESET_TIMEOUT = seconds
    make_provider()
    alice = make_customer("alice@example.com", preferred_language="es")
    client.cookies["django_language"] = "es-co"
    page = client.post("/clientarea/forgot/", {"email": alice.user.email}).content.decode()
    assert f"vence en {said}." in page and "unas horas" not in page
    email = OutgoingEmail.objects.get(template="login_link", to_email=alice.user.email)
    assert f"vence en {said}." in email.body_text and "horas" not in email.body_text
