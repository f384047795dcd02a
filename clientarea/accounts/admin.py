"""Back office for users, customers, the provider profile and the audit log. Thin: services do the work."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from clientarea.accounts import admin_twofactor, contacts, selectors, services
from clientarea.accounts.forms import CUSTOMER_FIELDS, IdentityCleanMixin, municipality_field
from clientarea.accounts.models import (
    AuditEvent,
    Contact,
    Customer,
    EmailCategory,
    ProviderProfile,
    User,
)
from clientarea.lib.dates import short_datetime
from clientarea.lib.http import client_ip
from clientarea.lib.text import fold


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "last_login"]
    search_fields = ["email", "full_name"]
    list_filter = ["is_staff", "is_active"]
    fieldsets = (
        (None, {"fields": ("email", "full_name", "password")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "full_name", "password1", "password2", "is_staff"),
            },
        ),
    )

    def save_model(self, request, obj, form, change):
        # Through the service: a customer's login that changes email keeps its search text right.
        services.save_user_by_staff(
            user=obj,
            changed=form.changed_data,
            before=form.initial if change else {},
            actor=request.user,
            ip=client_ip(request),
        )


class CustomerAddForm(IdentityCleanMixin, forms.ModelForm):
    email = forms.EmailField(label=_("Email"))
    municipality_code = municipality_field()

    class Meta:
        model = Customer
        fields = list(CUSTOMER_FIELDS)

    def _post_clean(self):
        pass  # the registration service validates and saves


class CustomerChangeForm(forms.ModelForm):
    municipality_code = municipality_field()

    class Meta:
        model = Customer
        # Every field but the login (user); a new Customer field shows up here only when added.
        fields = [
            "person_type",
            "document_type",
            "document_number",
            "check_digit",
            "legal_name",
            "trade_name",
            "phone",
            "address",
            "municipality_code",
            "fiscal_responsibilities",
            "first_name",
            "last_name",
            "preferred_language",
            "einvoice_email",
        ]


class ContactInline(admin.TabularInline):
    """The account's contacts on the customer's form, read-only: changes go through the Contacts
    admin (its services audit them and email the access code)."""

    model = Contact
    fk_name = "customer"
    extra = 0
    can_delete = False
    fields = ["contact_link", "roles_column", "emails_column", "created_at"]
    readonly_fields = ["contact_link", "roles_column", "emails_column", "created_at"]
    verbose_name_plural = _("contacts (manage them under Contacts)")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("login"))
    def contact_link(self, obj: Contact) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:accounts_contact_change", args=[obj.pk]), obj
        )

    @admin.display(description=_("permissions"))
    def roles_column(self, obj: Contact) -> str:
        return ", ".join(obj.role_labels())

    @admin.display(description=_("emails received"))
    def emails_column(self, obj: Contact) -> str:
        return ", ".join(
            str(label)
            for value, label in EmailCategory.choices
            if getattr(obj, f"email_{value}") and obj.may_receive(value)
        )


class ContactAddForm(forms.ModelForm):
    email = forms.EmailField(label=_("Email"))
    full_name = forms.CharField(label=_("Name"), max_length=200)

    class Meta:
        model = Contact
        fields = ["customer", "is_owner", "billing", "technical", "view_only"]

    def clean(self):
        data = super().clean() or {}
        if data.get("email") and selectors.login_email_taken(data["email"]):
            self.add_error("email", _("This email already has a login: use another address."))
        if not any(data.get(role) for role in contacts.ROLES):
            raise forms.ValidationError(_("Choose at least one permission."))
        return data

    def _post_clean(self):
        pass  # the invitation service validates and saves


class ContactChangeForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["is_owner", "billing", "technical", "view_only"]

    def clean(self):
        data = super().clean() or {}
        if self.instance.is_holder:
            raise forms.ValidationError(_("The account holder is always an owner."))
        if not any(data.get(role) for role in contacts.ROLES):
            raise forms.ValidationError(_("Choose at least one permission."))
        return data

    def _post_clean(self):
        pass  # the service validates and saves


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    """Staff add contacts (they get the "New Access Code" email), change their permissions and
    remove them, through the same services as the customer's owners (audited)."""

    list_display = ["__str__", "customer", "roles_column", "created_at"]
    search_fields = ["user__email", "user__full_name", "customer__document_number"]
    list_filter = ["is_owner", "billing", "technical", "view_only"]
    list_select_related = ["user", "customer__user"]
    raw_id_fields = ["customer"]
    actions = ["send_new_access_code"]

    @admin.display(description=_("permissions"))
    def roles_column(self, obj: Contact) -> str:
        return ", ".join(obj.role_labels())

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = ContactAddForm if obj is None else ContactChangeForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return [
                "customer",
                "email",
                "full_name",
                "is_owner",
                "billing",
                "technical",
                "view_only",
            ]
        return ["is_owner", "billing", "technical", "view_only"]

    def get_readonly_fields(self, request, obj=None):
        return []

    def _roles(self, data) -> contacts.Roles:
        return contacts.Roles(**{role: bool(data.get(role)) for role in contacts.ROLES})

    def save_model(self, request, obj, form, change):
        if change:
            contacts.update_contact(
                contact=Contact.objects.get(pk=obj.pk),
                roles=self._roles(form.cleaned_data),
                actor=request.user,
                ip=client_ip(request),
            )
            return
        contact = contacts.invite_contact(
            customer=form.cleaned_data["customer"],
            email=form.cleaned_data["email"],
            full_name=form.cleaned_data["full_name"],
            roles=self._roles(form.cleaned_data),
            actor=request.user,
            ip=client_ip(request),
        )
        obj.pk = contact.pk
        obj.user = contact.user

    def save_related(self, request, form, formsets, change):
        pass

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_holder:
            return False  # the account holder stays
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        contacts.remove_contact(contact=obj, actor=request.user, ip=client_ip(request))

    def delete_queryset(self, request, queryset):
        for contact in queryset.select_related("user", "customer__user"):
            if contact.is_holder:
                self.message_user(
                    request,
                    _("%(email)s is the account holder and stays.") % {"email": contact},
                    messages.WARNING,
                )
                continue
            contacts.remove_contact(contact=contact, actor=request.user, ip=client_ip(request))

    @admin.action(
        description=_("Send a new access code (the current one stops working)"),
        permissions=["change"],
    )
    def send_new_access_code(self, request, queryset):
        contacts_list = list(queryset.select_related("user", "customer__user"))
        for contact in contacts_list:
            services.reset_access_code(
                customer=contact.customer,
                user=contact.user,
                actor=request.user,
                ip=client_ip(request),
            )
        self.message_user(
            request,
            _("New access codes were emailed to %(n)d customer(s).") % {"n": len(contacts_list)},
        )


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = [
        "name_column",
        "email_link",
        "document_column",
        "municipality_column",
        "created_at",
        "page_link",
    ]
    search_fields = [
        "user__email",
        "document_number",
        "legal_name",
        "first_name",
        "last_name",
        "trade_name",
    ]
    list_filter = ["person_type", "document_type", "preferred_language"]
    list_select_related = ["user"]
    readonly_fields = ["user", "created_at", "updated_at"]
    actions = ["send_new_access_code"]
    inlines = [ContactInline]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # a new customer has only its holder

    @admin.display(description=_("name"))
    def name_column(self, obj: Customer) -> str:
        return obj.display_name

    def view_on_site(self, obj: Customer) -> str:
        """The change form's top-right button opens the customer page (services, orders, balance…)."""
        return reverse("backoffice:customer", args=[obj.pk])

    @admin.display(description=_("customer page"))
    def page_link(self, obj: Customer) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("backoffice:customer", args=[obj.pk]), _("Open")
        )

    def get_search_results(self, request, queryset, search_term):
        """Also without accents or case, on names, email, document and phone ("pena" finds "Peña")."""
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip():
            queryset |= self.model.objects.filter(search_text__contains=fold(search_term))
        return queryset, may_have_duplicates

    @admin.display(description=_("document"))
    def document_column(self, obj: Customer) -> str:
        return obj.document_display

    @admin.display(description=_("municipality"))
    def municipality_column(self, obj: Customer) -> str:
        return obj.municipality_label

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = CustomerAddForm if obj is None else CustomerChangeForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["email", *CustomerAddForm.Meta.fields]
        return super().get_fields(request, obj)

    @admin.display(description=_("email"), ordering="user__email")
    def email_link(self, obj: Customer) -> str:
        return obj.user.email

    def save_model(self, request, obj, form, change):
        if change:
            data = {f: form.cleaned_data[f] for f in form.changed_data if f in form.cleaned_data}
            services.update_customer_profile(
                customer=Customer.objects.get(pk=obj.pk),
                changes=data,
                actor=request.user,
                ip=client_ip(request),
            )
            return
        data = {
            k: v
            for k, v in form.cleaned_data.items()
            if k in services.CustomerData.__dataclass_fields__
        }
        try:
            customer = services.register_customer(
                data=services.CustomerData(**data), actor=request.user, ip=client_ip(request)
            )
        except ValidationError as exc:
            raise ValidationError(exc) from exc
        obj.pk = customer.pk
        obj.user = customer.user
        messages.info(
            request, _("The customer was created and the “New Access Code” email was queued.")
        )

    def save_related(self, request, form, formsets, change):
        pass

    @admin.action(
        description=_("Send a new access code (the current one stops working)"),
        permissions=["change"],
    )
    def send_new_access_code(self, request, queryset):
        for customer in queryset.select_related("user"):
            services.reset_access_code(customer=customer, actor=request.user, ip=client_ip(request))
        self.message_user(
            request,
            _("New access codes were emailed to %(n)d customer(s).") % {"n": queryset.count()},
        )


