"""Forms for registration, login, access-code recovery and the profile. Thin: services do the work."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import validate_password
from django.utils.translation import gettext_lazy as _

from clientarea.accounts.models import (
    Customer,
    DocumentType,
    FiscalResponsibility,
    Language,
    PersonType,
    validate_identity,
)
from clientarea.accounts.services import normalize_access_code
from clientarea.lib import codelists

#: The customer's identity and contact fields, as customers and staff edit them.
CUSTOMER_FIELDS = (
    "person_type",
    "document_type",
    "document_number",
    "check_digit",
    "first_name",
    "last_name",
    "legal_name",
    "trade_name",
    "phone",
    "address",
    "municipality_code",
    "fiscal_responsibilities",
    "preferred_language",
)


def municipality_field(required: bool = True) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=_("Municipality"),
        required=required,
        choices=lambda: [("", _("Choose your municipality")), *codelists.municipality_choices()],
    )


class IdentityCleanMixin(forms.BaseForm):
    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        errors = validate_identity(
            person_type=data.get("person_type", ""),
            document_type=data.get("document_type", ""),
            document_number=data.get("document_number", ""),
            check_digit=data.get("check_digit", ""),
        )
        for field, message in errors.items():
            if field in self.fields and field not in self.errors:
                self.add_error(field, message)
        if (
            data.get("person_type") == PersonType.JURIDICA
            and not data.get("legal_name", "").strip()
        ):
            self.add_error("legal_name", _("Enter the company's legal name."))
        if data.get("person_type") == PersonType.NATURAL:
            for field in ("first_name", "last_name"):
                if (
                    field in self.fields
                    and not data.get(field, "").strip()
                    and field not in self.errors
                ):
                    self.add_error(field, _("This field is required for a natural person."))
        return data


class RegistrationForm(IdentityCleanMixin, forms.Form):
    email = forms.EmailField(
        label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    person_type = forms.ChoiceField(
        label=_("I am"),
        choices=PersonType.choices,
        widget=forms.RadioSelect,
        initial=PersonType.NATURAL,
    )
    document_type = forms.ChoiceField(
        label=_("Document type"), choices=DocumentType.choices, initial=DocumentType.CC
    )
    document_number = forms.CharField(label=_("Document number"), max_length=20)
    check_digit = forms.CharField(
        label=_("Check digit (DV)"),
        max_length=1,
        required=False,
        help_text=_("Only for NIT: the digit after the dash."),
    )
    # Required for one person type only (checked in clean()); the page shows each only for its
    # type, so where it is shown it is required: the `required` attribute says so.
    first_name = forms.CharField(
        label=_("First names"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "given-name", "required": True}),
    )
    last_name = forms.CharField(
        label=_("Last names"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "family-name", "required": True}),
    )
    legal_name = forms.CharField(
        label=_("Company legal name"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "organization", "required": True}),
    )
    trade_name = forms.CharField(label=_("Trade name"), max_length=200, required=False)
    phone = forms.CharField(
        label=_("Phone"), max_length=30, widget=forms.TextInput(attrs={"autocomplete": "tel"})
    )
    address = forms.CharField(
        label=_("Address"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    municipality_code = municipality_field()
    preferred_language = forms.ChoiceField(
        label=_("Language for emails"), choices=Language.choices, initial=Language.ES
    )
    accept_terms = forms.BooleanField(
        label=_("I accept the terms of service and the personal data policy.")
    )

    #: Fields that belong to one person type only (the others are emptied on submit).
    NATURAL_ONLY = ("first_name", "last_name")
    COMPANY_ONLY = ("legal_name",)
    #: Fields the page marks as required: always required, or required for the type shown.
    CONDITIONALLY_REQUIRED = NATURAL_ONLY + COMPANY_ONLY

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        # A value typed in a field of the other person type (hidden on the page) is dropped.
        person_type = data.get("person_type")
        others = self.COMPANY_ONLY if person_type == PersonType.NATURAL else self.NATURAL_ONLY
        if person_type in PersonType.values:
            for name in others:
                data[name] = ""
        return data


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("Email"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    password = forms.CharField(
        label=_("Access code or password"),
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    error_messages = {
        "invalid_login": _(
            "The email or the access code is not correct. Check the “New Access Code” email, or ask for a new code."
        ),
        "inactive": _("This account is disabled. Please contact support."),
    }


class ForgotForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )


class ProfileForm(IdentityCleanMixin, forms.ModelForm):
    municipality_code = municipality_field()
    fiscal_responsibilities = forms.MultipleChoiceField(
        label=_("Fiscal responsibilities (RUT)"),
        choices=FiscalResponsibility.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("If you are not sure, keep R-99-PN."),
    )

    class Meta:
        model = Customer
        fields = list(CUSTOMER_FIELDS)
        widgets = {"person_type": forms.RadioSelect}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance and self.instance.fiscal_responsibilities:
            self.initial["fiscal_responsibilities"] = self.instance.fiscal_responsibilities.split(
                ";"
            )

    def clean_fiscal_responsibilities(self) -> str:
        codes = self.cleaned_data["fiscal_responsibilities"]
        if FiscalResponsibility.R99 in codes and len(codes) > 1:
            raise forms.ValidationError(
                _("R-99-PN (no responsable) cannot be combined with other responsibilities.")
            )
        return ";".join(codes)

    def _post_clean(self):
        # Validation happens in clean() and in the service; skip ModelForm's instance
        # mutation so a rejected edit never touches the object.
        pass


class ChangePasswordForm(forms.Form):
    current = forms.CharField(
        label=_("Current access code or password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password = forms.CharField(
        label=_("New password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    confirm = forms.CharField(
        label=_("Repeat the new password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, user, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_current(self) -> str:
        value = self.cleaned_data["current"]
        if not (
            self.user.check_password(value)
            or self.user.check_password(normalize_access_code(value))
        ):
            raise forms.ValidationError(_("This is not your current access code or password."))
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("new_password") and data.get("new_password") != data.get("confirm"):
            self.add_error("confirm", _("The two passwords do not match."))
        elif data.get("new_password"):
            try:
                validate_password(data["new_password"], self.user)
            except forms.ValidationError as exc:
                self.add_error("new_password", exc)
        return data


class TwoFactorCodeForm(forms.Form):
    """A six-digit code from the authenticator app (or, where allowed, a recovery code)."""

    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
    )

    def __init__(self, *args, recovery_allowed: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if recovery_allowed:
            self.fields["code"].help_text = _(
                "The 6 digits your authenticator app shows, or one of your recovery codes."
            )
        else:
            self.fields["code"].help_text = _("The 6 digits your authenticator app shows.")
            self.fields["code"].widget.attrs["inputmode"] = "numeric"


class ContactRolesForm(forms.Form):
    """What a contact may do (at least one box)."""

    is_owner = forms.BooleanField(
        label=_("Account owner"),
        required=False,
        help_text=_("Everything, including adding and removing contacts."),
    )
    billing = forms.BooleanField(
        label=_("Billing"),
        required=False,
        help_text=_("Order services, pay, see orders, invoices and the statement."),
    )
    technical = forms.BooleanField(
        label=_("Technical"),
        required=False,
        help_text=_("See and manage services, ask to cancel one."),
    )
    view_only = forms.BooleanField(
        label=_("View only"),
        required=False,
        help_text=_("See services and billing without changing anything."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not any(data.get(role) for role in ("is_owner", "billing", "technical", "view_only")):
            raise forms.ValidationError(_("Choose at least one permission."))
        return data


class ContactForm(ContactRolesForm):
    """A new contact: who, and what they may do."""

    full_name = forms.CharField(label=_("Name"), max_length=200)
    email = forms.EmailField(
        label=_("Email"), help_text=_("The contact logs in with this email and their own code.")
    )
    field_order = ["full_name", "email", "is_owner", "billing", "technical", "view_only"]


class EmailPreferencesForm(forms.Form):
    billing = forms.BooleanField(
        label=_("Billing and invoices"),
        required=False,
        help_text=_("Service orders, reminders, payment receipts, electronic invoices."),
    )
    technical = forms.BooleanField(
        label=_("Services and technical notices"),
        required=False,
        help_text=_("A service suspended, reactivated, cancelled or terminated."),
    )
    account = forms.BooleanField(
        label=_("Account and security"),
        required=False,
        help_text=_("Registration attempts and other notices about the account."),
    )


class EinvoiceEmailForm(forms.Form):
    einvoice_email = forms.EmailField(
        label=_("E-invoice reception email"),
        required=False,
        help_text=_(
            "Electronic invoices, credit and debit notes are sent here (besides the billing "
            "contacts who receive billing emails). Empty: the account's email."
        ),
    )
