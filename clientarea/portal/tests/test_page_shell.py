"""The Billing page's shell (head, header, menu, footer) comes from a copy rendered once per
process (``portal.shell``): another customer gets the bytes a full render gives them, with their
own CSRF token and the page they asked for in the language form; messages and the staff banner
still show. The key's other parts (language, permissions, site data, the banner) are covered by
``test_shell_cache.py``, which asks for the Billing page too."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from clientarea.billing.tests import make_order
from clientarea.portal import shell
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db
LOGIN = "clientarea.accounts.backends.EmailAccessCodeBackend"
URL = reverse("billing:orders")
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def customers():
    make_provider()
    alice = make_customer("alice@example.com", first_name="Alice", last_name="Uno")
    bruno = make_customer("bruno@example.com", first_name="Bruno", last_name="Dos")
    make_order(alice, price="100000")
    make_order(bruno, price="250000")
    return alice, bruno


def _get(client, url: str = URL) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def _tokens(html: str) -> list[str]:
    return TOKEN.findall(html)


def test_the_shell_is_rendered_once(client, customers):
    client.force_login(customers[0].user, backend=LOGIN)
    first = client.get(URL)
    assert "billing/order_list.html" in [t.name for t in first.templates]
    second = client.get(URL)  # the content (same account state) and the shell from memory
    assert second.templates == []
    assert re.sub(TOKEN, "", second.content.decode()) == re.sub(TOKEN, "", first.content.decode())


def test_another_customer_gets_what_a_full_render_gives_them(customers, monkeypatch):
    alice, bruno = customers
    url = URL + "?state=pending&page=1"  # the language form returns here: the & escaped
    first = Client(enforce_csrf_checks=True)
    first.force_login(alice.user, backend=LOGIN)
    alices = _get(first, url)  # the shell is cached now
    second = Client(enforce_csrf_checks=True)
    second.force_login(bruno.user, backend=LOGIN)
    from_the_copy = _get(second, url)
    assert from_the_copy.count(url.replace("&", "&amp;")) == 1
    assert "bruno@example.com" not in alices and "alice@example.com" not in from_the_copy

    monkeypatch.setattr(shell, "shell_key", lambda request, template_name: None)
    rendered = _get(second, url)  # the whole page rendered by the templates
    assert TOKEN.sub("", from_the_copy) == TOKEN.sub("", rendered)

    # Each browser's own token, in both forms (language and logout), accepted by the CSRF check.
    (token, logout_token) = _tokens(from_the_copy)
    assert token == logout_token and token not in alices
    response = second.post(
        reverse("set_language"),
        {"language": "en", "next": URL, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302


def test_messages_show_once_on_a_cached_shell(client, customers):
    client.force_login(customers[0].user, backend=LOGIN)
    assert 'class="messages"' not in _get(client)  # the shell is cached now
    response = client.get(reverse("payments:pay_several"))  # nothing chosen: a warning
    assert response.status_code == 302 and response.url == URL
    shown = _get(client)
    assert 'class="alert alert-warning"' in shown  # "Choose at least one pending order to pay."
    assert 'class="messages"' not in _get(client)
