"""Back office for service orders: read-only orders, and staff actions that call the billing services.

Orders never change here directly: cancel (with a reason), register a manual
payment and resend the email each call one function of billing.services, and
a refusal of the state machine (OrderStateError) becomes an admin message.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

from clientarea.accounts.models import User
from clientarea.billing import selectors, services
from clientarea.billing.admin_credit_notes import OrderCreditNoteMixin
from clientarea.billing.admin_debit_notes import OrderDebitNoteMixin
from clientarea.billing.forms import CancelOrderForm, ManualOrderForm, ManualPaymentForm
from clientarea.billing.models import Order, OrderEvent, OrderItem, OrderState
from clientarea.einvoice import selectors as einvoice_selectors
from clientarea.einvoice.models import DocumentKind
from clientarea.lib.admin import CustomerScopedAdminMixin, ReadOnlyInline
from clientarea.lib.dates import local_now
from clientarea.lib.money import format_cop


def _cop(field: str, label, ordering: str | None = None):
    """A read-only column showing a money field as ``$ 119.000``."""

    @admin.display(description=label, ordering=ordering)
    def column(self, obj) -> str:
        return format_cop(getattr(obj, field))

    return column


_ITEM_FIELDS = (
    "kind",
    "description",
    "service_link",
    "period",
    "quantity",
    "unit_price_cop",
    "discount_text",
    "tax_rate",
    "tax_cop",
    "total_cop",
)


class OrderItemInline(ReadOnlyInline):
    model = OrderItem
    fields = _ITEM_FIELDS
    readonly_fields = _ITEM_FIELDS
    unit_price_cop = _cop("unit_price", _("unit price"))
    tax_cop = _cop("tax_amount", _("IVA"))
    total_cop = _cop("total", _("total"))

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("service__product")

    # One column each for the period and the discount with its reason: twelve columns were wider
    # than the page at 1366 px.
    @admin.display(description=_("period"))
    def period(self, obj: OrderItem) -> str:
        if not obj.period_start:
            return "—"
        start = date_format(obj.period_start, "SHORT_DATE_FORMAT")
        if not obj.period_end:
            return start
        return f"{start} – {date_format(obj.period_end, 'SHORT_DATE_FORMAT')}"

    @admin.display(description=_("discount"))
    def discount_text(self, obj: OrderItem) -> str:
        amount = format_cop(obj.discount)
        return (
            f"{amount} ({obj.discount_reason})" if obj.discount and obj.discount_reason else amount
        )

    @admin.display(description=_("service"))
    def service_link(self, obj: OrderItem) -> str:
        """The service the line pays for, if any (the field had no label: "service" in Spanish)."""
        return str(obj.service) if obj.service else "—"


_EVENT_FIELDS = ("when", "kind_label", "by", "note", "details")


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = _EVENT_FIELDS
    readonly_fields = _EVENT_FIELDS

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    # The event's fields have no labels of their own ("created at", "actor", "message" in Spanish).
    @admin.display(description=_("date"))
    def when(self, obj: OrderEvent) -> str:
        # A display method's value is printed as is: format it as the admin does its fields.
        return date_format(timezone.localtime(obj.created_at), "SHORT_DATETIME_FORMAT")

    @admin.display(description=_("by"))
    def by(self, obj: OrderEvent) -> str:
        return str(obj.actor) if obj.actor else "—"

    @admin.display(description=_("note"))
    def note(self, obj: OrderEvent) -> str:
        """In the reader's language (a code's words), or as a person typed it."""
        return selectors.event_text(obj) or "—"

    @admin.display(description=_("details"))
    def details(self, obj: OrderEvent) -> str:
        """The event's stored data in words, never raw JSON."""
        return selectors.event_details_for_staff(obj) or "—"

    @admin.display(description=_("kind"))
    def kind_label(self, obj: OrderEvent) -> str:
        """The event in words, with its code (what the logs and the database say)."""
        return format_html("{} <code>{}</code>", obj.get_kind_display(), obj.kind)


