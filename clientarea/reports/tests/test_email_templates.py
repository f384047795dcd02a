"""Email templates edited by staff: validation, sandbox, preview, versions, revert, sending."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clientarea.accounts import services as accounts
from clientarea.billing import services as billing
from clientarea.billing.tests import make_order
from clientarea.notifications import rendering, sandbox
from clientarea.notifications import services as notifications
from clientarea.notifications.models import EmailTemplateVersion, OutgoingEmail
from clientarea.reports.email_samples import sample_context
from clientarea.reports.tests import staff_client
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db

GOOD = {
    "subject": "{% load i18n %}Orden {{ order.number }} creada",
    "body_text": "Hola {{ customer.display_name }}: pague {{ order.total }} en {{ pay_url }}\n"
    "{% for item in order.items.all %}- {{ item.description }}\n{% endfor %}",
    "body_html": '{% extends "emails/_base.html" %}{% block body %}<p>Hola '
    "{{ customer.display_name }}</p>{% endblock %}",
}


def _url(template: str = "order_created", language: str = "es-co") -> str:
    return reverse("reports:email_template", args=[template, language])


def _save(template: str = "order_created", language: str = "es-co", **parts: str):
    merged = {**GOOD, **parts}
    return notifications.save_template_version(
        template=template,
        language=language,
        sample=sample_context(template),
        actor=None,
        subject=merged["subject"],
        body_text=merged["body_text"],
        body_html=merged["body_html"],
    )


@pytest.mark.parametrize(
    ("part", "source", "message"),
    [
        ("body_text", "{{ customer.user.password }}", "customer.user.password"),
        ("body_text", "{{ secret_key }}", "secret_key"),
        ("body_text", "{% if settings %}x{% endif %}", "settings"),
        ("body_text", "{{ order.customer.user._meta }}", "_meta"),
        ("body_text", "{{ order.delete }}", "order.delete"),
        ("body_text", "{% debug %}", "debug"),
        ("body_text", "{% load admin_urls %}", "admin_urls"),
        ("body_html", '{% include "admin/base.html" %}', "admin/base.html"),
        ("subject", "{% if %}", "no compila"),
        ("subject", "{{ order.number|date:'Y' }} {% endfor %}", "no compila"),
        ("body_html", "", "vacía"),
    ],
)
def test_a_broken_or_unsafe_template_is_refused_and_nothing_is_saved(part, source, message):
    make_provider()
    with pytest.raises(sandbox.TemplateRefused) as refused:
        _save(**{part: source})
    assert message in str(refused.value)
    assert not EmailTemplateVersion.objects.exists()


def test_saved_override_is_used_for_new_emails_and_the_file_stays_the_default():
    make_provider()
    customer = make_customer()
    _save()
    order = make_order(customer, price="1000")
    billing.create_order  # noqa: B018 - the one way orders are created (make_order uses it)
    rendered = notifications.render_email(
        template="order_created",
        context={"order": order, "customer": customer, "pay_url": "http://x/pay"},
        language="es-co",
    )
    assert rendered[0] == f"Orden {order.number} creada"
    assert "Hola" in rendered[1] and "Item 1" in rendered[1]
    # English has no override: the file.
    english = notifications.render_email(
        template="order_created",
        context={"order": order, "customer": customer, "pay_url": "http://x/pay"},
        language="en",
    )
    assert "Orden" not in english[0]
    # Back to the default: the file again, and the history keeps every version.
    notifications.use_default_template(template="order_created", language="es-co", actor=None)
    again = notifications.render_email(
        template="order_created",
        context={"order": order, "customer": customer, "pay_url": "http://x/pay"},
        language="es-co",
    )
    assert again[0] != rendered[0]
    assert EmailTemplateVersion.objects.count() == 2


def test_the_billing_run_renders_an_override_once_per_template_and_language(monkeypatch):
    """The stencil still holds with an override: one full render per shape, not per order."""
    from clientarea.billing.run_emails import OrderEmailRenderer

    make_provider()
    _save()
    calls = []
    real = rendering.render_templates

    def counting(**kwargs):
        calls.append(kwargs["template"])
        return real(**kwargs)

    monkeypatch.setattr(rendering, "render_templates", counting)
    renderer = OrderEmailRenderer(audit_every=10_000)
    outputs = []
    for _ in range(20):
        customer = make_customer()
        order = make_order(customer, price="1000")
        items = list(order.items.all())
        outputs.append(
            renderer.render(
                template="order_created",
                order=order,
                items=items,
                customer=customer,
                pay_url="http://x/pay",
                language="es-co",
            )
        )
    assert renderer.stats["stencil"] >= 19
    assert len(calls) <= 4  # probe, second probe, first real order: not 20
    assert all(o[0].startswith("Orden ODS") for o in outputs)


def test_access_code_emails_keep_the_code_out_of_the_log_with_an_override():
    make_provider()
    _save(
        template="new_access_code",
        subject="Su código",
        body_text="Código: {{ code }} para {{ customer.user.email }}",
        body_html='{% extends "emails/_base.html" %}{% block body %}<p>{{ code }}</p>{% endblock %}',
    )
    customer = make_customer()
    accounts.reset_access_code(customer=customer, actor=None, ip=None)
    email = OutgoingEmail.objects.filter(template="new_access_code").latest("id")
    assert email.redacted
    assert "Código: ••••" in email.body_text
    delivered = rendering.delivered_copy(email)
    assert delivered is not None and "••••" not in delivered.text
    assert delivered.text.startswith("Código: ")


@pytest.mark.parametrize(
    "body", ["{{ code|lower }}", "{% with c=code %}{{ c }}{% endwith %}", "{{ code|slice:'1:4' }}"]
)
def test_a_secret_may_only_be_printed_as_it_is(body):
    """A transformed code would reach the email log in a form the redaction cannot recognise."""
    make_provider()
    with pytest.raises(sandbox.TemplateRefused, match="secret"):
        _save(template="new_access_code", subject="Código", body_text=body, body_html="<p>x</p>")
    _save(
        template="new_access_code",
        subject="Código",
        body_text="{{ code }}",
        body_html="<p>{{ code }}</p>",
    )


def test_editor_page_preview_save_history_and_revert():
    make_provider()
    client = staff_client("administrator")
    page = client.get(_url())
    assert page.status_code == 200
    assert (
        "Hello" in page.context["form"].initial["body_text"]
        or "blocktranslate" in (page.context["form"].initial["body_text"])
    )  # the file's source as the starting point
    preview = client.post(_url(), {**GOOD, "preview": "1"})
    assert preview.status_code == 200
    assert "Orden ODS-000123 creada" in preview.content.decode()
    assert not EmailTemplateVersion.objects.exists()  # a preview saves nothing

    saved = client.post(_url(), {**GOOD, "note": "primera"})
    assert saved.status_code == 302
    second = {**GOOD, "subject": "Nueva orden {{ order.number }}"}
    client.post(_url(), second)
    assert [v.version for v in EmailTemplateVersion.objects.order_by("version")] == [1, 2]

    reverted = client.post(
        reverse("reports:email_template_revert", args=["order_created", "es-co"]), {"version": 1}
    )
    assert reverted.status_code == 302
    latest = EmailTemplateVersion.objects.order_by("-version").first()
    assert latest is not None
    assert (latest.version, latest.reverted_from, latest.subject) == (3, 1, GOOD["subject"])

    listing = client.get(reverse("reports:email_templates")).content.decode()
    assert "versión 3" in listing


def test_editor_refuses_bad_input_with_messages_next_to_the_fields():
    make_provider()
    client = staff_client("administrator")
    response = client.post(_url(), {**GOOD, "body_text": "{{ customer.user.password }}"})
    assert response.status_code == 400
    assert "customer.user.password" in response.content.decode()
    assert not EmailTemplateVersion.objects.exists()
    assert client.get(_url("payment_review")).status_code == 404  # a staff email: not editable
    assert client.get(_url(language="fr")).status_code == 404
    revert = reverse("reports:email_template_revert", args=["order_created", "es-co"])
    assert client.post(revert, {"version": "x"}).status_code == 400
    assert client.post(revert, {"version": "9"}).status_code == 404


@pytest.mark.parametrize(("role", "status"), [("support", 403), ("billing", 403)])
def test_only_administrators_edit_templates(role, status):
    client = staff_client(role)
    assert client.get(reverse("reports:email_templates")).status_code == status
    assert client.post(_url(), GOOD).status_code == status
    assert not EmailTemplateVersion.objects.exists()


def test_every_editable_template_file_validates_against_its_sample():
    """The defaults themselves pass the sandbox: staff start from something that saves."""
    make_provider()
    from clientarea.notifications.editable import EDITABLE

    for key in EDITABLE:
        for language in ("es-co", "en"):
            files = rendering.default_sources(key)
            version = notifications.save_template_version(
                template=key,
                language=language,
                sample=sample_context(key),
                actor=None,
                subject=files["subject"],
                body_text=files["body_text"],
                body_html=files["body_html"],
            )
            assert version.version == 1


def test_every_customer_facing_email_is_editable():
    """One registry: every email template in the project is either editable (customer-facing)
    or a staff alert; a new customer email left out of the registry fails here."""
    from pathlib import Path

    from django.conf import settings

    from clientarea.notifications.editable import EDITABLE, STAFF_TEMPLATES

    root = Path(settings.BASE_DIR) / "clientarea"
    names = {
        path.name.removesuffix(".subject.txt")
        for path in root.glob("**/templates/emails/*.subject.txt")
    }
    assert "service_added" in names and "orders_paid" in names
    assert names - STAFF_TEMPLATES == set(EDITABLE), names - STAFF_TEMPLATES ^ set(EDITABLE)


@pytest.mark.parametrize("language", ["es-co", "en"])
def test_every_editable_email_previews_on_sample_data(language):
    """The preview renders every editable email's files on sample data, in both languages, with
    no unknown variable (what the editor shows before anything is saved)."""
    make_provider()
    from clientarea.notifications.editable import EDITABLE

    for key in EDITABLE:
        rendered = sandbox.validate(
            template=key,
            parts=rendering.default_sources(key),
            sample={**notifications.site_context(), **sample_context(key)},
            language=language,
        )
        assert rendered["body_text"].strip() and rendered["body_html"].strip(), key


def test_the_editor_lists_and_previews_the_new_customer_emails():
    make_provider()
    client = staff_client("administrator")
    listing = client.get(reverse("reports:email_templates")).content.decode()
    for label in ("Abono recibido", "Factura electrónica", "Servicio agregado por nuestro equipo",
                  "Certificado de retención aceptado o rechazado"):  # fmt: skip
        assert label in listing
    url = _url("credit_added")
    assert client.get(url).status_code == 200
    preview = client.post(
        url,
        {"subject": "Saldo {{ credited }}", "body_text": "Tiene {{ credit }} a favor.",
         "body_html": "<p>Tiene {{ credit }} a favor.</p>", "preview": "1"},
    )  # fmt: skip
    assert preview.status_code == 200
    assert "Tiene 20000,00 a favor." in preview.content.decode()
    assert not EmailTemplateVersion.objects.exists()


def test_an_override_of_a_new_customer_email_is_what_the_customer_gets(
    django_capture_on_commit_callbacks, mailoutbox
):
    from decimal import Decimal

    from clientarea.billing import ledger

    make_provider()
    notifications.save_template_version(
        template="credit_added",
        language="es-co",
        sample=sample_context("credit_added"),
        actor=None,
        subject="Nuevo saldo: {{ credited }}",
        body_text="Hola {{ customer.first_name }}, abonamos {{ credited }} (ref. {{ reference }}).",
        body_html="<p>Hola {{ customer.first_name }}</p>",
    )
    alice = make_customer("alice@example.com", first_name="Alice", preferred_language="es-co")
    with django_capture_on_commit_callbacks(execute=True):  # the worker renders and sends it
        ledger.record_payment(
            customer_id=alice.pk, amount=Decimal("5000"), reference="transfer-9", via="manual"
        )
    email = OutgoingEmail.objects.get(template="credit_added")
    # The amounts stored as text are numbers again when rendered: localized (es-CO).
    assert email.subject == "Nuevo saldo: 5000,00"
    assert email.body_text.strip() == "Hola Alice, abonamos 5000,00 (ref. transfer-9)."
    assert [m.subject for m in mailoutbox] == [email.subject]


def test_a_default_with_a_long_subject_source_saves_from_the_editor():
    """service_status_changed's subject source (three sentences in if/elif) is over 300
    characters: the editor and the version table take it."""
    make_provider()
    client = staff_client("administrator")
    files = rendering.default_sources("service_status_changed")
    assert len(files["subject"]) > 300
    response = client.post(_url("service_status_changed"), files)
    assert response.status_code == 302
    assert EmailTemplateVersion.objects.get().subject == files["subject"].strip()
