"""Real browser: home → Client access → register → code from the email log → log in → dashboard."""

import re

import pytest

from clientarea.notifications.models import OutgoingEmail
from clientarea.test import make_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_newcomer_registers_and_logs_in_with_the_emailed_code(page, live_site):
    make_provider()
    page.goto(live_site.url + "/")
    page.click("#client-access")
    assert "/clientarea/login/" in page.url
    page.click("a[href='/clientarea/register/']")
    page.fill("#id_email", "laura@example.com")
    page.check("input[name=person_type][value=natural]")
    page.select_option("#id_document_type", "13")
    page.fill("#id_document_number", "1098765432")
    page.fill("#id_first_name", "Laura")
    page.fill("#id_last_name", "Ríos")
    page.fill("#id_phone", "3001234567")
    page.fill("#id_address", "Calle 10 # 20-30")
    page.select_option("#id_municipality_code", "68001")
    page.check("#id_accept_terms")
    page.click("main button[type=submit]")
    page.wait_for_url("**/register/done/")
    email = OutgoingEmail.objects.get(to_email="laura@example.com", template="new_access_code")
    from django.core import mail  # the delivered message: the email log keeps a redacted copy

    body = next(str(m.body) for m in reversed(mail.outbox) if m.to == [email.to_email])
    match = re.search(r"[A-Z0-9]{4}(?:-[A-Z0-9]{1,4}){2,}", body)
    assert match is not None, body
    code = match.group(0)
    page.click("a[href='/clientarea/login/']")
    page.fill("#id_username", "laura@example.com")
    page.fill("#id_password", code)
    page.click("main button[type=submit]")
    page.wait_for_url(live_site.url + "/clientarea/")
    assert "Laura" in page.inner_text("h1")
    page.screenshot(path="/tmp/ca-dashboard.png")


def test_the_form_shows_the_fields_of_the_chosen_person_type(page, live_site):
    from clientarea.tests.test_csp_browser import Violations

    make_provider()
    seen = Violations(page)
    page.goto(live_site.url + "/clientarea/register/")
    assert page.is_visible("#id_first_name") and page.is_visible("#id_last_name")
    assert not page.is_visible("#id_legal_name") and not page.is_visible("#id_check_digit")
    page.check("input[name=person_type][value=juridica]")
    assert page.is_visible("#id_legal_name")
    assert not page.is_visible("#id_first_name") and not page.is_visible("#id_last_name")
    page.select_option("#id_document_type", "31")
    assert page.is_visible("#id_check_digit")
    page.check("input[name=person_type][value=natural]")
    page.select_option("#id_document_type", "13")
    assert page.is_visible("#id_first_name") and not page.is_visible("#id_check_digit")
    assert page.is_visible("a[href='/clientarea/terms/']")
    page.goto(live_site.url + "/clientarea/terms/")
    page.wait_for_load_state("load")
    assert "Ley 1581 de 2012" in page.inner_text("main")
    assert seen.found == [] and seen.without_policy == []  # the page passes the CSP
