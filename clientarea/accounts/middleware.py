"""Two-factor login, enforced on every request (after django-otp's ``OTPMiddleware``).

A signed-in user who has two-factor login on but has not given a code in this session is sent to
the code page; staff without it are sent to set it up before the back office when
``STAFF_REQUIRE_2FA`` is on. The code pages themselves, logout, static files, language switching
and health checks stay reachable.
"""

from __future__ import annotations

import functools
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from clientarea.accounts import twofactor

# Paths a half-signed-in user may still open (prefixes).
EXEMPT_PREFIXES = ("/static/", "/i18n/", "/healthz", "/metrics", "/favicon")


@functools.cache
def own_paths() -> frozenset[str]:
    """The code pages and logout (reversed once per process: the URLs never change)."""
    return frozenset(
        reverse(name)
        for name in (
            "accounts:two_factor_verify",
            "accounts:two_factor",
            "accounts:two_factor_setup",
            "accounts:logout",
        )
    )


class TwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def _exempt(self, path: str) -> bool:
        return path.startswith(EXEMPT_PREFIXES) or path in own_paths()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not twofactor.is_verified(user):
            path = request.path_info
            if not self._exempt(path):
                target = None
                if twofactor.requires_code(user):
                    target = "accounts:two_factor_verify"
                elif (
                    user.is_staff
                    and settings.STAFF_REQUIRE_2FA
                    and path.startswith(reverse("admin:index"))
                ):
                    target = "accounts:two_factor_setup"
                if target is not None:
                    query = urlencode({"next": request.get_full_path()})
                    return HttpResponseRedirect(f"{reverse(target)}?{query}")
        return self.get_response(request)
