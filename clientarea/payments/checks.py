"""System checks (``clientarea check``, and every start): gateway settings that would only fail at Pay now."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register


@register()
def payvalida_method_codes(app_configs, **kwargs) -> list[Error]:
    from clientarea.payments.gateways.payvalida import parse_method_codes

    try:
        parse_method_codes(str(getattr(settings, "PAYVALIDA_METHOD_CODES", "")))
    except ValueError as exc:
        return [Error(f"PAYVALIDA_METHOD_CODES is invalid: {exc}",
                      hint="Use method=code pairs separated by commas, methods card, pse, cash; e.g. cash=efecty,card=tc.",
                      id="payments.E001")]
    return []
