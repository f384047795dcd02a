"""Reads of the back office: the customer page (360) and the global search.

Every section of the customer page is one query, whatever the number of rows (the newest
``LIMIT`` rows, with a link to the full list in the admin), so the page costs the same for
a new customer and for one with years of history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from axes.models import AccessLog
from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from clientarea.accounts.models import AuditEvent, Contact, Customer, User
from clientarea.accounts.selectors import (
    LoginFailures,
    contacts_of,
    login_failures,
    login_history,
)
from clientarea.backoffice.models import StaffNote
from clientarea.billing.models import Order, OrderState
from clientarea.billing.selectors import Balance, balance_and_overdue
from clientarea.einvoice.models import DocumentKind, Invoice
from clientarea.lib.money import format_cop
from clientarea.lib.nit import check_digit
from clientarea.lib.text import fold
from clientarea.notifications.models import OutgoingEmail
from clientarea.payments.models import Payment
from clientarea.subscriptions.models import Service
from clientarea.withholdings.models import WithholdingAgent
from clientarea.withholdings.selectors import agent_for

#: Rows per section of the customer page, and per kind in the search results.
LIMIT = 25
SEARCH_LIMIT = 20
MIN_QUERY = 2


@dataclass(frozen=True)
class Customer360:
    customer: Customer
    balance: Balance
    services: list[Service]
    orders: list[Order]
    invoices: list[Invoice]
    #: Credit and debit notes, each with the invoice it corrects.
    notes_dian: list[Invoice]
    payments: list[Payment]
    emails: list[OutgoingEmail]
    audit: list[AuditEvent]
    notes: list[StaffNote]
    contacts: list[Contact]
    #: The customer's withholding-agent record (requested, approved, …), if any: a clerk
    #: recording a payment must know the customer transfers the net.
    agent: WithholdingAgent | None = None
    #: The account's logins (holder, contacts) with failed attempts still counting towards the
    #: lockout, and their newest successful logins: "I cannot log in" is a support call.
    lockouts: list[LoginLockout] = field(default_factory=list)
    logins: list[AccessLog] = field(default_factory=list)


@dataclass(frozen=True)
class LoginLockout:
    user: User
    failures: LoginFailures


#: The large columns of a DIAN document: never read for a list.
_DOCUMENT_BODIES = (
    "xml_unsigned",
    "xml_signed",
    "attached_document",
    "pdf",
    "document",
    "application_response",
)


def customer_360(customer_id: int) -> Customer360 | None:
    """Everything staff need on one customer, newest first, in a fixed number of queries."""
    customer = Customer.objects.select_related("user").filter(pk=customer_id).first()
    if customer is None:
        return None
    contacts = contacts_of(customer)
    users = [customer.user, *(c.user for c in contacts if c.user_id != customer.user_id)]
    failures = login_failures(user.email for user in users)
    return Customer360(
        customer=customer,
        balance=balance_and_overdue(customer),
        services=list(
            Service.objects.filter(customer=customer)
            .select_related("product")
            .order_by("status", "next_due_date", "id")[:LIMIT]
        ),
        orders=list(Order.objects.filter(customer=customer).order_by("-issue_date", "-id")[:LIMIT]),
        invoices=list(
            Invoice.objects.filter(customer=customer, kind=DocumentKind.INVOICE)
            .select_related("order")
            .defer(*_DOCUMENT_BODIES)
            .order_by("-id")[:LIMIT]
        ),
        notes_dian=list(
            Invoice.objects.filter(customer=customer)
            .exclude(kind=DocumentKind.INVOICE)
            .select_related("reference")
            .defer(*_DOCUMENT_BODIES, *(f"reference__{name}" for name in _DOCUMENT_BODIES))
            .order_by("-id")[:LIMIT]
        ),
        payments=list(
            Payment.objects.filter(customer=customer)
            .select_related("order")
            .order_by("-created_at", "-id")[:LIMIT]
        ),
        emails=list(
            OutgoingEmail.objects.filter(customer=customer)
            .only("id", "subject", "template", "status", "created_at", "sent_at", "to_email")
            .order_by("-created_at", "-id")[:LIMIT]
        ),
        audit=list(
            AuditEvent.objects.filter(customer=customer)
            .select_related("actor")
            .order_by("-created_at", "-id")[:LIMIT]
        ),
        notes=list(StaffNote.objects.filter(customer=customer).select_related("author")[:LIMIT]),
        contacts=contacts,
        agent=agent_for(customer),
        lockouts=[
            LoginLockout(user=user, failures=failures[user.email])
            for user in users
            if user.email in failures
        ],
        logins=login_history([user.email for user in users]),
    )


def unpaid_orders_of_service(service: Service) -> list[Order]:
    """The pending orders that bill this service (renewals, options, custom lines), oldest due
    first: what staff reactivating a suspended service must know is still owed."""
    return list(
        Order.objects.filter(state=OrderState.PENDING, items__service=service)
        .distinct()
        .order_by("due_date", "id")[:LIMIT]
    )


# --- Global search ------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    title: str
    detail: str
    url: str


@dataclass
class Group:
    kind: str
    label: Any
    hits: list[Hit] = field(default_factory=list)


_DIGITS = re.compile(r"\D")


def _customer_hits(query: str) -> list[Hit]:
    folded = fold(query)
    condition = Q(search_text__contains=folded)
    digits = _DIGITS.sub("", query)
    if len(digits) >= 5 and not any(ch.isalpha() for ch in query):
        # A document or phone typed with dots, dashes or spaces ("1.020.304.050", "300 123 4567"),
        # or a NIT with its check digit ("900.108.281-3").
        without_dv = _DIGITS.sub("", query.rsplit("-", 1)[0]) if "-" in query else digits
        numbers = {digits, without_dv}
        if "-" not in query and len(digits) >= 6 and check_digit(digits[:-1]) == digits[-1]:
            # A NIT with its check digit run on ("9012345677", as copied from some RUTs).
            numbers.add(digits[:-1])
        condition |= Q(document_number__in=numbers) | Q(search_text__contains=digits)
    email = query.strip().lower()
    if "@" in email:
        # The person on the phone may be one of the customer's contacts (its billing contact),
        # or the address its electronic invoices go to: both are exact, indexed matches.
        condition |= Q(contacts__user__email=email) | Q(einvoice_email__iexact=email)
    rows = (
        Customer.objects.filter(condition)
        .distinct()
        .select_related("user")
        .order_by("pk")[:SEARCH_LIMIT]
    )
    return [
        Hit(
            title=c.display_name,
            detail=f"{c.document_display} · {c.user.email}" + (f" · {c.phone}" if c.phone else ""),
            url=reverse("backoffice:customer", args=[c.pk]),
        )
        for c in rows
    ]


def _service_hits(query: str) -> list[Hit]:
    rows = (
        # On PostgreSQL a trigram index on UPPER(label) serves this (subscriptions migration 0003).
        # search_label is the label folded; the label itself still answers for rows written
        # before the column (and a trigram index on UPPER(label) serves it on PostgreSQL).
        Service.objects.filter(
            Q(search_label__contains=fold(query)) | Q(label__icontains=query.strip())
        )
        .select_related("product", "customer__user")
        .order_by("pk")[:SEARCH_LIMIT]
    )
    return [
        Hit(
            title=f"{s.label} · {s.product.name}",
            detail=f"{s.get_status_display()} · {s.customer.display_name}",
            url=reverse("backoffice:customer", args=[s.customer_id]) + f"#service-{s.pk}",
        )
        for s in rows
    ]


def _order_numbers(query: str) -> set[str]:
    """The order numbers a query may name: as typed, or its digits (``123`` → ``ODS-000123``)."""
    text = query.strip().upper()
    numbers = {text}
    if text.isdigit():
        numbers.add(f"ODS-{int(text):06d}")
    return numbers


def _order_hits(query: str) -> list[Hit]:
    numbers = _order_numbers(query)
    rows = (
        Order.objects.filter(Q(number__in=numbers) | Q(payment_reference=query.strip()))
        .select_related("customer__user")
        .order_by("-id")[:SEARCH_LIMIT]
    )
    return [
        Hit(
            title=o.number,
            detail=f"{o.get_state_display()} · {format_cop(o.total)} · {o.customer.display_name}"
            + (f" · {o.payment_reference}" if o.payment_reference else ""),
            url=reverse("admin:billing_order_change", args=[o.pk]),
        )
        for o in rows
    ]


def _invoice_hits(query: str) -> list[Hit]:
    rows = (
        Invoice.objects.filter(full_number=query.strip().upper())
        .select_related("customer__user", "order")
        .order_by("-id")[:SEARCH_LIMIT]
    )
    return [
        Hit(
            title=i.full_number or "",
            detail=f"{i.get_status_display()} · {i.order.number if i.order else i.get_kind_display()} · {i.customer.display_name}",
            url=reverse("admin:einvoice_invoice_change", args=[i.pk]),
        )
        for i in rows
    ]


def _payment_hits(query: str) -> list[Hit]:
    text = query.strip()
    numbers = _order_numbers(query)
    rows = (
        Payment.objects.filter(
            Q(reference=text.upper())
            | Q(gateway_transaction_id=text)
            # (gateway, gateway_reference) is a unique index: name the gateways so it is used.
            | Q(gateway__in=list(settings.PAYMENT_GATEWAYS), gateway_reference=text)
            # The attempts to pay an order found by its number ("I paid ODS-000123").
            | Q(order__number__in=numbers)
            | Q(basket__order__number__in=numbers)
        )
        .distinct()
        .select_related("customer__user")
        .order_by("-id")[:SEARCH_LIMIT]
    )
    return [
        Hit(
            title=p.reference,
            detail=f"{p.get_status_display()} · {p.gateway_name} · {format_cop(p.amount)}"
            f" · {p.customer.display_name}"
            + (f" · {p.gateway_transaction_id}" if p.gateway_transaction_id else ""),
            url=reverse("admin:payments_payment_change", args=[p.pk]),
        )
        for p in rows
    ]


#: (kind, label, permission needed to see that kind, finder)
KINDS = (
    ("customers", _("Customers"), "accounts.view_customer", _customer_hits),
    ("services", _("Services"), "subscriptions.view_service", _service_hits),
    ("orders", _("Service orders"), "billing.view_order", _order_hits),
    ("invoices", _("Electronic invoices"), "einvoice.view_invoice", _invoice_hits),
    ("payments", _("Payments"), "payments.view_payment", _payment_hits),
)


def search(query: str, *, user: User) -> list[Group]:
    """Matches of ``query`` by kind (only the kinds this staff member may view), none empty.

    Names are matched accent- and case-insensitively against the folded ``search_text``;
    numbers, references and transaction ids exactly (indexed columns).
    """
    query = (query or "").strip()[:100]
    if len(query) < MIN_QUERY:
        return []
    groups = []
    for kind, label, permission, finder in KINDS:
        if not user.has_perm(permission):
            continue
        hits = finder(query)
        if hits:
            groups.append(Group(kind=kind, label=label, hits=hits))
    return groups
