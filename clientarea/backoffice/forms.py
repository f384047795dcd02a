"""Back-office forms (input only: the services decide and refuse)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from clientarea.accounts.models import Customer
from clientarea.billing import custom_orders
from clientarea.billing.forms import received_at, received_reference
from clientarea.catalog.models import BillingCycle, Product
from clientarea.lib.dates import local_today
from clientarea.lib.forms import DayField, MomentField, MoneyField
from clientarea.subscriptions.models import Service, TerminationReason

IVA_CHOICES = [
    ("19", _("IVA 19 %")),
    ("5", _("IVA 5 %")),
    (custom_orders.IVA_EXEMPT, _("Exempt (0 %)")),
    (custom_orders.IVA_EXCLUDED, _("Excluded (no IVA)")),
]


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), max_length=100, required=False)


class TerminateForm(forms.Form):
    """Why staff end a service: a reason from the list (each reader reads it in their language)
    and an optional note, shown to the customer as written and said to be ours."""

    reason_code = forms.ChoiceField(
        label=_("Why does the service end?"),
        choices=[("", _("Choose a reason")), *TerminationReason.choices],
    )
    reason = forms.CharField(
        label=_("Note (optional; required for “Other”)"),
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text=_(
            "The customer reads the reason in their language; the note as you write it, "
            "labelled as our support team's note, in the service's history and the email."
        ),
    )

    def clean(self):
        data = self.cleaned_data  # what super().clean() returns, typed as always set
        if (
            data.get("reason_code") == TerminationReason.OTHER
            and not data.get("reason", "").strip()
        ):
            self.add_error("reason", _("Say why in the note: you chose “Other”."))
        return data


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("New note"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    pinned = forms.BooleanField(label=_("Pin it to the top"), required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text=_(
            "Kept in the service's history and the audit log; the customer's email shows it."
        ),
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Give a reason."))
        return reason


class OrderLineForm(forms.Form):
    description = forms.CharField(label=_("Description"), max_length=300, required=False)
    quantity = forms.DecimalField(
        label=_("Quantity"),
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=custom_orders.MAX_QUANTITY,
        required=False,
        initial=Decimal("1"),
    )
    unit_price = MoneyField(
        label=_("Unit price (COP, before IVA)"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
    )
    iva = forms.ChoiceField(label=_("IVA"), choices=IVA_CHOICES, initial="19")
    service = forms.ModelChoiceField(
        label=_("Service (optional)"), queryset=Service.objects.none(), required=False
    )
    period_start = DayField(label=_("Period from"), required=False)
    period_end = DayField(label=_("Period to"), required=False)

    def __init__(self, *args, customer: Customer, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["service"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Service.objects.filter(customer=customer).select_related("product")

    def is_blank(self) -> bool:
        data = self.cleaned_data
        return not (data.get("description") or "").strip() and data.get("unit_price") is None

    def clean(self) -> dict:
        data = super().clean() or {}
        if self.is_blank():
            return data
        if not (data.get("description") or "").strip():
            self.add_error("description", _("Describe what the line bills."))
        if data.get("unit_price") is None and "unit_price" not in self.errors:
            self.add_error("unit_price", _("Enter the unit price."))
        if data.get("quantity") is None and "quantity" not in self.errors:
            self.add_error("quantity", _("Enter the quantity."))
        return data

    def line(self) -> custom_orders.CustomLine:
        data = self.cleaned_data
        return custom_orders.CustomLine(
            description=data["description"],
            quantity=data["quantity"],
            unit_price=data["unit_price"],
            iva=data["iva"],
            service=data.get("service"),
            period_start=data.get("period_start"),
            period_end=data.get("period_end"),
        )


class BaseLineFormSet(forms.BaseFormSet):
    """The lines of a custom order; build it with ``form_kwargs={"customer": customer}``."""

    def clean(self) -> None:
        if any(self.errors):
            return
        if not self.lines():
            raise forms.ValidationError(_("Add at least one line."))

    def lines(self) -> list[custom_orders.CustomLine]:
        return [
            form.line()
            for form in self.forms
            if getattr(form, "cleaned_data", None) and not form.is_blank()
        ]


LineFormSet = forms.formset_factory(
    OrderLineForm,
    formset=BaseLineFormSet,
    extra=4,
    max_num=custom_orders.MAX_LINES,
    validate_max=True,
)


def default_due_date() -> dt.date:
    return local_today() + dt.timedelta(days=settings.BILLING_ORDER_DUE_DAYS)


class OrderForm(forms.Form):
    due_date = DayField(label=_("Due date"))
    note = forms.CharField(label=_("Note for the order history"), max_length=500, required=False)
    notify = forms.BooleanField(
        label=_("Email the order to the customer"), required=False, initial=True
    )


class ServiceForm(forms.Form):
    product = forms.ModelChoiceField(label=_("Product"), queryset=Product.objects.order_by("name"))
    cycle = forms.ChoiceField(label=_("Billing cycle"), choices=BillingCycle.choices)
    label = forms.CharField(label=_("Domain or hostname"), max_length=200, required=False)
    price = MoneyField(
        label=_("Price (COP, before IVA)"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0"),
        required=False,
        help_text=_("Empty: the catalogue price of the cycle."),
    )
    next_due_date = DayField(
        label=_("Next due date"),
        required=False,
        help_text=_("Empty: one billing cycle from today."),
    )
    reason = forms.CharField(label=_("Reason"), max_length=300)

    def clean_label(self) -> str:
        return self.cleaned_data["label"].strip().lower()


class NewServiceForm(ServiceForm):
    notify = forms.BooleanField(
        label=_("Email the customer the service, its price and next due date"),
        required=False,
        initial=True,
    )


class PlanChangeForm(forms.Form):
    """The plan to move a service to, among the previewed options (``billing.planchanges``)."""

    plan = forms.ChoiceField(label=_("New plan"))

    def __init__(self, *args, quotes: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.quotes = {q.key: q for q in quotes}
        plan = self.fields["plan"]
        assert isinstance(plan, forms.ChoiceField)  # declared above
        plan.choices = [
            ("", "---------"),
            *((q.key, f"{q.name} · {q.cycle_label}") for q in quotes),
        ]

    def clean_plan(self):
        return self.quotes[self.cleaned_data["plan"]]


class UnlockLoginForm(forms.Form):
    """Which of the account's logins to unlock (the services check that it is one of them)."""

    user = forms.IntegerField(min_value=1)


