"""Input forms for payments (validation only: the services decide)."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from clientarea.lib.forms import MoneyField
from clientarea.lib.money import format_cop
from clientarea.payments.models import RefundMethod, ServicesAction
from clientarea.payments.selectors import GatewayOption


class ChooseGatewayForm(forms.Form):
    """The Pay now page posts a gateway code and, optionally, a method that gateway accepts."""

    gateway = forms.ChoiceField(label=_("Gateway"))
    method = forms.CharField(label=_("Method"), required=False, max_length=10)

    def __init__(self, *args, options: list[GatewayOption], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.options = {option.code: option for option in options}
        gateway_field = self.fields["gateway"]
        assert isinstance(gateway_field, forms.ChoiceField)  # declared above
        gateway_field.choices = [(option.code, option.name) for option in options]

    def clean(self) -> dict:
        data = super().clean() or {}
        option = self.options.get(data.get("gateway", ""))
        method = (data.get("method") or "").strip()
        if option and method and method not in {m.value for m in option.methods}:
            self.add_error(
                "method",
                _("%(gateway)s does not offer this payment method.") % {"gateway": option.name},
            )
        data["method"] = method or None
        return data


class RefundNoteForm(forms.Form):
    note = forms.CharField(
        label=_("How was the money returned?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_(
            'E.g. "Refunded in PayU\'s back office on 2026-05-02, refund id 12345". Kept in the payment and the audit log.'
        ),
    )

    def clean_note(self) -> str:
        note = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError(_("Write how the money was returned."))
        return note


class RefundForm(forms.Form):
    """Back office "Refund" on a payment: the service checks the amount against what is left."""

    amount = MoneyField(
        label=_("Amount to refund (COP)"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
    )
    method = forms.ChoiceField(label=_("How"), choices=RefundMethod.choices)
    bank_reference = forms.CharField(
        label=_("Bank reference"),
        max_length=100,
        required=False,
        help_text=_("For a manual refund: the transfer's number, or the refund id at the gateway."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text=_("Shown on the credit note and in the audit log."),
    )
    services_action = forms.ChoiceField(
        label=_("The services this payment paid for"),
        choices=ServicesAction.choices,
        initial=ServicesAction.KEEP,
    )

    def __init__(self, *args, manual_only: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if manual_only:
            # A payment staff registered (transfer, cash): no gateway holds the money.
            method = self.fields["method"]
            assert isinstance(method, forms.ChoiceField)
            method.choices = [(RefundMethod.MANUAL.value, _("Manual (bank transfer)"))]
            method.initial = RefundMethod.MANUAL
            self.fields["bank_reference"].required = True
            self.fields["bank_reference"].help_text = _(
                "The number of the transfer that returns the money."
            )

    def clean(self) -> dict:
        data = super().clean() or {}
        if (
            data.get("method") == RefundMethod.MANUAL
            and not (data.get("bank_reference") or "").strip()
            and "bank_reference" not in self.errors
        ):
            self.add_error(
                "bank_reference", _("A manual refund needs the bank transfer's reference.")
            )
        return data


class AddFundsForm(forms.Form):
    """Add funds: an amount of whole pesos within the site's limits."""

    amount = MoneyField(
        label=_("Amount (COP)"),
        max_digits=12,
        decimal_places=0,
        min_value=settings.BILLING_ADD_FUNDS_MIN,
        max_value=settings.BILLING_ADD_FUNDS_MAX,
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # What the funds become is said above the form; here, what may be typed (in the
        # request's language, so set per form rather than once at import).
        self.fields["amount"].help_text = _("Whole pesos, from %(min)s to %(max)s.") % {
            "min": format_cop(settings.BILLING_ADD_FUNDS_MIN),
            "max": format_cop(settings.BILLING_ADD_FUNDS_MAX),
        }
