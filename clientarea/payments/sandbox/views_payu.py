"""PayU WebCheckout simulator pages: the form target, the hosted checkout, the PSE bank,
the cash voucher and cash point, the Queries API and the Payments API's refunds."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clientarea.payments.sandbox import payu_protocol as proto
from clientarea.payments.sandbox import payu_refunds, payu_sim
from clientarea.payments.sandbox.forms import (
    BankDecisionForm,
    CardForm,
    CashForm,
    PSEForm,
)
from clientarea.payments.sandbox.models import (
    Instrument,
    PayUOrderState,
    PayUTransactionState,
    SandboxPayUOrder,
    SandboxPayURefund,
    SandboxPayUTransaction,
)
from clientarea.payments.sandbox.views import cash_point_page, json_answer, see_other

THEME = {"theme": "payu", "brand": "PayU Latam"}


def _ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _back_to_merchant(request: HttpRequest, tx: SandboxPayUTransaction) -> HttpResponse:
    """302 to ``responseUrl`` with the response-page parameters, or the simulator's own result page."""
    url = payu_sim.response_redirect_url(tx)
    if url:
        return HttpResponseRedirect(url)
    return HttpResponseRedirect(reverse("sandbox:payu_result", args=[tx.transaction_id]))


def _order_context(order: SandboxPayUOrder) -> dict[str, Any]:
    amount = Decimal(order.amount)
    return {
        **THEME,
        "order": order,
        "amount": amount,
        "tax": Decimal(order.tax),
        "reference_pol": order.payu_order_id,
        "merchant_name": _("ClientArea sandbox merchant"),
    }


# --- Form target ---------------------------------------------------------------------------------


@csrf_exempt  # a cross-site form post from the merchant's page, like the real gateway
@require_POST
def gateway(request: HttpRequest) -> HttpResponse:
    """``POST /sandbox/payu/ppp-web-gateway-payu/``: verify the form, store the order, go to checkout."""
    try:
        order = payu_sim.accept_form(request.POST)
    except payu_sim.FormRejected as exc:
        # PayU answers a refused form with an error page and HTTP 200.
        return render(
            request,
            "sandbox/payu/error.html",
            {
                **THEME,
                "code": exc.code,
                "message": exc.message,
                "reference": request.POST.get("referenceCode", ""),
            },
        )
    return see_other(reverse("sandbox:payu_checkout", args=[order.checkout_token]))


# --- Checkout ------------------------------------------------------------------------------------


def _render_checkout(
    request: HttpRequest,
    order: SandboxPayUOrder,
    *,
    card_form: CardForm | None = None,
    pse_form: PSEForm | None = None,
    cash_form: CashForm | None = None,
    status: int = 200,
) -> HttpResponse:
    offer = payu_sim.offer(order)
    transactions = list(order.transactions.all())
    pending = next(
        (tx for tx in reversed(transactions) if tx.state == PayUTransactionState.PENDING), None
    )
    last = transactions[-1] if transactions else None
    context = {
        **_order_context(order),
        "offer": offer,
        "transactions": transactions,
        "pending": pending,
        "last": last,
        "last_return_url": payu_sim.response_redirect_url(last) if last else None,
        "card_form": card_form or CardForm(brands=offer.card_brands),
        "pse_form": pse_form or PSEForm(),
        "cash_form": cash_form or CashForm(networks=offer.cash_networks),
        "card_brands": ", ".join(offer.card_brands),
        "card_action": reverse("sandbox:payu_card", args=[order.checkout_token])
        if offer.card_brands
        else "",
        "pse_action": reverse("sandbox:payu_pse", args=[order.checkout_token]) if offer.pse else "",
        "cash_action": reverse("sandbox:payu_cash", args=[order.checkout_token])
        if offer.cash_networks
        else "",
    }
    return render(request, "sandbox/payu/checkout.html", context, status=status)


def _get_order(token: str) -> SandboxPayUOrder:
    return get_object_or_404(SandboxPayUOrder, checkout_token=token)


@require_GET
def checkout(request: HttpRequest, token: str) -> HttpResponse:
    """The hosted payment page: card, PSE or cash."""
    return _render_checkout(request, _get_order(token))


