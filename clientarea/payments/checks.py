"""System checks (``clientarea check``, and every start): gateway settings that would only fail at Pay now."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.checks import Warning as CheckWarning

from clientarea.payments.gateways import gateway_codes, get_gateway
from clientarea.payments.gateways.payvalida import parse_method_codes


@register()
def payvalida_method_codes(app_configs, **kwargs) -> list[Error]:
    try:
        parse_method_codes(str(getattr(settings, "PAYVALIDA_METHOD_CODES", "")))
    except ValueError as exc:
        return [
            Error(
                f"PAYVALIDA_METHOD_CODES is invalid: {exc}",
                hint="Use method=code pairs separated by commas, methods card, pse, cash; e.g. cash=efecty,card=tc.",
                id="payments.E001",
            )
        ]
    return []


@register()
def gateways_can_be_built(app_configs, **kwargs) -> list[Error]:
    """Each configured gateway builds from its settings (e.g. PAYU_SIGNATURE_ALGORITHM is one PayU knows)."""
    errors = []
    for code in gateway_codes():
        try:
            get_gateway(code)
        except Exception as exc:
            errors.append(
                Error(
                    f"Payment gateway {code!r} cannot be configured: {exc}",
                    hint="Check its settings in the README's configuration table.",
                    id="payments.E002",
                )
            )
    return errors


# PayU's published sandbox account (docs §1.4): anyone can sign for it, so it must never take real payments.
PAYU_PUBLIC_SANDBOX_MERCHANT = "508029"
PAYU_PUBLIC_SANDBOX_API_KEY = "4Vj8eK4rloUd272L48hsrarnUA"


@register(Tags.security, deploy=True)
def live_gateway_settings(app_configs, **kwargs) -> list[CheckMessage]:
    """`clientarea check --deploy`: a production site must not take payments that move no money."""
    messages: list[CheckMessage] = []
    if getattr(settings, "PAYMENTS_SANDBOX", False):
        messages.append(
            Error(
                "PAYMENTS_SANDBOX is on: /sandbox/ is served and the gateways point at the local simulators, "
                "so anyone can pay an order without paying.",
                hint="Set PAYMENTS_SANDBOX=0 in production.",
                id="payments.E010",
            )
        )
    if getattr(settings, "PAYU_ENABLED", False):
        if getattr(settings, "PAYU_TEST", False):
            messages.append(
                CheckWarning(
                    "PayU is in test mode (PAYU_TEST=1): payments go to PayU's sandbox and no money moves.",
                    hint="Set PAYU_TEST=0 with your own credentials, or PAYU_ENABLED=0.",
                    id="payments.W011",
                )
            )
        if (
            getattr(settings, "PAYU_MERCHANT_ID", "") == PAYU_PUBLIC_SANDBOX_MERCHANT
            or getattr(settings, "PAYU_API_KEY", "") == PAYU_PUBLIC_SANDBOX_API_KEY
        ):
            messages.append(
                CheckWarning(
                    "PayU uses PayU's public sandbox credentials (merchant 508029).",
                    hint="Set PAYU_MERCHANT_ID, PAYU_ACCOUNT_ID, PAYU_API_LOGIN and PAYU_API_KEY from your PayU module.",
                    id="payments.W012",
                )
            )
    if getattr(settings, "PAYVALIDA_ENABLED", False):
        if getattr(settings, "PAYVALIDA_TEST", False):
            messages.append(
                CheckWarning(
                    "Payvalida is in test mode (PAYVALIDA_TEST=1): orders go to Payvalida's test API and no money moves.",
                    hint="Set PAYVALIDA_TEST=0 with your own credentials, or PAYVALIDA_ENABLED=0.",
                    id="payments.W013",
                )
            )
        if any(
            str(getattr(settings, name, "")).startswith("demo-")
            for name in ("PAYVALIDA_FIXED_HASH", "PAYVALIDA_NOTIFICATION_HASH")
        ):
            messages.append(
                CheckWarning(
                    "Payvalida uses the demo hashes shipped with ClientArea.",
                    hint="Set PAYVALIDA_MERCHANT, PAYVALIDA_FIXED_HASH and PAYVALIDA_NOTIFICATION_HASH from Payvalida.",
                    id="payments.W014",
                )
            )
    return messages