@admin.register(Order)
class OrderAdmin(
    OrderCreditNoteMixin, OrderDebitNoteMixin, CustomerScopedAdminMixin, admin.ModelAdmin
):
    class Media:
        css = {"all": ["css/admin.css"]}

    list_display = [
        "number",
        "customer",
        "state_badge",
        "total_cop",
        "issue_date",
        "due_date",
        "paid_at",
    ]
    list_filter = ["state", "paid_via", "issue_date"]
    search_fields = ["number", "customer__user__email", "customer__document_number"]
    list_select_related = ["customer__user"]
    date_hierarchy = "issue_date"
    ordering = ["-issue_date", "-id"]
    inlines = [OrderItemInline, OrderEventInline]
    actions = ["cancel_orders", "resend_emails"]
    change_form_template = "billing/admin_order_change_form.html"
    # Buttons on the order page; "act" (cancel, register payments, resend emails) is the "change order" permission.
    object_actions = [
        ("cancel", "cancel_view"),
        ("pay", "manual_payment_view"),
        ("resend", "resend_view"),
        ("debit-note", "debit_note_view"),  # reached from the invoice's page
        ("credit-note", "credit_note_view"),  # reached from the invoice's page
    ]
    action_form_template = "billing/admin_order_action.html"
    change_list_template = "billing/admin_order_change_list.html"
    readonly_fields = [
        "subtotal_cop",
        "tax_cop",
        "rounding_cop",
        "total_cop",
        "created_by_staff",
        "electronic_documents",
    ]
    # Typed as any number of sections: the payments app's order page adds one (its payments).
    fieldsets: ClassVar[tuple[tuple[Any, Any], ...]] = (
        (
            None,
            {
                "fields": (
                    "number",
                    "customer",
                    "state",
                    "issue_date",
                    "due_date",
                    "currency",
                    "subtotal_cop",
                    "tax_cop",
                    "rounding_cop",
                    "total_cop",
                    "created_at",
                    "created_by_staff",
                    "debit_note",
                    "electronic_documents",
                )
            },
        ),
        (_("Payment"), {"fields": ("paid_at", "paid_via", "payment_method", "payment_reference")}),
        (_("Cancellation"), {"fields": ("cancelled_at", "cancel_reason")}),
        (
            _("Seller and buyer at issue"),
            {
                "classes": ("collapse",),
                "fields": ("seller_snapshot", "buyer_snapshot", "reminders_sent"),
            },
        ),
    )

    # --- Orders are read-only and never deleted --------------------------------

    add_message = _("Find the customer, then use “New order” on the customer's page.")

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # no field is editable after creation; staff act through the buttons below

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    # --- List columns --------------------------------------------------------------

    @admin.display(description=_("state"), ordering="state")
    def state_badge(self, obj: Order) -> str:
        # Colours in static/css/admin.css (the Content-Security-Policy blocks style attributes).
        return format_html(
            '<strong class="order-state-{}">{}</strong>', obj.state, obj.get_state_display()
        )

    @admin.display(description=_("created by"))
    def created_by_staff(self, obj: Order) -> str:
        """Who made the order by hand (the field has no label of its own); empty for the customer's."""
        return str(obj.created_by) if obj.created_by else "—"

    @admin.display(description=_("electronic documents"))
    def electronic_documents(self, obj: Order) -> str:
        """The order's invoice and notes, each a link to its page (where staff issue notes,
        download the files and follow DIAN's answers), with its kind and DIAN state."""
        documents = einvoice_selectors.order_documents(obj)
        if not documents:
            return "—"
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}">{} {}</a> · {}',
            (
                (
                    reverse(
                        "admin:einvoice_invoice_change"
                        if doc.kind == DocumentKind.INVOICE
                        else "admin:einvoice_note_change",
                        args=[doc.pk],
                    ),
                    doc.get_kind_display(),
                    doc.full_number or gettext("(no number yet)"),
                    doc.get_status_display(),
                )
                for doc in documents
            ),
        )

    total_cop = _cop("total", _("total"), ordering="total")
    subtotal_cop = _cop("subtotal", _("subtotal"))
    tax_cop = _cop("tax_total", _("IVA"))
    rounding_cop = _cop("rounding", _("Rounding to whole pesos"))

    # --- Custom views ----------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        new = path(
            "new/",
            self.admin_site.admin_view(self.manual_order_view),
            name="billing_order_new",
        )
        return [new, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_act": self.has_act_permission(request)}
        return super().changelist_view(request, extra_context)

    def manual_order_view(self, request: HttpRequest) -> HttpResponse:
        """Staff bill a customer for one item outside the catalogue (a pending ODS like any other)."""
        if not self.has_act_permission(request):
            raise PermissionDenied
        form = ManualOrderForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                order = services.create_manual_order(
                    customer=data["customer"],
                    description=data["description"],
                    unit_price=data["unit_price"],
                    quantity=data["quantity"],
                    tax_treatment=data["tax_treatment"],
                    tax_rate=data["tax_rate"],
                    due_date=data["due_date"],
                    reason=data["reason"],
                    actor=request.user if isinstance(request.user, User) else None,
                    notify=data["notify"],
                )
            except services.OrderStateError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    gettext("Order %(number)s created for %(customer)s.")
                    % {"number": order.number, "customer": order.customer},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(self.change_url(order))
        return self.render_action_form(
            request,
            title=gettext("New service order"),
            objects=[],
            form=form,
            submit=gettext("Create the order"),
            intro=gettext(
                "Bill a customer for one item outside the catalogue (e.g. a migration or extra support). The order is pending until it is paid, like any other."
            ),
        )

    def _order(self, request: HttpRequest, object_id: str) -> Order:
        order = self.get_object_or_404_for_action(request, object_id)
        if not isinstance(order, Order):
            raise Http404
        return order

    def _refuse_final(
        self, request: HttpRequest, order: Order, target: str
    ) -> HttpResponseRedirect | None:
        """Refuse early (before showing a form) when the state machine does not allow ``target``."""
        if target in services.ALLOWED_TRANSITIONS[order.state]:
            return None
        self.message_user(
            request,
            _("Order %(number)s is %(state)s, a final state: it cannot change any more.")
            % {"number": order.number, "state": order.get_state_display().lower()},
            messages.ERROR,
        )
        return HttpResponseRedirect(self.change_url(order))

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self._order(request, object_id)
        refused = self._refuse_final(request, order, OrderState.CANCELLED)
        if refused:
            return refused
        form = CancelOrderForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.cancel_order(
                    order=order, reason=form.cleaned_data["reason"], actor=request.user
                )
            except services.OrderStateError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("Order %(number)s was cancelled. The customer was emailed.")
                    % {"number": order.number},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(self.change_url(order))
        return self.render_action_form(
            request,
            title=gettext("Cancel order %(number)s") % {"number": order.number},
            objects=[order],
            form=form,
            submit=gettext("Cancel the order"),
            intro=gettext(
                "The order cannot be paid after this. A service that was waiting for it is cancelled too."
            ),
        )

    def register_manual_payment(self, *, details: services.ManualPaymentDetails, actor) -> Order:
        """Post the manual payment's ledger movements; the payments app's order admin
        (``payments.admin``) overrides it to keep a payment row too, so the money can be
        refunded."""
        return services.post_manual_payment(details=details, actor=actor).order

    def manual_payment_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self._order(request, object_id)
        refused = self._refuse_final(request, order, OrderState.PAID)
        if refused:
            return refused
        due = selectors.amount_to_charge([order])  # net of a withholding agent's withholdings
        withheld = selectors.withholding_to_post(order)
        form = ManualPaymentForm(
            request.POST or None,
            initial={"paid_at": local_now().replace(second=0, microsecond=0)},
            agent=withheld > 0,
        )
        warning = ""
        submit = gettext("Register the payment")
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                after = self.register_manual_payment(
                    details=services.ManualPaymentDetails(
                        order=order,
                        reference=data["reference"],
                        paid_at=data["paid_at"],
                        method=data["method"],
                        amount=data["amount"],
                        not_withheld=data.get("not_withheld", False),
                        confirmed_excess=data["confirmed_excess"],
                    ),
                    actor=request.user,
                )
            except services.ExcessNotConfirmed as exc:
                # The warning step: the same form again, with the excess to confirm.
                confirm = request.POST.copy()
                confirm["confirmed_excess"] = str(exc.split.excess)
                form = ManualPaymentForm(confirm, agent=withheld > 0)
                warning = str(exc)
                submit = gettext("Register it and keep %(excess)s as credit") % {
                    "excess": format_cop(exc.split.excess)
                }
            except services.PaymentAmountError as exc:
                # The amount does not fit the withholding decision: corrected on the same form.
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            except services.OrderStateError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return HttpResponseRedirect(self.change_url(order))
            else:
                self.message_user(request, self._payment_registered(after), messages.SUCCESS)
                return HttpResponseRedirect(self.change_url(order))
        intro = gettext(
            "Only for money already received outside the online gateways, e.g. a bank transfer or cash at the office. Still due on this order: %(due)s. Paying all of it marks the order paid, activates or renews its services and issues the electronic invoice; less leaves the order pending with the rest due; more pays the order and keeps the excess as the customer's credit."
        ) % {"due": format_cop(due)}
        if withheld > 0:
            intro += " " + gettext(
                "The customer is a withholding agent: of the %(owed)s still owed it "
                "withholds %(withheld)s (see the order's withholdings) and transfers %(due)s; "
                "the withholdings are posted with the payment. If it transferred the %(owed)s "
                'without withholding, tick "The customer did not withhold on this payment".'
            ) % {
                "owed": format_cop(due + withheld),
                "withheld": format_cop(withheld),
                "due": format_cop(due),
            }
        return self.render_action_form(
            request,
            title=gettext("Register a payment for order %(number)s") % {"number": order.number},
            objects=[order],
            form=form,
            submit=submit,
            intro=intro,
            warning=warning,
        )

    @staticmethod
    def _payment_registered(after: Order) -> str:
        """The success message: what the payment did (its split, the withholding decision)."""
        if after.state != OrderState.PAID:
            return gettext(
                "Partial payment of order %(number)s registered: %(left)s is still due."
            ) % {
                "number": after.number,
                "left": format_cop(selectors.order_balance_due(after)),
            }
        text = gettext(
            "Payment of order %(number)s registered: its services were activated or renewed."
        ) % {"number": after.number}
        settled = selectors.paid_settlement_extras(after)
        if settled.not_withheld:
            text += " " + gettext(
                "It was paid at its total: nothing withheld was posted and no withholding "
                "certificate is expected for it."
            )
        if settled.credited > 0:
            credit = selectors.credit_available(after.customer)
            values = {
                "excess": format_cop(settled.credited),
                "credit": format_cop(credit),
            }
            if credit < settled.credited:  # BILLING_AUTO_APPLY_CREDIT used it at once
                text += (
                    " "
                    + gettext(
                        "%(excess)s was kept as the customer's credit and applied at once to their "
                        "other pending orders (credit available now: %(credit)s)."
                    )
                    % values
                )
            else:
                text += (
                    " "
                    + gettext(
                        "%(excess)s was kept as the customer's credit (credit available now: "
                        "%(credit)s)."
                    )
                    % values
                )
        return text

    def resend_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self._order(request, object_id)
        if request.method == "POST":
            services.resend_order_email(order=order, actor=request.user)
            self.message_user(
                request,
                _("The email of order %(number)s was sent again to %(email)s.")
                % {"number": order.number, "email": order.customer.user.email},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(self.change_url(order))
        return self.render_action_form(
            request,
            title=gettext("Resend the email of order %(number)s") % {"number": order.number},
            objects=[order],
            form=None,
            submit=gettext("Send it again"),
            intro=gettext(
                "The customer receives the email for the order's current state (new order, payment received or cancellation) again."
            ),
        )

    # --- List actions ---------------------------------------------------------------

    @admin.action(description=_("Cancel selected orders (asks for a reason)"), permissions=["act"])
    def cancel_orders(self, request, queryset):
        form = CancelOrderForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            done, refused = [], []
            for order in queryset:
                try:
                    services.cancel_order(
                        order=order, reason=form.cleaned_data["reason"], actor=request.user
                    )
                except services.OrderStateError as exc:
                    refused.append(str(exc))
                else:
                    done.append(order.number)
            if done:
                self.message_user(
                    request,
                    ngettext_lazy(
                        "%(count)d order cancelled: %(numbers)s",
                        "%(count)d orders cancelled: %(numbers)s",
                        "count",
                    )
                    % {"count": len(done), "numbers": ", ".join(done)},
                    messages.SUCCESS,
                )
            for message in refused:
                self.message_user(request, message, messages.ERROR)
            return None
        orders = list(queryset.select_related("customer__user"))
        return self.render_action_form(
            request,
            title=gettext("Cancel orders"),
            objects=orders,
            form=form,
            submit=gettext("Cancel the orders"),
            intro=gettext(
                "Only pending orders can be cancelled; paid and cancelled ones are left as they are."
            ),
            action="cancel_orders",
            selected=[o.pk for o in orders],
        )

    @admin.action(description=_("Resend the order email"), permissions=["act"])
    def resend_emails(self, request, queryset):
        orders = list(queryset.select_related("customer__user"))
        for order in orders:
            services.resend_order_email(order=order, actor=request.user)
        self.message_user(
            request,
            ngettext_lazy("%(count)d email sent again.", "%(count)d emails sent again.", "count")
            % {"count": len(orders)},
            messages.SUCCESS,
        )


# The billing run's admin lives in its own module and registers itself on import.
import clientarea.billing.admin_ledger  # noqa: E402
import clientarea.billing.admin_runs  # noqa: E402,F401
