"""System checks (``clientarea check --deploy``): e-invoice settings DIAN would refuse, or that cannot sign.

A production site must sign with a certificate it can open, that is valid and
issued by a certification authority (not the self-signed demo one), and must
identify itself with its own DIAN software registration, not the test values
from DIAN's sample invoice that ClientArea ships as defaults.
"""

from __future__ import annotations

import datetime as dt
import os

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.checks import Warning as CheckWarning
from django.db import DatabaseError

from clientarea.einvoice.demo import DIAN_TEST_TECHNICAL_KEY
from clientarea.einvoice.models import Environment, NumberingResolution
from clientarea.einvoice.signing import load_pkcs12

# DIAN's sample invoice (shared/docs/dian-einvoice.md §2.3, S2): its software id and PIN are
# the settings' defaults. Anyone may use them, and DIAN accepts them only in habilitación.
DIAN_TEST_SOFTWARE_ID = "56f2ae4e-9812-4fad-9255-08fcfcd5ccb0"
DIAN_TEST_SOFTWARE_PIN = "12345"
EXPIRY_WARNING_DAYS = 30


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@register(Tags.security, deploy=True)
def signing_certificate(app_configs, **kwargs) -> list[CheckMessage]:
    """The certificate in EINVOICE_CERT_PATH opens with its password, is valid, and is not the demo one."""
    path = str(getattr(settings, "EINVOICE_CERT_PATH", "") or "")
    if not path or not os.path.isfile(path) or not os.access(path, os.R_OK):
        return [
            Error(
                f"EINVOICE_CERT_PATH ({path or 'empty'}) is not a readable file: invoices cannot be signed.",
                hint="Point EINVOICE_CERT_PATH at the PKCS#12 (.p12/.pfx) file of your signing certificate.",
                id="einvoice.E001",
            )
        ]
    try:
        _key, cert = load_pkcs12(path, str(getattr(settings, "EINVOICE_CERT_PASSWORD", "")))
    except Exception as exc:  # wrong password, not PKCS#12, no key, not RSA: all refused alike
        return [
            Error(
                f"The signing certificate {path} cannot be opened: {exc}",
                hint="Check EINVOICE_CERT_PASSWORD and that the file is a PKCS#12 with an RSA key and its certificate.",
                id="einvoice.E002",
            )
        ]
    messages: list[CheckMessage] = []
    now = _now()
    not_after = cert.not_valid_after_utc
    if not cert.not_valid_before_utc <= now <= not_after:
        messages.append(
            Error(
                f"The signing certificate {path} is not valid now "
                f"(valid {cert.not_valid_before_utc:%Y-%m-%d} to {not_after:%Y-%m-%d} UTC): DIAN refuses its signatures.",
                hint="Renew the certificate with your certification authority and replace the file.",
                id="einvoice.E003",
            )
        )
    elif not_after - now <= dt.timedelta(days=EXPIRY_WARNING_DAYS):
        messages.append(
            CheckWarning(
                f"The signing certificate {path} expires on {not_after:%Y-%m-%d} UTC, "
                f"in {(not_after - now).days} day(s).",
                hint="Renew the certificate with your certification authority before it expires.",
                id="einvoice.W004",
            )
        )
    if not settings.DEBUG and cert.issuer == cert.subject:
        messages.append(
            Error(
                f"The signing certificate {path} is self-signed (the demo certificate): DIAN refuses its signatures.",
                hint="Use a certificate issued by a certification authority accredited in Colombia (ONAC).",
                id="einvoice.E005",
            )
        )
    return messages


@register(Tags.security, deploy=True)
def software_registration(app_configs, **kwargs) -> list[CheckMessage]:
    """DEBUG=0 must not identify the software with DIAN's published test id or PIN."""
    if settings.DEBUG:
        return []
    used = [
        name
        for name, test_value in (
            ("EINVOICE_SOFTWARE_ID", DIAN_TEST_SOFTWARE_ID),
            ("EINVOICE_SOFTWARE_PIN", DIAN_TEST_SOFTWARE_PIN),
        )
        if str(getattr(settings, name, "")) == test_value
    ]
    if not used:
        return []
    return [
        Error(
            f"{' and '.join(used)} still hold DIAN's test values from its sample invoice: "
            "DIAN refuses invoices from this software in production.",
            hint="Set EINVOICE_SOFTWARE_ID and EINVOICE_SOFTWARE_PIN to the software you registered with DIAN.",
            id="einvoice.E006",
        )
    ]


@register(Tags.database, deploy=True)
def numbering_resolution(app_configs, **kwargs) -> list[CheckMessage]:
    """Warn while an active numbering resolution is DIAN's test set (or any test-environment one)."""
    if settings.DEBUG:
        return []
    try:
        test_sets = [
            str(resolution)
            for resolution in NumberingResolution.objects.filter(active=True)
            if resolution.environment == Environment.TEST
            or resolution.technical_key == DIAN_TEST_TECHNICAL_KEY
        ]
    except DatabaseError:  # not migrated yet: nothing to check
        return []
    if not test_sets:
        return []
    return [
        CheckWarning(
            f"Active numbering resolution(s) for DIAN's test environment: {', '.join(test_sets)}. "
            "Invoices numbered from them are not valid invoices.",
            hint="Add the resolution DIAN authorized for production (back office → Electronic invoices → "
            "Numbering resolutions) and deactivate the test set.",
            id="einvoice.W007",
        )
    ]


STORE_ONLY_TRANSMITTER = "clientarea.einvoice.transmission.StoreOnlyTransmitter"
DIAN_TRANSMITTER = "clientarea.einvoice.dian.transmitter.DianTransmitter"


@register(Tags.security, deploy=True)
def transmission(app_configs, **kwargs) -> list[CheckMessage]:
    """DEBUG=0 must send invoices to DIAN, and say when they go to DIAN's test service.

    The store-only transmitter is the default whenever the DIAN simulator is off, so a site that
    switched the simulator off (``DIAN_SANDBOX=0``) without naming ``EINVOICE_TRANSMITTER`` would
    keep its invoices, count them accepted and email them, and DIAN would never receive one.
    """
    if settings.DEBUG:
        return []
    transmitter = str(getattr(settings, "EINVOICE_TRANSMITTER", ""))
    if transmitter == STORE_ONLY_TRANSMITTER:
        return [
            Error(
                "EINVOICE_TRANSMITTER is the store-only transmitter: invoices are never sent to "
                "DIAN, yet they count as accepted and are emailed. They are not legal invoices.",
                hint=f"Set EINVOICE_TRANSMITTER={DIAN_TRANSMITTER} (its default only while the "
                "local DIAN simulator is on).",
                id="einvoice.E008",
            )
        ]
    if (
        transmitter == DIAN_TRANSMITTER
        and not settings.DIAN_SANDBOX
        and settings.EINVOICE_ENVIRONMENT != "production"
    ):
        return [
            CheckWarning(
                f"EINVOICE_ENVIRONMENT is {settings.EINVOICE_ENVIRONMENT!r}: invoices go to "
                "DIAN's habilitación (test) service and are not legal invoices.",
                hint="Once DIAN has accepted the test set and enabled the software: "
                "EINVOICE_ENVIRONMENT=production, restart, then Numbering resolutions → Import "
                "from DIAN.",
                id="einvoice.W009",
            )
        ]
    return []
