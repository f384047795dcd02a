"""The customer page (360): every section, in a number of queries that does not grow with rows."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clientarea.accounts.models import AuditEvent
from clientarea.backoffice import services
from clientarea.backoffice.models import StaffNote
from clientarea.backoffice.tests import staff_with
from clientarea.billing.tests import make_active_service, make_order, make_product
from clientarea.notifications.models import OutgoingEmail
from clientarea.subscriptions import services as subscription_services
from clientarea.subscriptions.models import SuspensionReason
from clientarea.test import make_customer, make_provider, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def carol(client):
    make_provider()
    staff = make_staff()
    client.force_login(staff)
    return staff


@pytest.fixture
def alice(carol):
    return make_customer(
        "alice@example.com", first_name="Alice", last_name="Restrepo", phone="3105550199"
    )


def page_url(customer):
    return reverse("backoffice:customer", args=[customer.pk])


def add_rows(customer, carol, n):
    product = make_product("hosting-pyme")
    for i in range(n):
        make_active_service(customer, product, label=f"site{i}-{customer.pk}.co")
        make_order(customer, due_date=dt.date(2020, 1, 1) if i == 0 else None)
        services.add_note(customer=customer, text=f"note {i}", author=carol, pinned=i == 0)


def test_the_page_shows_every_section(client, carol, alice):
    add_rows(alice, carol, 2)
    page = client.get(page_url(alice)).content.decode()
    for text in (
        "Identity and tax data",
        alice.document_number,  # make_customer numbers them on from 1000000, per test process
        "alice@example.com",
        "3105550199",
        "Balance",
        'id="balance-overdue"',
        "Staff notes",
        "Pinned",
        "site0-",
        "Next due date",
        "ODS-000001",
        "Record payment",
        "Electronic invoices",
        "Payments",
        "Emails sent",
        "Audit log",
        "customer.note_added",
        "New order",
        "New service",
        "View the client area as this customer",
    ):
        assert text in page, text
    assert "$ 238.000" in page  # two pending orders of 119.000 owed


def test_query_count_does_not_grow_with_rows(client, carol, alice):
    bob = make_customer("bob@example.com", first_name="Bob", last_name="Many")
    add_rows(alice, carol, 1)
    add_rows(bob, carol, 12)
    client.get(page_url(alice))  # the site data (provider, help links) is read once, then kept
    counts = []
    for customer in (alice, bob):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(page_url(customer)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_staff_without_the_permission_get_403(client, alice):
    clerk = staff_with("clerk@conexcol.example", "billing.view_order")
    client.force_login(clerk)
    assert client.get(page_url(alice)).status_code == 403
    viewer = staff_with("viewer@conexcol.example", "accounts.view_customer")
    client.force_login(viewer)
    page = client.get(page_url(alice)).content.decode()
    # Actions the viewer may not take are not offered, and refused if posted anyway.
    assert "New order" not in page and "View the client area" not in page
    assert client.get(reverse("backoffice:order_new", args=[alice.pk])).status_code == 403
    assert (
        client.post(reverse("backoffice:note_add", args=[alice.pk]), {"text": "x"}).status_code
        == 403
    )
    assert client.post(reverse("backoffice:resend_code", args=[alice.pk])).status_code == 403
    assert client.post(reverse("backoffice:impersonate_start", args=[alice.pk])).status_code == 403


def test_notes_are_added_pinned_and_audited(client, carol, alice):
    response = client.post(
        reverse("backoffice:note_add", args=[alice.pk]), {"text": "  Pays by transfer  "}
    )
    assert response.status_code == 302
    note = StaffNote.objects.get(customer=alice)
    assert note.text == "Pays by transfer" and not note.pinned and note.author == carol
    client.post(reverse("backoffice:note_pin", args=[note.pk]), {"pinned": "1"})
    note.refresh_from_db()
    assert note.pinned
    actions = set(AuditEvent.objects.filter(customer=alice).values_list("action", flat=True))
    assert {"customer.note_added", "customer.note_pinned"} <= actions
    client.post(reverse("backoffice:note_add", args=[alice.pk]), {"text": "   "})
    client.post(reverse("backoffice:note_add", args=[alice.pk]), {"text": "x" * 2001})
    assert StaffNote.objects.count() == 1


def test_resend_the_access_code_from_the_page(client, carol, alice):
    response = client.post(reverse("backoffice:resend_code", args=[alice.pk]), follow=True)
    assert "A new access code was emailed" in response.content.decode()
    assert OutgoingEmail.objects.filter(customer=alice, template="new_access_code").exists()
    assert AuditEvent.objects.filter(customer=alice, action="customer.access_code_reset").exists()


def test_an_unknown_customer_is_404(client, carol):
    assert client.get(reverse("backoffice:customer", args=[999999])).status_code == 404


def test_the_admin_customer_pages_link_to_it(client, carol, alice):
    changelist = client.get(reverse("admin:accounts_customer_changelist")).content.decode()
    assert page_url(alice) in changelist
    change = client.get(reverse("admin:accounts_customer_change", args=[alice.pk]))
    assert page_url(alice) in change.content.decode()
    # Accent-insensitive search in the customers list too.
    found = client.get(reverse("admin:accounts_customer_changelist"), {"q": "RESTREPÓ"})
    assert "alice@example.com" in found.content.decode()


def test_the_page_says_the_customer_withholds_and_holds_credit(client, carol, alice):
    """A clerk recording Tienda Andina's transfer could not tell it is a withholding agent (it
    pays the net), nor see the credit a duplicate payment or a credit note left."""
    from decimal import Decimal

    from clientarea.billing import ledger
    from clientarea.withholdings.tests.helpers import make_agent

    page = client.get(page_url(alice)).content.decode()
    assert 'id="withholding-agent">No<' in page
    make_agent(alice, reteica=False)
    ledger.record_payment(
        customer_id=alice.pk, amount=Decimal("25000"), reference="SAL-1", via="manual"
    )
    page = client.get(page_url(alice)).content.decode()
    agent = page.split('id="withholding-agent">', 1)[1].split("</dd>", 1)[0]
    assert "Approved" in agent and "ReteFuente" in agent and "ReteIVA" in agent
    assert "ReteICA" not in agent and "pays the net of each order" in agent
    assert 'id="balance-credit">$ 25.000<' in page


def test_a_new_access_code_is_asked_before_it_is_sent(client, carol, alice):
    url = reverse("backoffice:resend_code", args=[alice.pk])
    page = client.get(page_url(alice)).content.decode()
    assert f'href="{url}"' in page  # a link to the question, not a button that sends at once
    question = client.get(url).content.decode()
    assert "The current code stops working at once" in question and "alice@example.com" in question
    assert not OutgoingEmail.objects.filter(template="new_access_code").exists()
    assert not AuditEvent.objects.filter(action="customer.access_code_reset").exists()
    client.post(url)
    assert OutgoingEmail.objects.filter(customer=alice, template="new_access_code").count() == 1
    viewer = staff_with("viewer@conexcol.example", "accounts.view_customer")
    client.force_login(viewer)
    assert client.get(url).status_code == 403


def test_a_service_ended_after_a_suspension_is_not_read_as_suspended(client, carol, alice):
    """A suspended service the customer then cancelled read "Terminated (Overdue payment)"."""
    service = make_active_service(alice, make_product("hosting-pyme"), label="ended.co")
    subscription_services.suspend_service(service=service, reason=SuspensionReason.OVERDUE)
    row = re.compile(rf'<tr id="service-{service.pk}">.*?</tr>', re.S)
    found = row.search(client.get(page_url(alice)).content.decode())
    assert found and "Suspended (Overdue payment)" in found.group()
    subscription_services.terminate_service(service=service, reason="cancelled by the customer")
    found = row.search(client.get(page_url(alice)).content.decode())
    assert found and "Terminated" in found.group()
    assert "Overdue payment" not in found.group()


@pytest.mark.parametrize(
    ("language", "said", "developer_wording"),
    [
        ("en", "Some older transfers and cash payments are not listed here", "since this version"),
        ("es-co", "Algunas transferencias y pagos en efectivo antiguos", "desde esta versión"),
    ],
)
def test_the_payments_note_says_what_staff_find_not_when_the_code_changed(
    client, carol, alice, settings, language, said, developer_wording
):
    """The note under Payments read "since this version, payments staff registered…"."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = client.get(page_url(alice)).content.decode()
    note = page.split('id="h-payments"')[1].split("</section>")[0]
    assert said in note and developer_wording not in note
