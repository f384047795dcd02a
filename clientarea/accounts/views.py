"""Public registration and login, and the customer's profile and emails (the dashboard is the portal's)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.http import require_http_methods, require_POST

from clientarea.accounts import impersonation, selectors, services, tasks, twofactor
from clientarea.accounts.forms import (
    ChangePasswordForm,
    ForgotForm,
    LoginForm,
    ProfileForm,
    RegistrationForm,
)
from clientarea.accounts.models import Customer, User
from clientarea.accounts.permissions import (
    Permission,
    client_area,
    current_access,
    request_customer,
)
from clientarea.lib.http import client_ip
from clientarea.lib.ratelimit import (
    Limit,
    by_ip,
    by_post_field,
    count_failure,
    failures_wait,
    throttle,
    too_many_requests,
)
from clientarea.notifications.models import OutgoingEmail


class AuthenticatedRequest(HttpRequest):
    """For type checking only: the request a ``login_required`` view receives."""

    user: User


# Public forms that send email: a few per address and per target email (then a 429 page).
FORGOT_LIMITS = (Limit(by_ip, "10/h"), Limit(by_post_field("email"), "3/h"))
REGISTER_LIMITS = (Limit(by_ip, "5/h"), Limit(by_post_field("email"), "3/h"))


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "public/home.html")


def _set_language(response: HttpResponse, language: str) -> HttpResponse:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 24 * 3600, samesite="Lax"
    )
    return response


# A visitor's choice with the language switcher, kept in the session until they log in.
LANGUAGE_CHOSEN = "language_chosen"


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The header's language switcher (Django's ``set_language``). An account holder's choice is
    also the account's language (emails, new orders, invoices' PDF, the pages after the next
    login); a visitor's is kept until login, which then keeps it (see ``_language_after_login``)."""
    response = i18n.set_language(request)
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES):
        return response
    if not request.user.is_authenticated:
        request.session[LANGUAGE_CHOSEN] = language
        return response
    holder = selectors.holder_customer(request.user)  # staff (even viewing as a customer): None
    if holder is not None:
        services.set_preferred_language(
            customer=holder, language=language, actor=request.user, ip=client_ip(request)
        )
    return response


def _language_after_login(request: HttpRequest, user: User, customer: Customer) -> str:
    """The language a fresh login shows: the one just chosen with the switcher, if any (it becomes
    the account's when the holder logs in: the pages went back to the account's language, and its
    emails stayed in it), else the account's."""
    chosen = request.session.pop(LANGUAGE_CHOSEN, None)
    if chosen not in dict(settings.LANGUAGES):
        return customer.preferred_language
    if customer.user_id == user.pk:
        services.set_preferred_language(
            customer=customer, language=chosen, actor=user, ip=client_ip(request)
        )
    return chosen


@require_http_methods(["GET", "POST"])
@throttle(group="register", limits=REGISTER_LIMITS)
def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:dashboard")
    lang = translation.get_language()
    form = RegistrationForm(
        request.POST or None, initial={"preferred_language": "en" if lang == "en" else "es-co"}
    )
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "accept_terms"}
        try:
            services.request_registration(data=services.CustomerData(**data), ip=client_ip(request))
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.error_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, exc)
        else:
            request.session["registered_email"] = form.cleaned_data["email"]
            return redirect("accounts:registered")
    return render(request, "accounts/register.html", {"form": form})


def terms(request: HttpRequest) -> HttpResponse:
    """Terms of service and the personal data policy (Ley 1581 de 2012), linked from registration."""
    return render(request, "accounts/terms.html")


def registered(request: HttpRequest) -> HttpResponse:
    return render(
        request, "accounts/registered.html", {"email": request.session.get("registered_email", "")}
    )


def login_ip_limit() -> Limit:
    """Failed logins from one address, whatever the accounts: far more than one person makes,
    so one office behind one address is not locked out by a few people's typos (django-axes
    locks each account after ``LOGIN_FAILURE_LIMIT``), yet a sweep over many accounts stops."""
    minutes = max(1, round(settings.AXES_COOLOFF_TIME * 60))
    return Limit(by_ip, f"{settings.LOGIN_IP_FAILURE_LIMIT}/{minutes}m")


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        wait = failures_wait(request, group="login-ip", limit=login_ip_limit())
        if wait is not None:
            return too_many_requests(request, wait)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        count_failure(self.request, group="login-ip", limit=login_ip_limit())
        return super().form_invalid(form)

    def form_valid(self, form):
        response = super().form_valid(form)
        services.clear_login_failures(
            username=form.cleaned_data["username"], ip=client_ip(self.request)
        )
        customer = selectors.customer_of(form.get_user())
        if customer is not None:
            _set_language(response, _language_after_login(self.request, form.get_user(), customer))
        return response


