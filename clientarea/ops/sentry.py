"""Optional error reporting to Sentry (or a compatible service): only when ``SENTRY_DSN`` is set.

sentry-sdk is an optional extra (``pip install 'clientarea[sentry]'``), imported only here.
Personal data stays out: no request bodies, cookies or user details are sent.
"""

from __future__ import annotations

import importlib

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def init_sentry(*, dsn: str) -> None:
    try:
        sentry_sdk = importlib.import_module("sentry_sdk")
        django_integration = importlib.import_module("sentry_sdk.integrations.django")
    except ImportError as exc:
        raise ImproperlyConfigured(
            "SENTRY_DSN is set but sentry-sdk is not installed: "
            "pip install 'clientarea[sentry]' (or unset SENTRY_DSN)."
        ) from exc
    sentry_sdk.init(
        dsn=dsn,
        environment=settings.SENTRY_ENVIRONMENT or None,
        traces_sample_rate=settings.SENTRY_TRACES_SAMPLE_RATE,
        send_default_pii=False,
        max_request_body_size="never",
        integrations=[django_integration.DjangoIntegration()],
    )
