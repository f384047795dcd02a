"""The client area's menu is rendered once per permission set, language and page: nobody sees a
menu made for other permissions or another language, and a change of permissions shows at once.
What is read on every request (the provider, the help link) shows a change by staff at once."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.urls import reverse

from clientarea.accounts import contacts
from clientarea.accounts import services as accounts_services
from clientarea.accounts.models import ProviderProfile
from clientarea.helpcenter import services
from clientarea.helpcenter.tests.helpers import make_article
from clientarea.test import make_contact, make_customer, make_provider

pytestmark = pytest.mark.django_db
LOGIN = "clientarea.accounts.backends.EmailAccessCodeBackend"


@pytest.fixture(autouse=True)
def empty_page_cache():
    caches["pages"].clear()
    yield
    caches["pages"].clear()


@pytest.fixture
def account():
    make_provider()
    return make_customer("owner@acme.example", person_type="juridica", document_type="31")


def _menu(client, path="/clientarea/billing/") -> str:
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    return html[html.index('<nav class="side-nav"') : html.index("</nav>", html.index("side-nav"))]


def test_each_permission_set_gets_its_own_menu(client, account):
    billing_only = make_contact(account, "ana@acme.example", billing=True)
    client.force_login(account.user, backend=LOGIN)
    owner_menu = _menu(client)
    assert 'id="nav-services"' in owner_menu and 'id="nav-contacts"' in owner_menu

    client.force_login(billing_only.user, backend=LOGIN)  # same page, same language, right after
    menu = _menu(client)
    assert 'id="nav-billing"' in menu
    assert 'id="nav-services"' not in menu and 'id="nav-contacts"' not in menu


def test_a_change_of_permissions_shows_on_the_next_request(client, account):
    contact = make_contact(account, "ana@acme.example", billing=True)
    client.force_login(contact.user, backend=LOGIN)
    assert 'id="nav-services"' not in _menu(client)
    contacts.update_contact(
        contact=contact,
        roles=contacts.Roles(billing=True, technical=True),
        actor=account.user,
    )
    assert 'id="nav-services"' in _menu(client)


def test_the_menu_follows_the_language_and_the_page(client, account):
    client.force_login(account.user, backend=LOGIN)
    spanish = _menu(client)
    assert "Facturación" in spanish
    assert 'id="nav-billing" aria-current="page"' in spanish
    on_services = _menu(client, "/clientarea/services/")
    assert 'id="nav-services" aria-current="page"' in on_services
    assert 'id="nav-billing" aria-current="page"' not in on_services
    client.post(reverse("set_language"), {"language": "en", "next": "/clientarea/billing/"})
    english = _menu(client)
    assert ">Billing<" in english and "Facturación" not in english


def test_the_logout_form_carries_this_session_csrf_token(client, account):
    client.force_login(account.user, backend=LOGIN)
    _menu(client)  # the menu is cached now
    response = client.get("/clientarea/billing/")
    token = response.context["csrf_token"]
    menu = _menu(client)
    assert reverse("accounts:logout") in menu and "csrfmiddlewaretoken" in menu
    # A logout posted with the page's own token is accepted (CSRF checks on).
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(account.user, backend=LOGIN)
    page = strict.get("/clientarea/billing/").content.decode()
    start = page.index('name="csrfmiddlewaretoken" value="') + len(
        'name="csrfmiddlewaretoken" value="'
    )
    assert (
        token
        and strict.post(
            reverse("accounts:logout"),
            {"csrfmiddlewaretoken": page[start : page.index('"', start)]},
        ).status_code
        == 302
    )


def test_a_change_to_the_provider_or_a_help_article_shows_on_the_next_request(client, account):
    client.force_login(account.user, backend=LOGIN)
    assert "Conexcol S.A.S." in client.get("/clientarea/billing/").content.decode()
    provider = ProviderProfile.objects.get()
    provider.legal_name = "Conexcol Colombia S.A.S."
    accounts_services.save_provider(provider=provider)  # as the admin saves it
    assert "Conexcol Colombia S.A.S." in client.get("/clientarea/billing/").content.decode()

    article = make_article(key="pay", slug="como-pagar-prueba")
    assert "/help/como-pagar-prueba/" in client.get("/clientarea/billing/").content.decode()
    article.published = False
    services.save_article(article=article, tags=[], related=None)  # as the admin saves it
    assert "/help/como-pagar-prueba/" not in client.get("/clientarea/billing/").content.decode()
