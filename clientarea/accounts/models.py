"""Users, customers (with the tax data a DIAN invoice needs), the provider profile and the audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from clientarea.accounts.audit_actions import action_label
from clientarea.lib import codelists, nit
from clientarea.lib.dates import short_datetime

if TYPE_CHECKING:
    from django.db.models import Field
    from django_stubs_ext import StrOrPromise


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username)

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        if not email:
            raise ValueError("An email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in: a customer (with a Customer profile) or staff. The email is the username."""

    email = models.EmailField(_("email"), unique=True)
    full_name = models.CharField(_("name"), max_length=200, blank=True)
    is_staff = models.BooleanField(_("staff"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class PersonType(models.TextChoices):
    NATURAL = "natural", _("Natural person")
    JURIDICA = "juridica", _("Legal entity (company)")


class DocumentType(models.TextChoices):
    """DIAN identity document codes (TipoIdFiscal-2.1)."""

    CC = "13", _("Cédula de ciudadanía")
    CE = "22", _("Cédula de extranjería")
    NIT = "31", _("NIT")
    PASSPORT = "41", _("Passport")
    FOREIGN = "42", _("Foreign identity document")


class Language(models.TextChoices):
    ES = "es-co", _("Spanish")
    EN = "en", _("English")


class FiscalResponsibility(models.TextChoices):
    """DIAN TipoResponsabilidad-2.1 (since Anexo 1.7-2020)."""

    O13 = "O-13", _("O-13 Gran contribuyente")
    O15 = "O-15", _("O-15 Autorretenedor")
    O23 = "O-23", _("O-23 Agente de retención IVA")
    O47 = "O-47", _("O-47 Régimen simple de tributación")
    R99 = "R-99-PN", _("R-99-PN No responsable")


def validate_municipality(value: str) -> None:
    if value not in codelists.municipalities():
        raise ValidationError(_("Choose a municipality from the list."), code="municipality")


class TaxIdentity(models.Model):
    """Identification fields shared by customers and the provider."""

    person_type = models.CharField(
        _("person type"), max_length=10, choices=PersonType.choices, default=PersonType.NATURAL
    )
    document_type = models.CharField(
        _("document type"), max_length=2, choices=DocumentType.choices, default=DocumentType.CC
    )
    document_number = models.CharField(_("document number"), max_length=20)
    check_digit = models.CharField(
        _("check digit (DV)"), max_length=1, blank=True, help_text=_("Only for NIT.")
    )
    legal_name = models.CharField(
        _("legal name"),
        max_length=200,
        blank=True,
        help_text=_("Company name as registered in the RUT."),
    )
    trade_name = models.CharField(_("trade name"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    municipality_code = models.CharField(
        _("municipality"), max_length=5, blank=True, validators=[validate_municipality]
    )
    fiscal_responsibilities = models.CharField(
        _("fiscal responsibilities"),
        max_length=60,
        default=FiscalResponsibility.R99,
        help_text=_("DIAN codes separated by ';', e.g. O-13;O-23 or R-99-PN."),
    )

    class Meta:
        abstract = True

    def clean(self) -> None:
        super().clean()
        errors = validate_identity(
            person_type=self.person_type,
            document_type=self.document_type,
            document_number=self.document_number,
            check_digit=self.check_digit,
        )
        codes = [c.strip() for c in (self.fiscal_responsibilities or "").split(";") if c.strip()]
        if not codes or any(c not in FiscalResponsibility.values for c in codes):
            errors.setdefault(
                "fiscal_responsibilities", _("Use DIAN codes: O-13, O-15, O-23, O-47 or R-99-PN.")
            )
        if errors:
            raise ValidationError(errors)

    @property
    def municipality_label(self) -> str:
        return (
            codelists.municipality_label(self.municipality_code) if self.municipality_code else ""
        )

    @property
    def document_display(self) -> str:
        if self.document_type == DocumentType.NIT and self.check_digit:
            return f"NIT {self.document_number}-{self.check_digit}"
        return f"{self.get_document_type_display()} {self.document_number}"


def validate_identity(
    *, person_type: str, document_type: str, document_number: str, check_digit: str
) -> dict[str, StrOrPromise]:
    """Field errors for a document number and NIT check digit, by DIAN document type."""
    errors: dict[str, StrOrPromise] = {}
    number = (document_number or "").strip()
    if document_type in (DocumentType.CC, DocumentType.NIT):
        if not number.isdigit():
            errors["document_number"] = _(
                "Use digits only, without dots, dashes or the check digit."
            )
        elif document_type == DocumentType.CC and not 3 <= len(number) <= 10:
            errors["document_number"] = _("A cédula has between 3 and 10 digits.")
        elif document_type == DocumentType.NIT and not 8 <= len(number) <= 10:
            errors["document_number"] = _("A NIT has 8 to 10 digits (without the check digit).")
        elif document_type == DocumentType.NIT:
            expected = nit.check_digit(number)
            if not check_digit:
                errors["check_digit"] = _(
                    "Enter the NIT check digit (DV). For this NIT it should be %(dv)s."
                ) % {"dv": expected}
            elif str(check_digit) != expected:
                errors["check_digit"] = _("The check digit does not match this NIT.")
    elif document_type == DocumentType.CE:
        if not number.isalnum() or not 3 <= len(number) <= 12:
            errors["document_number"] = _("A cédula de extranjería has 3 to 12 letters or digits.")
    elif document_type in (DocumentType.PASSPORT, DocumentType.FOREIGN) and (
        not number.isalnum() or not 4 <= len(number) <= 20
    ):
        errors["document_number"] = _("Use 4 to 20 letters or digits, without spaces or symbols.")
    if document_type != DocumentType.NIT and check_digit:
        errors["check_digit"] = _("The check digit applies only to a NIT.")
    if person_type == PersonType.JURIDICA and document_type != DocumentType.NIT:
        errors["document_type"] = _("A company is identified by its NIT.")
    return errors


def customer_name(
    *, person_type: str, legal_name: str, trade_name: str, first_name: str, last_name: str
) -> str:
    """A customer's name as the back office shows it, from its fields ("" when it has none, and
    :attr:`Customer.display_name` shows the login's email): also for customers read as values."""
    if person_type == PersonType.JURIDICA:
        return legal_name or trade_name
    return f"{first_name} {last_name}".strip()


class Customer(TaxIdentity):
    """A customer account: the billing and tax identity behind a user."""

    user = models.OneToOneField(
        User, on_delete=models.PROTECT, related_name="customer", verbose_name=_("login")
    )
    first_name = models.CharField(_("first names"), max_length=100, blank=True)
    last_name = models.CharField(_("last names"), max_length=100, blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=5, choices=Language.choices, default=Language.ES
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    einvoice_email = models.EmailField(
        _("e-invoice reception email"),
        blank=True,
        help_text=_(
            "The address registered for receiving electronic invoices; empty: the account's email."
        ),
    )
    # Folded names, email, document and phone (accounts.searchtext), written by the services.
    search_text = models.CharField(max_length=600, blank=True, default="", editable=False)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        permissions = [
            ("impersonate_customer", _("Can open the client area as a customer")),
            (
                "impersonate_sensitive",
                _("Can change access codes and start payments as a customer"),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["document_type", "document_number"], name="unique_customer_document"
            ),
        ]
        indexes = [models.Index(fields=["document_number"])]

    def __str__(self) -> str:
        return f"{self.display_name} <{self.user.email}>"

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def display_name(self) -> str:
        name = customer_name(
            person_type=self.person_type,
            legal_name=self.legal_name,
            trade_name=self.trade_name,
            first_name=self.first_name,
            last_name=self.last_name,
        )
        return name or self.user.email

    @property
    def einvoice_address(self) -> str:
        """Where DIAN documents (invoices, credit and debit notes) are sent."""
        return self.einvoice_email or self.user.email

    def clean(self) -> None:
        super().clean()
        errors: dict[str, StrOrPromise] = {}
        if self.person_type == PersonType.JURIDICA and not self.legal_name.strip():
            errors["legal_name"] = _("Enter the company's legal name.")
        if self.person_type == PersonType.NATURAL and not (
            self.first_name.strip() and self.last_name.strip()
        ):
            errors["first_name" if not self.first_name.strip() else "last_name"] = _(
                "Enter first and last names."
            )
        if errors:
            raise ValidationError(errors)

    @classmethod
    def _label(cls, name: str) -> str:
        field = cast("Field", cls._meta.get_field(name))  # these names are concrete fields
        return str(field.verbose_name)

    def missing_invoice_fields(self) -> list[str]:
        """Labels of the fields an electronic invoice needs that are still empty."""
        missing = []
        for name in ("document_number", "address", "municipality_code", "phone"):
            if not getattr(self, name):
                missing.append(self._label(name))
        if self.document_type == DocumentType.NIT and not self.check_digit:
            missing.append(self._label("check_digit"))
        return missing


class EmailCategory(models.TextChoices):
    """The kinds of customer email a contact chooses to receive."""

    BILLING = "billing", _("Billing and invoices")
    TECHNICAL = "technical", _("Services and technical notices")
    ACCOUNT = "account", _("Account and security")


class Permission(models.TextChoices):
    """What a contact may do in the client area (checked by ``accounts.permissions.client_area``)."""

    SELF = "self", _("Own login and emails")
    BILLING_VIEW = "billing.view", _("See orders, invoices, payments and the statement")
    BILLING = "billing", _("Order, pay and manage billing")
    SERVICES_VIEW = "services.view", _("See services")
    SERVICES = "services", _("Manage services")
    ACCOUNT = "account", _("Manage contacts and the account")


#: The roles a contact can hold (check boxes), and the permissions each one gives.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "is_owner": frozenset(Permission.values),
    "billing": frozenset({Permission.SELF, Permission.BILLING_VIEW, Permission.BILLING}),
    "technical": frozenset({Permission.SELF, Permission.SERVICES_VIEW, Permission.SERVICES}),
    "view_only": frozenset({Permission.SELF, Permission.BILLING_VIEW, Permission.SERVICES_VIEW}),
}
#: The permission a contact needs to receive each email category.
CATEGORY_PERMISSION: dict[str, str] = {
    EmailCategory.BILLING: Permission.BILLING_VIEW,
    EmailCategory.TECHNICAL: Permission.SERVICES_VIEW,
    EmailCategory.ACCOUNT: Permission.ACCOUNT,
}


class Contact(models.Model):
    """A person of a customer account: their own login (``user``), what they may do, which emails
    they get. The account holder (``Customer.user``) is always an owner and cannot be removed."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="contacts", verbose_name=_("customer")
    )
    user = models.OneToOneField(
        User, on_delete=models.CASCADE, related_name="contact", verbose_name=_("login")
    )
    is_owner = models.BooleanField(
        _("account owner"), default=False, help_text=_("Manages contacts; may do everything.")
    )
    billing = models.BooleanField(
        _("billing"), default=False, help_text=_("Orders, invoices, payments, statement.")
    )
    technical = models.BooleanField(_("technical"), default=False, help_text=_("Services."))
    view_only = models.BooleanField(
        _("view only"), default=False, help_text=_("Sees billing and services, changes nothing.")
    )
    email_billing = models.BooleanField(_("billing and invoice emails"), default=True)
    email_technical = models.BooleanField(_("service and technical emails"), default=True)
    email_account = models.BooleanField(_("account and security emails"), default=True)
    created_at = models.DateTimeField(_("added"), default=timezone.now)
    added_by = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("added by"),
    )

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["customer", "-is_owner", "created_at", "id"]

    def __str__(self) -> str:
        return self.user.email

    @property
    def is_holder(self) -> bool:
        """The account holder: the customer's own login (always an owner)."""
        return self.user_id == self.customer.user_id

    @property
    def permissions(self) -> frozenset[str]:
        if self.is_holder:
            return ROLE_PERMISSIONS["is_owner"]
        granted: set[str] = {Permission.SELF}
        for role, perms in ROLE_PERMISSIONS.items():
            if getattr(self, role):
                granted |= perms
        return frozenset(granted)

    @property
    def owner(self) -> bool:
        return Permission.ACCOUNT in self.permissions

    def may_receive(self, category: str) -> bool:
        """May this contact see emails of ``category`` (by their permissions)?"""
        return CATEGORY_PERMISSION[category] in self.permissions

    def wants(self, category: str) -> bool:
        """Does this contact receive emails of ``category`` (opted in, and allowed to see them)?"""
        return bool(getattr(self, f"email_{category}")) and self.may_receive(category)

    def role_labels(self) -> list[str]:
        if self.is_holder or self.is_owner:
            return [str(_("Account owner"))]
        labels = {"billing": _("Billing"), "technical": _("Technical"), "view_only": _("View only")}
        return [str(label) for role, label in labels.items() if getattr(self, role)]


class ProviderProfile(TaxIdentity):
    """The hosting provider (seller): one row, edited in the back office."""

    trade_name_default = "Conexcol"
    email = models.EmailField(_("email"))
    website = models.URLField(_("website"), blank=True)
    logo = models.ImageField(_("logo"), upload_to="provider/", blank=True)
    support_hours = models.CharField(
        _("support hours"), max_length=200, blank=True, help_text=_("In Spanish.")
    )
    support_hours_en = models.CharField(
        _("support hours (English)"),
        max_length=200,
        blank=True,
        help_text=_("Shown to visitors reading in English; empty: the Spanish text is shown."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("provider profile")
        verbose_name_plural = _("provider profile")

    def __str__(self) -> str:
        return self.trade_name or self.legal_name

    @property
    def support_hours_display(self) -> str:
        """The support hours in the page's language (English when given, else the Spanish text)."""
        english = (translation.get_language() or "").startswith("en")
        return (self.support_hours_en if english else "") or self.support_hours

    @property
    def nit_display(self) -> str:
        return (
            f"{self.document_number}-{self.check_digit}"
            if self.check_digit
            else self.document_number
        )


class AuditEvent(models.Model):
    """Append-only log of sensitive changes: who, what, before/after, from where."""

    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("who"),
    )
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    action = models.CharField(_("action"), max_length=60, db_index=True)
    target = models.CharField(_("target"), max_length=120, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{short_datetime(self.created_at)} {self.action} {self.target}"

    @property
    def action_label(self) -> str:
        """The action in words, in the active language (the code when it has no label)."""
        return action_label(self.action)


class AuthenticatorApp(TOTPDevice):
    """django-otp's TOTP device under a name staff read in their language (back office only)."""

    class Meta:
        proxy = True
        verbose_name = _("authenticator app")
        verbose_name_plural = _("authenticator apps (two-factor login)")


class RecoveryCodes(StaticDevice):
    """django-otp's static device: a user's one-time recovery codes (back office only)."""

    class Meta:
        proxy = True
        verbose_name = _("recovery codes")
        verbose_name_plural = _("recovery codes (two-factor login)")
