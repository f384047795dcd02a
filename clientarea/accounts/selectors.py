"""Read queries for accounts."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from axes.models import AccessAttempt, AccessLog
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import Exists, Max, OuterRef, QuerySet, Sum
from django.http import Http404
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from clientarea.accounts.audit_actions import action_label
from clientarea.accounts.models import (
    AuditEvent,
    Contact,
    Customer,
    EmailCategory,
    ProviderProfile,
    User,
)
from clientarea.lib import sitecache
from clientarea.lib.text import fold

#: Set only inside ``provider_cached()``: the provider row read once for that scope.
_provider_scope: ContextVar[dict | None] = ContextVar("provider_scope", default=None)


def get_provider() -> ProviderProfile | None:
    """The provider profile (one row), or None before demo data or setup."""
    scope = _provider_scope.get()
    if scope is None:
        return ProviderProfile.objects.order_by("pk").first()
    if "provider" not in scope:
        scope["provider"] = ProviderProfile.objects.order_by("pk").first()
    return scope["provider"]


def provider_for_pages() -> ProviderProfile | None:
    """The provider for page headers and footers: kept in each process's memory until
    ``accounts.services.save_provider`` changes it (no query on most pages)."""
    return sitecache.cached("provider", get_provider)


def email_context() -> dict[str, ProviderProfile | None]:
    """What every email shows of its sender (the provider): added to every email's context."""
    return {"provider": get_provider()}


@contextmanager
def provider_cached() -> Iterator[None]:
    """Within this block (one unit of work: one transaction, or one document's job in the
    worker), ``get_provider()`` queries at most once.

    The cache lives only for the block, so it never outlives the unit of work that
    opened it; nested blocks share the outer one.
    """
    if _provider_scope.get() is not None:
        yield
        return
    token = _provider_scope.set({})
    try:
        yield
    finally:
        _provider_scope.reset(token)


@functools.cache
def _session_users() -> QuerySet[User]:
    """The query of :func:`session_user`, built once per process (like a view's ``queryset``
    attribute, never evaluated itself: each read clones it), so a request pays only for running
    it, not for setting up its joins and its EXISTS again."""
    confirmed = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    return User.objects.select_related("contact__customer").annotate(
        two_factor_on=Exists(confirmed)
    )


def session_user(user_id: int | str) -> User | None:
    """The user of a logged-in request, read with their account in one statement: their contact
    row and its customer, and whether they have two-factor login on (``two_factor_on``, read by
    ``accounts.twofactor.requires_code``: a device confirmed or removed counts from the next
    request on).

    An account holder's contact row points at the customer they hold, whose login is this user:
    both are filled in from the same row, not joined again. ``accounts.backends`` reads the
    request's user through this, so :func:`account_of_user` (every client-area request) and the
    two-factor check ask the database nothing more. None for an unknown id.
    """
    try:
        user = _session_users().get(pk=user_id)
    except (User.DoesNotExist, ValueError, TypeError):
        return None
    contact = getattr(user, "contact", None)  # None (no query) when the join found no row
    if contact is not None and contact.customer.user_id == user.pk:
        user.customer = contact.customer  # the holder's account; sets its ``user`` to this user
    return user


def customer_login(customer_id: int) -> User | None:
    """The login of a customer account (never staff), read with its contact and customer in one
    statement: for staff viewing the client area as that customer (rare: the joined query)."""
    return (
        User.objects.select_related("contact__customer__user", "customer")
        .filter(customer__pk=customer_id, is_staff=False, is_superuser=False)
        .first()
    )


def account_of_user(user: User | AnonymousUser) -> tuple[Customer, Contact | None]:
    """The customer account a logged-in user belongs to, and their contact row (None for an
    account holder without one); 404 for staff without a customer profile or anonymous visitors.

    No query for a user read by :func:`session_user` (the request's user); otherwise the
    contact and the customer are read as they are needed.
    """
    if not user.is_authenticated or not isinstance(user, User):
        raise Http404("No customer profile")
    contact: Contact | None = None
    if user.is_active:
        try:
            contact = user.contact
        except Contact.DoesNotExist:
            contact = None
    if contact is not None:
        return contact.customer, contact
    try:
        return user.customer, None
    except Customer.DoesNotExist:
        raise Http404("No customer profile") from None


def customer_for_user(user: User | AnonymousUser) -> Customer:
    """The customer account of a logged-in user (holder or contact), or 404 (staff without a
    customer profile, or not logged in). Views use ``accounts.permissions.client_area``."""
    return account_of_user(user)[0]


def customer_of(user: User | None) -> Customer | None:
    """The account a user belongs to (holder or contact), or None."""
    if user is None or not user.pk:
        return None
    holder = getattr(user, "customer", None)
    if holder is not None:
        return holder
    contact = Contact.objects.filter(user=user).select_related("customer__user").first()
    return contact.customer if contact else None


