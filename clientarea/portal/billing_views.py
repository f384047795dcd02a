"""The customer's Billing pages: the list of service orders with the account's balance, one
order with its payments, its printable version, "Apply my credit" and the statement of account."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import overload

from django.contrib import messages
from django.core.cache import caches
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import dateformat, formats, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clientarea.accounts.models import Customer
from clientarea.accounts.permissions import Permission, client_area, request_customer
from clientarea.billing import ledger, selectors, statement_files
from clientarea.billing.models import Order, OrderState
from clientarea.einvoice.models import Invoice
from clientarea.lib.dates import local_today
from clientarea.payments.selectors import payment_in_process
from clientarea.portal.shell import render_in_shell
from clientarea.withholdings import selectors as withholdings


def _customer(request: HttpRequest) -> Customer:
    return request_customer(request)


@dataclass(frozen=True)
class _Row:
    """One row of the Billing table, with everything the template would otherwise work out per
    row (the first item descriptions, what is left to pay, the dates as text)."""

    order: Order
    concept: list[str]
    more_items: int
    left_to_pay: Decimal | None  # a pending order partly paid: what it still owes
    issued: str
    due: str
    debit_note: Invoice | None = None  # the DIAN debit note the order collects


def _short_date() -> Callable[[dt.date], str]:
    """``date:"SHORT_DATE_FORMAT"`` without the template filter's cost: each date formatted once
    ("4 dic 2026" in Spanish, "4 Dec 2026" in English; see clientarea/formats)."""
    fmt = formats.get_format("SHORT_DATE_FORMAT")
    done: dict[dt.date, str] = {}

    def short(value: dt.date) -> str:
        if value not in done:
            done[value] = dateformat.format(value, fmt)
        return done[value]

    return short


class _Counted:
    """A queryset whose length is already known (the page's state counts), so the paginator
    does not ask the database to count it again."""

    def __init__(self, queryset: QuerySet[Order], count: int) -> None:
        self.queryset, self.count_known = queryset, count

    def __len__(self) -> int:
        return self.count_known

    def __iter__(self) -> Iterator[Order]:
        return iter(self.queryset)

    @overload
    def __getitem__(self, index: int, /) -> Order: ...
    @overload
    def __getitem__(self, index: slice, /) -> QuerySet[Order]: ...
    def __getitem__(self, index: int | slice, /) -> Order | QuerySet[Order]:
        return self.queryset[index]


def _rows(
    orders: Iterable[Order],
    dues: Mapping[int, Decimal],
    items: Mapping[int, list[str]],
    notes: Mapping[int, Invoice],
    to_pay: Mapping[int, Decimal] | None = None,
) -> list[_Row]:
    """``to_pay``: what a withholding agent's pending orders still cost it (net of what it
    withholds), shown as what is left of a partly paid order, as on its page and at Pay now."""
    short = _short_date()
    rows = []
    for order in orders:
        descriptions = items.get(order.pk, [])
        note = notes.get(order.pk)
        if note is not None:
            descriptions = [_without_note_prefix(d, note) for d in descriptions]
        left = dues.get(order.pk) if order.state == OrderState.PENDING else None
        rows.append(
            _Row(
                order=order,
                concept=descriptions[:2],
                more_items=max(len(descriptions) - 2, 0),
                left_to_pay=(to_pay or dues).get(order.pk, left)
                if left is not None and left != order.total
                else None,
                issued=short(order.issue_date),
                due=short(order.due_date),
                debit_note=note,
            )
        )
    return rows


def _without_note_prefix(description: str, note: Invoice) -> str:
    """A debit note's order line reads "Debit note ND3 on invoice SETP…: <what it charges>" (so
    statements and emails name the note); the row already names the note beside its files, so it
    shows the line's own text."""
    head, sep, rest = description.partition(": ")
    number = note.full_number or ""
    return rest if sep and rest and number and number in head else description


PAGE_CACHE = "pages"


@client_area(Permission.BILLING_VIEW)
@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    """The Billing page. Its content is rendered once per state of the account: the key holds
    everything it shows (the account's stamp, today's date, the language, the filter and page
    asked for, the help link), so a payment, a new or cancelled order shows at once."""
    customer = _customer(request)
    state = request.GET.get("state", "")
    if state not in OrderState.values:
        state = ""
    language = translation.get_language() or ""
    help_url = selectors.pay_help_url(language)
    version = selectors.account_version(customer)
    cache, key, content = caches[PAGE_CACHE], "", None
    if version is not None:
        parts = (customer.pk, version, local_today(), language, state, request.GET.get("page"))
        key = "billing:orders:" + hashlib.sha256(repr((*parts, help_url)).encode()).hexdigest()
        content = cache.get(key)
    if content is None:
        context = _order_list_context(
            customer, state=state, page_number=request.GET.get("page"), help_url=help_url
        )
        content = render_to_string("billing/_order_list.html", context)
        if key:
            cache.set(key, content)
    return render_in_shell(request, "billing/order_list.html", content)


