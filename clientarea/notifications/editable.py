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
        "debit_note_id",
        # customer and user
        "first_name", "last_name", "legal_name", "trade_name", "document_number", "check_digit",
        "phone", "address", "person_type", "document_type", "preferred_language", "user",
        "display_name", "email", "document_display", "get_person_type_display",
        "get_document_type_display", "full_name", "get_full_name",
        # the provider (sender of every email)
        "nit_display", "website", "support_hours", "support_hours_en",
        # a service, a cancellation request
        "product", "name", "label", "cycle", "get_cycle_display", "price", "next_due_date",
        "start_date", "status", "get_status_display", "effective_date", "get_when_display",
        "get_reason_display", "comment",
        # an electronic invoice or note
        "full_number", "issued_at", "cufe", "concept_label", "reason",
        # withholdings: the agent's decision, a certificate
        "is_approved", "decision_note", "reject_reason", "period_label", "year",
        # a plan change
        "get_from_cycle_display", "get_to_cycle_display", "from_price", "to_price",
        "direction", "amount", "cycle_only", "change_label",
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
    "due",
)
#: The billing run's suspension and termination notices (billing.automation).
_SERVICES = ("order", "customer", "pay_url", "days", "services", "terminate_date", "due")
#: A cancellation request's emails (billing.cancellations).
_CANCELLATION = ("customer", "service", "request")
#: Every customer-facing email, the one registry the editor lists (a test checks that every
#: email template not in ``STAFF_TEMPLATES`` is here and that its files pass the sandbox).
EDITABLE: dict[str, EditableTemplate] = {
    t.key: t
    for t in (
        EditableTemplate(
            "order_created",
            _("Service order created"),
            # The account credit the new order took at once, and what is left to pay.
            (*_ORDER, "pay_url", "credit_applied", "to_pay"),
        ),
        EditableTemplate(
            "order_paid",
            _("Payment received"),
            # What settled the order: money received, account credit, an agent's withholdings;
            # what the payment left as credit, and an agent that did not withhold.
            (
                *_ORDER,
                "order_url",
                "paid",
                "credit_applied",
                "withheld",
                "credited",
                "not_withheld",
                # Whether the order activates or renews a service (a custom order bills none).
                "bills_services",
            ),
        ),
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
            "login_link",
            _("One-time login link"),
            ("customer", "hours", "minutes", "link"),
            secrets=("link",),
        ),
        # The account: payments, credit.
        EditableTemplate(
            "orders_paid",
            _("Payment received for several orders"),
            ("customer", "amount", "reference", "orders", "orders_url", "bills_services"),
        ),
        EditableTemplate(
            "payment_partial",
            _("Partial payment received"),
            ("customer", "amount", "reference", "order", "took", "left", "order_url"),
        ),
        EditableTemplate(
            "credit_added",
            _("Credit added to the account"),
            ("customer", "amount", "reference", "credited", "credit", "auto_apply"),
        ),
        # Electronic invoices and notes (their subject follows DIAN's convention: the subject
        # part is not used for them).
        EditableTemplate(
            "invoice_issued",
            _("Electronic invoice"),
            ("customer", "invoice", "order", "invoices_url"),
        ),
        EditableTemplate(
            "note_issued",
            _("Electronic credit or debit note"),
            (
                "customer",
                "note",
                "invoice",
                "invoices_url",
                "due",
                "pay_url",
                "billing_url",
                "note_credited",
                "credited",
                "withheld",
                "auto_apply",
                "statement_url",
            ),
        ),
        # Services.
        EditableTemplate(
            "service_added",
            _("Service added by staff"),
            ("customer", "service", "product_name", "service_url"),
        ),
        EditableTemplate(
            "service_status_changed",
            _("Service suspended, reactivated or terminated by staff"),
            ("customer", "service", "product_name", "action", "reason"),
        ),
        EditableTemplate("service_suspended", _("Service suspended for non-payment"), _SERVICES),
        EditableTemplate("service_terminated", _("Service terminated for non-payment"), _SERVICES),
        EditableTemplate("cancellation_requested", _("Cancellation requested"), _CANCELLATION),
        EditableTemplate("cancellation_withdrawn", _("Cancellation withdrawn"), _CANCELLATION),
        EditableTemplate("cancellation_done", _("Service cancelled"), _CANCELLATION),
        EditableTemplate(
            "plan_changed",
            _("Plan changed"),
            ("customer", "service", "change", "old_name", "new_name"),
        ),
        EditableTemplate(
            "plan_change_scheduled",
            _("Plan change scheduled"),
            ("customer", "service", "change", "old_name", "new_name"),
        ),
        EditableTemplate(
            "refund_issued",
            _("Refund issued"),
            (
                "customer",
                "refund",
                "amount",
                "reference",
                "gateway",
                "through_gateway",
                "bank_reference",
                "from_credit",
                "orders",
                "notes",
                "notes_pending",
                "services_action",
                "billing_url",
            ),
        ),
        # Withholdings.
        EditableTemplate(
            "withholding_agent_decided",
            _("Withholding agent status decided"),
            ("customer", "agent"),
        ),
        EditableTemplate(
            "withholding_certificate_reviewed",
            _("Withholding certificate accepted or refused"),
            ("customer", "certificate"),
        ),
        # Registration (sent to an address, before or without a customer account).
        EditableTemplate(
            "registration_attempt",
            _("Someone tried to register with your email or document"),
            ("name", "reason", "login_url", "forgot_url"),
        ),
        EditableTemplate("registration_refused", _("Registration not possible"), ("forgot_url",)),
    )
}

#: Emails to staff (alerts): not customer-facing, so not editable here.
STAFF_TEMPLATES = frozenset(
    {
        "payment_review",
        "payment_message_stuck",
        "staff_invoice_waiting",
        "staff_invoice_rejected",
        "staff_invoice_contingency",
        "staff_withholding_agent_request",
        "staff_withholding_certificate",
    }
)