def lockout(request: HttpRequest, credentials=None, *args, **kwargs) -> HttpResponse:
    """Shown by django-axes after too many failed logins for this email or IP."""
    minutes = int(settings.AXES_COOLOFF_TIME * 60)
    return render(request, "accounts/lockout.html", {"minutes": minutes}, status=429)


@require_http_methods(["GET", "POST"])
@throttle(group="forgot", limits=FORGOT_LIMITS)
def forgot(request: HttpRequest) -> HttpResponse:
    form = ForgotForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # The same work and the same answer whether or not the email is registered: the
        # worker looks the address up and sends the link (or nothing).
        tasks.send_login_link(form.cleaned_data["email"], client_ip(request))
        return render(
            request,
            "accounts/forgot_sent.html",
            {
                "email": form.cleaned_data["email"],
                "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,  # the link's lifetime
            },
        )
    return render(request, "accounts/forgot.html", {"form": form})


@require_http_methods(["GET", "POST"])
def login_link(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    user = services.user_for_login_link(uidb64=uidb64, token=token)
    customer = selectors.customer_of(user)
    if user is None or customer is None:
        return render(request, "accounts/login_link_invalid.html", status=400)
    if request.method == "GET":
        # A GET must not consume the link: mail scanners open links too.
        return render(request, "accounts/login_link_confirm.html", {"email": user.email})
    two_factor_reset = twofactor.has_two_factor(user)  # the link turns it off (lost phone)
    code = services.redeem_login_link(user=user, ip=client_ip(request))
    user.refresh_from_db()  # the new code's hash: the session must carry it, or the next page logs out
    auth_login(request, user, backend="clientarea.accounts.backends.EmailAccessCodeBackend")
    response = render(
        request, "accounts/new_code.html", {"code": code, "two_factor_reset": two_factor_reset}
    )
    return _set_language(response, _language_after_login(request, user, customer))


@client_area(Permission.SELF, write=Permission.BILLING)
@require_http_methods(["GET", "POST"])
def profile(request: AuthenticatedRequest) -> HttpResponse:
    customer = request_customer(request)
    form = ProfileForm(request.POST or None, instance=customer)
    if request.method == "POST" and form.is_valid():
        changes = {f: form.cleaned_data[f] for f in ProfileForm.Meta.fields}
        try:
            updated = services.update_customer_profile(
                customer=customer, changes=changes, actor=request.user, ip=client_ip(request)
            )
        except ValidationError as exc:
            for field, errors in getattr(exc, "error_dict", {None: exc.messages}).items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Your details were saved."))
            return _set_language(redirect("accounts:profile"), updated.preferred_language)
    access = current_access(request)
    return render(
        request,
        "accounts/profile.html",
        {"form": form, "customer": customer, "can_edit": bool(access and access.billing)},
    )


@client_area(Permission.SELF)
@require_http_methods(["GET", "POST"])
def change_password(request: AuthenticatedRequest) -> HttpResponse:
    impersonation.refuse_sensitive(request)
    form = ChangePasswordForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.change_password(
            user=request.user, new_password=form.cleaned_data["new_password"], ip=client_ip(request)
        )
        update_session_auth_hash(request, request.user)
        messages.success(
            request, _("Your password was changed. Your previous access code no longer works.")
        )
        return redirect("accounts:profile")
    return render(request, "accounts/change_password.html", {"form": form})


def _visible_emails(request: HttpRequest):
    """An owner sees every email of the account; another contact, the ones sent to them."""
    access = current_access(request)
    emails = OutgoingEmail.objects.filter(customer=request_customer(request))
    if access is None or not access.account:
        emails = emails.filter(to_email__iexact=getattr(request.user, "email", ""))
    return emails


@client_area(Permission.SELF)
def email_list(request: AuthenticatedRequest) -> HttpResponse:
    page = Paginator(
        _visible_emails(request).only(
            "id", "subject", "to_email", "created_at", "status", "template"
        ),
        25,
    ).get_page(request.GET.get("page"))
    return render(request, "accounts/emails.html", {"page": page})


@client_area(Permission.SELF)
def email_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    email = get_object_or_404(_visible_emails(request).prefetch_related("attachments"), pk=pk)
    return render(request, "accounts/email_detail.html", {"email": email})


@client_area(Permission.SELF)
def email_attachment(request: AuthenticatedRequest, pk: int, attachment_id: int) -> HttpResponse:
    email = get_object_or_404(_visible_emails(request), pk=pk)
    att = email.attachments.filter(pk=attachment_id).first()
    if att is None:
        raise Http404
    response = HttpResponse(bytes(att.content), content_type=att.content_type)
    response["Content-Disposition"] = f'attachment; filename="{att.filename}"'
    return response
