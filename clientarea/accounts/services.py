"""Account services: registration, access codes, login links, profile changes.

Access codes are random, drawn from an alphabet without look-alike characters,
and stored only as a password hash (Argon2). They are shown once, in the
"New Access Code" email.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from axes.utils import reset as reset_axes_attempts
from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _

from clientarea.accounts import audit, impersonation, twofactor
from clientarea.accounts.models import (
    Contact,
    Customer,
    DocumentType,
    EmailCategory,
    Language,
    ProviderProfile,
    User,
)
from clientarea.accounts.searchtext import search_text_for
from clientarea.accounts.selectors import customer_of, email_recipients
from clientarea.lib import nit, sitecache
from clientarea.notifications.services import queue_email

logger = logging.getLogger(__name__)

# No 0/O, 1/I/L, 5/S, 2/Z, 8/B: nothing a customer can misread from an email.
ACCESS_CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
IDENTITY_FIELDS = (
    "person_type",
    "document_type",
    "document_number",
    "check_digit",
    "legal_name",
    "first_name",
    "last_name",
)
login_link_tokens = PasswordResetTokenGenerator()


def generate_access_code(length: int | None = None) -> str:
    """A random code like ``K7PX-M9QR-T4WZ-HN`` (groups of four for reading)."""
    n = max(12, length or settings.ACCESS_CODE_LENGTH)
    raw = "".join(secrets.choice(ACCESS_CODE_ALPHABET) for _ in range(n))
    return "-".join(raw[i : i + 4] for i in range(0, n, 4))


def normalize_access_code(value: str) -> str:
    """Accept a code typed in lower case, with or without dashes or spaces."""
    cleaned = "".join(ch for ch in (value or "").upper() if ch.isalnum())
    if not cleaned or any(ch not in ACCESS_CODE_ALPHABET for ch in cleaned):
        return ""
    return "-".join(cleaned[i : i + 4] for i in range(0, len(cleaned), 4))


def login_username(value: str | None) -> str:
    """The form in which a typed login email is counted for the lockout: trimmed, lower case."""
    return (value or "").strip().lower()


def clear_login_failures(*, username: str, ip: str | None) -> int:
    """After a successful login: forget this account's failures from this address only.

    Failures against other accounts from the same address, and failures against this
    account from other addresses, keep counting (an attacker cannot wash away guesses
    at someone else's code by logging in to an account of their own).
    """
    if not ip or not username:
        return 0
    return reset_axes_attempts(ip=ip, username=login_username(username))


@dataclass(frozen=True)
class CustomerData:
    email: str
    person_type: str
    document_type: str
    document_number: str
    check_digit: str = ""
    first_name: str = ""
    last_name: str = ""
    legal_name: str = ""
    trade_name: str = ""
    phone: str = ""
    address: str = ""
    municipality_code: str = ""
    fiscal_responsibilities: str = "R-99-PN"
    preferred_language: str = "es-co"


def _set_new_access_code(user: User) -> str:
    code = generate_access_code()
    user.set_password(code)
    user.save(update_fields=["password"])
    return code


def _send_access_code_email(
    *, customer: Customer, code: str, reason: str, user: User | None = None
) -> None:
    """The "New Access Code" email to ``user`` (default: the account holder), a contact of ``customer``.

    ``reason``: ``registered``, ``reset`` or ``invited`` (a contact added by an owner or staff).
    """
    to = (user or customer.user).email
    queue_email(
        to=to,
        template="new_access_code",
        customer=customer,
        context={
            "customer": customer,
            "reason": reason,
            "login_url": settings.SITE_URL + reverse("accounts:login"),
            "login_email": to,
        },
        secrets={"code": code},
    )


@transaction.atomic
def save_provider(*, provider: ProviderProfile) -> ProviderProfile:
    """Save the provider profile (new or edited): every page shows the change once it commits
    (the copy pages keep in memory is read again: ``selectors.provider_for_pages``)."""
    provider.save()
    sitecache.changed()
    return provider


def ensure_holder_contact(*, customer: Customer) -> Contact:
    """The account holder's contact row (an owner), created when missing."""
    contact, _created = Contact.objects.get_or_create(
        user_id=customer.user_id,
        defaults={"customer": customer, "is_owner": True},
    )
    return contact


def _document_number(data: CustomerData) -> str:
    return (
        nit.clean_number(data.document_number)
        if data.document_type in (DocumentType.CC, DocumentType.NIT)
        else data.document_number.strip().upper()
    )


def _hash_like_a_new_code() -> None:
    """Spend what hashing a new access code costs (the slowest step of a real registration), so
    the time a registration takes does not tell whether the email or document exists."""
    User().set_password(generate_access_code())


def _notify_registration_attempt(*, user: User, reason: str, ip: str | None) -> None:
    """Tell the owner of an existing account that someone tried to register with its details."""
    customer = customer_of(user)
    audit.record(
        action="customer.registration_attempt",
        customer=customer,
        target=user.email,
        changes={"matched": reason},
        ip=ip,
    )
    # Someone typed this login's email: that person is told. Someone typed the account's document:
    # the owners who receive account and security emails are told.
    recipients = (
        email_recipients(customer, EmailCategory.ACCOUNT)
        if customer is not None and reason == "document"
        else [user.email]
    )
    for address in recipients:
        queue_email(
            to=address,
            template="registration_attempt",
            customer=customer,
            context={
                "name": customer.display_name if customer else user.get_full_name(),
                "reason": reason,
                "login_url": settings.SITE_URL + reverse("accounts:login"),
                "forgot_url": settings.SITE_URL + reverse("accounts:forgot"),
            },
        )


@transaction.atomic
def request_registration(*, data: CustomerData, ip: str | None = None) -> None:
    """Public registration: the same outcome for the person whatever already exists.

    A new email and document: the customer is created and gets the "New Access Code" email
    (``register_customer``). An email already registered: nothing is created; its owner is
    told that someone tried to register with it. A document already registered with another
    email: nothing is created; the owner is told, and the address typed gets an email
    explaining that the document already has an account. The page shown is the same in
    every case ("check your email"), so it tells nothing about who is a customer.
    """
    email = data.email.strip().lower()
    existing = User.objects.filter(email__iexact=email).select_related("customer").first()
    if existing is not None:
        _hash_like_a_new_code()
        _notify_registration_attempt(user=existing, reason="email", ip=ip)
        return
    owner = (
        Customer.objects.filter(
            document_type=data.document_type, document_number=_document_number(data)
        )
        .select_related("user")
        .first()
    )
    if owner is not None:
        _hash_like_a_new_code()
        _notify_registration_attempt(user=owner.user, reason="document", ip=ip)
        queue_email(
            to=email,
            template="registration_refused",
            language=data.preferred_language,
            context={"forgot_url": settings.SITE_URL + reverse("accounts:forgot")},
        )
        return
    register_customer(data=data, ip=ip)


@transaction.atomic
def register_customer(
    *, data: CustomerData, actor: User | None = None, ip: str | None = None
) -> Customer:
    """Create the user and customer, set a fresh access code and queue the "New Access Code" email.

    One transaction: if anything fails, no user, no customer and no email remain.
    """
    email = data.email.strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError(
            {
                "email": _(
                    "This email is already registered. Use “Forgot your access code?” to get a new one."
                )
            }
        )
    number = _document_number(data)
    dv = data.check_digit.strip()
    if data.document_type == DocumentType.NIT and not dv:
        dv = nit.check_digit(number) if number.isdigit() else ""
    full_name = (
        data.legal_name if data.person_type == "juridica" else f"{data.first_name} {data.last_name}"
    )
    user = User(email=email, full_name=full_name.strip())
    user.set_unusable_password()
    customer = Customer(
        user=user,
        person_type=data.person_type,
        document_type=data.document_type,
        document_number=number,
        check_digit=dv,
        first_name=data.first_name.strip(),
        last_name=data.last_name.strip(),
        legal_name=data.legal_name.strip(),
        trade_name=data.trade_name.strip(),
        phone=data.phone.strip(),
        address=data.address.strip(),
        municipality_code=data.municipality_code,
        fiscal_responsibilities=data.fiscal_responsibilities or "R-99-PN",
        preferred_language=data.preferred_language,
    )
    if Customer.objects.filter(
        document_type=customer.document_type, document_number=customer.document_number
    ).exists():
        raise ValidationError(
            {"document_number": _("A customer with this document is already registered.")}
        )
    customer.full_clean(exclude=["user"], validate_constraints=False)
    customer.search_text = search_text_for(customer, email)
    try:
        user.save()
        customer.user = user
        customer.save()
    except IntegrityError as exc:  # a concurrent registration won the race
        raise ValidationError(_("This email or document was registered a moment ago.")) from exc
    ensure_holder_contact(customer=customer)
    code = _set_new_access_code(user)
    audit.record(
        action="customer.registered",
        actor=actor,
        customer=customer,
        target=email,
        changes={"by_staff": bool(actor and actor.is_staff)},
        ip=ip,
    )
    _send_access_code_email(customer=customer, code=code, reason="registered")
    logger.info(
        "customer registered id=%s by_staff=%s", customer.pk, bool(actor and actor.is_staff)
    )
    return customer


@transaction.atomic
def reset_access_code(
    *,
    customer: Customer,
    actor: User | None = None,
    ip: str | None = None,
    user: User | None = None,
) -> None:
    """Replace the access code of the holder (or of ``user``, a contact of this account) and
    email the new one; the old code stops working."""
    user_id = user.pk if user is not None else customer.user_id
    if (
        user is not None
        and user.pk != customer.user_id
        and not Contact.objects.filter(customer=customer, user_id=user_id).exists()
    ):
        raise ValidationError(_("This login is not a contact of this account."))
    locked = User.objects.select_for_update().get(pk=user_id)
    code = _set_new_access_code(locked)
    audit.record(
        action="customer.access_code_reset",
        actor=actor,
        customer=customer,
        target=locked.email,
        ip=ip,
    )
    _send_access_code_email(customer=customer, code=code, reason="reset", user=locked)


def request_login_link(*, email: str, ip: str | None = None) -> None:
    """Email a one-time link that issues a new access code. Silent when the email is unknown."""
    user = (
        User.objects.filter(email__iexact=(email or "").strip(), is_active=True)
        .select_related("customer")
        .first()
    )
    customer = customer_of(user)
    if user is None or customer is None:
        logger.info("login link requested for an unknown email")
        return
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = login_link_tokens.make_token(user)
    link = settings.SITE_URL + reverse(
        "accounts:login_link", kwargs={"uidb64": uid, "token": token}
    )
    with transaction.atomic():
        audit.record(
            action="customer.login_link_requested", customer=customer, target=user.email, ip=ip
        )
        queue_email(
            to=user.email,
            template="login_link",
            customer=customer,
            context={
                "customer": customer,
                "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,  # overrides written before
                "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,  # "1 hours" with the default
            },
            secrets={"link": link},
        )


def user_for_login_link(*, uidb64: str, token: str) -> User | None:
    """The user a valid, unused login link belongs to, else None."""
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None or not login_link_tokens.check_token(user, token):
        return None
    return user


@transaction.atomic
def redeem_login_link(*, user: User, ip: str | None = None) -> str:
    """Use a login link: issue and email a new access code; the link and the old code stop working.

    Returns the new code so the page can show it once.
    """
    locked = User.objects.select_for_update().get(pk=user.pk)
    code = _set_new_access_code(locked)
    locked.last_login = timezone.now()
    locked.save(update_fields=["last_login"])
    customer = customer_of(locked)
    if customer is None:
        raise ValidationError(_("This login has no customer account."))
    audit.record(
        action="customer.login_link_used",
        actor=locked,
        customer=customer,
        target=locked.email,
        ip=ip,
    )
    # A lost phone is recovered the same way as a lost code: the emailed link proves the mailbox.
    twofactor.reset_two_factor(user=locked, reason="access code reset by login link", ip=ip)
    _send_access_code_email(customer=customer, code=code, reason="reset", user=locked)
    return code


@transaction.atomic
def update_customer_profile(
    *, customer: Customer, changes: dict, actor: User, ip: str | None = None
) -> Customer:
    """Apply profile edits; identity field changes go to the audit log with before/after values."""
    locked = Customer.objects.select_for_update().get(pk=customer.pk)
    before = {f: getattr(locked, f) for f in changes}
    for field, value in changes.items():
        setattr(locked, field, value)
    if (
        locked.document_type == DocumentType.NIT
        and not locked.check_digit
        and locked.document_number.isdigit()
    ):
        locked.check_digit = nit.check_digit(locked.document_number)
    duplicate = Customer.objects.filter(
        document_type=locked.document_type, document_number=locked.document_number
    ).exclude(pk=locked.pk)
    if duplicate.exists():
        raise ValidationError(
            {"document_number": _("A customer with this document is already registered.")}
        )
    locked.full_clean(exclude=["user"], validate_constraints=False)
    locked.search_text = search_text_for(locked, locked.user.email)
    locked.save()
    name = (
        locked.legal_name
        if locked.person_type == "juridica"
        else f"{locked.first_name} {locked.last_name}".strip()
    )
    User.objects.filter(pk=locked.user_id).update(full_name=name)
    changed = {
        f: {"before": str(before[f]), "after": str(getattr(locked, f))}
        for f in changes
        if str(before[f]) != str(getattr(locked, f))
    }
    identity = {f: v for f, v in changed.items() if f in IDENTITY_FIELDS}
    if identity:
        audit.record(
            action="customer.identity_changed",
            actor=actor,
            customer=locked,
            target=locked.user.email,
            changes=identity,
            ip=ip,
        )
    elif changed:
        audit.record(
            action="customer.profile_changed",
            actor=actor,
            customer=locked,
            target=locked.user.email,
            changes=changed,
            ip=ip,
        )
    return locked


@transaction.atomic
def change_customer_field(
    *, customer: Customer, field: str, value: str, action: str, actor: User, ip: str | None = None
) -> Customer:
    """Set one of the account's own fields under the customer's lock; when it changes, save it
    and audit ``action`` with its before and after. Returns the locked customer."""
    locked = Customer.objects.select_for_update().select_related("user").get(pk=customer.pk)
    before = getattr(locked, field)
    if before != value:
        setattr(locked, field, value)
        locked.save(update_fields=[field, "updated_at"])
        audit.record(
            action=action,
            actor=actor,
            customer=locked,
            target=locked.user.email,
            changes={field: {"before": before, "after": value}},
            ip=ip,
        )
    return locked


def set_preferred_language(
    *, customer: Customer, language: str, actor: User, ip: str | None = None
) -> Customer:
    """The account's language (its pages after login, emails, new orders, invoices' PDF), as its
    holder chose it with the site's language switcher; audited like a profile edit."""
    if language not in Language.values:
        raise ValidationError({"preferred_language": _("Choose Spanish or English.")})
    return change_customer_field(
        customer=customer,
        field="preferred_language",
        value=language,
        action="customer.profile_changed",
        actor=actor,
        ip=ip,
    )


def refresh_search_text(*, customer_ids: list[int] | None = None) -> int:
    """Rewrite ``Customer.search_text`` (all customers, or these): after loading data outside the services."""
    queryset = Customer.objects.select_related("user").order_by("pk")
    if customer_ids is not None:
        queryset = queryset.filter(pk__in=customer_ids)
    count = 0
    with transaction.atomic():
        batch: list[Customer] = []
        for customer in queryset.iterator(chunk_size=2000):
            customer.search_text = search_text_for(customer, customer.user.email)
            batch.append(customer)
            if len(batch) >= 2000:
                count += Customer.objects.bulk_update(batch, ["search_text"])
                batch = []
        count += Customer.objects.bulk_update(batch, ["search_text"])
    return count


#: Fields of a login whose change staff make in the admin's User page is audited.
USER_AUDITED_FIELDS = ("email", "full_name", "is_active", "is_staff", "is_superuser")


@transaction.atomic
def save_user_by_staff(
    *, user: User, changed: Sequence[str], before: Mapping[str, Any], actor, ip: str | None = None
) -> User:
    """Staff add or edit a login in the admin's User page (the form has set the fields).

    When that login is a customer's and its email changed, the customer's ``search_text`` (what
    the back-office search finds them by) is rewritten in the same transaction, so a customer is
    found by the new address at once and never by the old one. Changes to the email, name and
    access flags are audited with before/after values (never the password)."""
    user.save()
    customer = Customer.objects.select_for_update().filter(user_id=user.pk).first()
    if customer is not None:
        text = search_text_for(customer, user.email)
        if text != customer.search_text:
            customer.search_text = text
            customer.save(update_fields=["search_text"])
    audited = {
        name: {"before": str(before.get(name, "")), "after": str(getattr(user, name))}
        for name in USER_AUDITED_FIELDS
        if name in changed
    }
    if audited:
        audit.record(
            action="user.changed_by_staff",
            actor=actor,
            customer=customer,
            target=user.email,
            changes=audited,
            ip=ip,
        )
    return user


@transaction.atomic
def change_password(*, user: User, new_password: str, ip: str | None = None) -> None:
    user.set_password(new_password)
    user.save(update_fields=["password"])
    audit.record(
        action="user.password_changed",
        actor=user,
        customer=customer_of(user),
        target=user.email,
        ip=ip,
    )


class ImpersonationRefused(Exception):
    """Staff may not open the client area as this customer."""


@transaction.atomic
def start_impersonation(*, staff: User, customer: Customer, ip: str | None = None) -> dict:
    """Audit the start of a "login as customer" visit; returns what the staff's session keeps.

    Refused for staff without ``accounts.impersonate_customer`` and for a customer whose login is
    staff, a superuser or inactive (viewing as them could reach more than the client area).
    """
    if not staff.is_staff or not staff.has_perm(impersonation.PERMISSION):
        raise ImpersonationRefused(_("You may not open the client area as a customer."))
    user = customer.user
    if user.is_staff or user.is_superuser or not user.is_active or user.pk == staff.pk:
        raise ImpersonationRefused(
            _("This customer's login is staff or inactive: it cannot be opened from here.")
        )
    expires_at = timezone.now() + dt.timedelta(minutes=settings.IMPERSONATION_MINUTES)
    audit.record(
        action="customer.impersonation_started",
        actor=staff,
        customer=customer,
        target=user.email,
        changes={
            "expires_at": expires_at.isoformat(),
            "sensitive": staff.has_perm(impersonation.SENSITIVE_PERMISSION),
        },
        ip=ip,
    )
    logger.info("staff %s views the client area as customer %s", staff.pk, customer.pk)
    return impersonation.session_data(staff=staff, customer=customer, expires_at=expires_at)


@transaction.atomic
def stop_impersonation(
    *, staff: User, customer_id: int | None, reason: str, ip: str | None = None
) -> None:
    """Audit the end of a "login as customer" visit (back, logout, expired)."""
    customer = (
        Customer.objects.filter(pk=customer_id).select_related("user").first()
        if customer_id is not None
        else None
    )
    audit.record(
        action="customer.impersonation_stopped",
        actor=staff,
        customer=customer,
        target=customer.user.email if customer else "",
        changes={"reason": reason},
        ip=ip,
    )
