"""Two-factor login: services around django-otp's TOTP devices and one-time recovery codes.

A user has at most one confirmed TOTP device (an authenticator app) and, once it is confirmed,
one static device holding their recovery codes (each works once). Turning it on is two steps:
``start_enrolment`` creates an unconfirmed device whose secret the page shows as a QR code,
``confirm_enrolment`` checks a code from the app, confirms the device and returns the recovery
codes to show once. Every change is audited. Wrong codes are slowed down by django-otp's
throttling (each failure doubles the wait) on top of the view's rate limit.

Lost device: a customer uses "Forgot your access code?"; redeeming the emailed link removes
their two-factor devices (``reset_two_factor``, audited, emailed). Staff ask an administrator,
who runs ``clientarea twofactor-reset EMAIL``.
"""

from __future__ import annotations

from base64 import b32encode
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from clientarea.accounts import audit
from clientarea.accounts.models import User
from clientarea.accounts.selectors import customer_of
from clientarea.lib.qr import qr_svg

TOTP_NAME = "authenticator"
RECOVERY_NAME = "recovery"


class TwoFactorError(Exception):
    """A person-facing reason the step failed (wrong code, throttled, not enrolled)."""


@dataclass(frozen=True)
class Enrolment:
    secret_base32: str
    otpauth_url: str
    qr_svg: str


def has_two_factor(user: User) -> bool:
    """Whether the user must give a code after the password (one indexed EXISTS query)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def requires_code(user: User) -> bool:
    """Whether the user must give a code after the password, for the request's user: read with
    the user by ``accounts.selectors.session_user`` (no query), else as :func:`has_two_factor`."""
    on = getattr(user, "two_factor_on", None)
    return bool(on) if on is not None else has_two_factor(user)


def is_verified(user: object) -> bool:
    """Whether this session gave a second factor (django-otp's ``OTPMiddleware`` sets it up)."""
    check = getattr(user, "is_verified", None)
    return bool(check()) if callable(check) else False


def _customer_of(user: User):
    return customer_of(user)


@transaction.atomic
def start_enrolment(*, user: User) -> Enrolment:
    """Create (or reuse) the unconfirmed authenticator device and return what the page shows."""
    User.objects.select_for_update().get(pk=user.pk)
    if has_two_factor(user):
        raise TwoFactorError(_("Two-factor login is already on."))
    device = TOTPDevice.objects.filter(user=user, confirmed=False, name=TOTP_NAME).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, confirmed=False, name=TOTP_NAME)
    svg = qr_svg(device.config_url, quiet_zone=4)
    secret = base32_secret(device)
    return Enrolment(secret_base32=secret, otpauth_url=device.config_url, qr_svg=svg)


def base32_secret(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it when typed (groups of four)."""
    raw = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def _check(device, token: str) -> bool:
    allowed, _details = device.verify_is_allowed()
    if not allowed:
        raise TwoFactorError(_("Too many wrong codes. Wait a minute and try again."))
    return bool(device.verify_token(token))


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.TWO_FACTOR_RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


def _clean(token: str) -> str:
    return "".join(token.split()).lower()


def confirm_enrolment(
    *, request: HttpRequest, user: User, token: str, ip: str | None = None
) -> list[str]:
    """Check a code from the app; turn two-factor on; return the recovery codes to show once.

    The code is checked outside the transaction so that a wrong code's throttling count (which
    django-otp saves on the device) is kept when the step fails.
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=False, name=TOTP_NAME).first()
    if device is None:
        raise TwoFactorError(_("Start again: the set-up expired or is already finished."))
    if not _check(device, _clean(token)):
        raise TwoFactorError(_("That code is not right. Check your app's clock and try again."))
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)
        if not TOTPDevice.objects.filter(pk=device.pk, confirmed=False).update(confirmed=True):
            raise TwoFactorError(_("Two-factor login is already on."))
        codes = _new_recovery_codes(user)
        audit.record(action="user.two_factor_on", actor=user, customer=_customer_of(user), ip=ip)
    otp_login(request, device)
    return codes


def verify(*, request: HttpRequest, user: User, token: str, ip: str | None = None) -> None:
    """Second step of the login: a code from the app, or a recovery code (used up).

    Not one transaction on purpose: django-otp saves each failure's throttling count and each
    used recovery code on its own, and a failed step must keep them (and its audit row).
    """
    token = _clean(token)
    if not token:
        raise TwoFactorError(_("Enter the code."))
    totp = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if totp is None:
        raise TwoFactorError(_("Two-factor login is not on for this account."))
    from_app = token.isdigit() and len(token) == totp.digits  # recovery codes are 8 letters/digits
    if from_app and _check(totp, token):
        otp_login(request, totp)
        audit.record(
            action="user.two_factor_verified", actor=user, customer=_customer_of(user), ip=ip
        )
        return
    recovery = StaticDevice.objects.filter(user=user, confirmed=True).first()
    if recovery is not None and not from_app and _check(recovery, token):
        otp_login(request, recovery)
        left = StaticToken.objects.filter(device=recovery).count()
        audit.record(
            action="user.two_factor_recovery_code_used",
            actor=user,
            customer=_customer_of(user),
            changes={"codes_left": left},
            ip=ip,
        )
        return
    audit.record(action="user.two_factor_failed", actor=user, customer=_customer_of(user), ip=ip)
    raise TwoFactorError(_("That code is not right."))


def _confirmed_totp_checked(user: User, token: str) -> TOTPDevice:
    totp = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if totp is None:
        raise TwoFactorError(_("Two-factor login is not on for this account."))
    if not _check(totp, _clean(token)):  # outside the transaction: the throttle count is kept
        raise TwoFactorError(_("That code is not right."))
    return totp


def new_recovery_codes(*, user: User, token: str, ip: str | None = None) -> list[str]:
    """Replace the recovery codes (the old ones stop working), after a code from the app."""
    _confirmed_totp_checked(user, token)
    with transaction.atomic():
        codes = _new_recovery_codes(user)
        audit.record(
            action="user.two_factor_new_codes", actor=user, customer=_customer_of(user), ip=ip
        )
    return codes


def turn_off(*, user: User, token: str, ip: str | None = None) -> None:
    """Turn two-factor off from the account page, after a code from the app."""
    if user.is_staff and settings.STAFF_REQUIRE_2FA:
        raise TwoFactorError(_("Staff accounts must keep two-factor login on."))
    _confirmed_totp_checked(user, token)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        audit.record(action="user.two_factor_off", actor=user, customer=_customer_of(user), ip=ip)


@transaction.atomic
def reset_two_factor(
    *, user: User, reason: str, actor: User | None = None, ip: str | None = None
) -> bool:
    """Remove every two-factor device of the user (lost phone); True when there was one."""
    removed_totp, _ = TOTPDevice.objects.filter(user=user).delete()
    removed_static, _ = StaticDevice.objects.filter(user=user).delete()
    if not (removed_totp or removed_static):
        return False
    audit.record(
        action="user.two_factor_reset",
        actor=actor,
        customer=_customer_of(user),
        target=user.email,
        changes={"reason": reason},
        ip=ip,
    )
    return True
