"""Which email templates staff may edit, and what an edited template may read.

A staff override is rendered in a sandbox (``sandbox.py``): it sees only the variables listed
here for its template (plus :data:`SITE_VARIABLES`), and on any object only the attribute names
in :data:`ALLOWED_ATTRIBUTES`. A password hash, a manager's ``delete``, a private attribute or any
other name is unavailable, and a template that asks for one is refused when it is saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

#: Values every email gets (``services.site_context``).
SITE_VARIABLES = ("site_url", "provider")

#: Attribute names an edited template may read on any object in its context.
ALLOWED_ATTRIBUTES = frozenset(
    {
        # service order and its items
        "number", "issue_date", "due_date", "subtotal", "tax_total", "rounding", "total",
        "state", "currency", "get_state_display", "items", "all", "customer",
        "description", "period_start", "period_end", "quantity", "unit_price", "tax_rate",
        "tax_amount", "kind", "tax_treatment", "get_kind_display", "get_tax_treatment_display",
        # customer and user
        "first_name", "last_name", "legal_name", "trade_name", "document_number", "check_digit",
        "phone", "address", "person_type", "document_type", "preferred_language", "user",
        "display_name", "email", "document_display", "get_person_type_display",
        "get_document_type_display", "full_name", "get_full_name",
        # the provider (sender of every email)
        "nit_display", "website", "support_hours", "support_hours_en",
    }
)  # fmt: skip


if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@dataclass(frozen=True)
class EditableTemplate:
    key: str
    label: StrOrPromise
    variables: tuple[str, ...]
    #: Context values that are one-time secrets (stored redacted in the log).
    secrets: tuple[str, ...] = ()


_ORDER = ("order", "customer")
#: The three payment reminders of the billing run share one context (billing.automation).
_REMINDER = (
    *_ORDER,
    "pay_url",
    "days_left",
    "days_overdue",
    "notice_number",
    "notice_total",
    "suspended",
    "has_services",
    "suspend_date",
    "terminate_date",
)
EDITABLE: dict[str, EditableTemplate] = {
    t.key: t
    for t in (
        EditableTemplate("order_created", _("Service order created"), (*_ORDER, "pay_url")),
        EditableTemplate("order_paid", _("Payment received"), (*_ORDER, "order_url")),
        EditableTemplate("order_cancelled", _("Service order cancelled"), (*_ORDER, "reason")),
        EditableTemplate("order_reminder", _("Reminder before the due date"), _REMINDER),
        EditableTemplate("order_due_today", _("Due today"), _REMINDER),
        EditableTemplate("order_overdue", _("Overdue notice"), _REMINDER),
        EditableTemplate(
            "new_access_code",
            _("New access code"),
            ("customer", "reason", "login_url", "login_email", "code"),
            secrets=("code",),
        ),
        EditableTemplate(
            "login_link", _("One-time login link"), ("customer", "hours", "link"), secrets=("link",)
        ),
    )
}
