"""The account's contacts (owners manage them) and each contact's email preferences. Thin: the
services in ``accounts.contacts`` do the work."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clientarea.accounts import contacts, impersonation, selectors, services
from clientarea.accounts.forms import (
    ContactForm,
    ContactRolesForm,
    EinvoiceEmailForm,
    EmailPreferencesForm,
)
from clientarea.accounts.models import Contact, User
from clientarea.accounts.permissions import Permission, client_area, request_customer
from clientarea.lib.http import client_ip


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # client_area sent anonymous visitors to log in
    return user


def _add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _roles(data: dict) -> contacts.Roles:
    return contacts.Roles(**{role: bool(data.get(role)) for role in contacts.ROLES})


def _list(request: HttpRequest, *, einvoice_form: EinvoiceEmailForm | None = None, status=200):
    customer = request_customer(request)
    return render(
        request,
        "accounts/contacts.html",
        {
            "customer": customer,
            "contacts": selectors.contacts_of(customer),
            "einvoice_form": einvoice_form
            or EinvoiceEmailForm(initial={"einvoice_email": customer.einvoice_email}),
        },
        status=status,
    )


@client_area(Permission.ACCOUNT)
@require_GET
def contact_list(request: HttpRequest) -> HttpResponse:
    return _list(request)


@client_area(Permission.ACCOUNT)
@require_http_methods(["GET", "POST"])
def contact_add(request: HttpRequest) -> HttpResponse:
    customer = request_customer(request)
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        impersonation.refuse_sensitive(request)  # an access code is issued
        try:
            contact = contacts.invite_contact(
                customer=customer,
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                roles=_roles(form.cleaned_data),
                actor=_user(request),
                ip=client_ip(request),
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(
                request,
                _("%(email)s was added. We emailed them an access code to log in.")
                % {"email": contact.user.email},
            )
            return redirect("accounts:contacts")
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "accounts/contact_form.html", {"form": form}, status=status)


@client_area(Permission.ACCOUNT)
@require_http_methods(["GET", "POST"])
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    customer = request_customer(request)
    contact = selectors.contact_of_customer(customer, pk)
    initial = {role: getattr(contact, role) for role in contacts.ROLES}
    form: ContactRolesForm | None = ContactRolesForm(request.POST or None, initial=initial)
    if contact.is_holder:
        form = None
    elif request.method == "POST" and form is not None and form.is_valid():
        try:
            contacts.update_contact(
                contact=contact,
                roles=_roles(form.cleaned_data),
                actor=_user(request),
                ip=client_ip(request),
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(
                request,
                _("The permissions of %(email)s were saved.") % {"email": contact.user.email},
            )
            return redirect("accounts:contacts")
    status = 400 if form is not None and form.is_bound and form.errors else 200
    return render(
        request, "accounts/contact_form.html", {"form": form, "contact": contact}, status=status
    )


@client_area(Permission.ACCOUNT)
@require_http_methods(["GET", "POST"])
def contact_remove(request: HttpRequest, pk: int) -> HttpResponse:
    customer = request_customer(request)
    contact = selectors.contact_of_customer(customer, pk)
    if request.method == "POST":
        try:
            contacts.remove_contact(contact=contact, actor=_user(request), ip=client_ip(request))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                _("%(email)s was removed; their login no longer works.")
                % {"email": contact.user.email},
            )
        return redirect("accounts:contacts")
    return render(request, "accounts/contact_remove.html", {"contact": contact})


@client_area(Permission.ACCOUNT)
@require_POST
def contact_access_code(request: HttpRequest, pk: int) -> HttpResponse:
    """Send a contact a new access code (their current one stops working)."""
    impersonation.refuse_sensitive(request)
    customer = request_customer(request)
    contact: Contact = selectors.contact_of_customer(customer, pk)
    services.reset_access_code(
        customer=customer, user=contact.user, actor=_user(request), ip=client_ip(request)
    )
    messages.success(
        request, _("A new access code was emailed to %(email)s.") % {"email": contact.user.email}
    )
    return redirect("accounts:contacts")


@client_area(Permission.ACCOUNT)
@require_POST
def einvoice_email(request: HttpRequest) -> HttpResponse:
    customer = request_customer(request)
    form = EinvoiceEmailForm(request.POST)
    if form.is_valid():
        try:
            contacts.set_einvoice_email(
                customer=customer,
                email=form.cleaned_data["einvoice_email"],
                actor=_user(request),
                ip=client_ip(request),
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("The e-invoice reception email was saved."))
            return redirect("accounts:contacts")
    return _list(request, einvoice_form=form, status=400)


@client_area(Permission.SELF)
@require_http_methods(["GET", "POST"])
def email_preferences(request: HttpRequest) -> HttpResponse:
    """Which emails the logged-in contact receives."""
    customer = request_customer(request)
    user = _user(request)
    contact = Contact.objects.filter(user=user).select_related("customer__user").first()
    allowed = {
        category: contact is None or contact.may_receive(category)
        for category in ("billing", "technical", "account")
    }
    initial = {
        category: bool(getattr(contact, f"email_{category}", True)) and allowed[category]
        for category in allowed
    }
    form = EmailPreferencesForm(request.POST or None, initial=initial)
    for category, ok in allowed.items():
        if not ok:
            form.fields[category].disabled = True
    if request.method == "POST" and form.is_valid():
        contacts.set_email_preferences(
            customer=customer,
            user=user,
            billing=form.cleaned_data["billing"],
            technical=form.cleaned_data["technical"],
            account=form.cleaned_data["account"],
            actor=user,
            ip=client_ip(request),
        )
        messages.success(request, _("Your email choices were saved."))
        return redirect("accounts:email_preferences")
    return render(request, "accounts/email_preferences.html", {"form": form})
