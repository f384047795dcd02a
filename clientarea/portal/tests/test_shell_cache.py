"""The client area's menu is rendered once per permission set, language and page: nobody sees a
menu made for other permissions or another language, and a change of permissions shows at once.
What is read on every request (the provider, the help link) shows a change by staff at once."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clientarea.accounts import contacts
from clientarea.accounts import services as accounts_services
from clientarea.accounts.models import ProviderProfile
from clientarea.helpcenter import services
from clientarea.helpcenter.tests.helpers import make_article
from clientarea.test import make_contact, make_customer, make_provider

pytestmark = pytest.mark.django_db
LOGIN = "clientarea.accounts.backends.EmailAccessCodeBackend"


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
    menu = _menu(client)
    assert reverse("accounts:logout") in menu
    token = _hidden(menu, "csrfmiddlewaretoken", f'action="{reverse("accounts:logout")}"')
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


# --- The header, the language menu and the footer (base.html's cached fragments) -----------------


def _part(html: str, start: str, end: str) -> str:
    begin = html.index(start)
    return html[begin : html.index(end, begin)]


def _header(html: str) -> str:
    return _part(html, '<header class="site-header">', "</header>")


def _footer(html: str) -> str:
    return _part(html, '<footer class="site-footer">', "</footer>")


def test_the_header_follows_whether_someone_is_logged_in(client, account):
    anonymous = _header(client.get("/").content.decode())
    dashboard = f'href="{reverse("accounts:dashboard")}"'
    assert 'id="client-access"' in anonymous and dashboard not in anonymous
    client.force_login(account.user, backend=LOGIN)
    logged_in = _header(client.get("/").content.decode())  # same page and language, right after
    assert dashboard in logged_in and 'id="client-access"' not in logged_in
    client.post(reverse("accounts:logout"))
    assert 'id="client-access"' in _header(client.get("/").content.decode())


def test_the_header_language_menu_and_footer_follow_the_language(client, account):
    client.force_login(account.user, backend=LOGIN)
    spanish = client.get("/clientarea/billing/").content.decode()
    assert "Centro de ayuda" in _header(spanish) and "Mi área de clientes" in _header(spanish)
    assert '<option value="es-co" selected>' in _header(spanish) and ">Cambiar<" in spanish
    assert "Funciona con ClientArea" in _footer(spanish)
    client.post(reverse("set_language"), {"language": "en", "next": "/clientarea/billing/"})
    english = client.get("/clientarea/billing/").content.decode()
    header = _header(english)
    assert "Help center" in header and "My client area" in header and "Centro" not in header
    assert (
        '<option value="en" selected>' in header and '<option value="es-co" selected>' not in header
    )
    assert ">Change<" in header
    assert "Powered by ClientArea, open-source billing." in _footer(english)


def test_a_change_to_the_provider_shows_in_the_header_and_footer_at_once(client, account):
    client.force_login(account.user, backend=LOGIN)
    before = client.get("/clientarea/billing/").content.decode()
    provider = ProviderProfile.objects.get()
    assert provider.trade_name in _header(before) and provider.phone in _footer(before)
    provider.trade_name, provider.phone = "Conexcol Nube", "+57 601 555 0199"
    accounts_services.save_provider(provider=provider)  # as the admin saves it
    for path in ("/clientarea/billing/", "/"):
        after = client.get(path).content.decode()
        assert "Conexcol Nube" in _header(after) and "+57 601 555 0199" in _footer(after)


def _hidden(html: str, name: str, after: str) -> str:
    start = html.index(f'name="{name}" value="', html.index(after)) + len(f'name="{name}" value="')
    return html[start : html.index('"', start)]


def test_the_language_form_carries_this_request_token_and_page(account):
    """The header is cached, the language form's CSRF token and the page it returns to are not:
    each browser's own token is accepted, and each page returns to itself."""
    from django.test import Client

    billing_only = make_contact(account, "ana@acme.example", billing=True)
    for user in (account.user, billing_only.user):
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(user, backend=LOGIN)
        for path in ("/clientarea/billing/", "/clientarea/services/"):
            page = browser.get(path).content.decode()
            if 'id="nav-services"' not in page and path == "/clientarea/services/":
                continue  # a billing-only contact has no Services page
            assert _hidden(page, "next", 'class="lang-switcher"') == path
        token = _hidden(page, "csrfmiddlewaretoken", 'class="lang-switcher"')
        response = browser.post(
            reverse("set_language"),
            {"language": "en", "next": "/clientarea/billing/", "csrfmiddlewaretoken": token},
        )
        assert response.status_code == 302  # a token from another browser would be refused (403)


def test_staff_viewing_as_the_customer_see_the_banner_on_a_cached_shell(client, account):
    from clientarea.backoffice.tests import staff_with

    client.force_login(account.user, backend=LOGIN)
    own = client.get("/clientarea/billing/").content.decode()  # the shell's parts are cached now
    assert 'id="impersonation-banner"' not in own
    staff = staff_with(
        "agent@conexcol.example", "accounts.view_customer", "accounts.impersonate_customer"
    )
    client.force_login(staff)
    client.post(reverse("backoffice:impersonate_start", args=[account.pk]))
    viewed = client.get("/clientarea/billing/").content.decode()
    assert (
        'id="impersonation-banner"' in viewed and reverse("backoffice:impersonate_stop") in viewed
    )


def test_a_login_waiting_for_its_second_factor_gets_the_plain_shell(client, account):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client.force_login(account.user, backend=LOGIN)
    assert 'class="side-nav"' in client.get("/clientarea/billing/").content.decode()
    pending = make_customer("pending@example.com")
    TOTPDevice.objects.create(user=pending.user, name="authenticator", confirmed=True)
    client.force_login(pending.user, backend=LOGIN)  # password given, code not yet
    assert client.get("/clientarea/billing/").status_code == 302
    page = client.get(reverse("accounts:two_factor_verify")).content.decode()
    assert 'class="side-nav"' not in page
    assert 'class="site-header"' in page and 'class="site-footer"' in page
