"""What the dashboard shows. Other apps contribute through their selectors, imported lazily."""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Each entry: a selector module path with a `dashboard_summary(customer) -> dict` function.
DASHBOARD_SOURCES = (
    "clientarea.subscriptions.selectors",
    "clientarea.billing.selectors",
    "clientarea.einvoice.selectors",
)


def dashboard_context(customer) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for path in DASHBOARD_SOURCES:
        try:
            module = import_module(path)
        except ModuleNotFoundError:
            continue
        summary = getattr(module, "dashboard_summary", None)
        if summary is not None:
            context.update(summary(customer))
    return context