def holder_customer(user: User | None) -> Customer | None:
    """The account this login holds (not one it is a contact of), or None (staff, contacts)."""
    if user is None or not user.pk:
        return None
    return getattr(user, "customer", None)


def login_email_taken(email: str) -> bool:
    """Is this email a login that cannot become a new contact (active, staff, or in an account)?"""
    user = User.objects.filter(email__iexact=(email or "").strip()).first()
    if user is None:
        return False
    return (
        user.is_active
        or user.is_staff
        or user.is_superuser
        or Customer.objects.filter(user=user).exists()
        or Contact.objects.filter(user=user).exists()
    )


def contacts_of(customer: Customer) -> list[Contact]:
    """The account's contacts, the holder first, then owners, then by date added."""
    contacts = list(
        Contact.objects.filter(customer=customer).select_related("user", "customer__user")
    )
    contacts.sort(key=lambda c: (not c.is_holder, not c.owner, c.created_at, c.pk))
    return contacts


def contact_of_customer(customer: Customer, pk: int) -> Contact:
    """One contact of this account (404 for another account's)."""
    contact = (
        Contact.objects.select_related("user", "customer__user")
        .filter(customer=customer, pk=pk)
        .first()
    )
    if contact is None:
        raise Http404("No such contact")
    return contact


def email_recipients(customer: Customer, category: str) -> list[str]:
    """Who gets a customer email of ``category``: the contacts who opted in and may see it.

    Nobody opted in: the account holder, so that no email is lost.
    """
    return email_recipients_by_customer([customer], category)[customer.pk]


def email_recipients_by_customer(
    customers: Iterable[Customer], category: str
) -> dict[int, list[str]]:
    """``email_recipients`` for several accounts in one query, by customer id."""
    EmailCategory(category)
    by_id = {customer.pk: customer for customer in customers}
    found: dict[int, list[str]] = {pk: [] for pk in by_id}
    rows = (
        Contact.objects.filter(customer_id__in=list(by_id), user__is_active=True)
        .select_related("user")
        .order_by("created_at", "pk")
    )
    for contact in rows:
        contact.customer = by_id[contact.customer_id]  # no query for the holder check
        if contact.wants(category):
            found[contact.customer_id].append(contact.user.email)
    return {pk: found[pk] or [by_id[pk].user.email] for pk in by_id}


# --- The login lockout (django-axes), as staff helping a customer see it ---------------------


def login_username(value: str | None) -> str:
    """The form in which a typed login email is counted for the lockout: trimmed, lower case."""
    return (value or "").strip().lower()


@dataclass(frozen=True)
class LoginFailures:
    """One login's failed attempts still counting towards the lockout (django-axes)."""

    email: str
    failures: int
    #: When the lockout ends, if this login is locked now; else None.
    locked_until: datetime.datetime | None


def login_failures(emails: Iterable[str]) -> dict[str, LoginFailures]:
    """The failures still counting for each of these logins (one query), keyed by the email
    as given; a login without any is left out. Counted as django-axes counts them: its
    attempts under the login's username newer than ``AXES_COOLOFF_TIME``."""
    wanted = {login_username(email): email for email in emails if email}
    if not wanted:
        return {}
    cool_off = datetime.timedelta(hours=settings.AXES_COOLOFF_TIME)
    rows = (
        AccessAttempt.objects.filter(
            username__in=list(wanted), attempt_time__gte=timezone.now() - cool_off
        )
        .values("username")
        .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
    )
    found: dict[str, LoginFailures] = {}
    for row in rows:
        email = wanted[row["username"]]
        failures = int(row["failures"] or 0)
        locked = failures >= settings.AXES_FAILURE_LIMIT
        found[email] = LoginFailures(
            email=email,
            failures=failures,
            locked_until=row["last"] + cool_off if locked else None,
        )
    return found


def login_history(emails: Iterable[str], *, limit: int = 10) -> list[AccessLog]:
    """The newest successful logins of these logins (django-axes' access log), newest first."""
    usernames = [login_username(email) for email in emails if email]
    if not usernames:
        return []
    return list(
        AccessLog.objects.filter(username__in=usernames)
        .only("username", "ip_address", "user_agent", "attempt_time", "logout_time")
        .order_by("-attempt_time", "-id")[:limit]
    )


def audit_action_choices() -> list[tuple[str, str]]:
    """The action codes found in the audit log, each with its words in the active language,
    sorted by those words as a reader would (case and accents aside; a code without words
    among them by its own letters). The audit log's action filter."""
    codes = AuditEvent.objects.order_by().values_list("action", flat=True).distinct()
    return sorted(((code, action_label(code)) for code in codes), key=lambda row: fold(row[1]))


def audit_staff_actors() -> list[User]:
    """The staff members who appear in the audit log as the one who acted, by email."""
    return list(
        User.objects.filter(is_staff=True, pk__in=AuditEvent.objects.values("actor_id")).order_by(
            "email"
        )
    )
