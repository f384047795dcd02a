"""Forms of the simulated hosted payment pages (shared by the PayU and Payvalida checkouts).

Field names are stable: the browser tests fill them by name.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from clientarea.payments.sandbox import instruments


class _NoEchoInput(forms.TextInput):
    """A text input that never renders a submitted value back (card numbers stay out of the HTML)."""

    def format_value(self, value: object) -> None:
        return None


INSTALLMENT_CHOICES = [(n, str(n)) for n in (1, 2, 3, 6, 12, 24, 36)]


class CardForm(forms.Form):
    """Card details. The outcome rules are in :mod:`instruments` (test numbers, APPROVED/REJECTED holder)."""

    card_holder = forms.CharField(
        label="Name on the card",
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "cc-name"}),
    )
    card_number = forms.CharField(
        label="Card number",
        max_length=23,
        widget=_NoEchoInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric"}),
    )
    card_expiry = forms.CharField(
        label="Expiry date (MM/YY)",
        max_length=7,
        widget=forms.TextInput(attrs={"autocomplete": "cc-exp", "placeholder": "MM/YY"}),
    )
    card_cvv = forms.CharField(
        label="Security code (CVV)",
        max_length=4,
        widget=forms.PasswordInput(attrs={"autocomplete": "cc-csc", "inputmode": "numeric"}),
    )
    installments = forms.TypedChoiceField(
        label="Installments", choices=INSTALLMENT_CHOICES, coerce=int, initial=1
    )

    def __init__(self, *args: Any, brands: tuple[str, ...] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.brands = brands

    def clean_card_number(self) -> str:
        number = instruments.clean_card_number(self.cleaned_data["card_number"])
        if not number.isdigit() or not 13 <= len(number) <= 19 or not instruments.luhn_ok(number):
            raise forms.ValidationError("This is not a valid card number.")
        brand = instruments.card_brand(number)
        if brand is None or (self.brands is not None and brand not in self.brands):
            raise forms.ValidationError("This card brand is not accepted for this payment.")
        return number

    def clean_card_expiry(self) -> str:
        value = self.cleaned_data["card_expiry"]
        last_day = instruments.parse_card_expiry(value)
        if last_day is None:
            raise forms.ValidationError("Use the format MM/YY.")
        if last_day < timezone.localdate():
            raise forms.ValidationError("This card has expired.")
        return value

    def clean_card_cvv(self) -> str:
        cvv = self.cleaned_data["card_cvv"].strip()
        if not cvv.isdigit() or len(cvv) not in (3, 4):
            raise forms.ValidationError("The security code has 3 or 4 digits.")
        return cvv


class PSEForm(forms.Form):
    """PSE: person type, document and bank (payments-api-colombia.html, PSE section)."""

    person_type = forms.ChoiceField(label="Person type", choices=instruments.PSE_PERSON_TYPES)
    document_type = forms.ChoiceField(label="Document type", choices=instruments.PSE_DOCUMENT_TYPES)
    document_number = forms.RegexField(
        label="Document number",
        max_length=30,
        regex=r"^[0-9A-Za-z-]+$",
        error_messages={"invalid": "Use digits and letters only."},
    )
    bank = forms.ChoiceField(
        label="Bank", choices=[(b.code, b.name) for b in instruments.PSE_BANKS]
    )

    def clean_bank(self) -> str:
        code = self.cleaned_data["bank"]
        if instruments.pse_bank(code) is None:
            raise forms.ValidationError("Choose your bank.")
        return code


class CashForm(forms.Form):
    """Cash: the network where the buyer will pay the voucher."""

    network = forms.ChoiceField(label="Where will you pay?", widget=forms.RadioSelect)

    def __init__(
        self, *args: Any, networks: tuple[tuple[str, str], ...] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        network = self.fields["network"]
        assert isinstance(network, forms.ChoiceField)
        network.choices = list(networks)
        if networks:
            network.initial = networks[0][0]


class BankDecisionForm(forms.Form):
    """The simulated bank's buttons (``decision`` = approve / reject / pending)."""

    decision = forms.ChoiceField(
        choices=[
            ("approve", "Approve payment"),
            ("reject", "Reject payment"),
            ("pending", "Leave pending"),
        ]
    )


class CashPointForm(forms.Form):
    """The cashier types the payment reference printed on the voucher."""

    reference = forms.CharField(
        label="Payment reference",
        max_length=30,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
