"""Back-office forms for staff actions on service orders (input only: the services decide)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clientarea.accounts.models import Customer
from clientarea.billing.models import CreditNoteDestination
from clientarea.billing.selectors import find_customer
from clientarea.catalog.models import TaxTreatment
from clientarea.einvoice.forms import NoteForm
from clientarea.einvoice.models import DocumentKind
from clientarea.lib.forms import DayField, MomentField, MoneyField


class CancelOrderForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("The customer sees this reason in the order and in the cancellation email."),
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Give a reason for cancelling the order."))
        return reason


def received_reference(value: str) -> str:
    """The bank's (or the receipt's) reference of money staff register, spaces collapsed;
    required."""
    reference = " ".join(value.split())
    if not reference:
        raise forms.ValidationError(
            _("Enter the payment reference (e.g. the bank transfer number).")
        )
    return reference


def received_at(value: dt.datetime) -> dt.datetime:
    """When money staff register arrived: not in the future (five minutes of clock drift)."""
    if value > timezone.now() + dt.timedelta(minutes=5):
        raise forms.ValidationError(_("The payment date cannot be in the future."))
    return value


class ManualPaymentForm(forms.Form):
    METHODS = [
        ("transfer", _("Bank transfer")),
        ("cash", _("Cash (bank deposit)")),
        ("card", _("Card (dataphone)")),
        ("pse", _("PSE")),
    ]

    reference = forms.CharField(
        label=_("Payment reference"),
        max_length=120,
        help_text=_("E.g. the bank transfer or deposit number, as in the bank statement."),
    )
    paid_at = MomentField(
        label=_("Paid at (Colombia time)"),
        help_text=_(
            "When the money was received, day/month/year and 24-hour time, e.g. 04/12/2026 "
            "09:30. The service is activated or renewed from this date."
        ),
    )
    method = forms.ChoiceField(label=_("Method"), choices=METHODS, initial="transfer")
    amount = MoneyField(
        label=_("Amount received (COP)"),
        required=False,
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text=_(
            "Leave empty when it pays everything still due. Less than that is a partial payment: "
            "the order stays pending with the rest due. More pays the order and keeps the excess "
            "as the customer's credit (you confirm the split before it is saved)."
        ),
    )
    not_withheld = forms.BooleanField(
        label=_("The customer did not withhold on this payment"),
        required=False,
        help_text=_(
            "Tick it when this withholding agent transferred the total without withholding: the "
            "order is paid at its total, nothing withheld is posted and no withholding "
            "certificate is expected for it."
        ),
    )
    #: The excess staff confirmed on the warning step (the view fills it in; see the service).
    confirmed_excess = forms.DecimalField(
        required=False, max_digits=14, decimal_places=2, widget=forms.HiddenInput
    )

    def __init__(self, *args, agent: bool = False, **kwargs) -> None:
        """``agent``: the order's customer is an approved withholding agent that withholds from
        it (only then is "did not withhold" offered)."""
        super().__init__(*args, **kwargs)
        if not agent:
            del self.fields["not_withheld"]

    def clean_reference(self) -> str:
        return received_reference(self.cleaned_data["reference"])

    def clean_paid_at(self) -> dt.datetime:
        return received_at(self.cleaned_data["paid_at"])


class ManualOrderForm(forms.Form):
    """Staff bill a customer for one item outside the catalogue."""

    customer = forms.CharField(
        label=_("Customer"),
        max_length=254,
        help_text=_("The customer's email or document number."),
    )
    description = forms.CharField(label=_("Description"), max_length=300)
    unit_price = MoneyField(
        label=_("Unit price (COP, before IVA)"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
    )
    quantity = forms.DecimalField(
        label=_("Quantity"),
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0.01"),
        initial=Decimal("1"),
    )
    tax_treatment = forms.ChoiceField(
        label=_("tax treatment"), choices=TaxTreatment.choices, initial=TaxTreatment.TAXED
    )
    tax_rate = forms.DecimalField(
        label=_("IVA %"),
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        initial=Decimal("19.00"),
    )
    due_date = DayField(
        label=_("Due date"),
        required=False,
        help_text=_("Empty: the usual number of days after today."),
    )
    reason = forms.CharField(label=_("Note for the order history"), max_length=500, required=False)
    notify = forms.BooleanField(
        label=_("Email the order to the customer"), required=False, initial=True
    )

    def clean_customer(self) -> Customer:
        customer = find_customer(self.cleaned_data["customer"])
        if customer is None:
            raise forms.ValidationError(_("No customer has that email or document number."))
        return customer


class StatementForm(forms.Form):
    """A statement's date range (Colombian dates, both included; at most ten years)."""

    # Day first in both languages (the download links carry ISO dates, read too).
    start = DayField(label=_("From"))
    end = DayField(label=_("To"))

    def __init__(self, *args, initial_end: dt.date | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if initial_end is not None:
            self.fields["end"].initial = initial_end
            self.fields["start"].initial = initial_end.replace(month=1, day=1)

    def clean(self) -> dict:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError(_("The start date must be on or before the end date."))
            if (end - start).days > 3660:
                raise forms.ValidationError(_("Choose a range of at most ten years."))
        return data


class StaffCreditNoteForm(NoteForm):
    """The credit note form of the invoice's page (concept, reason, amount) and what happens to
    the money: the invoice was paid, so by default the note's total becomes the customer's
    credit; staff may say no money is owed back when that is true."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, kind=DocumentKind.CREDIT_NOTE, **kwargs)
        self.fields["destination"] = forms.ChoiceField(
            label=_("The money"),
            choices=CreditNoteDestination.choices,
            initial=CreditNoteDestination.CREDIT,
            widget=forms.RadioSelect,
            help_text=_(
                "The invoice was paid, so the customer is owed the note's total (IVA included; "
                "a withholding agent, less what it withheld on that part): by default it becomes "
                "their account credit, shown on their Billing page and statement of account, and "
                "it pays their pending orders (at once when credit is applied automatically). "
                "Choose “No money is owed back” only when the customer is not owed the amount, "
                "e.g. the invoice is wrong and the order is billed again by hand. To give back "
                "money the customer paid, through a gateway or by a transfer staff registered, use "
                "“Refund” on that payment instead: a refund issues its own credit note. To correct "
                "only the buyer's data, use “Invoice again with corrected buyer data”."
            ),
        )
