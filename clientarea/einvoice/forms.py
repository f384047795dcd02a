"""Back-office forms: issuing a credit or debit note on an invoice, reissuing an invoice."""

from __future__ import annotations

from decimal import Decimal
from typing import cast

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from clientarea.einvoice.documents import Line
from clientarea.einvoice.models import CreditNoteConcept, DebitNoteConcept, DocumentKind
from clientarea.lib.forms import MoneyField
from clientarea.lib.money import format_cop

FULL, BY_AMOUNT, BY_LINE = "full", "amount", "lines"


class NoteForm(forms.Form):
    """Concept from DIAN's list, reason, and what the note is for: the whole invoice (credit notes
    only), one amount before IVA spread over the lines, or an amount before IVA per line."""

    concept = forms.ChoiceField(label=_("DIAN concept"))
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Printed on the note and shown to the customer."),
    )
    scope = forms.ChoiceField(label=_("For"), widget=forms.RadioSelect)
    amount = MoneyField(
        label=_("Amount before IVA"),
        required=False,
        min_value=Decimal("0.01"),
        max_digits=14,
        decimal_places=2,
        help_text=_("Spread over the invoice's lines in proportion to their value; IVA is added."),
    )

    def __init__(self, *args, kind: str, lines: tuple[Line, ...], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.line_count = len(lines)
        concepts = CreditNoteConcept if kind == DocumentKind.CREDIT_NOTE else DebitNoteConcept
        cast(forms.ChoiceField, self.fields["concept"]).choices = [
            ("", "---------"),
            *concepts.choices,
        ]
        scopes = [(BY_AMOUNT, _("An amount")), (BY_LINE, _("Amounts by line"))]
        if kind == DocumentKind.CREDIT_NOTE:
            scopes.insert(0, (FULL, _("The whole invoice")))
        cast(forms.ChoiceField, self.fields["scope"]).choices = scopes
        self.fields["scope"].initial = scopes[0][0]
        if kind == DocumentKind.DEBIT_NOTE:
            self.fields["concept"].help_text = _(
                "Interest (late-payment interest) is one line without IVA: moratory interest "
                "compensates a late payment, it is not a sale, so it is outside IVA. Give it as "
                "an amount. The other concepts (expenses, a change of value, other) follow the "
                "invoice's lines and add their IVA. The note is owed on the customer's account "
                "and due in %(days)d days (forma de pago: crédito)."
            ) % {"days": settings.BILLING_ORDER_DUE_DAYS}
            self.fields["description"] = forms.CharField(
                label=_("Interest line's description"),
                max_length=300,
                required=False,
                help_text=_(
                    "Interest only; printed on the note's line. Empty: “Intereses de mora”."
                ),
            )
        for number, line in enumerate(lines, start=1):
            self.fields[f"line_{number}"] = MoneyField(
                label=_("Line %(n)d: %(description)s (%(value)s before IVA)")
                % {
                    "n": number,
                    "description": line.description,
                    "value": format_cop(line.line_extension, decimals=True),
                },
                required=False,
                min_value=Decimal("0"),
                max_digits=14,
                decimal_places=2,
            )

    def clean(self):
        data = super().clean() or {}
        scope = data.get("scope")
        if scope == BY_AMOUNT and data.get("amount") is None:
            self.add_error("amount", _("Give the amount before IVA."))
        if (
            self.kind == DocumentKind.DEBIT_NOTE
            and data.get("concept") == DebitNoteConcept.INTEREST
            and scope != BY_AMOUNT
        ):
            self.add_error(
                "scope",
                _("Late-payment interest is one amount, without IVA: choose “An amount”."),
            )
        if scope == BY_LINE and not any(
            data.get(f"line_{n}") for n in range(1, self.line_count + 1)
        ):
            self.add_error(None, _("Give an amount before IVA for at least one line."))
        return data

    def note_arguments(self) -> dict:
        """``lines`` / ``amount`` for the issuing service."""
        data = self.cleaned_data
        extra = (
            {"description": data.get("description") or ""}
            if self.kind == DocumentKind.DEBIT_NOTE
            else {}
        )
        if data["scope"] == BY_AMOUNT:
            return {"amount": data["amount"], **extra}
        if data["scope"] == BY_LINE:
            return {
                "lines": {
                    n: data[f"line_{n}"]
                    for n in range(1, self.line_count + 1)
                    if data.get(f"line_{n}")
                },
                **extra,
            }
        return extra


class ReissueForm(forms.Form):
    reason = forms.CharField(
        label=_("What was wrong in the buyer's data"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    confirm = forms.BooleanField(
        label=_("I corrected the customer's data first"),
        help_text=_("The new invoice takes the buyer's data as it is now."),
    )
