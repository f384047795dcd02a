"""How emails are rendered and shown: plain text is plain text, secrets are never stored."""

import re

import pytest
from django.urls import reverse

from clientarea.notifications import services
from clientarea.test import make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def company():
    make_provider()
    return make_customer(
        person_type="juridica", document_type="31", legal_name='Pérez & Cía <Ltda> "S.A.S."'
    )


def queue_plain(customer):
    return services.queue_email(
        to=customer.user.email,
        template="login_link",
        customer=customer,
        context={"customer": customer, "link": "https://x/y?a=1&b=2", "hours": 1},
    )


def test_plain_text_bodies_are_not_html_escaped(
    company, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        email = queue_plain(company)
    assert 'Pérez & Cía <Ltda> "S.A.S."' in email.body_text
    assert "&amp;" not in email.body_text and "&lt;" not in email.body_text
    assert "https://x/y?a=1&b=2" in email.body_text
    # the HTML part is still escaped
    assert "Pérez &amp; Cía &lt;Ltda&gt;" in email.body_html
    assert 'Pérez & Cía <Ltda> "S.A.S."' in mailoutbox[0].body


def test_subjects_are_not_html_escaped():
    provider = make_provider()
    provider.trade_name = "Ríos & Hijos"
    provider.save()
    customer = make_customer()
    email = services.queue_email(
        to=customer.user.email,
        template="new_access_code",
        customer=customer,
        context={"customer": customer, "code": "X", "reason": "reset", "login_url": "u"},
    )
    assert "Ríos & Hijos" in email.subject


def test_my_emails_shows_the_text_escaped_once(company, client):
    email = queue_plain(company)
    client.force_login(company.user)
    page = client.get(reverse("accounts:email_detail", args=[email.pk])).content.decode()
    assert "Pérez &amp; Cía &lt;Ltda&gt;" in page  # shown as "Pérez & Cía <Ltda>"
    assert "&amp;amp;" not in page and "<Ltda>" not in page


def test_the_back_office_shows_the_text_escaped_once(company, client):
    email = queue_plain(company)
    staff = make_staff()
    client.force_login(staff)
    page = client.get(
        reverse("admin:notifications_outgoingemail_change", args=[email.pk])
    ).content.decode()
    text_field = page.split("field-body_text", 1)[1].split("field-body_html", 1)[0]
    assert "Pérez &amp; Cía &lt;Ltda&gt; &quot;S.A.S.&quot;" in text_field  # escaped once
    assert "&amp;amp;" not in text_field and "<Ltda>" not in page


# --- Secrets: delivered, never stored ----------------------------------------------------------


def _register(customer_email="nueva@example.com"):
    from clientarea.accounts import services as accounts

    return accounts.register_customer(
        data=accounts.CustomerData(
            email=customer_email,
            person_type="natural",
            document_type="13",
            document_number="1020304050",
            first_name="Nueva",
            last_name="Cliente",
            phone="300",
            address="Calle 1",
            municipality_code="05001",
        )
    )


CODE_SHAPE = r"[A-Z0-9]{4}(?:-[A-Z0-9]{1,4}){2,}"


def code_in(body: str) -> str:
    """The access code in a delivered body (the test fails if there is none)."""
    match = re.search(CODE_SHAPE, body)
    assert match is not None, body
    return match.group(0)


def _stored(email):
    return "\n".join([email.subject, email.body_text, email.body_html])


def test_the_new_access_code_is_delivered_but_never_stored(
    mailoutbox, django_capture_on_commit_callbacks
):
    from clientarea.notifications.models import EmailStatus, OutgoingEmail

    make_provider()
    with django_capture_on_commit_callbacks(execute=True):
        customer = _register()
    email = OutgoingEmail.objects.get(customer=customer, template="new_access_code")
    delivered = mailoutbox[0]
    code = code_in(delivered.body)
    assert customer.user.check_password(code)
    assert code in delivered.alternatives[0][0]  # the HTML part too
    assert code not in _stored(email) and "••••" in email.body_text and "••••" in email.body_html
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT and email.redacted and email.secret_payload == ""


def test_the_login_link_is_delivered_but_never_stored(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    from clientarea.accounts import services as accounts
    from clientarea.notifications.models import OutgoingEmail

    make_provider()
    customer = make_customer("ana@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        accounts.request_login_link(email="ana@example.com")
    email = OutgoingEmail.objects.get(template="login_link")
    assert "/login-link/" in mailoutbox[0].body
    assert "/login-link/" not in _stored(email) and "••••" in email.body_text
    assert customer.pk == email.customer_id


def test_my_emails_and_the_back_office_show_the_code_redacted(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    from clientarea.notifications.models import OutgoingEmail

    make_provider()
    with django_capture_on_commit_callbacks(execute=True):
        customer = _register()
    code = code_in(mailoutbox[0].body)
    email = OutgoingEmail.objects.get(customer=customer, template="new_access_code")
    client.force_login(customer.user)
    for url in (reverse("accounts:emails"), reverse("accounts:email_detail", args=[email.pk])):
        page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert code not in page
    assert "••••" in page and "The email you received has them." in page
    client.force_login(make_staff())
    for url in (
        reverse("admin:notifications_outgoingemail_changelist"),
        reverse("admin:notifications_outgoingemail_change", args=[email.pk]),
    ):
        page = client.get(url).content.decode()
        assert code not in page and "secret_payload" not in page
    assert "••••" in page


def test_a_crash_before_delivery_still_delivers_the_secret_later(mailoutbox):
    """The process dies after commit, before the after-commit job: the sweep sends the real code."""
    from clientarea.notifications.models import OutgoingEmail

    make_provider()
    customer = _register()  # on-commit callbacks never run here (the test's transaction)
    assert mailoutbox == []
    email = OutgoingEmail.objects.get(customer=customer, template="new_access_code")
    assert email.secret_payload and "••••" in email.body_text
    assert services.deliver_due_emails() == 1
    code = code_in(mailoutbox[0].body)
    assert customer.user.check_password(code)
    email.refresh_from_db()
    assert email.secret_payload == ""


def test_an_email_whose_secret_is_gone_is_never_sent_redacted(mailoutbox):
    from clientarea.notifications import rendering
    from clientarea.notifications.models import EmailStatus, OutgoingEmail

    make_provider()
    customer = _register()
    email = OutgoingEmail.objects.get(customer=customer, template="new_access_code")
    OutgoingEmail.objects.filter(pk=email.pk).update(secret_payload="gAAAAA-not-a-valid-token")
    assert services.deliver_email(email_id=email.pk) is False
    email.refresh_from_db()
    assert mailoutbox == [] and email.status == EmailStatus.FAILED
    assert email.last_error == rendering.SECRET_GONE_ERROR and email.secret_payload == ""


def test_a_sealed_copy_expires(monkeypatch):
    from clientarea.notifications import rendering

    token = rendering.seal(rendering.RenderedEmail("s", "t", "h"))
    assert rendering.unseal(token) == rendering.RenderedEmail("s", "t", "h")
    monkeypatch.setattr(rendering, "SEALED_MAX_AGE", -1)
    assert rendering.unseal(token) is None


def test_the_back_office_refuses_to_resend_a_redacted_email(client, mailoutbox):
    from clientarea.notifications.models import OutgoingEmail

    make_provider()
    customer = _register()
    email = OutgoingEmail.objects.get(customer=customer, template="new_access_code")
    client.force_login(make_staff())
    response = client.post(
        reverse("admin:notifications_outgoingemail_changelist"),
        {"action": "resend", "_selected_action": [email.pk]},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "Send a new access code" in response.content.decode()
    assert OutgoingEmail.objects.filter(template="new_access_code").count() == 1


def test_the_migration_redacts_codes_and_links_already_in_the_log():
    import importlib

    from django.apps import apps

    from clientarea.notifications.models import OutgoingEmail

    migration = importlib.import_module(
        "clientarea.notifications.migrations.0003_redact_secrets_in_email_log"
    )
    customer = make_customer()
    old = OutgoingEmail.objects.create(
        customer=customer,
        to_email="a@example.com",
        subject="Nuevo código de acceso – Conexcol",
        template="new_access_code",
        language="es-co",
        body_text="Código de acceso: K7PX-M9QR-T4WY-HN\nDemo: DEMO-CODE-7777\nNIT 900123456-8",
        body_html="<strong>K7PX-M9QR-T4WY-HN</strong>",
    )
    link = OutgoingEmail.objects.create(
        customer=customer,
        to_email="a@example.com",
        subject="Su enlace",
        template="login_link",
        language="es-co",
        body_text="Abra:\nhttp://testserver/clientarea/login-link/MQ/abc-123def/\nGracias",
        body_html='<a href="http://testserver/clientarea/login-link/MQ/abc-123def/">x</a>',
    )
    other = OutgoingEmail.objects.create(
        to_email="a@example.com",
        subject="Pedido",
        template="order_created",
        language="es-co",
        body_text="Referencia ABCD-EFGH-JKMN",
    )
    migration.redact_rows(apps, None)
    old.refresh_from_db()
    link.refresh_from_db()
    other.refresh_from_db()
    assert "K7PX" not in _stored(old) and "DEMO-CODE" not in old.body_text and old.redacted
    assert "NIT 900123456-8" in old.body_text
    assert "login-link" not in _stored(link) and "Gracias" in link.body_text and link.redacted
    assert other.body_text == "Referencia ABCD-EFGH-JKMN" and not other.redacted


def test_a_worker_killed_while_sending_a_code_leaves_it_deliverable_after_the_lease(mailoutbox):
    import datetime as dt

    from django.utils import timezone

    from clientarea.notifications.models import EmailStatus, OutgoingEmail

    make_provider()
    customer = _register()
    email = OutgoingEmail.objects.get(customer=customer, template="new_access_code")
    # a worker claimed it and died: "sending", lease already expired
    OutgoingEmail.objects.filter(pk=email.pk).update(
        status=EmailStatus.SENDING, attempts=1, next_attempt_at=timezone.now() - dt.timedelta(1)
    )
    assert services.deliver_due_emails() == 1
    code = code_in(mailoutbox[0].body)
    assert customer.user.check_password(code)
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT and email.secret_payload == ""


def test_the_template_in_force_is_read_once_per_process_until_staff_save_a_version(company):
    """Which version of a template is in force (a staff override, or the file) is kept in each
    process under the site data's version: rendering the same email again runs no query for it,
    and a version saved by staff, or the file put back, is what the next render uses."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def render() -> tuple[str, int]:
        with CaptureQueriesContext(connection) as queries:
            subject, _, _ = services.render_email(
                template="login_link",
                context={"customer": company, "link": "https://x/y", "hours": 1},
                language="es-co",
            )
        lookups = [
            q for q in queries.captured_queries if "notifications_emailtemplateversion" in q["sql"]
        ]
        return subject, len(lookups)

    file_subject, _ = render()
    assert render() == (file_subject, 0)
    sample = {"customer": company, "link": "https://x/y", "hours": 1}
    services.save_template_version(
        template="login_link",
        language="es-co",
        subject="Su enlace de ingreso (v2)",
        body_text="Ingrese aquí: {{ link }}",
        body_html="<p>Ingrese aquí: {{ link }}</p>",
        sample=sample,
        actor=None,
    )
    assert render()[0] == "Su enlace de ingreso (v2)"
    assert render() == ("Su enlace de ingreso (v2)", 0)
    services.use_default_template(template="login_link", language="es-co", actor=None)
    assert render()[0] == file_subject


def test_the_back_office_email_page_is_a_view_with_its_send_again_action(company, client, settings):
    email = queue_plain(company)
    client.force_login(make_staff())
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(
        reverse("admin:notifications_outgoingemail_change", args=[email.pk])
    ).content.decode()
    assert "<h1>View email</h1>" in page and 'name="_save"' not in page
    response = client.post(
        reverse("admin:notifications_outgoingemail_changelist"),
        {"action": "resend", "_selected_action": [email.pk]},
    )
    assert response.status_code == 302
