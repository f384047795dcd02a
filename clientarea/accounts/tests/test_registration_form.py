"""Registration shows the fields of the chosen person type, marks required fields, links the terms."""

import pytest
from django.urls import reverse

from clientarea.accounts.models import Customer
from clientarea.test import make_provider

pytestmark = pytest.mark.django_db

BASE = {
    "email": "nueva@example.com",
    "document_number": "1020304050",
    "phone": "3001112233",
    "address": "Calle 1 # 2-3",
    "municipality_code": "05001",
    "preferred_language": "es-co",
    "accept_terms": "on",
}


def test_the_page_marks_required_fields_and_links_the_terms(client):
    page = client.get(reverse("accounts:register"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Fields marked with an asterisk are required." in page
    assert f'href="{reverse("accounts:terms")}"' in page
    for name in ("email", "first_name", "last_name", "legal_name", "document_number", "phone"):
        tag = page.split(f'name="{name}"', 1)[1].split(">", 1)[0]
        assert "required" in tag, name
    assert (
        'name="trade_name"' in page
        and "required" not in page.split('name="trade_name"', 1)[1].split(">", 1)[0]
    )
    assert "accounts/register.css" in page  # the stylesheet that shows one type's fields
    assert "<script" not in page.split("<main", 1)[-1]  # no inline script (CSP)


def test_the_page_shows_no_template_comment(client):
    """Every field of the form was preceded by the text "{# One form field: label (with the
    required marker), control, help text…#}": a {# #} comment spans one line only, and the
    field partial's ran over two, so Django printed it."""
    page = client.get(reverse("accounts:register"), HTTP_ACCEPT_LANGUAGE="es-co").content.decode()
    assert "{#" not in page and "#}" not in page and "One form field" not in page


@pytest.mark.parametrize(("language", "text"), [("en", "Personal data"), ("es-CO", "Datos")])
def test_the_terms_page_exists_in_both_languages(client, language, text):
    make_provider()
    response = client.get(reverse("accounts:terms"), HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Ley 1581 de 2012" in page and text in page and "habeas data" in page.lower()


def test_a_company_keeps_no_person_names_typed_in_hidden_fields(client):
    make_provider()
    data = {
        **BASE,
        "person_type": "juridica",
        "document_type": "31",
        "document_number": "900108281",
        "check_digit": "3",
        "legal_name": "Ópticas S.A.S.",
        "first_name": "Typed before",
        "last_name": "switching",
    }
    assert client.post(reverse("accounts:register"), data).status_code == 302
    customer = Customer.objects.get()
    assert (customer.first_name, customer.last_name) == ("", "")
    assert customer.user.full_name == "Ópticas S.A.S."


def test_a_natural_person_keeps_no_company_name_typed_in_a_hidden_field(client):
    make_provider()
    data = {
        **BASE,
        "person_type": "natural",
        "document_type": "13",
        "first_name": "Laura",
        "last_name": "Ríos",
        "legal_name": "Typed before switching",
    }
    assert client.post(reverse("accounts:register"), data).status_code == 302
    assert Customer.objects.get().legal_name == ""


def test_each_person_type_still_needs_its_own_fields(client):
    company = client.post(
        reverse("accounts:register"),
        {**BASE, "person_type": "juridica", "document_type": "31", "check_digit": "3"},
    )
    assert "legal_name" in company.context["form"].errors
    person = client.post(
        reverse("accounts:register"), {**BASE, "person_type": "natural", "document_type": "13"}
    )
    assert {"first_name", "last_name"} <= set(person.context["form"].errors)
