"""Contacts of a customer account: invite, change permissions, remove, email preferences, the
e-invoice reception email, and the routing of customer emails to the contacts who want them
(and of staff emails to the provider's address).

The account holder (``Customer.user``) is always an owner: it cannot be removed or lose that
role. An account keeps at least one owner. Every change is audited with the acting user.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from clientarea.accounts import audit, selectors
from clientarea.accounts.models import Contact, Customer, EmailCategory, User
from clientarea.accounts.services import (
    _send_access_code_email,
    _set_new_access_code,
    change_customer_field,
    ensure_holder_contact,
)
from clientarea.notifications.models import OutgoingEmail
from clientarea.notifications.services import Attachment, queue_email

logger = logging.getLogger(__name__)

ROLES = ("is_owner", "billing", "technical", "view_only")
MAX_CONTACTS = 25


@dataclass(frozen=True)
class Roles:
    is_owner: bool = False
    billing: bool = False
    technical: bool = False
    view_only: bool = False

    def as_dict(self) -> dict[str, bool]:
        return {role: getattr(self, role) for role in ROLES}

    def any(self) -> bool:
        return any(self.as_dict().values())


def _roles_of(contact: Contact) -> dict[str, bool]:
    return {role: getattr(contact, role) for role in ROLES}


def _owners(customer: Customer) -> int:
    """Owners of the account (the holder counts even without a contact row)."""
    rows = Contact.objects.filter(customer=customer, is_owner=True).exclude(user=customer.user_id)
    return rows.filter(user__is_active=True).count() + 1


@transaction.atomic
def invite_contact(
    *,
    customer: Customer,
    email: str,
    full_name: str,
    roles: Roles,
    actor: User,
    ip: str | None = None,
) -> Contact:
    """Add a person to the account with their own login; they get the "New Access Code" email."""
    Customer.objects.select_for_update().get(pk=customer.pk)  # one change of contacts at a time
    address = (email or "").strip().lower()
    try:
        validate_email(address)
    except ValidationError:
        raise ValidationError({"email": _("Enter a valid email address.")}) from None
    if not roles.any():
        raise ValidationError(_("Choose at least one permission."))
    if Contact.objects.filter(customer=customer).count() >= MAX_CONTACTS:
        raise ValidationError(
            _("An account can have at most %(n)d contacts.") % {"n": MAX_CONTACTS}
        )
    ensure_holder_contact(customer=customer)
    user = User.objects.select_for_update().filter(email__iexact=address).first()
    if selectors.login_email_taken(address):
        raise ValidationError({"email": _("This email already has a login: use another address.")})
    if user is not None:
        user.is_active = True
        user.full_name = full_name.strip()[:200]
        user.save(update_fields=["is_active", "full_name"])
    else:
        user = User.objects.create_user(email=address, full_name=full_name.strip()[:200])
    contact = Contact.objects.create(
        customer=customer, user=user, added_by=actor, **roles.as_dict()
    )
    code = _set_new_access_code(user)
    audit.record(
        action="contact.added",
        actor=actor,
        customer=customer,
        target=address,
        changes={"roles": roles.as_dict()},
        ip=ip,
    )
    _send_access_code_email(customer=customer, code=code, reason="invited", user=user)
    logger.info("contact added customer=%s contact=%s", customer.pk, contact.pk)
    return contact


def _lock(contact: Contact) -> Contact:
    Customer.objects.select_for_update().get(pk=contact.customer_id)
    return (
        Contact.objects.select_for_update()
        .select_related("user", "customer__user")
        .get(pk=contact.pk)
    )


@transaction.atomic
def update_contact(
    *, contact: Contact, roles: Roles, actor: User, ip: str | None = None
) -> Contact:
    """Change what a contact may do. The holder stays an owner; an account keeps an owner."""
    locked = _lock(contact)
    if locked.is_holder:
        raise ValidationError(_("The account holder is always an owner."))
    if not roles.any():
        raise ValidationError(_("Choose at least one permission."))
    if locked.is_owner and not roles.is_owner and _owners(locked.customer) <= 1:
        raise ValidationError(_("The account must keep at least one owner."))
    before = _roles_of(locked)
    for role, value in roles.as_dict().items():
        setattr(locked, role, value)
    locked.save(update_fields=list(ROLES))
    audit.record(
        action="contact.permissions_changed",
        actor=actor,
        customer=locked.customer,
        target=locked.user.email,
        changes={"before": before, "after": roles.as_dict()},
        ip=ip,
    )
    return locked


@transaction.atomic
def remove_contact(*, contact: Contact, actor: User, ip: str | None = None) -> None:
    """Remove a contact: their login stops working at once (their next request logs them out)."""
    locked = _lock(contact)
    if locked.is_holder:
        raise ValidationError(_("The account holder cannot be removed."))
    if locked.is_owner and _owners(locked.customer) <= 1:
        raise ValidationError(_("The account must keep at least one owner."))
    user = locked.user
    user.is_active = False
    user.set_unusable_password()
    user.save(update_fields=["is_active", "password"])
    audit.record(
        action="contact.removed",
        actor=actor,
        customer=locked.customer,
        target=user.email,
        changes={"roles": _roles_of(locked)},
        ip=ip,
    )
    locked.delete()


@transaction.atomic
def set_email_preferences(
    *,
    customer: Customer,
    user: User,
    billing: bool,
    technical: bool,
    account: bool,
    actor: User,
    ip: str | None = None,
) -> Contact:
    """Which customer emails this contact receives (their own choice, or an owner's)."""
    if user.pk == customer.user_id:
        ensure_holder_contact(customer=customer)
    contact = (
        Contact.objects.select_for_update()
        .select_related("user", "customer__user")
        .get(customer=customer, user=user)
    )
    before = {
        "billing": contact.email_billing,
        "technical": contact.email_technical,
        "account": contact.email_account,
    }
    contact.email_billing, contact.email_technical, contact.email_account = (
        billing,
        technical,
        account,
    )
    contact.save(update_fields=["email_billing", "email_technical", "email_account"])
    after = {"billing": billing, "technical": technical, "account": account}
    if before != after:
        audit.record(
            action="contact.email_preferences_changed",
            actor=actor,
            customer=customer,
            target=user.email,
            changes={"before": before, "after": after},
            ip=ip,
        )
    return contact


def set_einvoice_email(
    *, customer: Customer, email: str, actor: User, ip: str | None = None
) -> Customer:
    """The address registered for receiving electronic invoices (empty: the account's email)."""
    address = (email or "").strip().lower()
    if address:
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError({"einvoice_email": _("Enter a valid email address.")}) from None
    return change_customer_field(
        customer=customer,
        field="einvoice_email",
        value=address,
        action="customer.einvoice_email_changed",
        actor=actor,
        ip=ip,
    )


def queue_customer_email(
    *,
    customer: Customer,
    category: str,
    template: str,
    context: Mapping[str, Any] | None = None,
    attachments: Iterable[Attachment] = (),
    subject: str | None = None,
    also_to: Iterable[str] = (),
    refs: Mapping[str, Any] | None = None,
) -> list[OutgoingEmail]:
    """Queue one customer email to every contact who receives ``category`` (and ``also_to``),
    one email log row per address, in the caller's transaction. ``refs`` instead of ``context``:
    rendered when delivered (``notifications.services.queue_email``)."""
    return _queue_to(
        [*also_to, *selectors.email_recipients(customer, EmailCategory(category))],
        customer=customer,
        template=template,
        context=context,
        attachments=attachments,
        subject=subject,
        refs=refs,
    )


def queue_einvoice_email(
    *,
    customer: Customer,
    template: str,
    context: Mapping[str, Any],
    attachments: Iterable[Attachment] = (),
    subject: str | None = None,
) -> list[OutgoingEmail]:
    """A DIAN document email: to the e-invoice reception address, and to the billing contacts who
    opted in (when nobody did, the reception address alone)."""
    # Through the customer's related manager, each contact's ``customer`` is the one in hand
    # (Django sets it): no join of the customer's row again, for ``wants()`` to read its holder.
    opted = [
        c.user.email
        for c in customer.contacts.filter(user__is_active=True)
        .select_related("user")
        .order_by("created_at", "pk")
        if c.wants(EmailCategory.BILLING)
    ]
    return _queue_to(
        [customer.einvoice_address, *opted],
        customer=customer,
        template=template,
        context=context,
        attachments=attachments,
        subject=subject,
    )


def queue_staff_email(
    *,
    template: str,
    context: Mapping[str, Any] | None = None,
    refs: Mapping[str, Any] | None = None,
) -> OutgoingEmail | None:
    """Queue an email for staff to the provider's address, in the site's language, in the
    caller's transaction; None (nothing queued) while the provider has no address. ``refs``
    instead of ``context``: rendered when delivered (``notifications.services.queue_email``)."""
    provider = selectors.get_provider()
    if provider is None or not provider.email:
        return None
    return queue_email(
        to=provider.email,
        template=template,
        language=settings.LANGUAGE_CODE,
        context=context,
        refs=refs,
    )


def _queue_to(
    addresses: Iterable[str],
    *,
    customer: Customer,
    template: str,
    context: Mapping[str, Any] | None,
    attachments: Iterable[Attachment],
    subject: str | None,
    refs: Mapping[str, Any] | None = None,
) -> list[OutgoingEmail]:
    """One email log row per distinct address (case-insensitive, first spelling kept)."""
    distinct: dict[str, str] = {}
    for address in addresses:
        if address:
            distinct.setdefault(address.lower(), address)
    files = list(attachments)
    return [
        queue_email(
            to=address,
            template=template,
            customer=customer,
            context=context,
            attachments=files,
            subject=subject,
            refs=refs,
        )
        for address in distinct.values()
    ]
