"""Contacts in a real browser: the owner adds the accountant as a billing contact; the accountant
logs in with the emailed access code, pays the pending order at the PayU simulator, and finds
Services closed to them (403 with the clear page)."""

from __future__ import annotations

import re

import pytest

from clientarea.accounts.models import AuditEvent, Contact
from clientarea.billing.models import Order
from clientarea.billing.tests import make_order
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.notifications.models import OutgoingEmail
from clientarea.payments.models import Payment
from clientarea.payments.tests.test_e2e_browser import pay_by_card, wait_for_status
from clientarea.test import ACCESS_CODE, make_customer, make_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CODE_RE = re.compile(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{2}")


def log_in(page, live_site, email: str, code: str) -> None:
    page.goto(live_site.url + "/clientarea/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", code)
    page.click("main button[type=submit]")
    page.wait_for_url(live_site.url + "/clientarea/")


def test_the_accountant_pays_an_order_but_cannot_open_services(page, live_site, mailoutbox):
    make_provider()
    make_resolution()
    owner = make_customer("gerencia@acme.example", person_type="juridica", document_type="31")
    order = make_order(owner)

    log_in(page, live_site, "gerencia@acme.example", ACCESS_CODE)
    page.click("#nav-contacts")
    page.click("#contact-add")
    page.fill("#id_full_name", "Carla Contadora")
    page.fill("#id_email", "contadora@acme.example")
    page.check("#id_billing")
    page.click("#contact-save")
    page.wait_for_url(live_site.url + "/clientarea/contacts/")
    assert "contadora@acme.example" in page.inner_text("#contacts")
    contact = Contact.objects.get(user__email="contadora@acme.example")
    assert contact.billing and not contact.technical and contact.customer == owner
    page.click("nav.side-nav form button")  # log out

    message = next(m for m in mailoutbox if m.to == ["contadora@acme.example"])
    found = CODE_RE.search(str(message.body))
    assert found, message.body
    log_in(page, live_site, "contadora@acme.example", found.group(0))
    assert page.locator("#nav-services").count() == 0
    assert page.locator("#nav-contacts").count() == 0
    page.click("#nav-billing")
    assert order.number in page.inner_text("main")

    page.goto(live_site.url + f"/payments/pay/{order.number}/")
    page.click("#gateway-payu")
    pay_by_card(page, "4111111111111111")
    wait_for_status(page, "approved")
    assert Order.objects.get(pk=order.pk).state == "paid"
    payment = Payment.objects.get()
    started = AuditEvent.objects.get(action="payment.started", target=payment.reference)
    assert started.actor == contact.user and started.customer == owner
    # The receipt went to the billing contacts: the holder and the accountant.
    paid = OutgoingEmail.objects.filter(template="order_paid", customer=owner)
    assert set(paid.values_list("to_email", flat=True)) == {
        "gerencia@acme.example",
        "contadora@acme.example",
    }

    response = page.goto(live_site.url + "/clientarea/services/")
    assert response is not None and response.status == 403
    assert page.locator("#error-page").count() == 1
    assert "Ver los servicios" in page.inner_text("#error-page")
