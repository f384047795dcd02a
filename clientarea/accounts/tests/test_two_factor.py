"""Two-factor login: set-up, the second step, recovery codes, turning off, lost-device recovery."""

from __future__ import annotations

import re
from base64 import b32decode

import pytest
from django.core.management import call_command
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from clientarea.accounts.models import AuditEvent
from clientarea.lib.tests.qr_decode import decode_qr_svg, needs_zbarimg
from clientarea.test import (
    ACCESS_CODE,
    clear_default_cache,
    make_customer,
    make_provider,
    make_staff,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean():
    from axes.models import AccessAttempt

    AccessAttempt.objects.all().delete()
    clear_default_cache()
    make_provider()


def _code_from_secret(html: str) -> str:
    found = re.search(r'id="two-factor-secret">([A-Z2-7 ]+)<', html)
    assert found is not None
    secret = found.group(1).replace(" ", "")
    key = b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key):06d}"


def _turn_on(client) -> list[str]:
    page = client.get(reverse("accounts:two_factor_setup"))
    assert page.status_code == 200
    code = _code_from_secret(page.content.decode())
    done = client.post(reverse("accounts:two_factor_setup"), {"code": code})
    assert done.status_code == 200
    return re.findall(r"<li><code>([a-z0-9]+)</code></li>", done.content.decode())


def _login(client, email):
    client.post(reverse("accounts:logout"))
    return client.post(reverse("accounts:login"), {"username": email, "password": ACCESS_CODE})


def _current_code(user) -> str:
    """The app's next code: the one used at set-up cannot be used twice (django-otp keeps the last
    time step used), and the device accepts one step of clock drift."""
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return f"{totp(device.bin_key, drift=1):06d}"


