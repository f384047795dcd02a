import re

import pytest
from django.test import Client
from django.urls import reverse

from clientarea.accounts.models import User
from clientarea.notifications.models import OutgoingEmail
from clientarea.test import (
    ACCESS_CODE,
    clear_default_cache,
    make_customer,
    make_provider,
    make_staff,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_axes():
    from axes.models import AccessAttempt

    AccessAttempt.objects.all().delete()
    clear_default_cache()


def test_it_logs_in_with_email_and_access_code(client):
    c = make_customer("ana@example.com")
    response = client.post(
        reverse("accounts:login"), {"username": "ANA@example.com", "password": ACCESS_CODE}
    )
    assert response.status_code == 302
    assert client.get(reverse("accounts:dashboard")).status_code == 200
    assert "Prueba" in client.get(reverse("accounts:dashboard")).content.decode() or c.display_name


def test_a_wrong_code_gets_a_clear_message(client):
    make_customer("ana@example.com")
    response = client.post(
        reverse("accounts:login"),
        {"username": "ana@example.com", "password": "WRONG-CODE"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "access code is not correct" in response.content.decode()


def test_lockout_after_repeated_failures(client, settings):
    make_customer("ana@example.com")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("accounts:login"), {"username": "ana@example.com", "password": "nope"})
    response = client.post(
        reverse("accounts:login"),
        {"username": "ana@example.com", "password": ACCESS_CODE},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 429
    assert "Too many failed attempts" in response.content.decode()


def test_logout_is_post_only(client):
    c = make_customer()
    client.force_login(c.user)
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert client.get(reverse("accounts:dashboard")).status_code == 302


def code_and_link(email: OutgoingEmail) -> str:
    from django.core import mail  # the delivered message: the email log keeps a redacted copy

    body = next(str(m.body) for m in reversed(mail.outbox) if m.to == [email.to_email])
    link = re.search(r"https?://\S+/login-link/\S+/", body)
    assert link is not None, body
    return link.group(0)


def test_forgot_code_never_reveals_whether_an_email_exists(client):
    make_customer("ana@example.com")
    known = client.post(reverse("accounts:forgot"), {"email": "ana@example.com"})
    unknown = client.post(reverse("accounts:forgot"), {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200

    def strip(r):
        return r.content.decode().replace("ana@example.com", "X").replace("nobody@example.com", "X")

    assert (
        strip(known).split("csrfmiddlewaretoken")[0]
        == strip(unknown).split("csrfmiddlewaretoken")[0]
    )
    assert OutgoingEmail.objects.filter(template="login_link").count() == 1


def test_login_link_issues_a_new_code_once_and_the_old_code_stops_working(
    client, django_capture_on_commit_callbacks
):
    make_provider()
    c = make_customer("ana@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:forgot"), {"email": "ana@example.com"})
    link = code_and_link(OutgoingEmail.objects.get(template="login_link")).replace(
        "http://testserver", ""
    )
    # A GET (e.g. a mail scanner) does not consume the link
    assert client.get(link).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(link)
    assert response.status_code == 200
    new_code = response.context["code"]
    c.user.refresh_from_db()
    assert not c.user.check_password(ACCESS_CODE)
    assert c.user.check_password(new_code)
    assert OutgoingEmail.objects.filter(template="new_access_code", customer=c).exists()
    # Still signed in on the next page (the session carries the new code's hash).
    assert client.get(reverse("accounts:dashboard")).status_code == 200
    client.logout()
    assert client.post(link).status_code == 400  # one-time


def test_a_tampered_login_link_is_refused(client):
    c = make_customer()
    assert client.get(reverse("accounts:login_link", args=["MQ", "bad-token"])).status_code == 400
    assert client.get(reverse("accounts:login_link", args=["%%%", "x"])).status_code in (400, 404)
    c.user.refresh_from_db()
    assert c.user.check_password(ACCESS_CODE)


def test_customer_sets_own_password(client):
    c = make_customer()
    client.force_login(c.user)
    response = client.post(
        reverse("accounts:change_password"),
        {
            "current": ACCESS_CODE,
            "new_password": "una clave muy larga 2026",
            "confirm": "una clave muy larga 2026",
        },
    )
    assert response.status_code == 302
    c.user.refresh_from_db()
    assert c.user.check_password("una clave muy larga 2026") and not c.user.check_password(
        ACCESS_CODE
    )


def test_change_password_requires_the_current_one(client):
    c = make_customer()
    client.force_login(c.user)
    response = client.post(
        reverse("accounts:change_password"),
        {
            "current": "nope",
            "new_password": "una clave muy larga 2026",
            "confirm": "una clave muy larga 2026",
        },
    )
    assert response.status_code == 200 and "current" in response.context["form"].errors


def test_login_sets_the_customers_language(client):
    make_customer("en@example.com", preferred_language="en")
    response = client.post(
        reverse("accounts:login"), {"username": "en@example.com", "password": ACCESS_CODE}
    )
    assert response.cookies["django_language"].value == "en"


def test_staff_created_customer_gets_the_same_email(client, django_capture_on_commit_callbacks):
    make_provider()
    staff = User.objects.create_superuser("staff@example.com", "x" * 12)
    client.force_login(staff)
    data = {
        "email": "fromstaff@example.com",
        "person_type": "natural",
        "document_type": "13",
        "document_number": "5566778",
        "check_digit": "",
        "first_name": "Pedro",
        "last_name": "Páramo",
        "legal_name": "",
        "trade_name": "",
        "phone": "300",
        "address": "Calle 5",
        "municipality_code": "11001",
        "fiscal_responsibilities": "R-99-PN",
        "preferred_language": "en",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:accounts_customer_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    email = OutgoingEmail.objects.get(to_email="fromstaff@example.com")
    assert email.template == "new_access_code" and email.language == "en"


def _login(client, email, password, forwarded_for, **extra):
    return client.post(
        reverse("accounts:login"),
        {"username": email, "password": password},
        REMOTE_ADDR="10.0.0.2",  # the TLS proxy
        HTTP_X_FORWARDED_FOR=forwarded_for,
        **extra,
    )


def test_behind_the_proxy_failures_from_one_address_do_not_lock_out_another(client, settings):
    settings.PROXY_COUNT = 1
    from axes.models import AccessAttempt

    make_customer("ana@example.com")
    make_customer("bob@example.com")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "ana@example.com", "nope", "203.0.113.5")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.5"}

    response = _login(client, "bob@example.com", ACCESS_CODE, "198.51.100.7")
    assert response.status_code == 302  # bob, from his own address, is not locked out


def test_behind_the_proxy_the_attacker_address_is_locked_out(client, settings):
    settings.PROXY_COUNT = 1
    settings.LOGIN_IP_FAILURE_LIMIT = 6
    make_customer("bob@example.com")
    for i in range(settings.LOGIN_IP_FAILURE_LIMIT):  # one guess at each of six accounts
        _login(client, f"user{i}@example.com", "nope", "203.0.113.5")
    # a spoofed left-most entry does not help: the proxy appends the real address last
    response = _login(client, "bob@example.com", ACCESS_CODE, "198.51.100.7, 203.0.113.5")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_a_locked_out_customer_does_not_lock_out_others_behind_the_same_address(client, settings):
    """One office, one public address: a customer who mistypes their code until axes locks
    their account locks only that account; another customer and staff at /admin/ from the same
    address log in."""
    settings.PROXY_COUNT = 1
    make_customer("ana@example.com")
    make_customer("bob@example.com")
    make_staff("carol@conexcol.example", "staff-password-2026")
    office = "203.0.113.5"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "ana@example.com", "nope", office)
    assert _login(client, "ana@example.com", ACCESS_CODE, office).status_code == 429

    assert _login(client, "bob@example.com", ACCESS_CODE, office).status_code == 302
    staff = Client()
    response = staff.post(
        reverse("admin:login"),
        {"username": "carol@conexcol.example", "password": "staff-password-2026"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR=office,
    )
    assert response.status_code == 302 and "_auth_user_id" in staff.session


def test_guessing_one_account_from_many_addresses_still_locks_it(client, settings):
    settings.PROXY_COUNT = 1
    make_customer("ana@example.com")
    for i in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "ana@example.com", f"guess-{i}", f"198.51.100.{i + 1}")
    assert _login(client, "ana@example.com", ACCESS_CODE, "192.0.2.200").status_code == 429


def test_the_address_limit_counts_failures_only(client, settings):
    """Many successful logins from one office do not use up its address's allowance."""
    settings.LOGIN_IP_FAILURE_LIMIT = 3
    make_customer("ana@example.com")
    for _ in range(settings.LOGIN_IP_FAILURE_LIMIT + 2):
        assert _login(client, "ana@example.com", ACCESS_CODE, "").status_code == 302
        client.logout()


def test_an_own_successful_login_does_not_clear_failures_on_another_account(client, settings):
    make_customer("attacker@example.com")
    make_customer("victim@example.com")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert _login(client, "attacker@example.com", ACCESS_CODE, "").status_code == 302
        client.logout()
        assert _login(client, "victim@example.com", "guess", "").status_code in (200, 429)
    response = _login(client, "victim@example.com", ACCESS_CODE, "")
    assert response.status_code == 429  # the guesses against the victim's account counted


def test_a_successful_login_clears_the_users_own_earlier_failures(client, settings):
    make_customer("ana@example.com")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "ana@example.com", "typo", "")
    assert _login(client, "ana@example.com", ACCESS_CODE, "").status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "ana@example.com", "typo", "")
    assert _login(client, "ana@example.com", ACCESS_CODE, "").status_code == 302


def test_changing_the_case_of_the_email_does_not_dodge_the_account_lockout(client, settings):
    make_customer("ana@example.com")
    for i in range(settings.AXES_FAILURE_LIMIT):
        _login(client, ["ANA@example.com", "Ana@Example.com", " ana@EXAMPLE.com"][i % 3], "x", "")
    response = client.post(
        reverse("accounts:login"),
        {"username": "ana@example.com", "password": ACCESS_CODE},
        REMOTE_ADDR="192.0.2.44",  # another address: the account itself is locked
    )
    assert response.status_code == 429
