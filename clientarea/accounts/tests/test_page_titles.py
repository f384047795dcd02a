"""The pages before login name themselves in the browser's tab, like every other page (they
were all titled just with the provider's name)."""

import re

import pytest
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from clientarea.accounts.services import login_link_tokens
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db


def title(response) -> str:
    match = re.search(r"<title>(.*?)</title>", response.content.decode(), re.S)
    assert match, "no <title>"
    return match.group(1).strip()


@pytest.fixture
def spanish(client):
    make_provider()
    client.cookies["django_language"] = "es-co"
    return client


def test_forgot_your_access_code_and_its_answer_are_titled(spanish):
    assert title(spanish.get("/clientarea/forgot/")) == "¿Olvidó su código de acceso?"
    sent = spanish.post("/clientarea/forgot/", {"email": "nobody@example.com"})
    assert title(sent) == "Revise su correo"


def test_a_dead_login_link_is_titled(spanish):
    assert title(spanish.get("/clientarea/login-link/MQ/bad-token/")) == (
        "Este enlace ya no funciona"
    )


def test_the_new_access_code_and_change_password_pages_are_titled(spanish):
    customer = make_customer("titles@example.com")
    spanish.force_login(customer.user)
    assert title(spanish.get(reverse("accounts:change_password"))) == "Cambiar contraseña"
    spanish.logout()
    uid = urlsafe_base64_encode(force_bytes(customer.user.pk))
    link = reverse("accounts:login_link", args=[uid, login_link_tokens.make_token(customer.user)])
    assert title(spanish.post(link)) == "Su nuevo código de acceso"
