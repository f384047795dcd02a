"""The ``/sandbox/`` dashboard for testers, and helpers shared by the simulator views."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clientarea.payments.sandbox import delivery
from clientarea.payments.sandbox.expiry import expire_vouchers
from clientarea.payments.sandbox.forms import CashPointForm
from clientarea.payments.sandbox.models import (
    SandboxNotification,
    SandboxPayUOrder,
    SandboxPayURefund,
    SandboxPayUTransaction,
    SandboxPayvalidaOrder,
)

RECENT = 25

T = TypeVar("T")


def see_other(url: str) -> HttpResponseRedirect:
    """A 303 redirect (POST → GET)."""
    return HttpResponseRedirect(url, status=303)


def _encode(value: Any) -> str:
    """JSON text where ``Decimal`` becomes an exact JSON number (PayU's JSON shows amounts as numbers)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def json_answer(data: Any, status: int = 200) -> HttpResponse:
    """A JSON response; Decimals are written as numbers, never through float."""
    return HttpResponse(
        _encode(data), status=status, content_type="application/json; charset=utf-8"
    )


def cash_point_page(
    request: HttpRequest,
    *,
    theme: dict[str, str],
    pay: Callable[[str], T],
    refused: type[Exception],
    receipt: Callable[[T], tuple[Decimal, str, str]],
) -> HttpResponse:
    """A cashier's screen (each simulator's): type the voucher's reference and take the money.
    ``pay`` takes it (raising ``refused``, shown as the error); ``receipt`` gives the amount,
    reference and currency of what it paid."""
    form = CashPointForm(
        request.POST or None, initial={"reference": request.GET.get("reference", "")}
    )
    paid: T | None = None
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            paid = pay(form.cleaned_data["reference"])
        except refused as exc:
            error = str(exc)
    amount, reference, currency = receipt(paid) if paid is not None else (None, "", "")
    return render(
        request,
        "sandbox/cash_point.html",
        {
            **theme,
            "form": form,
            "paid": paid,
            "error": error,
            "paid_amount": amount,
            "paid_reference": reference,
            "paid_currency": currency,
        },
    )


def _notifications() -> Prefetch:
    return Prefetch(
        "notifications",
        queryset=SandboxNotification.objects.prefetch_related("deliveries").order_by(
            "created", "id"
        ),
    )


@staff_member_required  # it links every order's checkout, which shows the buyer's data
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Recent orders of both simulators with their attempts, notifications and deliveries (staff)."""
    payu_orders = SandboxPayUOrder.objects.prefetch_related(
        Prefetch(
            "transactions",
            queryset=SandboxPayUTransaction.objects.prefetch_related(_notifications()),
        ),
        Prefetch(
            "refunds",
            queryset=SandboxPayURefund.objects.select_related("parent").prefetch_related(
                _notifications()
            ),
        ),
    )[:RECENT]
    payvalida_orders = SandboxPayvalidaOrder.objects.prefetch_related("attempts", _notifications())[
        :RECENT
    ]
    return render(
        request,
        "sandbox/index.html",
        {
            "theme": "neutral",
            "brand": _("Gateway simulators"),
            "payu_orders": payu_orders,
            "payvalida_orders": payvalida_orders,
        },
    )


@staff_member_required
@require_POST
def resend_notification(request: HttpRequest, pk: int) -> HttpResponse:
    """Deliver a confirmation/notification again (a fresh series of up to 9 attempts)."""
    notification = get_object_or_404(SandboxNotification, pk=pk)
    delivery.resend(notification)
    messages.success(
        request, _("Notification #%(number)s queued again.") % {"number": notification.pk}
    )
    return see_other(reverse("sandbox:index"))


@staff_member_required
@require_POST
def expire_due(request: HttpRequest) -> HttpResponse:
    """Run ``expire_vouchers()`` now (what the periodic task and ``sandbox_expire`` do)."""
    result = expire_vouchers()
    messages.success(
        request,
        _("Expired %(payu)s PayU voucher(s) and %(payvalida)s Payvalida order(s).") % result,
    )
    return see_other(reverse("sandbox:index"))