@admin.register(ProviderProfile)
class ProviderProfileAdmin(admin.ModelAdmin):
    list_display = ["__str__", "nit_column", "email", "phone"]
    # "conexcol.example" is read as https://conexcol.example (Django 6's default, chosen explicitly).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description=_("NIT"))
    def nit_column(self, obj: ProviderProfile) -> str:
        return obj.nit_display

    def has_add_permission(self, request):
        return not ProviderProfile.objects.exists()

    def save_model(self, request, obj, form, change):
        services.save_provider(provider=obj)

    def has_delete_permission(self, request, obj=None):
        return False


class StaffActorFilter(admin.SimpleListFilter):
    """What one staff member did ("what did I change on that call?"): the staff who appear in
    the log, by email."""

    title = _("staff member")
    parameter_name = "staff"

    def lookups(self, request, model_admin):
        return [(str(user.pk), user.email) for user in selectors.audit_staff_actors()]

    def queryset(self, request, queryset):
        value = self.value() or ""
        if value.isdigit():
            return queryset.filter(actor_id=int(value))
        return queryset


class AuditActionFilter(admin.SimpleListFilter):
    """The actions found in the log, in words (the reader's language), sorted by those words."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return selectors.audit_action_choices()

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(action=value) if value else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    # Short cells that wrap (the date as "6/12/2026 09:30", emails that break anywhere, the
    # customer's name over their email): the list fits 1366 px beside both sidebars.
    list_display = [
        "when_column",
        "action_column",
        "target_column",
        "actor_column",
        "customer_column",
        "ip_address",
    ]
    list_filter = [StaffActorFilter, AuditActionFilter]
    # Who did it (staff or the customer's login), on what, for which customer (by document).
    search_fields = ["target", "action", "actor__email", "customer__document_number"]
    date_hierarchy = "created_at"
    list_select_related = ["actor", "customer__user"]

    @admin.display(description=_("when"), ordering="created_at")
    def when_column(self, obj: AuditEvent):
        return short_datetime(obj.created_at)

    @admin.display(description=_("action"), ordering="action")
    def action_column(self, obj: AuditEvent):
        # The words to read, the stored code under them (what the search box finds).
        return format_html('{}<br><code class="audit-code">{}</code>', obj.action_label, obj.action)

    @admin.display(description=_("target"), ordering="target")
    def target_column(self, obj: AuditEvent):
        return format_html('<span class="audit-break">{}</span>', obj.target)

    @admin.display(description=_("who"), ordering="actor")
    def actor_column(self, obj: AuditEvent):
        if obj.actor is None:
            return "—"
        return format_html('<span class="audit-break">{}</span>', obj.actor.email)

    @admin.display(description=_("customer"), ordering="customer")
    def customer_column(self, obj: AuditEvent):
        if obj.customer is None:
            return "—"
        return format_html(
            '{}<br><span class="customer-email">{}</span>',
            obj.customer.display_name,
            obj.customer.user.email,
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


__all__ = ["admin_twofactor"]  # imported to register the two-factor login admin
