"""The pages before login name themselves in the browser's tab, like every other page (they
were all titled just with the provider's name)."""

import re

import pytest

from clientarea.test import make_provider

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
