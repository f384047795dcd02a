"""Payvalida simulator pages: the v3 purchase-order API, the hosted checkout, the PSE bank,
the cash voucher and cash point."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clientarea.payments.sandbox import payvalida_protocol as proto
from clientarea.payments.sandbox import payvalida_refunds, payvalida_sim
from clientarea.payments.sandbox.forms import (
    BankDecisionForm,
    CardForm,
    CashForm,
    PSEForm,
)
from clientarea.payments.sandbox.models import (
    Instrument,
    PayvalidaState,
    SandboxPayvalidaAttempt,
    SandboxPayvalidaOrder,
)
from clientarea.payments.sandbox.views import cash_point_page, json_answer, see_other

THEME = {"theme": "payvalida", "brand": "Payvalida"}
CARD_BRANDS = ("VISA", "MASTERCARD", "AMEX", "DINERS", "CODENSA")


# --- API ------------------------------------------------------------------------------------------


@csrf_exempt  # server-to-server JSON API
@require_POST
def api_register(request: HttpRequest) -> HttpResponse:
    """``POST /sandbox/payvalida/api/v3/porders`` (purchase-orders/register)."""
    try:
        data = json.loads(request.body.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError):
        return json_answer(payvalida_sim.answer(proto.ERR_CONTENT, detail="the body must be JSON"))
    return json_answer(payvalida_sim.register(data, host=request.get_host()))


@csrf_exempt  # server-to-server JSON API
def api_order(request: HttpRequest, order: str) -> HttpResponse:
    """``GET`` (consult) / ``DELETE`` (delete) ``/sandbox/payvalida/api/v3/porders/<order>``."""
    merchant = request.GET.get("merchant", "")
    checksum = request.GET.get("checksum", "")
    if request.method == "GET":
        return json_answer(
            payvalida_sim.consult(
                order,
                merchant=merchant,
                checksum=checksum,
                aditionalinfo=request.GET.get("aditionalinfo", ""),
                host=request.get_host(),
            )
        )
    if request.method == "DELETE":
        return json_answer(payvalida_sim.delete(order, merchant=merchant, checksum=checksum))
    return HttpResponseNotAllowed(["GET", "DELETE"])


# --- Checkout ---------------------------------------------------------------------------------------


def _order_context(order: SandboxPayvalidaOrder) -> dict[str, Any]:
    return {
        **THEME,
        "order": order,
        "amount": Decimal(order.amount),
        "return_url": payvalida_sim.return_url(order),
    }


def _order_by_token(token: str) -> SandboxPayvalidaOrder:
    return get_object_or_404(SandboxPayvalidaOrder, token=token or "-")


def _render_checkout(
    request: HttpRequest,
    order: SandboxPayvalidaOrder,
    *,
    card_form: CardForm | None = None,
    pse_form: PSEForm | None = None,
    cash_form: CashForm | None = None,
    notice: str = "",
) -> HttpResponse:
    offer = payvalida_sim.offer(order)
    attempts = list(order.attempts.all())
    context = {
        **_order_context(order),
        "offer": offer,
        "payable": order.state == PayvalidaState.PENDIENTE,
        "attempts": attempts,
        "pending_attempts": [
            a for a in attempts if a.state == SandboxPayvalidaAttempt.State.PENDING
        ],
        "expires_at": payvalida_sim.expires_at(order),
        "card_form": card_form or CardForm(brands=CARD_BRANDS),
        "pse_form": pse_form or PSEForm(),
        "cash_form": cash_form or CashForm(networks=offer.cash_networks),
        "card_brands": ", ".join(CARD_BRANDS),
        "card_action": reverse("sandbox:payvalida_card") if offer.card else "",
        "pse_action": reverse("sandbox:payvalida_pse") if offer.pse else "",
        "cash_action": reverse("sandbox:payvalida_cash") if offer.cash_networks else "",
        "hidden_token": order.token,
        "notice": notice,
    }
    return render(request, "sandbox/payvalida/checkout.html", context)


@require_GET
def checkout(request: HttpRequest) -> HttpResponse:
    """``/sandbox/payvalida/checkout/?token=…``: the hosted payment page."""
    order = _order_by_token(request.GET.get("token", ""))
    payvalida_sim.expire_if_due(order)
    order.refresh_from_db()
    # Like the real checkout link, reopening it shows the cash voucher already issued for the order.
    voucher = (
        order.attempts.filter(
            instrument=Instrument.CASH, state=SandboxPayvalidaAttempt.State.PENDING
        )
        .order_by("-id")
        .first()
    )
    if voucher is not None:
        return see_other(reverse("sandbox:payvalida_voucher", args=[voucher.attempt_id]))
    return _render_checkout(request, order)


def _checkout_url(order: SandboxPayvalidaOrder) -> str:
    return f"{reverse('sandbox:payvalida_checkout')}?token={order.token}"


def _declined(request: HttpRequest, attempt: SandboxPayvalidaAttempt) -> HttpResponse:
    return render(
        request,
        "sandbox/result.html",
        {
            **_order_context(attempt.order),
            "attempt": attempt,
            "state": "DECLINED",
            "state_label": SandboxPayvalidaAttempt.State.DECLINED.label,
            "response_code": attempt.response_code,
            "approved": False,
            "retry_url": _checkout_url(attempt.order),
            "order_state": attempt.order.get_state_display(),
        },
    )


def _not_payable(request: HttpRequest, order: SandboxPayvalidaOrder) -> HttpResponse:
    messages.info(
        request, _("This order can no longer be paid (state %(state)s).") % {"state": order.state}
    )
    return see_other(_checkout_url(order))


@require_POST
def pay_card(request: HttpRequest) -> HttpResponse:
    order = _order_by_token(request.POST.get("token", ""))
    form = CardForm(request.POST, brands=CARD_BRANDS)
    if not payvalida_sim.offer(order).card:
        return see_other(_checkout_url(order))
    if not form.is_valid():
        return _render_checkout(request, order, card_form=form)
    try:
        attempt = payvalida_sim.pay_with_card(
            order,
            holder=form.cleaned_data["card_holder"],
            number=form.cleaned_data["card_number"],
            installments=form.cleaned_data["installments"],
        )
    except payvalida_sim.OrderNotPayable:
        return _not_payable(request, order)
    if attempt.state != SandboxPayvalidaAttempt.State.APPROVED:
        return _declined(request, attempt)
    return HttpResponseRedirect(payvalida_sim.return_url(order))


@require_POST
def start_pse(request: HttpRequest) -> HttpResponse:
    order = _order_by_token(request.POST.get("token", ""))
    form = PSEForm(request.POST)
    if not payvalida_sim.offer(order).pse:
        return see_other(_checkout_url(order))
    if not form.is_valid():
        return _render_checkout(request, order, pse_form=form)
    try:
        attempt = payvalida_sim.start_pse(
            order,
            person_type=form.cleaned_data["person_type"],
            document_type=form.cleaned_data["document_type"],
            document_number=form.cleaned_data["document_number"],
            bank_code=form.cleaned_data["bank"],
        )
    except payvalida_sim.OrderNotPayable:
        return _not_payable(request, order)
    return see_other(reverse("sandbox:payvalida_pse_bank", args=[attempt.attempt_id]))


@require_POST
def issue_cash(request: HttpRequest) -> HttpResponse:
    order = _order_by_token(request.POST.get("token", ""))
    networks = payvalida_sim.offer(order).cash_networks
    form = CashForm(request.POST, networks=networks)
    if not networks:
        return see_other(_checkout_url(order))
    if not form.is_valid():
        return _render_checkout(request, order, cash_form=form)
    try:
        attempt = payvalida_sim.issue_cash_voucher(order, network=form.cleaned_data["network"])
    except payvalida_sim.OrderNotPayable:
        return _not_payable(request, order)
    return see_other(reverse("sandbox:payvalida_voucher", args=[attempt.attempt_id]))


def _get_attempt(attempt_id: Any, instrument: str) -> SandboxPayvalidaAttempt:
    return get_object_or_404(
        SandboxPayvalidaAttempt.objects.select_related("order"),
        attempt_id=attempt_id,
        instrument=instrument,
    )


@require_http_methods(["GET", "POST"])
def pse_bank(request: HttpRequest, attempt_id: Any) -> HttpResponse:
    """The simulated bank page (Approve / Reject / Leave pending); reachable later while pending."""
    attempt = _get_attempt(attempt_id, Instrument.PSE)
    if request.method == "POST":
        form = BankDecisionForm(request.POST)
        if form.is_valid():
            try:
                attempt = payvalida_sim.resolve_pse(attempt, form.cleaned_data["decision"])
            except payvalida_sim.OrderNotPayable:
                return _not_payable(request, attempt.order)
            if attempt.state == SandboxPayvalidaAttempt.State.DECLINED:
                return _declined(request, attempt)
            return HttpResponseRedirect(payvalida_sim.return_url(attempt.order))
    return render(
        request,
        "sandbox/pse_bank.html",
        {
            **_order_context(attempt.order),
            "attempt": attempt,
            "bank_name": attempt.pse_bank_name,
            "cus": attempt.cus,
            "pending": attempt.state == SandboxPayvalidaAttempt.State.PENDING,
            "state_label": attempt.get_state_display(),
            "action": reverse("sandbox:payvalida_pse_bank", args=[attempt.attempt_id]),
        },
    )


@require_GET
def voucher(request: HttpRequest, attempt_id: Any) -> HttpResponse:
    """The printable cash voucher (pay it with the order's reference)."""
    attempt = _get_attempt(attempt_id, Instrument.CASH)
    order = attempt.order
    return render(
        request,
        "sandbox/voucher.html",
        {
            **_order_context(order),
            "attempt": attempt,
            "reference": order.reference,
            "agreement": "",
            "network_label": attempt.payment_name.title(),
            "expires_at": payvalida_sim.expires_at(order),
            "state_label": attempt.get_state_display(),
            "pending": attempt.state == SandboxPayvalidaAttempt.State.PENDING,
            "cash_point_url": reverse("sandbox:payvalida_cash_point"),
            "reference_pol": order.pv_order_id,
        },
    )


@require_http_methods(["GET", "POST"])
def cash_point(request: HttpRequest) -> HttpResponse:
    """A cashier's screen: type the order reference and take the money."""
    return cash_point_page(
        request,
        theme=THEME,
        pay=payvalida_sim.pay_voucher,
        refused=payvalida_sim.VoucherError,
        receipt=lambda paid: (Decimal(paid.order.amount), paid.order.reference, paid.order.money),
    )


@staff_member_required  # a dashboard action
@require_POST
def expire_order_now(request: HttpRequest, pk: int) -> HttpResponse:
    """Dashboard button: expire this order now (VENCIDA, notified "cancelled")."""
    order = get_object_or_404(SandboxPayvalidaOrder, pk=pk)
    if payvalida_sim.expire_order(order):
        messages.success(request, _("Payvalida order %(order)s expired.") % {"order": order.order})
    return see_other(reverse("sandbox:index"))


@staff_member_required  # a dashboard action (Payvalida's back office)
@require_POST
def annul_order_now(request: HttpRequest, pk: int) -> HttpResponse:
    """Dashboard: refund an approved order (ANULADA), asked by the merchant or claimed by the customer."""
    order = get_object_or_404(SandboxPayvalidaOrder, pk=pk)
    requested_by = request.POST.get("requested_by", "")
    try:
        payvalida_refunds.annul_order(order, requested_by=requested_by)
    except (payvalida_refunds.NotRefundable, ValueError):
        messages.error(
            request, _("Payvalida order %(order)s cannot be annulled.") % {"order": order.order}
        )
    else:
        messages.success(
            request,
            _("Payvalida order %(order)s annulled (%(by)s).")
            % {"order": order.order, "by": requested_by},
        )
    return see_other(reverse("sandbox:index"))
