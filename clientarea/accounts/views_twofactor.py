"""Two-factor login pages: the account's security page, set-up, and the code asked after login."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_otp.plugins.otp_static.models import StaticToken

from clientarea.accounts import twofactor
from clientarea.accounts.forms import TwoFactorCodeForm
from clientarea.accounts.models import User
from clientarea.accounts.permissions import resolve_access
from clientarea.accounts.views import AuthenticatedRequest
from clientarea.lib.http import client_ip
from clientarea.lib.ratelimit import Limit, by_ip, throttle

VERIFY_LIMITS = (Limit(by_ip, "30/15m"),)


def _shell(request: HttpRequest) -> dict:
    """The page's frame: customers see the client area around it (its menu for their
    permissions); staff and half-signed-in users (a code is still due) the plain site. A customer
    without two-factor login is fully signed in: these pages showed them the plain site, with no
    way back but the browser's."""
    user = request.user
    if not isinstance(user, User):  # the views need a login: never, but typed so
        return {"base_template": "base.html"}
    if (hasattr(user, "customer") or hasattr(user, "contact")) and (
        twofactor.is_verified(user) or not twofactor.requires_code(user)
    ):
        # Not a client_area view (staff set it up too): the menu needs the access resolved here.
        return {"base_template": "clientarea/base.html", "access": resolve_access(request)}
    return {"base_template": "base.html"}


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _default_home(request: HttpRequest) -> str:
    return "/admin/" if request.user.is_staff else "/clientarea/"


@login_required
@require_http_methods(["GET", "POST"])
def security(request: AuthenticatedRequest) -> HttpResponse:
    """Status, and turning two-factor off or replacing the recovery codes (each needs a code)."""
    user = request.user
    enabled = twofactor.has_two_factor(user)
    form = TwoFactorCodeForm(request.POST or None)
    if request.method == "POST" and enabled and form.is_valid():
        action = request.POST.get("action")
        try:
            if action == "off":
                twofactor.turn_off(
                    user=user, token=form.cleaned_data["code"], ip=client_ip(request)
                )
                messages.success(request, _("Two-factor login is off."))
                return redirect("accounts:two_factor")
            if action == "codes":
                codes = twofactor.new_recovery_codes(
                    user=user,
                    token=form.cleaned_data["code"],
                    ip=client_ip(request),
                )
                return render(
                    request,
                    "accounts/two_factor_codes.html",
                    {"codes": codes, **_shell(request)},
                )
        except twofactor.TwoFactorError as exc:
            form.add_error("code", str(exc))
    codes_left = StaticToken.objects.filter(device__user=user).count() if enabled else 0
    return render(
        request,
        "accounts/two_factor.html",
        {
            "enabled": enabled,
            "form": form,
            "codes_left": codes_left,
            "required": user.is_staff and settings.STAFF_REQUIRE_2FA,
            **_shell(request),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def setup(request: AuthenticatedRequest) -> HttpResponse:
    """Scan the QR code (or type the key), then confirm with the first code."""
    user = request.user
    if twofactor.has_two_factor(user):
        return redirect("accounts:two_factor")
    form = TwoFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = twofactor.confirm_enrolment(
                request=request,
                user=user,
                token=form.cleaned_data["code"],
                ip=client_ip(request),
            )
        except twofactor.TwoFactorError as exc:
            form.add_error("code", str(exc))
        else:
            return render(
                request,
                "accounts/two_factor_codes.html",
                {
                    "codes": codes,
                    "first_time": True,
                    "next": _next_url(request, _default_home(request)),
                    **_shell(request),
                },
            )
    enrolment = twofactor.start_enrolment(user=user)
    return render(
        request,
        "accounts/two_factor_setup.html",
        {
            "form": form,
            "enrolment": enrolment,
            "next": request.GET.get("next", ""),
            "required": user.is_staff and settings.STAFF_REQUIRE_2FA,
            **_shell(request),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
@throttle(group="two_factor", limits=VERIFY_LIMITS)
def verify(request: AuthenticatedRequest) -> HttpResponse:
    """The second step of the login."""
    user = request.user
    if twofactor.is_verified(user) or not twofactor.has_two_factor(user):
        return redirect(_next_url(request, _default_home(request)))
    form = TwoFactorCodeForm(request.POST or None, recovery_allowed=True)
    if request.method == "POST" and form.is_valid():
        try:
            twofactor.verify(
                request=request,
                user=user,
                token=form.cleaned_data["code"],
                ip=client_ip(request),
            )
        except twofactor.TwoFactorError as exc:
            form.add_error("code", str(exc))
        else:
            return redirect(_next_url(request, _default_home(request)))
    return render(
        request,
        "accounts/two_factor_verify.html",
        {"form": form, "next": request.GET.get("next", ""), "base_template": "base.html"},
    )