class CreditPayoutForm(forms.Form):
    """*Pay out credit*: part of the customer's credit returned by bank transfer (the service
    checks the amount against the credit available)."""

    amount = MoneyField(label=_("Amount to pay out (COP)"))
    bank_reference = forms.CharField(
        label=_("Bank reference"),
        max_length=120,
        help_text=_("The number of the transfer that returns the money."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text=_("Kept on the account's movement and in the audit log."),
    )


class ManualCreditForm(forms.Form):
    """*Register a transfer as credit*: money received for no pending order, kept as the
    customer's credit (the service refuses what cannot be recorded)."""

    METHODS = [("transfer", _("Bank transfer")), ("cash", _("Cash (bank deposit)"))]

    amount = MoneyField(label=_("Amount received (COP)"), min_value=Decimal("0.01"))
    bank_reference = forms.CharField(
        label=_("Bank reference"),
        max_length=120,
        help_text=_("E.g. the bank transfer or deposit number, as in the bank statement."),
    )
    method = forms.ChoiceField(label=_("Method"), choices=METHODS, initial="transfer")
    paid_at = MomentField(
        label=_("Received at (Colombia time)"),
        help_text=_(
            "When the money reached the account, day/month/year and 24-hour time, e.g. "
            "04/12/2026 09:30. Not in the future."
        ),
    )
    note = forms.CharField(
        label=_("Note"),
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text=_('Optional, e.g. "duplicate of ODS-000123". Kept in the audit log.'),
    )

    def clean_bank_reference(self) -> str:
        return received_reference(self.cleaned_data["bank_reference"])

    def clean_paid_at(self) -> dt.datetime:
        return received_at(self.cleaned_data["paid_at"])
