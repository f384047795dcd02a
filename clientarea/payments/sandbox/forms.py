"""Forms of the simulated hosted payment pages (shared by the PayU and Payvalida checkouts).

Field names are stable: the browser tests fill them by name.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clientarea.payments.sandbox import instruments


class _NoEchoInput(forms.TextInput):
    """A text input that never renders a submitted value back (card numbers stay out of the HTML)."""

    def format_value(self, value: object) -> None:
        return None


INSTALLMENT_CHOICES = [(n, str(n)) for n in (1, 2, 3, 6, 12, 24, 36)]


class CardForm(forms.Form):
    """Card details. The outcome rules are in :mod:`instruments` (test numbers, APPROVED/REJECTED holder)."""

    card_holder = forms.CharField(
        label=_("Name on the card"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "cc-name"}),
    )
    card_number = forms.CharField(
        label=_("Card number"),
        max_length=23,
        widget=_NoEchoInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric"}),
    )
    card_expiry = forms.CharField(
        label=_("Expiry date (MM/YY)"),
        max_length=7,
        widget=forms.TextInput(attrs={"autocomplete": "cc-exp", "placeholder": _("MM/YY")}),
    )
    card_cvv = forms.CharField(
        label=_("Security code (CVV)"),
        max_length=4,
        widget=forms.PasswordInput(attrs={"autocomplete": "cc-csc", "inputmode": "numeric"}),
    )
    installments = forms.TypedChoiceField(
        label=_("Installments"), choices=INSTALLMENT_CHOICES, coerce=int, initial=1
    )

    def __init__(self, *args: Any, brands: tuple[str, ...] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.brands = brands

    def clean_card_number(self) -> str:
        number = instruments.clean_card_number(self.cleaned_data["card_number"])
        if not number.isdigit() or not 13 <= len(number) <= 19 or not instruments.luhn_ok(number):
            raise forms.ValidationError(_("This is not a valid card number."))
        brand = instruments.card_brand(number)
        if brand is None or (self.brands is not None and brand not in self.brands):
            raise forms.ValidationError(_("This card brand is not accepted for this payment."))
        return number

    def clean_card_expiry(self) -> str:
        value = self.cleaned_data["card_expiry"]
        last_day = instruments.parse_card_expiry(value)
        if last_day is None:
            raise forms.ValidationError(_("Use the format MM/YY."))
        if last_day < timezone.localdate():
            raise forms.ValidationError(_("This card has expired."))
        return value

    def clean_card_cvv(self) -> str:
        cvv = self.cleaned_data["card_cvv"].strip()
        if not cvv.isdigit() or len(cvv) not in (3, 4):
            raise forms.ValidationError(_("The security code has 3 or 4 digits."))
        return cvv


class PSEForm(forms.Form):
    """PSE: person type, document and bank (payments-api-colombia.html, PSE section)."""

    person_type = forms.ChoiceField(label=_("Person type"), choices=instruments.PSE_PERSON_TYPES)
    document_type = forms.ChoiceField(
        label=_("Document type"), choices=instruments.PSE_DOCUMENT_TYPES
    )
    document_number = forms.RegexField(
        label=_("Document number"),
        max_length=30,
        regex=r"^[0-9A-Za-z-]+$",
        error_messages={"invalid": _("Use digits and letters only.")},
    )
    # PayU's bank list starts with a Spanish placeholder ("A continuación seleccione su banco"):
    # shown in the buyer's language; the bank names are proper names.
    bank = forms.ChoiceField(
        label=_("Bank"),
        choices=[
            (
                b.code,
                _("Choose your bank") if b.code == instruments.PSE_PLACEHOLDER_CODE else b.name,
            )
            for b in instruments.PSE_BANKS
        ],
    )

    def clean_bank(self) -> str:
        code = self.cleaned_data["bank"]
        if instruments.pse_bank(code) is None:
            raise forms.ValidationError(_("Choose your bank."))
        return code


class CashForm(forms.Form):
    """Cash: the network where the buyer will pay the voucher."""

    network = forms.ChoiceField(label=_("Where will you pay?"), widget=forms.RadioSelect)

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
            ("approve", _("Approve payment")),
            ("reject", _("Reject payment")),
            ("pending", _("Leave pending")),
        ]
    )


class CashPointForm(forms.Form):
    """The cashier types the payment reference printed on the voucher."""

    reference = forms.CharField(
        label=_("Payment reference"),
        max_length=30,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
