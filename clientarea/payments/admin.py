"""Back office for payments: read-only attempts with their message log, and two staff actions.

Nothing here edits a payment field. "Query the gateway again" runs the same code
path as a notification (``services.query_payment_again`` → ``apply_update``);
"Mark as refunded manually" records a refund done in the gateway's back office
(``services.mark_refunded``, with a note and an audit entry).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from clientarea.billing import admin as billing_admin
from clientarea.billing import selectors as billing_selectors
from clientarea.billing.models import Order
from clientarea.lib.admin import ObjectActionsAdminMixin, ReadOnlyAdminMixin, ReadOnlyInline
from clientarea.lib.dates import short_datetime
from clientarea.lib.money import format_cop
from clientarea.payments import gateway_details, selectors, services
from clientarea.payments.forms import RefundForm, RefundNoteForm
from clientarea.payments.gateways import gateway_codes, get_gateway
from clientarea.payments.gateways.base import GatewayError, UnknownGateway
from clientarea.payments.models import (
    GatewaySwitch,
    Outcome,
    Payment,
    PaymentMessage,
    PaymentOrder,
    PaymentStatus,
    Refund,
    RefundLine,
    RefundStatus,
)
from clientarea.payments.status_notes import failure_text

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def _details_list(lines: list[gateway_details.Detail]) -> str:
    """Labelled lines; an address is a link (opened apart: it is the gateway's page)."""
    if not lines:
        return "—"
    return format_html(
        '<dl class="payment-details">{}</dl>',
        format_html_join(
            "",
            "<dt>{}</dt><dd>{}</dd>",
            (
                (
                    line.label,
                    format_html(
                        '<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>',
                        line.url,
                        line.value,
                    )
                    if line.url
                    else line.value,
                )
                for line in lines
            ),
        ),
    )


class NeedsAttentionFilter(admin.SimpleListFilter):
    title = _("needs attention")
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("yes", _("Review or refund pending")), ("refund", _("Needs refund"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(Q(needs_review=True) | Q(refund_status=RefundStatus.FLAGGED))
        if self.value() == "refund":
            return queryset.filter(refund_status=RefundStatus.FLAGGED)
        return queryset


def _short_key(value: str | None, length: int = 14) -> str:
    """A long identifier shortened (the whole value on hover, and on the row's own page)."""
    if not value:
        return "—"
    if len(value) <= length:
        return value
    return format_html('<span title="{}">{}…</span>', value, value[: length - 1])


def _said(note: str, gateway_words: str) -> str:
    """Our explanation, in the reader's language, and the gateway's own words labelled apart."""
    if not note and not gateway_words:
        return "—"
    parts = [conditional_escape(note)] if note else []
    if gateway_words:
        parts.append(
            format_html(
                '<span class="gateway-words">{}: «{}»</span>',
                _("the gateway said"),
                gateway_words,
            )
        )
    return format_html_join(mark_safe("<br>"), "{}", ((part,) for part in parts))


class PaymentMessageInline(ReadOnlyInline):
    """The gateway's messages, one line each in 1366 px: the key and the transaction shortened
    (whole on hover and on the message's own page, with its source address and when it was
    processed)."""

    model = PaymentMessage
    show_change_link = True
    fields = readonly_fields = (
        "when",
        "kind",
        "signature_valid",
        "gateway_status",
        "transaction",
        "key",
        "result",
        "outcome_detail",
    )
    ordering = ["received_at", "id"]
    verbose_name_plural = _("messages from the gateway (oldest first)")

    @admin.display(description=_("received"))
    def when(self, obj: PaymentMessage) -> str:
        return short_datetime(obj.received_at)

    @admin.display(description=_("transaction id"))
    def transaction(self, obj: PaymentMessage) -> str:
        return _short_key(obj.transaction_id)

    @admin.display(description=_("dedupe key"))
    def key(self, obj: PaymentMessage) -> str:
        return _short_key(obj.dedupe_key)

    @admin.display(description=_("detail (log)"))
    def outcome_detail(self, obj: PaymentMessage) -> str:
        """The log's own words (English, with ids and amounts), labelled apart from the result
        beside it: both columns read "Resultado" in Spanish."""
        return obj.outcome or "—"


class RefundInline(ReadOnlyInline):
    """A payment's refunds, in 1366 px: what the gateway and we said in one column, the ids
    shortened (whole on hover and on the refund's own page)."""

    model = Refund
    fk_name = "payment"
    fields = (
        "requested",
        "amount_cop",
        "method",
        "state",
        "services_action",
        "reference",
        "said",
        "reason",
        "requested_by",
    )
    readonly_fields = fields
    show_change_link = True

    @admin.display(description=_("amount"))
    def amount_cop(self, obj: Refund) -> str:
        return format_cop(obj.amount)

    @admin.display(description=_("requested"))
    def requested(self, obj: Refund) -> str:
        return short_datetime(obj.requested_at)

    @admin.display(description=_("reference"))
    def reference(self, obj: Refund) -> str:
        """The gateway's refund id, or the bank's reference of a manual refund."""
        return _short_key(obj.gateway_refund_id or obj.bank_reference)

    @admin.display(description=_("what was said"))
    def said(self, obj: Refund) -> str:
        return _said(obj.note_text, obj.gateway_message)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, ObjectActionsAdminMixin[Payment], admin.ModelAdmin):
    """Payment attempts, read-only: the customer's Pay now creates them; staff act through the
    actions below."""

    class Media:
        css = {"all": ["css/admin.css"]}

    list_display = [
        "reference",
        "order_link",
        "customer",
        "gateway",
        "method",
        "amount_cop",
        "status_badge",
        "flags",
        "created_at",
    ]
    list_filter = [
        NeedsAttentionFilter,
        "status",
        "gateway",
        "needs_review",
        "duplicate",
        "refund_status",
        "method",
    ]
    search_fields = [
        "reference",
        "gateway_reference",
        "order__number",
        "basket__order__number",
        "customer__user__email",
        "customer__document_number",
        "gateway_transaction_id",
        "gateway_order_id",
    ]
    list_select_related = ["order", "customer__user"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    inlines = [RefundInline, PaymentMessageInline]
    actions = ["query_again", "mark_refunded_action"]
    change_form_template = "payments/admin_payment_change_form.html"
    change_list_template = "payments/admin_payment_change_list.html"

    def changelist_view(self, request, extra_context=None):
        """Above the list: each gateway's configuration as read from settings (secrets masked),
        and the switch that stops or resumes offering it at Pay now."""
        switches = {
            switch.gateway: switch for switch in GatewaySwitch.objects.select_related("updated_by")
        }
        gateways = []
        for code in gateway_codes():
            gateway = get_gateway(code)
            gateways.append(
                {
                    "name": gateway.name,
                    "code": code,
                    "config": sorted(gateway.describe_config().items()),
                    "enabled": gateway.enabled,
                    "switch": switches.get(code),
                    "switch_url": reverse("admin:payments_payment_gateway_switch", args=[code]),
                }
            )
        return super().changelist_view(
            request,
            {
                **(extra_context or {}),
                "gateway_configs": gateways,
                "can_switch": request.user.has_perm("payments.change_gatewayswitch"),
            },
        )

    def get_urls(self):
        return [
            path(
                "gateway/<str:code>/switch/",
                self.admin_site.admin_view(self.gateway_switch_view),
                name="payments_payment_gateway_switch",
            ),
            *super().get_urls(),
        ]

    def gateway_switch_view(self, request: HttpRequest, code: str) -> HttpResponse:
        """POST: stop (with a reason) or resume offering a gateway at Pay now."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("payments.change_gatewayswitch"):
            raise PermissionDenied
        offered = request.POST.get("offered") == "1"
        try:
            switch = services.set_gateway_offered(
                gateway_code=code,
                offered=offered,
                reason=request.POST.get("reason", ""),
                actor=request.user,
            )
        except UnknownGateway:
            raise Http404("No such gateway") from None
        except services.PaymentStateError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            text = (
                _("%(gateway)s is offered at Pay now again.")
                if switch.offered
                else _(
                    "%(gateway)s is no longer offered at Pay now. Payments already started there are still applied."
                )
            )
            self.message_user(request, text % {"gateway": get_gateway(code).name}, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:payments_payment_changelist"))

    object_actions = [
        ("query", "query_view"),
        ("refund", "refund_payment_view"),
        ("refunded", "refund_view"),
        ("refund-instead", "refund_instead_view"),
        ("keep-credit", "keep_credit_view"),
    ]
    action_form_template = "payments/admin_payment_action.html"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "reference",
                    "orders_paid",
                    "customer",
                    "gateway",
                    "attempt",
                    "status",
                    "gateway_words",
                    "status_note",
                    "method",
                    "requested_method",
                    "raw_method",
                )
            },
        ),
        (_("Amounts"), {"fields": ("amount_cop", "currency", "tax_cop", "tax_base_cop")}),
        (
            _("Attention"),
            {
                "fields": (
                    "needs_review",
                    "review_text",
                    "duplicate",
                    "refund_text",
                    "refund_note_text",
                    "refunded_at",
                    "refunded_by",
                )
            },
        ),
        (
            _("At the gateway"),
            {
                "fields": (
                    "gateway_reference",
                    "gateway_order_id",
                    "gateway_transaction_id",
                    "instructions_text",
                    "checkout_text",
                    "raw_data",
                )
            },
        ),
        (
            _("Dates"),
            {
                "fields": (
                    "created_at",
                    "updated_at",
                    "approved_at",
                    "expires_at",
                    "last_checked_at",
                    "next_check_at",
                )
            },
        ),
    )

    def get_fieldsets(self, request, obj=None):
        """A payment staff registered has no gateway side: its bank reference and how the money
        came take the place of the gateway's fields (which would show empty ids and raw JSON),
        and the gateway's method names leave the top (the stored code "transfer" showed there
        beside its words under *Received as*)."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not obj.is_manual:
            return fieldsets
        manual = (_("Registered by staff"), {"fields": ("bank_reference_text", "method_text")})
        gateway_only = {"raw_method", "requested_method"}
        shown: list[Any] = []
        for name, options in fieldsets:
            if name == _("At the gateway"):
                shown.append(manual)
                continue
            fields = [f for f in options["fields"] if f not in gateway_only]
            shown.append((name, {**options, "fields": fields}))
        return shown

    @admin.display(description=_("refund"))
    def refund_text(self, obj: Payment) -> str:
        """The refund state, and a partial refund as such: "No refund" read wrong beside a
        completed refund of part of the payment (its note and the refunds below)."""
        if obj.refund_status == RefundStatus.NONE:
            refunded = selectors.refunded_amount(obj)
            if refunded > 0:
                return _("Partly refunded: %(refunded)s of %(amount)s") % {
                    "refunded": format_cop(refunded),
                    "amount": format_cop(obj.amount),
                }
        return obj.get_refund_status_display()

    @admin.display(description=_("refund note"))
    def refund_note_text(self, obj: Payment) -> str:
        """Staff's notes as typed; the refunds' lines with their method in the reader's words."""
        return selectors.refund_note_text(obj.refund_note) or "—"

    @admin.display(description=_("bank reference"))
    def bank_reference_text(self, obj: Payment) -> str:
        return services.bank_reference(obj) or "—"

    @admin.display(description=_("received as"))
    def method_text(self, obj: Payment) -> str:
        return billing_selectors.payment_method_label(obj.raw_method) or "—"

    def get_readonly_fields(self, request, obj=None):
        return [
            *super().get_readonly_fields(request, obj),
            "bank_reference_text",
            "method_text",
            "refund_text",
            "refund_note_text",
            "orders_paid",
            "review_text",
            "gateway_words",
            "status_note",
            "instructions_text",
            "checkout_text",
            "raw_data",
            "amount_cop",
            "tax_cop",
            "tax_base_cop",
        ]

    @admin.display(description=_("Gateway's message"))
    def gateway_words(self, obj: Payment) -> str:
        """What the gateway said, as it said it (its language, its codes)."""
        return obj.status_message or "—"

    @admin.display(description=_("Our explanation"))
    def status_note(self, obj: Payment) -> str:
        """What we say about the state (the attempt was replaced, reconciliation closed it, the
        gateway could not be reached), in the reader's language."""
        return obj.status_note_text or "—"

    @admin.display(description=_("Instructions to pay"))
    def instructions_text(self, obj: Payment) -> str:
        return _details_list(
            gateway_details.details(obj.instructions, method=obj.method or obj.requested_method)
        )

    @admin.display(description=_("Checkout sent"))
    def checkout_text(self, obj: Payment) -> str:
        sections = gateway_details.checkout_sections(obj.checkout_payload)
        if not sections:
            return "—"
        return format_html_join(
            "",
            '<div class="payment-details-part"><h4>{}</h4>{}</div>',
            ((title, _details_list(lines)) for title, lines in sections),
        )

    @admin.display(description=_("Raw data (audit)"))
    def raw_data(self, obj: Payment) -> str:
        """The stored JSON as it is, credentials hidden, folded away."""
        return format_html(
            '<details class="payment-raw"><summary>{}</summary>'
            "<h4>{}</h4><pre>{}</pre><h4>{}</h4><pre>{}</pre></details>",
            _("Show the stored JSON"),
            _("instructions"),
            gateway_details.raw_json(obj.instructions or {}),
            _("checkout sent"),
            gateway_details.raw_json(obj.checkout_payload or {}),
        )

    @admin.display(description=_("review reason"))
    def review_text(self, obj: Payment) -> str:
        text = obj.review_text or "—"
        if obj.needs_review and obj.status == PaymentStatus.APPROVED:
            done, left = services.review_progress(obj)
            if done > 0:  # part of it refunded already: what is still to decide
                text += " · " + _(
                    "%(done)s refunded or being refunded, %(left)s still to decide"
                ) % {
                    "done": format_cop(done),
                    "left": format_cop(left),
                }
        return text

    def get_queryset(self, request):
        # Every order of a payment that pays several (the list names all of them).
        baskets = (
            PaymentOrder.objects.select_related("order")
            .only("id", "payment_id", "order_id", "order__number")
            .order_by("order__number")
        )
        return super().get_queryset(request).prefetch_related(Prefetch("basket", queryset=baskets))

    # --- Columns ---------------------------------------------------------------------

    @admin.display(description=_("orders"), ordering="order__number")
    def order_link(self, obj: Payment) -> str:
        """Every order the payment pays, linked (the first names the attempt)."""
        pairs = [(b.order_id, b.order.number) for b in obj.basket.all()]
        if not pairs and obj.order is not None:  # an attempt without its basket rows
            pairs = [(obj.order.pk, obj.order.number)]
        if not pairs:
            return str(_("funds added to the credit"))
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            ((reverse("admin:billing_order_change", args=[pk]), number) for pk, number in pairs),
        )

    @admin.display(description=_("orders"))
    def orders_paid(self, obj: Payment) -> str:
        return self.order_link(obj)

    @admin.display(description=_("amount"), ordering="amount")
    def amount_cop(self, obj: Payment) -> str:
        return format_cop(obj.amount)

    @admin.display(description=_("IVA"))
    def tax_cop(self, obj: Payment) -> str:
        return format_cop(obj.tax)

    @admin.display(description=_("IVA base"))
    def tax_base_cop(self, obj: Payment) -> str:
        return format_cop(obj.tax_base)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Payment) -> str:
        # Colours in static/css/admin.css (the Content-Security-Policy blocks style attributes).
        return format_html(
            '<strong class="payment-status-{}">{}</strong>',
            obj.status,
            obj.get_status_display().split(" (")[0],
        )

    @admin.display(description=_("flags"))
    def flags(self, obj: Payment) -> str:
        parts = []
        if obj.needs_review:
            parts.append(str(_("review")))
        if obj.duplicate:
            parts.append(str(_("duplicate")))
        if obj.refund_status != RefundStatus.NONE:
            parts.append(obj.get_refund_status_display().lower())
        return ", ".join(parts) or "—"

    # --- Object buttons -----------------------------------------------------------------

    def _query(self, request: HttpRequest, payment: Payment) -> None:
        try:
            outcomes = services.query_payment_again(payment, actor=request.user)
        except services.PaymentStateError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        except GatewayError as exc:
            self.message_user(
                request,
                _("%(reference)s: the gateway could not be queried (%(error)s). Try again later.")
                % {"reference": payment.reference, "error": failure_text(exc)},
                messages.WARNING,
            )
            return
        payment.refresh_from_db()
        # In the reader's words: the payment's state and flags and its orders' states (the
        # outcomes are the log's English details; the messages below keep them, labelled).
        orders = {b.order.pk: b.order for b in payment.basket.select_related("order")}
        if payment.order is not None:
            orders.setdefault(payment.order.pk, payment.order)
        flags = self.flags(payment)
        self.message_user(
            request,
            _("%(reference)s: %(answer)s Payment: %(status)s%(flags)s. %(orders)s")
            % {
                "reference": payment.reference,
                "answer": _("the gateway answered.")
                if outcomes
                else _("the gateway has no record of it."),
                "status": payment.get_status_display(),
                "flags": f" ({flags})" if flags != "—" else "",
                "orders": " ".join(
                    _("Order %(number)s: %(state)s.")
                    % {"number": order.number, "state": order.get_state_display()}
                    for order in sorted(orders.values(), key=lambda o: o.number)
                ),
            },
            messages.SUCCESS,
        )

    def query_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        payment = self.get_object_or_404_for_action(request, object_id)
        if request.method == "POST":
            self._query(request, payment)
            return HttpResponseRedirect(self.change_url(payment))
        return self.render_action_form(
            request,
            title=_("Query the gateway about %(reference)s") % {"reference": payment.reference},
            objects=[payment],
            form=None,
            submit=_("Query now"),
            intro=_(
                "Asks the gateway for this payment's status and applies the answer exactly like a notification: an approval pays the order once, anything else only updates the payment."
            ),
        )

    def has_refund_permission(self, request: HttpRequest) -> bool:
        """Refunding money needs "add refund" (the billing role), on top of acting on payments."""
        return self.has_act_permission(request) and request.user.has_perm("payments.add_refund")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_refund": self.has_refund_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def refund_payment_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Refund the payment wholly or in part, through the gateway or recorded as manual."""
        if not self.has_refund_permission(request):
            raise PermissionDenied
        payment = self.get_object_or_404_for_action(request, object_id)
        left = services.refundable(payment)
        now = services.refundable_now(payment)
        form = RefundForm(
            request.POST or None, initial={"amount": now}, manual_only=payment.is_manual
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                refund = services.refund_payment(
                    payment=payment,
                    amount=data["amount"],
                    method=data["method"],
                    bank_reference=data["bank_reference"],
                    reason=data["reason"],
                    services_action=data["services_action"],
                    actor=request.user,
                )
            except services.PaymentStateError as exc:
                form.add_error(None, str(exc))
            else:
                refund.refresh_from_db()
                self.message_user(
                    request,
                    _("Refund of %(amount)s for %(reference)s: %(state)s.")
                    % {
                        "amount": format_cop(refund.amount),
                        "reference": payment.reference,
                        "state": refund.get_state_display(),
                    },
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(self.change_url(payment))
        return self.render_action_form(
            request,
            title=_("Refund %(reference)s") % {"reference": payment.reference},
            objects=[payment],
            form=form,
            submit=_("Refund"),
            intro=(
                _(
                    "Left to refund: %(left)s. Money that paid orders gets a DIAN credit note "
                    "per order (the whole order: annulment; a part: partial return); money kept "
                    "as credit (what it paid beyond the order) leaves the customer's credit "
                    "first. Staff registered this payment (a transfer or cash): no gateway holds "
                    "the money. Transfer it back to the customer, then record it here with the "
                    "transfer's reference; it is done now."
                )
                if payment.is_manual
                else _(
                    "Left to refund: %(left)s. Money that paid orders gets a DIAN credit note per "
                    "order (the whole order: annulment; a part: partial return); money kept as "
                    "credit leaves the customer's credit. Through the gateway, the refund is sent "
                    "at once and completes when the gateway approves it; a manual refund (bank "
                    "transfer, the gateway's back office) is recorded as done now."
                )
            )
            % {"left": format_cop(left)}
            + (
                " "
                + _(
                    "Part of this payment was kept as the customer's credit and has since paid "
                    "their orders: at most %(now)s (the credit still available) can be refunded "
                    "now."
                )
                % {"now": format_cop(now)}
                if now < left
                else ""
            ),
        )

    def refund_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        payment = self.get_object_or_404_for_action(request, object_id)
        form = RefundNoteForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.mark_refunded(payment, note=form.cleaned_data["note"], actor=request.user)
            except services.PaymentStateError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("Payment %(reference)s marked as refunded.")
                    % {"reference": payment.reference},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(self.change_url(payment))
        return self.render_action_form(
            request,
            title=_("Mark %(reference)s as refunded") % {"reference": payment.reference},
            objects=[payment],
            form=form,
            submit=_("Mark as refunded"),
            intro=_(
                "First return the money in the gateway's back office (or by bank transfer); then record it here. The order is not changed."
            ),
        )

    def refund_instead_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        payment = self.get_object_or_404_for_action(request, object_id)
        form = RefundNoteForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.refund_instead_of_credit(
                    payment, note=form.cleaned_data["note"], actor=request.user
                )
            except services.PaymentStateError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    _(
                        "Payment %(reference)s: the credit was taken back and the payment is flagged for refund."
                    )
                    % {"reference": payment.reference},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(self.change_url(payment))
        return self.render_action_form(
            request,
            title=_("Refund %(reference)s instead of keeping it as credit")
            % {"reference": payment.reference},
            objects=[payment],
            form=form,
            submit=_("Refund instead of credit"),
            intro=_(
                "The amount leaves the customer's credit now (at most the credit still available) and the payment is flagged for refund. Return the money at the gateway or by transfer, then use “Mark as refunded manually”."
            ),
        )

    def keep_credit_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        payment = self.get_object_or_404_for_action(request, object_id)
        if request.method == "POST":
            try:
                services.keep_as_credit(payment, actor=request.user)
            except services.PaymentStateError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("Payment %(reference)s stays as the customer's credit.")
                    % {"reference": payment.reference},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(self.change_url(payment))
        return self.render_action_form(
            request,
            title=_("Keep %(reference)s as credit") % {"reference": payment.reference},
            objects=[payment],
            form=None,
            submit=_("Keep as credit"),
            intro=_(
                "The money stays in the customer's credit and pays their orders; the review flag is cleared."
            ),
        )

    # --- List actions -----------------------------------------------------------------

    @admin.action(description=_("Query the gateway again"), permissions=["act"])
    def query_again(self, request, queryset):
        for payment in queryset[:50]:
            self._query(request, payment)

    @admin.action(description=_("Mark as refunded manually (asks for a note)"), permissions=["act"])
    def mark_refunded_action(self, request, queryset):
        form = RefundNoteForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            done = []
            for payment in queryset:
                try:
                    services.mark_refunded(
                        payment, note=form.cleaned_data["note"], actor=request.user
                    )
                except services.PaymentStateError as exc:
                    self.message_user(request, str(exc), messages.ERROR)
                else:
                    done.append(payment.reference)
            if done:
                self.message_user(
                    request,
                    ngettext_lazy(
                        "%(count)d payment marked as refunded: %(refs)s",
                        "%(count)d payments marked as refunded: %(refs)s",
                        "count",
                    )
                    % {"count": len(done), "refs": ", ".join(done)},
                    messages.SUCCESS,
                )
            return None
        payments = list(queryset.select_related("order", "customer__user"))
        return self.render_action_form(
            request,
            title=_("Mark payments as refunded"),
            objects=payments,
            form=form,
            submit=_("Mark as refunded"),
            action="mark_refunded_action",
            selected=[p.pk for p in payments],
            intro=_(
                "Only payments flagged for refund or review can be marked. Return the money in the gateway's back office first."
            ),
        )


class WaitingFilter(admin.SimpleListFilter):
    title = _("waiting to be applied")
    parameter_name = "waiting"

    def lookups(self, request, model_admin):
        return [
            ("yes", _("Verified, not applied yet")),
            ("stuck", _("Gave up retrying: needs a person")),
        ]

    def queryset(self, request, queryset):
        waiting = queryset.filter(processed=False, signature_valid=True)
        if self.value() == "yes":
            return waiting
        if self.value() == "stuck":
            return waiting.filter(attempts__gte=services.MESSAGE_MAX_ATTEMPTS)
        return queryset


@admin.register(PaymentMessage)
class PaymentMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "received_at",
        "gateway",
        "kind",
        "reference",
        "gateway_status",
        "signature_valid",
        "result",
        "outcome",
        "attempts",
        "source_ip",
        "payment",
    ]
    list_filter = [
        WaitingFilter,
        "result",
        "gateway",
        "kind",
        "signature_valid",
        "processed",
        "gateway_status",
    ]
    actions = ["apply_again"]
    search_fields = [
        "reference",
        "transaction_id",
        "dedupe_key",
        "outcome",
        "payment__reference",
        "payment__order__number",
    ]
    list_select_related = ["payment"]
    date_hierarchy = "received_at"
    ordering = ["-received_at", "-id"]

    def has_act_permission(self, request: HttpRequest) -> bool:
        """Applying a stored notification changes payments: it needs "change payment"."""
        return request.user.has_perm("payments.change_payment")

    @admin.action(
        description=_("Apply again (verified notifications still waiting)"), permissions=["act"]
    )
    def apply_again(self, request, queryset):
        for message in queryset.order_by("received_at", "id")[:100]:
            try:
                outcome = services.retry_message(message, actor=request.user)
            except services.PaymentStateError as exc:
                self.message_user(request, f"#{message.pk}: {exc}", messages.WARNING)
                continue
            message.refresh_from_db(fields=["result"])
            level = messages.ERROR if message.result == Outcome.ERROR else messages.SUCCESS
            self.message_user(
                request,
                _("Message %(id)s (%(reference)s): %(outcome)s")
                % {"id": message.pk, "reference": message.reference or "—", "outcome": outcome},
                level,
            )


class RefundLineInline(ReadOnlyInline):
    model = RefundLine
    fields = ("order", "amount_cop", "credit_note", "note_error")
    readonly_fields = fields

    @admin.display(description=_("amount"))
    def amount_cop(self, obj: RefundLine) -> str:
        return format_cop(obj.amount)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every refund, read-only: they are made from the payment ("Refund")."""

    class Media:
        css = {"all": ["css/admin.css"]}

    list_display = [
        "requested_at",
        "payment_link",
        "customer",
        "amount_cop",
        "method",
        "state",
        "services_action",
        "gateway_refund_id",
        "bank_reference",
    ]
    list_filter = ["state", "method", "services_action", "payment__gateway"]
    search_fields = [
        "payment__reference",
        "gateway_refund_id",
        "bank_reference",
        "customer__user__email",
        "customer__document_number",
    ]
    list_select_related = ["payment", "customer__user"]
    date_hierarchy = "requested_at"
    inlines = [RefundLineInline]

    #: Amounts in pesos as read everywhere else ("20000.00" showed), help text kept.
    MONEY_FIELDS = {
        "amount": "amount_cop",
        "from_credit": "from_credit_cop",
        "credit_taken": "credit_taken_cop",
    }

    def get_readonly_fields(self, request, obj=None):
        """Every field, our explanation in words in place of its code and values, amounts in
        pesos."""
        names = [
            self.MONEY_FIELDS.get(name, name)
            for name in super().get_readonly_fields(request, obj)
            if name not in ("note_code", "note_values")
        ]
        return [*names, "note_text"]

    @staticmethod
    def _cop_with_help(amount: Decimal, help_text: StrOrPromise) -> str:
        return format_html('{}<br><span class="help">{}</span>', format_cop(amount), help_text)

    @admin.display(description=_("from the credit"))
    def from_credit_cop(self, obj: Refund) -> str:
        return self._cop_with_help(obj.from_credit, Refund.from_credit.field.help_text)

    @admin.display(description=_("taken out of the credit at request"))
    def credit_taken_cop(self, obj: Refund) -> str:
        return self._cop_with_help(obj.credit_taken, Refund.credit_taken.field.help_text)

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj)

    @admin.display(description=_("Our explanation"))
    def note_text(self, obj: Refund) -> str:
        return obj.note_text or "—"

    @admin.display(description=_("payment"), ordering="payment__reference")
    def payment_link(self, obj: Refund) -> str:
        url = reverse("admin:payments_payment_change", args=[obj.payment_id])
        return format_html('<a href="{}">{}</a>', url, obj.payment.reference)

    @admin.display(description=_("amount"), ordering="amount")
    def amount_cop(self, obj: Refund) -> str:
        return format_cop(obj.amount)


# --- The order's page: its payments, and manual payments kept as payments ------------------


class OrderAdmin(billing_admin.OrderAdmin):
    """The billing app's order page, with the order's payments; *Register manual payment* keeps
    a payment row beside the ledger movements (``payments.services.register_manual_payment``),
    so the money can be refunded."""

    readonly_fields = [*billing_admin.OrderAdmin.readonly_fields, "payments_table"]
    fieldsets = (
        *billing_admin.OrderAdmin.fieldsets,
        (_("Payments (Refund is on the payment's page)"), {"fields": ("payments_table",)}),
    )

    @admin.display(description=_("payments"))
    def payments_table(self, obj: Order) -> str:
        """Every payment attempt for the order (its own, and the baskets that paid it with
        others), each linking to its page, where **Refund** is."""
        payments = list(selectors.order_payments(obj))
        if not payments:
            return "—"
        rows = format_html_join(
            "",
            '<tr><td><a href="{}" class="order-payment-link">{}</a></td><td>{}</td><td>{}</td>'
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:payments_payment_change", args=[p.pk]),
                    p.reference,
                    p.gateway_name,
                    p.get_method_display(),
                    format_cop(p.amount),
                    p.get_status_display(),
                    (
                        p.get_refund_status_display()
                        if p.refund_status != RefundStatus.NONE
                        else "—"
                    ),
                    formats.date_format(timezone.localtime(p.created_at), "SHORT_DATETIME_FORMAT"),
                )
                for p in payments
            ),
        )
        head = format_html_join(
            "",
            "<th>{}</th>",
            (
                (label,)
                for label in (
                    _("reference"),
                    _("gateway"),
                    _("method"),
                    _("amount"),
                    _("status"),
                    _("refund"),
                    _("created"),
                )
            ),
        )
        return format_html(
            '<table class="order-payments"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
            head,
            rows,
        )

    def register_manual_payment(self, *, details: services.ManualPaymentDetails, actor) -> Order:
        return services.register_manual_payment(details=details, actor=actor).order


admin.site.unregister(Order)
admin.site.register(Order, OrderAdmin)
