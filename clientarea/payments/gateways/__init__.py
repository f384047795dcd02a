"""Gateway registry.

``settings.PAYMENT_GATEWAYS`` maps a gateway code to the dotted path of its class.
Classes are imported lazily and instantiated on every call, with their
configuration read from settings at that moment (never at import time), so a
changed setting takes effect without a restart of the import machinery and tests
can override settings freely.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .base import Gateway, UnknownGateway

__all__ = ["Gateway", "UnknownGateway", "enabled_gateways", "gateway_codes", "get_gateway"]


def gateway_codes() -> list[str]:
    """The configured gateway codes, in settings order."""
    return list(getattr(settings, "PAYMENT_GATEWAYS", {}))


def get_gateway(code: str) -> Gateway:
    """Build the gateway configured under ``code``.

    Raises :class:`UnknownGateway` when ``code`` is not in ``settings.PAYMENT_GATEWAYS``
    and ``ImproperlyConfigured`` when the dotted path does not name a
    :class:`Gateway` whose ``code`` is ``code``.
    """
    registry = getattr(settings, "PAYMENT_GATEWAYS", {})
    try:
        path = registry[code]
    except (KeyError, TypeError):
        raise UnknownGateway(f"no payment gateway configured with code {code!r}") from None
    try:
        gateway_class = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(
            f"PAYMENT_GATEWAYS[{code!r}] = {path!r} cannot be imported: {error}"
        ) from error
    if not (isinstance(gateway_class, type) and issubclass(gateway_class, Gateway)):
        raise ImproperlyConfigured(
            f"PAYMENT_GATEWAYS[{code!r}] = {path!r} is not a Gateway subclass"
        )
    if getattr(gateway_class, "code", None) != code:
        raise ImproperlyConfigured(
            f"PAYMENT_GATEWAYS[{code!r}] = {path!r} implements gateway {getattr(gateway_class, 'code', None)!r}"
        )
    return gateway_class()


def enabled_gateways() -> list[Gateway]:
    """The configured gateways whose ``<CODE>_ENABLED`` setting is on, in settings order."""
    gateways = (get_gateway(code) for code in gateway_codes())
    return [gateway for gateway in gateways if gateway.enabled]