@require_POST
def pay_card(request: HttpRequest, token: str) -> HttpResponse:
    order = _get_order(token)
    form = CardForm(request.POST, brands=payu_sim.offer(order).card_brands)
    if not order.is_open:
        return see_other(reverse("sandbox:payu_checkout", args=[token]))
    if not form.is_valid():
        return _render_checkout(request, order, card_form=form)
    try:
        tx = payu_sim.pay_with_card(
            order,
            holder=form.cleaned_data["card_holder"],
            number=form.cleaned_data["card_number"],
            installments=form.cleaned_data["installments"],
            ip=_ip(request),
        )
    except payu_sim.OrderClosed:
        return see_other(reverse("sandbox:payu_checkout", args=[token]))
    return _back_to_merchant(request, tx)


@require_POST
def start_pse(request: HttpRequest, token: str) -> HttpResponse:
    order = _get_order(token)
    form = PSEForm(request.POST)
    if not order.is_open or not payu_sim.offer(order).pse:
        return see_other(reverse("sandbox:payu_checkout", args=[token]))
    if not form.is_valid():
        return _render_checkout(request, order, pse_form=form)
    try:
        tx = payu_sim.start_pse(
            order,
            person_type=form.cleaned_data["person_type"],
            document_type=form.cleaned_data["document_type"],
            document_number=form.cleaned_data["document_number"],
            bank_code=form.cleaned_data["bank"],
            ip=_ip(request),
        )
    except payu_sim.OrderClosed:
        return see_other(reverse("sandbox:payu_checkout", args=[token]))
    return see_other(reverse("sandbox:payu_pse_bank", args=[tx.transaction_id]))


@require_POST
def issue_cash(request: HttpRequest, token: str) -> HttpResponse:
    order = _get_order(token)
    networks = payu_sim.offer(order).cash_networks
    form = CashForm(request.POST, networks=networks)
    if not order.is_open or not networks:
        return see_other(reverse("sandbox:payu_checkout", args=[token]))
    if not form.is_valid():
        return _render_checkout(request, order, cash_form=form)
    try:
        tx = payu_sim.issue_cash_voucher(
            order, network=form.cleaned_data["network"], ip=_ip(request)
        )
    except payu_sim.OrderClosed:
        return see_other(reverse("sandbox:payu_checkout", args=[token]))
    return see_other(reverse("sandbox:payu_voucher", args=[tx.transaction_id]))


# --- PSE bank, voucher, cash point, result ---------------------------------------------------------------


def _get_tx(transaction_id: Any, instrument: str | None = None) -> SandboxPayUTransaction:
    filters: dict[str, Any] = {"transaction_id": transaction_id}
    if instrument:
        filters["instrument"] = instrument
    return get_object_or_404(SandboxPayUTransaction.objects.select_related("order"), **filters)


@require_http_methods(["GET", "POST"])
def pse_bank(request: HttpRequest, transaction_id: Any) -> HttpResponse:
    """The simulated bank: Approve / Reject / Leave pending. Reachable later to resolve a pending PSE."""
    tx = _get_tx(transaction_id, Instrument.PSE)
    if request.method == "POST":
        form = BankDecisionForm(request.POST)
        if form.is_valid():
            tx = payu_sim.resolve_pse(tx, form.cleaned_data["decision"])
            return _back_to_merchant(request, tx)
    return render(
        request,
        "sandbox/pse_bank.html",
        {
            **_order_context(tx.order),
            "attempt": tx,
            "bank_name": tx.pse_bank_name,
            "cus": tx.trazability_code,
            "pending": tx.state == PayUTransactionState.PENDING,
            "state_label": tx.get_state_display(),
            "action": reverse("sandbox:payu_pse_bank", args=[tx.transaction_id]),
            "return_url": payu_sim.response_redirect_url(tx),
        },
    )


