"""Back-office forms for staff actions on service orders (input only: the services decide)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


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
    paid_at = forms.DateTimeField(
        label=_("Paid at (Colombia time)"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_(
            "When the money was received. The service is activated or renewed from this date."
        ),
    )
    method = forms.ChoiceField(label=_("Method"), choices=METHODS, initial="transfer")

    def clean_reference(self) -> str:
        reference = self.cleaned_data["reference"].strip()
        if not reference:
            raise forms.ValidationError(
                _("Enter the payment reference (e.g. the bank transfer number).")
            )
        return reference

    def clean_paid_at(self) -> dt.datetime:
        paid_at = self.cleaned_data["paid_at"]
        if paid_at > timezone.now() + dt.timedelta(minutes=5):
            raise forms.ValidationError(_("The payment date cannot be in the future."))
        return paid_at