def _order_list_context(
    customer: Customer, *, state: str, page_number: str | None, help_url: str | None
) -> dict:
    summary = selectors.order_summary(customer)
    counts = summary["counts"]
    orders = _Counted(
        selectors.orders_for_customer(customer, state=state or None, items=False),
        counts[state or "all"],
    )
    paginator: Paginator[Order] = Paginator(orders, selectors.ORDERS_PER_PAGE)
    page = paginator.get_page(page_number)
    page_orders = list(page.object_list)
    pending = [order for order in page_orders if order.state == OrderState.PENDING]
    dues = selectors.order_balances([order.pk for order in pending])
    agent = bool(summary["due_total"]) and withholdings.approved_agent(customer.pk) is not None
    filters = [("", translation.gettext("All"), counts["all"])] + [
        (value, label, counts[value])
        for value, label in OrderState.choices
        # Debit notes DIAN is validating are rare: their filter shows only when there are some.
        if value != OrderState.VALIDATING or counts[value]
    ]
    return {
        "page": page,
        "rows": _rows(
            page_orders,
            dues,
            selectors.item_descriptions(o.pk for o in page_orders),
            selectors.debit_notes_of(o.pk for o in page_orders if o.debit_note_id),
            # Partly paid: only those need the net (the others show no "left to pay").
            selectors.net_dues([o for o in pending if dues.get(o.pk) != o.total])
            if agent
            else None,
        ),
        "state": state,
        "filters": filters,
        "counts": counts,
        "summary": summary,
        "account": selectors.account_summary(customer),
        # A withholding agent pays the net of its pending orders.
        # What checkout would charge for all of them: dues after payments and credit,
        # minus what the agent withholds (the same selector checkout uses).
        "net_due": selectors.amount_to_charge(
            list(selectors.orders_for_customer(customer, state=OrderState.PENDING, items=False))
        )
        if agent
        else None,
        "help_url": help_url,
    }


def _order_context(request: HttpRequest, number: str) -> dict:
    customer = _customer(request)
    order = selectors.order_for_customer(customer, number)
    return {
        "customer": customer,
        "order": order,
        "items": [(item, selectors.tax_label(item)) for item in order.items.all()],
        "seller": order.seller_snapshot,
        "seller_document": selectors.party_document(order.seller_snapshot),
        "buyer": order.buyer_snapshot,
        "buyer_document": selectors.party_document(order.buyer_snapshot),
        "withholdings": withholdings.withholdings_for_order(order),
        "withholdings_paid": order.state == OrderState.PAID,
        "paid_via": selectors.payment_description(via=order.paid_via, method=order.payment_method)
        if order.paid_at
        else "",
    }


@client_area(Permission.BILLING_VIEW)
@require_GET
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    context = _order_context(request, number)
    order = context["order"]
    context.update(
        history=selectors.order_history(order),
        due=selectors.due_status(order),
        pay_url=selectors.pay_url(order) if order.is_pending else "",
        help_url=selectors.pay_help_url(translation.get_language()) if order.is_pending else None,
        in_process=payment_in_process(order),
        # Only a paid order has an electronic invoice, and only one that collects a debit note
        # has a note: the others skip both reads.
        invoice=selectors.order_invoice(order)
        if order.state == OrderState.PAID and not order.is_debit_note
        else None,
        debit_note=selectors.debit_notes_of([order.pk]).get(order.pk)
        if order.debit_note_id
        else None,
        movements=selectors.order_movements(order),
        # The withholdings the page already read (not the agent again).
        balance_due=selectors.amount_to_charge(
            [order], computed={order.pk: context["withholdings"]}
        )
        if order.state == OrderState.PENDING
        else selectors.order_balance_due(order),
        # The customer already read for the request (order.customer would be read again).
        credit=selectors.credit_available(context["customer"]) if order.is_pending else 0,
    )
    return render(request, "billing/order_detail.html", context)


@client_area(Permission.BILLING_VIEW)
@require_GET
def order_print(request: HttpRequest, number: str) -> HttpResponse:
    context = _order_context(request, number)
    context["order_url"] = request.build_absolute_uri(
        reverse("billing:order", kwargs={"number": number})
    )
    return render(request, "billing/order_print.html", context)


@client_area(Permission.BILLING)
@require_POST
def apply_credit(request: HttpRequest, number: str) -> HttpResponse:
    """ "Apply my credit" on a pending order: as much of the customer's credit as it owes."""
    customer = _customer(request)
    order = selectors.order_for_customer(customer, number)  # 404 for another customer's order
    try:
        posting = ledger.apply_credit(
            customer_id=customer.pk, order_ids=[order.pk], actor=request.user
        )
    except ledger.LedgerError as exc:
        messages.error(request, str(exc))
    else:
        if posting.paid:
            messages.success(
                request,
                _("Your credit paid order %(number)s. Thank you!") % {"number": order.number},
            )
        elif posting.credit_applied:
            messages.success(
                request,
                _("Your credit paid part of order %(number)s; pay the rest below.")
                % {"number": order.number},
            )
        else:
            messages.info(request, _("There is no credit to apply to this order."))
    return redirect("billing:order", number=order.number)


@client_area(Permission.BILLING_VIEW)
@require_GET
def statement(request: HttpRequest) -> HttpResponse:
    """The statement of account for a date range (default: this year), as a page, CSV or PDF."""
    customer = _customer(request)
    form, result, download = statement_files.from_query(customer=customer, params=request.GET)
    if download is not None:
        return download
    return render(
        request,
        "billing/statement.html",
        {
            "form": form,
            "statement": result,
            "query": f"start={result.start.isoformat()}&end={result.end.isoformat()}",
            "today": local_today(),
            "since": local_today() - dt.timedelta(days=365),
        },
    )