@require_GET
def voucher(request: HttpRequest, transaction_id: Any) -> HttpResponse:
    """The printable cash voucher."""
    tx = _get_tx(transaction_id, Instrument.CASH)
    return render(
        request,
        "sandbox/voucher.html",
        {
            **_order_context(tx.order),
            "attempt": tx,
            "reference": payu_sim.voucher_reference(tx),
            "agreement": "110528",
            "network_label": dict(proto.CASH_NETWORKS).get(tx.payment_method, tx.payment_method),
            "expires_at": tx.cash_expires_at,
            "state_label": tx.get_state_display(),
            "pending": tx.state == PayUTransactionState.PENDING,
            "return_url": payu_sim.response_redirect_url(tx),
            "cash_point_url": reverse("sandbox:payu_cash_point"),
        },
    )


@staff_member_required  # a dashboard action
@require_POST
def expire_voucher_now(request: HttpRequest, transaction_id: Any) -> HttpResponse:
    """Dashboard button: expire this voucher now (sends the EXPIRED confirmation)."""
    tx = _get_tx(transaction_id, Instrument.CASH)
    if payu_sim.expire_voucher(tx):
        messages.success(
            request,
            _("Voucher %(reference)s expired.") % {"reference": payu_sim.voucher_reference(tx)},
        )
    return see_other(reverse("sandbox:index"))


@require_http_methods(["GET", "POST"])
def cash_point(request: HttpRequest) -> HttpResponse:
    """A cashier's screen: type the voucher's payment reference and take the money."""
    return cash_point_page(
        request,
        theme=THEME,
        pay=payu_sim.pay_voucher,
        refused=payu_sim.VoucherError,
        receipt=lambda tx: (
            Decimal(tx.order.amount),
            payu_sim.voucher_reference(tx),
            tx.order.currency,
        ),
    )


@require_GET
def result(request: HttpRequest, transaction_id: Any) -> HttpResponse:
    """The simulator's own result page (used when the order has no responseUrl)."""
    tx = _get_tx(transaction_id)
    return render(
        request,
        "sandbox/result.html",
        {
            **_order_context(tx.order),
            "attempt": tx,
            "state": tx.state,
            "state_label": tx.get_state_display(),
            "response_code": tx.response_code,
            "return_url": payu_sim.response_redirect_url(tx),
            "retry_url": reverse("sandbox:payu_checkout", args=[tx.order.checkout_token])
            if tx.order.is_open
            else "",
            "approved": tx.state == PayUTransactionState.APPROVED,
            "order_state": PayUOrderState(tx.order.state).label,
        },
    )


# --- Queries API ---------------------------------------------------------------------------------------------


@csrf_exempt  # server-to-server JSON API
@require_POST
def queries(request: HttpRequest) -> HttpResponse:
    """``POST /sandbox/payu/reports-api/4.0/service.cgi`` (queries-api.html). JSON only."""
    try:
        payload = json.loads(request.body.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError):
        return json_answer(
            {"code": "ERROR", "error": "Invalid request format: JSON expected", "result": None}
        )
    return json_answer(payu_sim.queries_api(payload))


# --- Payments API: refunds ------------------------------------------------------------------------------


@csrf_exempt  # server-to-server JSON API
@require_POST
def payments_api(request: HttpRequest) -> HttpResponse:
    """``POST /sandbox/payu/payments-api/4.0/service.cgi`` (refunds-api.html): PING and refunds."""
    try:
        payload = json.loads(request.body.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError):
        return json_answer(
            {
                "code": "ERROR",
                "error": "Invalid request format: JSON expected",
                "transactionResponse": None,
            }
        )
    return json_answer(payu_refunds.payments_api(payload))


@staff_member_required
@require_POST
def resolve_refund(request: HttpRequest, refund_id: Any) -> HttpResponse:
    """Dashboard: PayU's review of a refund request (approve or decline; then the confirmation)."""
    refund = get_object_or_404(SandboxPayURefund, refund_id=refund_id)
    approve = request.POST.get("decision") == "approve"
    try:
        payu_refunds.resolve_refund(refund, approve=approve)
    except payu_refunds.RefundAlreadyResolved as exc:
        messages.error(request, _("The refund was already resolved (%(state)s).") % {"state": exc})
    else:
        messages.success(request, _("Refund approved.") if approve else _("Refund declined."))
    return see_other(reverse("sandbox:index"))
