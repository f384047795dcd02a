"""Read queries for accounts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar, cast

from django.contrib.auth.models import AnonymousUser
from django.db.models import Field, Model
from django.http import Http404

from clientarea.accounts.models import (
    Contact,
    Customer,
    EmailCategory,
    ProviderProfile,
    User,
)

_M = TypeVar("_M", bound=Model)

#: Set only inside ``provider_cached()``: the provider row read once for that scope.
_provider_scope: ContextVar[dict | None] = ContextVar("provider_scope", default=None)


def get_provider() -> ProviderProfile | None:
    """The provider profile (one row), or None before demo data or setup."""
    scope = _provider_scope.get()
    if scope is None:
        return _read_provider()
    if "provider" not in scope:
        scope["provider"] = _read_provider()
    return scope["provider"]


def _read_provider() -> ProviderProfile | None:
    # Every page's header and footer show it: read with the plain statement (Django building
    # the query would cost about three times reading the row into the model).
    table = ProviderProfile._meta.db_table
    pk = ProviderProfile._meta.pk.column
    rows = ProviderProfile.objects.raw(f"SELECT * FROM {table} ORDER BY {pk} LIMIT 1")  # noqa: S608 (names from the model)
    return next(iter(rows), None)


def email_context() -> dict[str, ProviderProfile | None]:
    """What every email shows of its sender (the provider): added to every email's context."""
    return {"provider": get_provider()}


@contextmanager
def provider_cached() -> Iterator[None]:
    """Within this block (one unit of work inside one transaction), ``get_provider()`` queries at most once.

    The cache lives only for the block, so it never outlives the transaction that
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


def session_user(user_id: object) -> User | None:
    """The user of a logged-in request, with their account: their contact row and its customer,
    or the customer they hold. None for an unknown id.

    ``accounts.backends`` reads the request's user through this, so :func:`account_of_user`
    (every client-area request) asks the database nothing more. Three plain statements (one
    per table): Django building the same reads as one joined query cost about three times as
    much, and was three quarters of what a cached Billing page cost above the home page.
    """
    try:
        pk = int(user_id)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    user = _one(User, "id", pk)
    if user is None:
        return None
    contact = _one(Contact, "user", pk)
    if contact is not None:
        customer = _one(Customer, "id", contact.customer_id)
        if customer is not None:
            contact.customer = customer
        user.contact = contact
    else:
        customer = _one(Customer, "user", pk)
    if customer is not None and customer.user_id == pk:
        user.customer = customer  # the holder: customer.user is this user, no query
    return user


def _one(model: type[_M], field: str, value: int) -> _M | None:
    """The row of ``model`` whose ``field`` is ``value`` (a unique column), by a plain statement."""
    meta = model._meta
    column = cast(Field, meta.get_field(field)).column  # a concrete field, not a reverse relation
    rows = model._default_manager.raw(
        f"SELECT * FROM {meta.db_table} WHERE {column} = %s",  # noqa: S608 (names from the model)
        [value],
    )
    return next(iter(rows), None)


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
