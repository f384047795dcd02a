"""Contacts: invitation with an access code, permissions, removal rules, email routing, audit."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError

from clientarea.accounts import contacts, selectors
from clientarea.accounts.models import AuditEvent, Contact, EmailCategory, User
from clientarea.billing import services as billing_services
from clientarea.billing.tests import make_order
from clientarea.einvoice.tests.test_issue_on_payment import setup  # noqa: F401 - the fixture
from clientarea.notifications.models import OutgoingEmail
from clientarea.test import make_contact, make_customer, make_provider

pytestmark = pytest.mark.django_db
LOGIN = "clientarea.accounts.backends.EmailAccessCodeBackend"


@pytest.fixture
def account():
    make_provider()
    return make_customer("owner@acme.example", person_type="juridica", document_type="31")


def _invite(account, email="ana@acme.example", **roles):
    return contacts.invite_contact(
        customer=account,
        email=email,
        full_name="Ana Contadora",
        roles=contacts.Roles(**(roles or {"billing": True})),
        actor=account.user,
        ip="10.0.0.1",
    )


def test_an_invited_contact_gets_an_access_code_and_logs_in_with_it(
    client, account, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the worker delivers it
        contact = _invite(account, "Ana@Acme.example")
    assert contact.user.email == "ana@acme.example" and contact.billing
    email = OutgoingEmail.objects.get(to_email="ana@acme.example", template="new_access_code")
    assert email.customer == account and email.redacted
    assert "ana@acme.example" in email.body_text  # the contact's own login, not the holder's
    code = _sent_code(email)
    response = client.post("/clientarea/login/", {"username": "ana@acme.example", "password": code})
    assert response.status_code == 302
    assert client.get("/clientarea/billing/").status_code == 200
    assert client.get("/clientarea/services/").status_code == 403
    event = AuditEvent.objects.get(action="contact.added")
    assert event.actor == account.user and event.customer == account
    assert event.target == "ana@acme.example"


def _sent_code(email: OutgoingEmail) -> str:
    """The access code as delivered (the log keeps only a redacted copy)."""
    from django.core import mail

    text = next(str(m.body) for m in mail.outbox if "ana@acme.example" in m.to)
    found = re.search(r"([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{2})", text)
    assert found, text
    return found.group(1)


def test_an_invitation_needs_a_permission_and_a_free_email(account):
    with pytest.raises(ValidationError):
        contacts.invite_contact(
            customer=account,
            email="x@acme.example",
            full_name="X",
            roles=contacts.Roles(),
            actor=account.user,
        )
    with pytest.raises(ValidationError):
        _invite(account, "owner@acme.example")  # the holder's login
    other = make_customer("someone@else.example")
    with pytest.raises(ValidationError):
        _invite(account, other.user.email)
    with pytest.raises(ValidationError):
        _invite(account, "not an email")
    assert not User.objects.filter(email="x@acme.example").exists()


def test_the_holder_cannot_be_removed_nor_lose_ownership(account):
    holder = Contact.objects.get(user=account.user)
    with pytest.raises(ValidationError):
        contacts.remove_contact(contact=holder, actor=account.user)
    with pytest.raises(ValidationError):
        contacts.update_contact(
            contact=holder, roles=contacts.Roles(billing=True), actor=account.user
        )
    assert Contact.objects.filter(pk=holder.pk, is_owner=True).exists()


def test_a_contact_is_removed_and_audited(account):
    second = _invite(account, "boss@acme.example", is_owner=True)
    contacts.update_contact(
        contact=second, roles=contacts.Roles(view_only=True), actor=account.user
    )
    second.refresh_from_db()
    assert not second.is_owner and second.view_only
    contacts.remove_contact(contact=second, actor=account.user, ip="10.0.0.2")
    assert not Contact.objects.filter(pk=second.pk).exists()
    user = User.objects.get(email="boss@acme.example")
    assert not user.is_active and not user.has_usable_password()
    actions = list(AuditEvent.objects.filter(customer=account).values_list("action", flat=True))
    assert {"contact.added", "contact.permissions_changed", "contact.removed"} <= set(actions)
    again = _invite(account, "boss@acme.example", technical=True)  # the same person, re-invited
    assert again.user_id == user.pk and again.user.is_active


def test_the_last_owner_stays(account):
    # A holder is always an owner, so the last owner rule also guards owners added later.
    second = _invite(account, "boss@acme.example", is_owner=True)
    assert contacts._owners(account) == 2
    contacts.remove_contact(contact=second, actor=account.user)
    assert contacts._owners(account) == 1


def test_permissions_by_role(account):
    holder = Contact.objects.get(user=account.user)
    assert holder.owner and holder.is_holder
    billing = make_contact(account, "b@acme.example", billing=True)
    tech = make_contact(account, "t@acme.example", technical=True)
    viewer = make_contact(account, "v@acme.example", view_only=True)
    assert billing.permissions == {"self", "billing.view", "billing"}
    assert tech.permissions == {"self", "services.view", "services"}
    assert viewer.permissions == {"self", "billing.view", "services.view"}
    both = make_contact(account, "bt@acme.example", billing=True, technical=True)
    assert {"billing", "services"} <= both.permissions and "account" not in both.permissions


def test_emails_go_to_the_contacts_who_want_them(account):
    make_contact(account, "b@acme.example", billing=True)
    make_contact(account, "t@acme.example", technical=True, email_technical=False)
    make_contact(account, "v@acme.example", view_only=True, email_billing=False)
    recipients = selectors.email_recipients(account, EmailCategory.BILLING)
    assert recipients == ["owner@acme.example", "b@acme.example"]
    # A technical contact never gets billing emails, even opted in (not their permission).
    assert "t@acme.example" not in recipients
    contacts.set_email_preferences(
        customer=account,
        user=account.user,
        billing=False,
        technical=True,
        account=False,
        actor=account.user,
    )
    assert selectors.email_recipients(account, EmailCategory.BILLING) == ["b@acme.example"]
    assert selectors.email_recipients(account, EmailCategory.TECHNICAL) == [
        "owner@acme.example",
        "v@acme.example",
    ]
    # Nobody opted in: the holder gets it, so nothing is lost.
    assert selectors.email_recipients(account, EmailCategory.ACCOUNT) == ["owner@acme.example"]
    assert AuditEvent.objects.filter(action="contact.email_preferences_changed").exists()


def test_an_order_email_reaches_every_billing_contact(account):
    make_contact(account, "b@acme.example", billing=True)
    make_contact(account, "t@acme.example", technical=True)
    order = make_order(account)
    billing_services.resend_order_email(order=order)
    sent = set(
        OutgoingEmail.objects.filter(template="order_created").values_list("to_email", flat=True)
    )
    assert sent == {"owner@acme.example", "b@acme.example"}


def test_the_billing_run_emails_reach_the_billing_contacts(account):
    from clientarea.billing.run_emails import build_email, save_emails

    make_contact(account, "b@acme.example", billing=True)
    make_contact(account, "t@acme.example", technical=True)
    other = make_customer("solo@example.com")
    ids = save_emails(
        [
            build_email(customer=c, template="order_reminder", context={}, rendered=("s", "t", ""))
            for c in (account, other)
        ]
    )
    rows = OutgoingEmail.objects.filter(pk__in=ids)
    assert sorted(rows.values_list("to_email", flat=True)) == [
        "b@acme.example",
        "owner@acme.example",
        "solo@example.com",
    ]


def test_dian_emails_go_to_the_einvoice_reception_address(
    setup,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    from clientarea.einvoice.models import Invoice
    from clientarea.einvoice.tests.test_issue_on_payment import make_resolution, pay

    hosting, _ = setup
    make_resolution()
    account = make_customer("owner@acme.example", person_type="juridica", document_type="31")
    make_contact(account, "b@acme.example", billing=True)
    make_contact(account, "noinv@acme.example", billing=True, email_billing=False)
    make_contact(account, "t@acme.example", technical=True)
    contacts.set_einvoice_email(
        customer=account, email="FE@Acme.example", actor=account.user, ip=None
    )
    account.refresh_from_db()
    assert account.einvoice_address == "fe@acme.example"
    order = billing_services.order_new_service(
        customer=account, product=hosting, cycle="annual", label="acme.co"
    )
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
    rows = OutgoingEmail.objects.filter(template="invoice_issued", customer=account)
    assert sorted(r.to_email for r in rows) == [
        "b@acme.example",
        "fe@acme.example",
        "owner@acme.example",
    ]
    assert all(r.attachments.count() == 2 for r in rows)
    invoice = Invoice.objects.get(order=order)
    assert "fe@acme.example" in invoice.xml_unsigned  # the buyer's e-invoice address in the UBL
    event = AuditEvent.objects.get(action="customer.einvoice_email_changed")
    assert event.changes["einvoice_email"]["after"] == "fe@acme.example"
    with pytest.raises(ValidationError):
        contacts.set_einvoice_email(customer=account, email="nope", actor=account.user)


def test_a_contact_recovers_a_lost_code_with_their_own_email(account):
    from clientarea.accounts import services

    contact = make_contact(account, "b@acme.example", billing=True)
    services.request_login_link(email="B@acme.example", ip=None)
    link = OutgoingEmail.objects.get(template="login_link")
    assert link.to_email == "b@acme.example" and link.customer == account
    code = services.redeem_login_link(user=contact.user, ip=None)
    sent = OutgoingEmail.objects.filter(template="new_access_code").get()
    assert sent.to_email == "b@acme.example" and code
    used = AuditEvent.objects.get(action="customer.login_link_used")
    assert used.actor == contact.user and used.customer == account


def test_an_owner_sends_a_contact_a_new_code_but_not_to_another_accounts_login(account):
    from clientarea.accounts import services

    contact = make_contact(account, "b@acme.example", billing=True)
    services.reset_access_code(customer=account, user=contact.user, actor=account.user)
    assert OutgoingEmail.objects.get(template="new_access_code").to_email == "b@acme.example"
    other = make_customer("someone@else.example")
    with pytest.raises(ValidationError):
        services.reset_access_code(customer=account, user=other.user, actor=account.user)


def test_the_contacts_pages(client, account):
    client.force_login(account.user, backend=LOGIN)
    page = client.get("/clientarea/contacts/")
    assert page.status_code == 200 and b"owner@acme.example" in page.content
    bad = client.post(
        "/clientarea/contacts/add/", {"full_name": "X", "email": "nope", "billing": "on"}
    )
    assert bad.status_code == 400
    none = client.post("/clientarea/contacts/add/", {"full_name": "X", "email": "x@acme.example"})
    assert none.status_code == 400  # no permission ticked
    assert not User.objects.filter(email="x@acme.example").exists()
    added = client.post(
        "/clientarea/contacts/add/",
        {"full_name": "Técnico", "email": "tec@acme.example", "technical": "on"},
    )
    assert added.status_code == 302
    contact = Contact.objects.get(user__email="tec@acme.example")
    event = AuditEvent.objects.get(action="contact.added")
    assert event.actor == account.user
    client.post(f"/clientarea/contacts/{contact.pk}/", {"view_only": "on"})
    contact.refresh_from_db()
    assert contact.view_only and not contact.technical
    holder = Contact.objects.get(user=account.user)
    assert b"contact-save" not in client.get(f"/clientarea/contacts/{holder.pk}/").content
    client.post(f"/clientarea/contacts/{holder.pk}/remove/")
    assert Contact.objects.filter(pk=holder.pk).exists()
    client.post(f"/clientarea/contacts/{contact.pk}/remove/")
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert (
        client.post("/clientarea/contacts/einvoice-email/", {"einvoice_email": "x"}).status_code
        == 400
    )
    client.post("/clientarea/contacts/einvoice-email/", {"einvoice_email": "fe@acme.example"})
    account.refresh_from_db()
    assert account.einvoice_email == "fe@acme.example"
    other = make_customer("someone@else.example")
    theirs = Contact.objects.get(user=other.user)
    assert client.get(f"/clientarea/contacts/{theirs.pk}/").status_code == 404


def test_a_contact_chooses_their_emails_within_their_permissions(client, account):
    contact = make_contact(account, "t@acme.example", technical=True)
    client.force_login(contact.user, backend=LOGIN)
    page = client.get("/clientarea/profile/emails/").content.decode()
    assert 'name="billing"' in page and "disabled" in page
    client.post("/clientarea/profile/emails/", {"technical": "", "billing": "on"})
    contact.refresh_from_db()
    assert not contact.email_technical and not contact.email_billing  # billing is not theirs
    # Their own emails only: not the account's other emails.
    make_order(account)
    billing_services.resend_order_email(order=account.orders.get())
    mine = OutgoingEmail.objects.filter(customer=account, to_email="owner@acme.example").first()
    assert mine is not None
    listing = client.get("/clientarea/emails/")
    assert (
        listing.status_code == 200
        and f"/clientarea/emails/{mine.pk}/" not in listing.content.decode()
    )
    assert client.get(f"/clientarea/emails/{mine.pk}/").status_code == 404


def test_staff_add_and_remove_contacts_in_the_back_office(client, account):
    staff = User.objects.create_superuser("carol@conexcol.example", "x" * 12)
    client.force_login(staff)
    response = client.post(
        "/admin/accounts/contact/add/",
        {
            "customer": account.pk,
            "email": "staff-added@acme.example",
            "full_name": "Añadido por soporte",
            "billing": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:1500]
    contact = Contact.objects.get(user__email="staff-added@acme.example")
    assert contact.customer == account and contact.billing
    assert OutgoingEmail.objects.filter(
        to_email="staff-added@acme.example", template="new_access_code"
    ).exists()
    assert AuditEvent.objects.get(action="contact.added").actor == staff
    taken = client.post(
        "/admin/accounts/contact/add/",
        {"customer": account.pk, "email": "owner@acme.example", "full_name": "X", "billing": "on"},
    )
    assert taken.status_code == 200  # the form shows the error; nothing is written
    holder = Contact.objects.get(user=account.user)
    assert (
        client.post(f"/admin/accounts/contact/{holder.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    client.post(f"/admin/accounts/contact/{contact.pk}/delete/", {"post": "yes"})
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert AuditEvent.objects.get(action="contact.removed").actor == staff
    page = client.get(f"/backoffice/customers/{account.pk}/").content.decode()
    assert 'id="contacts"' in page and "owner@acme.example" in page


def test_my_emails_says_to_whom_each_copy_went(client, account):
    """An order's email goes to the holder and to the billing contact: My emails listed two
    identical rows (date, subject, status), which read as the same email sent twice."""
    make_contact(account, "conta@acme.example", billing=True)
    make_order(account)
    billing_services.resend_order_email(order=account.orders.get())
    copies = OutgoingEmail.objects.filter(customer=account, template="order_created")
    assert {e.to_email for e in copies} == {"owner@acme.example", "conta@acme.example"}
    client.force_login(account.user, backend=LOGIN)
    page = client.get("/clientarea/emails/", HTTP_ACCEPT_LANGUAGE="es-co").content.decode()
    for email in copies:
        row = page.split(f"/clientarea/emails/{email.pk}/", 1)[1].split("</tr>", 1)[0]
        assert f"Enviado a {email.to_email}" in row.replace("<wbr>", "")
        assert "@<wbr>" in row  # on a phone it wraps after the @ or a dot, never mid-word


def test_the_menu_is_the_same_on_the_catalog_and_cart_pages(client, account):
    """The catalog and cart (open to visitors too) drew the menu without the logged-in user's
    permissions: no Contacts for the owner, and Services for a billing-only contact (a 403)."""
    client.force_login(account.user)
    for path in ("/clientarea/order/", "/clientarea/order/cart/"):
        assert 'id="nav-contacts"' in client.get(path).content.decode(), path
    client.force_login(make_contact(account, "billing@acme.example", billing=True).user)
    page = client.get("/clientarea/order/cart/").content.decode()
    assert 'id="nav-services"' not in page and 'id="nav-contacts"' not in page
    assert 'id="nav-billing"' in page
