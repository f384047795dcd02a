"""Forms tie their help text and errors to their fields (issue 11.18).

Django 5.2 renders ``aria-describedby="id_<name>_helptext id_<name>_error"`` and
``aria-invalid="true"``; the templates must give the help text and the error list those ids,
so that a screen reader reads them with the field. Every ``aria-describedby`` on every form
page must point at an element that exists.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from lxml import html

from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db


def dangling_references(document) -> list[str]:
    ids = set(document.xpath("//@id"))
    return [
        f"{el.get('name') or el.tag}→{ref}"
        for el in document.xpath("//*[@aria-describedby]")
        for ref in el.get("aria-describedby").split()
        if ref not in ids
    ]


def described_by(document, element) -> str:
    refs = (element.get("aria-describedby") or "").split()
    return " ".join(
        " ".join(document.get_element_by_id(ref).text_content().split())
        for ref in refs
        if document.xpath(f"//*[@id='{ref}']")
    )


@pytest.fixture
def customer(client):
    make_provider()
    customer = make_customer("ana@example.com")
    client.force_login(customer.user, backend="clientarea.accounts.backends.EmailAccessCodeBackend")
    return customer


@pytest.mark.parametrize("url_name", ["accounts:register", "accounts:login", "accounts:forgot"])
def test_public_forms_reference_only_existing_ids(client, url_name):
    make_provider()
    document = html.fromstring(client.get(reverse(url_name)).content)
    assert dangling_references(document) == []


@pytest.mark.parametrize(
    "url_name",
    ["accounts:profile", "accounts:change_password", "subscriptions:new"],
)
def test_customer_forms_reference_only_existing_ids(client, customer, url_name):
    document = html.fromstring(client.get(reverse(url_name)).content)
    assert dangling_references(document) == []


def test_the_check_digit_help_text_is_read_with_its_field(client):
    make_provider()
    document = html.fromstring(client.get(reverse("accounts:register")).content)
    field = document.get_element_by_id("id_check_digit")
    assert "Only for NIT" in described_by(document, field) or "Solo para NIT" in described_by(
        document, field
    )


def test_errors_are_tied_to_their_fields(client):
    make_provider()
    response = client.post(
        reverse("accounts:register"), {"email": "not-an-email", "person_type": "natural"}
    )
    assert response.status_code == 200
    document = html.fromstring(response.content)
    assert dangling_references(document) == []
    errors = response.context["form"].errors
    assert "email" in errors and "document_number" in errors
    for name in ("email", "document_number"):
        field = document.get_element_by_id(f"id_{name}")
        assert field.get("aria-invalid") == "true", name
        message = str(errors[name][0])
        assert message in described_by(document, field), (name, described_by(document, field))
    # A field without errors is not marked invalid.
    assert document.get_element_by_id("id_phone").get("aria-invalid") is None or "phone" in errors


def test_radio_groups_are_described_on_their_fieldset(client, customer):
    response = client.post(reverse("accounts:profile"), {"person_type": ""})
    document = html.fromstring(response.content)
    assert dangling_references(document) == []
    fieldsets = document.xpath("//fieldset[.//input[@name='person_type']]")
    assert len(fieldsets) == 1
    assert "person_type" in response.context["form"].errors
    assert "id_person_type_error" in fieldsets[0].get("aria-describedby", "")


def test_back_office_action_forms_reference_only_existing_ids(client):
    """The staff action pages (cancel an order, register a manual payment) describe their fields."""
    import io

    from django.core.management import call_command

    from clientarea.accounts.models import User
    from clientarea.billing.models import Order, OrderState

    call_command("demo_data", stdout=io.StringIO())
    client.force_login(User.objects.get(email="soporte@conexcol.example"))
    order = Order.objects.filter(state=OrderState.PENDING).first()
    assert order is not None
    for action in ("cancel", "pay"):
        response = client.get(f"/admin/billing/order/{order.pk}/{action}/")
        assert response.status_code == 200, action
        document = html.fromstring(response.content)
        assert document.xpath("//*[@aria-describedby]"), action
        assert dangling_references(document) == [], action