def test_a_customer_turns_it_on_and_is_asked_for_a_code_at_the_next_login(client):
    customer = make_customer("ana@example.com")
    _login(client, "ana@example.com")
    codes = _turn_on(client)
    assert len(codes) == 10
    assert AuditEvent.objects.filter(action="user.two_factor_on", customer=customer).exists()

    _login(client, "ana@example.com")
    billing = client.get("/clientarea/billing/")
    assert billing.status_code == 302
    assert billing["Location"].startswith(reverse("accounts:two_factor_verify"))

    wrong = client.post(
        reverse("accounts:two_factor_verify"), {"code": "000000"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "Ese código no es correcto" in wrong.content.decode()  # in her language
    assert client.get("/clientarea/billing/").status_code == 302

    TOTPDevice.objects.filter(user=customer.user).update(throttling_failure_count=0)
    ok = client.post(
        reverse("accounts:two_factor_verify") + "?next=/clientarea/billing/",
        {"code": _current_code(customer.user), "next": "/clientarea/billing/"},
    )
    assert ok.status_code == 302 and ok["Location"] == "/clientarea/billing/"
    assert client.get("/clientarea/billing/").status_code == 200


@needs_zbarimg
def test_the_set_up_page_qr_reads_as_the_authenticator_url(client, tmp_path):
    customer = make_customer("ana@example.com")
    _login(client, "ana@example.com")
    html = client.get(reverse("accounts:two_factor_setup")).content.decode()
    svg = re.search(r"<svg .*?</svg>", html, re.S)
    assert svg is not None
    device = TOTPDevice.objects.get(user=customer.user, confirmed=False)
    assert decode_qr_svg(svg.group(0), tmp_path) == device.config_url


def test_a_recovery_code_works_once(client):
    make_customer("ana@example.com")
    _login(client, "ana@example.com")
    codes = _turn_on(client)
    _login(client, "ana@example.com")
    first = client.post(reverse("accounts:two_factor_verify"), {"code": codes[0]})
    assert first.status_code == 302
    assert client.get("/clientarea/").status_code == 200
    assert StaticToken.objects.count() == 9

    _login(client, "ana@example.com")
    again = client.post(
        reverse("accounts:two_factor_verify"), {"code": codes[0]}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert again.status_code == 200
    assert "Ese código no es correcto" in again.content.decode()


def test_the_next_parameter_cannot_send_the_user_elsewhere(client):
    make_customer("ana@example.com")
    _login(client, "ana@example.com")
    codes = _turn_on(client)
    _login(client, "ana@example.com")
    response = client.post(
        reverse("accounts:two_factor_verify"), {"code": codes[1], "next": "https://evil.example/"}
    )
    assert response["Location"] == "/clientarea/"


def test_turning_it_off_needs_a_current_code(client):
    customer = make_customer("ana@example.com")
    _login(client, "ana@example.com")
    _turn_on(client)
    refused = client.post(
        reverse("accounts:two_factor"),
        {"code": "123456", "action": "off"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "Ese código no es correcto" in refused.content.decode()
    assert TOTPDevice.objects.filter(user=customer.user).exists()
    TOTPDevice.objects.filter(user=customer.user).update(throttling_failure_count=0)
    client.post(
        reverse("accounts:two_factor"), {"code": _current_code(customer.user), "action": "off"}
    )
    assert not TOTPDevice.objects.filter(user=customer.user).exists()
    assert AuditEvent.objects.filter(action="user.two_factor_off").exists()


def test_new_recovery_codes_replace_the_old_ones(client):
    customer = make_customer("ana@example.com")
    _login(client, "ana@example.com")
    old = _turn_on(client)
    page = client.post(
        reverse("accounts:two_factor"), {"code": _current_code(customer.user), "action": "codes"}
    )
    new = re.findall(r"<li><code>([a-z0-9]+)</code></li>", page.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert set(StaticToken.objects.values_list("token", flat=True)) == set(new)


def test_repeated_wrong_codes_are_slowed_down(client):
    customer = make_customer("ana@example.com")
    _login(client, "ana@example.com")
    _turn_on(client)
    _login(client, "ana@example.com")
    for _ in range(3):
        client.post(reverse("accounts:two_factor_verify"), {"code": "000000"})
    # Even the right code is refused while django-otp's throttle window is open.
    response = client.post(
        reverse("accounts:two_factor_verify"),
        {"code": _current_code(customer.user)},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "Demasiados códigos incorrectos" in response.content.decode()


def test_the_emailed_login_link_turns_it_off_for_a_lost_phone(
    client, django_capture_on_commit_callbacks
):
    from clientarea.accounts.tests.test_login import code_and_link
    from clientarea.notifications.models import OutgoingEmail

    customer = make_customer("ana@example.com")
    _login(client, "ana@example.com")
    _turn_on(client)
    client.post(reverse("accounts:logout"))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:forgot"), {"email": "ana@example.com"})
    link = code_and_link(OutgoingEmail.objects.get(template="login_link"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(link.replace("http://testserver", ""))
    assert response.status_code == 200
    assert 'id="two-factor-reset"' in response.content.decode()
    assert not TOTPDevice.objects.filter(user=customer.user).exists()
    assert client.get("/clientarea/billing/").status_code == 200  # no code asked any more
    event = AuditEvent.objects.get(action="user.two_factor_reset")
    assert event.customer == customer


def test_staff_must_set_it_up_before_the_back_office_when_required(client, settings):
    settings.STAFF_REQUIRE_2FA = True
    staff = make_staff()
    client.force_login(staff)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:two_factor_setup"))
    _turn_on(client)
    assert client.get("/admin/").status_code == 200
    refused = client.post(
        reverse("accounts:two_factor"),
        {"code": _current_code(staff), "action": "off"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "must keep two-factor" in refused.content.decode()


def test_staff_are_not_forced_when_the_setting_is_off(client, settings):
    settings.STAFF_REQUIRE_2FA = False
    client.force_login(make_staff())
    assert client.get("/admin/").status_code == 200


def test_the_reset_command_removes_the_devices(client):
    staff = make_staff()
    client.force_login(staff)
    _turn_on(client)
    call_command("twofactor_reset", staff.email.upper())
    assert not TOTPDevice.objects.filter(user=staff).exists()
    assert AuditEvent.objects.filter(action="user.two_factor_reset").exists()


def test_staff_turn_it_off_for_a_customer_from_the_back_office(client):
    customer = make_customer("ana@example.com")
    _login(client, "ana@example.com")
    _turn_on(client)
    client.post(reverse("accounts:logout"))
    staff = make_staff()
    client.force_login(staff)
    listing = client.get("/admin/accounts/authenticatorapp/")
    assert "ana@example.com" in listing.content.decode()
    device = TOTPDevice.objects.get(user=customer.user)
    client.post(
        "/admin/accounts/authenticatorapp/",
        {"action": "turn_off", "_selected_action": [device.pk]},
    )
    assert not TOTPDevice.objects.filter(user=customer.user).exists()
    event = AuditEvent.objects.get(action="user.two_factor_reset")
    assert event.actor == staff and event.customer == customer


def test_a_device_confirmed_or_removed_elsewhere_counts_on_the_next_request_of_a_session(client):
    """The check rides on the request's user read (accounts.selectors.session_user): a session
    signed in before two-factor was turned on (say, a stolen one) is asked for a code at once."""
    from django.test import Client

    from clientarea.accounts import twofactor

    customer = make_customer("ana@example.com")
    _login(client, "ana@example.com")
    other = Client()
    other.force_login(customer.user, backend="clientarea.accounts.backends.EmailAccessCodeBackend")
    assert other.get("/clientarea/billing/").status_code == 200

    _turn_on(client)  # in the first session
    stolen = other.get("/clientarea/billing/")
    assert stolen.status_code == 302
    assert stolen["Location"].startswith(reverse("accounts:two_factor_verify"))
    assert client.get("/clientarea/billing/").status_code == 200  # verified when turned on

    twofactor.reset_two_factor(user=customer.user, reason="lost phone")
    assert other.get("/clientarea/billing/").status_code == 200


def test_the_request_user_carries_whether_two_factor_is_on(django_assert_num_queries):
    from clientarea.accounts import selectors, twofactor
    from clientarea.accounts.models import User

    def read(pk: int) -> User:
        user = selectors.session_user(pk)
        assert user is not None
        return user

    customer = make_customer("ana@example.com")
    user = read(customer.user.pk)
    with django_assert_num_queries(0):
        assert twofactor.requires_code(user) is False
    TOTPDevice.objects.create(user=customer.user, name="authenticator", confirmed=False)
    assert twofactor.requires_code(read(customer.user.pk)) is False
    TOTPDevice.objects.filter(user=customer.user).update(confirmed=True)
    user = read(customer.user.pk)
    with django_assert_num_queries(0):
        assert twofactor.requires_code(user) is True
    # The query is built once per process and cloned for each read: another user is another row.
    other = read(make_customer("bea@example.com").user.pk)
    assert other.email == "bea@example.com"
    assert getattr(other, "two_factor_on") is False  # noqa: B009 (an annotation: mypy does not know it)
    assert getattr(read(user.pk), "two_factor_on") is True  # noqa: B009
    # A user read another way is checked with a query.
    plain = User.objects.get(pk=user.pk)
    with django_assert_num_queries(1):
        assert twofactor.requires_code(plain) is True


def test_a_customer_without_it_sees_the_client_area_menu_around_its_pages(client):
    """Profile → Two-factor login and its set-up showed a signed-in customer the plain site, with
    no client-area menu and no way back but the browser's; a half-signed-in one (a code still
    due) keeps the plain site."""
    make_customer("ana@example.com")
    _login(client, "ana@example.com")
    for name in ("accounts:two_factor", "accounts:two_factor_setup"):
        page = client.get(reverse(name)).content.decode()
        assert 'class="side-nav"' in page, name
        assert 'id="nav-contacts"' in page, name  # the holder's menu, as on every other page
    _turn_on(client)
    _login(client, "ana@example.com")  # the code is still due
    page = client.get(reverse("accounts:two_factor_verify")).content.decode()
    assert 'class="side-nav"' not in page
    page = client.get(reverse("accounts:two_factor")).content.decode()
    assert 'class="side-nav"' not in page
