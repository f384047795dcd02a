"""Read queries for accounts."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import cast

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.db.models import BooleanField, DateTimeField, Field
from django.http import Http404
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from clientarea.accounts.models import (
    Contact,
    Customer,
    EmailCategory,
    ProviderProfile,
    User,
)
from clientarea.lib import sitecache

_NOT_READ = object()
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
def _session_user_statement() -> tuple[
    str, tuple[Field, ...], tuple[Field, ...], tuple[Field, ...]
]:
    """The SQL of :func:`session_user` and the fields of its three rows, built once per process
    from the models (table and column names from their ``_meta``, the user's id a bound
    parameter): the user, whether a confirmed TOTP device exists, their contact row, its
    customer."""
    fields = tuple(
        tuple(_concrete_fields(model._meta.get_fields())) for model in (User, Contact, Customer)
    )
    users, contacts, customers = fields
    devices = TOTPDevice._meta.db_table

    def columns(alias: str, of: tuple[Field, ...]) -> str:
        return ", ".join(f"{alias}.{f.column}" for f in of)

    sql = (
        f"SELECT {columns('u', users)},"  # noqa: S608 (names from the models, the id a parameter)
        f" EXISTS(SELECT 1 FROM {devices} d WHERE d.user_id = u.id AND d.confirmed),"
        f" {columns('c', contacts)}, {columns('k', customers)}"
        f" FROM {User._meta.db_table} u"
        f" LEFT OUTER JOIN {Contact._meta.db_table} c ON c.user_id = u.id"
        f" LEFT OUTER JOIN {Customer._meta.db_table} k ON k.id = c.customer_id"
        " WHERE u.id = %s"
    )
    return sql, users, contacts, customers


def _concrete_fields(fields: Iterable) -> Iterator[Field]:
    """A model's columns in the order of its constructor's arguments: Django's documented
    equivalent of ``_meta.concrete_fields`` built from ``get_fields()``."""
    for f in fields:
        if f.concrete and (
            not f.is_relation or f.one_to_one or (f.many_to_one and f.related_model)
        ):
            yield f


def _names(fields: tuple[Field, ...]) -> list[str]:
    return [f.attname for f in fields]


def _python_values(fields: tuple[Field, ...], values: tuple) -> list:
    """What the ORM's converters make of one row's columns for these fields: the booleans SQLite
    gives as 0/1, its naive datetimes (stored in UTC) made aware, a field's own ``from_db_value``."""
    converted = []
    for field, value in zip(fields, values, strict=True):
        if value is not None:
            if isinstance(field, BooleanField) and value in (0, 1):
                value = bool(value)
            elif isinstance(field, DateTimeField) and settings.USE_TZ and timezone.is_naive(value):
                value = timezone.make_aware(value, dt.UTC)
            from_db_value = getattr(field, "from_db_value", None)
            if from_db_value is not None:
                value = from_db_value(value, None, connection)
        converted.append(value)
    return converted


def session_user(user_id: int | str) -> User | None:
    """The user of a logged-in request, read with their account in one statement: their contact
    row and its customer, and whether they have two-factor login on (``two_factor_on``, read by
    ``accounts.twofactor.requires_code``: a device confirmed or removed counts from the next
    request on).

    An account holder's contact row points at the customer they hold, whose login is this user:
    both are filled in from the same row, not joined again. ``accounts.backends`` reads the
    request's user through this, so :func:`account_of_user` (every client-area request) and the
    two-factor check ask the database nothing more. ``session_contact`` is the contact row, or
    None when the user has none (staff): Django's ``user.contact`` would ask the database again
    for a row that is not there, :func:`account_of_user` reads this instead. None for an
    unknown id.

    Written as one SQL statement built once per process (:func:`_session_user_statement`), the
    rows made into models with ``Model.from_db``, because every logged-in request runs it and the
    ORM spends most of it building the same SQL again: the same read with the ORM (the joined
    query with its EXISTS, built once and cloned) cost 0.55 ms CPU per call, 0.35 ms of it
    compiling the SQL, against 0.12 ms this way (in-process, SQLite, ``bench/pages.py``'s site).
    """
    try:
        pk = int(user_id)
    except (ValueError, TypeError):
        return None
    sql, users, contacts, customers = _session_user_statement()
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        row = cursor.fetchone()
    if row is None:
        return None
    n_user, n_contact = len(users), len(contacts)
    user = User.from_db(connection.alias, _names(users), _python_values(users, row[:n_user]))
    user.two_factor_on = bool(row[n_user])
    contact_row = row[n_user + 1 : n_user + 1 + n_contact]
    if contact_row[0] is None:  # no contact row (staff, a login without an account)
        user.session_contact = None
        return user
    contact = Contact.from_db(
        connection.alias, _names(contacts), _python_values(contacts, contact_row)
    )
    customer = Customer.from_db(
        connection.alias,
        _names(customers),
        _python_values(customers, row[n_user + 1 + n_contact :]),
    )
    contact.customer = customer
    user.contact = contact  # also sets ``contact.user`` to this user
    user.session_contact = contact
    if customer.user_id == user.pk:
        user.customer = customer  # the holder's account; sets its ``user`` to this user
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
        read = getattr(user, "session_contact", _NOT_READ)
        if read is not _NOT_READ:
            contact = cast(Contact | None, read)
        else:
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
