"""Staff create a service for a customer: the customer gets the "service added" email (the
service, its price and next due date, a link to it) through the email outbox, in their language;
staff may leave it out."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from clientarea.billing.tests import make_product
from clientarea.notifications.models import OutgoingEmail
from clientarea.subscriptions.models import Service
from clientarea.test import make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def carol(client):
    make_provider()
    staff = make_staff()
    client.force_login(staff)
    return staff


def create(client, customer, **extra):
    product = make_product("hosting-pyme")
    data = {
        "product": product.pk,
        "cycle": "annual",
        "label": "restrepo.co",
        "price": "250000",
        "next_due_date": "2027-03-01",
        "reason": "sold by phone",
        "notify": "on",
    }
    data.update(extra)
    response = client.post(reverse("backoffice:service_new", args=[customer.pk]), data)
    assert response.status_code == 302
    return Service.objects.get(customer=customer)


@pytest.mark.parametrize(
    ("language", "subject", "words"),
    [
        (
            "es",
            "Nuevo servicio en su cuenta: ",
            ["Agregamos este servicio a su cuenta", "Precio antes de IVA", "$ 250.000",
             "01/03/2027", "Anual", "restrepo.co"],
        ),
        (
            "en",
            "New service on your account: ",
            ["We added this service to your account", "Price before IVA", "$ 250.000",
             "01/03/2027", "Annual", "restrepo.co"],
        ),
    ],
)  # fmt: skip
def test_the_customer_is_emailed_the_service_price_and_next_due_date(
    client, carol, language, subject, words
):
    alice = make_customer("alice@example.com", preferred_language=language)
    service = create(client, alice)
    email = OutgoingEmail.objects.get(template="service_added")
    assert email.customer == alice and email.to_email == "alice@example.com"
    assert email.subject.startswith(subject) and service.product.name in email.subject
    for word in words:
        assert word in email.body_text, word
        assert word in email.body_html, word
    assert reverse("subscriptions:detail", args=[service.pk]) in email.body_text
    assert email.status == "queued"  # in the outbox: the worker delivers it after commit


def test_staff_may_leave_the_email_out(client, carol):
    alice = make_customer("alice@example.com")
    create(client, alice, notify="")
    assert not OutgoingEmail.objects.filter(template="service_added").exists()


def test_a_refused_service_sends_nothing(client, carol):
    alice = make_customer("alice@example.com")
    product = make_product("hosting-pyme")
    response = client.post(
        reverse("backoffice:service_new", args=[alice.pk]),
        {"product": product.pk, "cycle": "annual", "price": "999999999999", "reason": "x",
         "notify": "on"},
    )  # fmt: skip
    assert response.status_code == 200
    assert not Service.objects.exists()
    assert not OutgoingEmail.objects.filter(template="service_added").exists()


def test_the_catalogue_price_and_a_default_due_date_are_in_the_email(client, carol):
    alice = make_customer("alice@example.com", preferred_language="en")
    service = create(client, alice, price="", next_due_date="")
    assert service.price > Decimal(0) and service.next_due_date
    email = OutgoingEmail.objects.get(template="service_added")
    assert service.next_due_date.strftime("%d/%m/%Y") in email.body_text


@pytest.mark.parametrize(
    ("language", "name", "other"),
    [("en", "SME Hosting", "Hosting Pyme"), ("es", "Hosting Pyme", "SME Hosting")],
)
def test_the_product_is_named_in_the_customer_s_language(client, carol, language, name, other):
    product = make_product("hosting-pyme", name="Hosting Pyme")
    product.name_en = "SME Hosting"
    product.save(update_fields=["name_en"])
    alice = make_customer("alice@example.com", preferred_language=language)
    service = create(client, alice)
    email = OutgoingEmail.objects.get(template="service_added")
    for text in (email.subject, email.body_text, email.body_html):
        assert name in text and other not in text
    # Staff suspend it: that email names the product the same way.
    url = reverse("backoffice:service_status", args=[service.pk, "suspend"])
    assert client.post(url, {"reason": "customer asked"}).status_code == 302
    email = OutgoingEmail.objects.get(template="service_status_changed")
    for text in (email.subject, email.body_text, email.body_html):
        assert name in text and other not in text
