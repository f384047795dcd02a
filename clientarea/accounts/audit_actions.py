"""The audit log's action codes in words, in the reader's language.

The log stores a short code per event (``billing.manual_payment``); staff read it as a phrase
("Manual payment registered") in the back office's language, with the code kept beside it for
searching. Every code written anywhere with ``audit.record`` has a label here (a test reads the
source to check); a code without one (an old row, a code since retired) shows as stored.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

ACTION_LABELS: dict[str, Promise] = {
    # Billing
    "billing.manual_payment": _("Manual payment registered"),
    "billing.manual_credit": _("Transfer registered as credit"),
    "billing.credit_paid_out": _("Credit paid back to the customer"),
    "billing.credit_refunded": _("Credit refunded"),
    "billing.credit_note_credited": _("Credit note added to the balance"),
    "billing.credit_note_not_credited": _("Credit note not added to the balance"),
    "billing.run_requested": _("Billing run requested"),
    "order.catalog": _("Order placed from the catalog"),
    "order.created_by_staff": _("Custom order created by staff"),
    "coupon.activated": _("Coupon activated"),
    "coupon.deactivated": _("Coupon deactivated"),
    "report_export_requested": _("Report export requested"),
    # Payments
    "payment.started": _("Payment started"),
    "payment.queried": _("Payment checked with the gateway"),
    "payment.gateway_switched": _("Payment gateway turned on or off"),
    "payment.message_retried": _("Gateway message processed again"),
    "payment.refunded": _("Payment marked as refunded"),
    "payment.refund_requested": _("Refund requested"),
    "payment.refund_declined": _("Refund declined by the gateway"),
    "payment.refund_completed": _("Refund completed"),
    "payment.refund_decided": _("Refund decision recorded"),
    # Electronic invoicing
    "einvoice.resent_to_dian": _("Invoice sent to the DIAN again"),
    "einvoice.invoice_reissued": _("Invoice replaced (credit note and new invoice)"),
    "einvoice.credit_note_issued": _("Credit note issued"),
    "einvoice.debit_note_issued": _("Debit note issued"),
    "einvoice.numbering_imported": _("Numbering resolutions imported from the DIAN"),
    "einvoice.numbering_updated": _("Numbering resolution changed"),
    "einvoice.numbering_deactivated": _("Numbering resolution deactivated"),
    "einvoice.test_set_started": _("DIAN test set started"),
    "einvoice.test_set_finished": _("DIAN test set finished"),
    # Services
    "service.created_by_staff": _("Service created by staff"),
    "service.edited": _("Service edited"),
    "service.suspend": _("Service suspended"),
    "service.unsuspend": _("Service unsuspended"),
    "service.terminate": _("Service terminated"),
    "service.plan_changed": _("Service plan changed"),
    "service.options_changed": _("Service options changed"),
    "service.plan_change_requested": _("Plan change requested"),
    "service.plan_change_withdrawn": _("Plan change request withdrawn"),
    "service.cancellation_requested": _("Cancellation requested"),
    "service.cancellation_withdrawn": _("Cancellation request withdrawn"),
    # Customers and their contacts
    "customer.registration_attempt": _("Registration tried with this account's details"),
    "customer.registered": _("Customer registered"),
    "customer.profile_changed": _("Account details changed"),
    "customer.identity_changed": _("Tax identity changed"),
    "customer.einvoice_email_changed": _("Electronic invoice email changed"),
    "customer.access_code_reset": _("Access code reset"),
    "customer.login_link_requested": _("Login link requested"),
    "customer.login_link_used": _("Login link used"),
    "customer.login_unlocked": _("Login unlocked"),
    "customer.impersonation_started": _("Staff logged in as the customer"),
    "customer.impersonation_stopped": _("Staff stopped logging in as the customer"),
    "customer.note_added": _("Internal note added"),
    "customer.note_pinned": _("Internal note pinned"),
    "customer.note_unpinned": _("Internal note unpinned"),
    "contact.added": _("Contact added"),
    "contact.removed": _("Contact removed"),
    "contact.permissions_changed": _("Contact permissions changed"),
    "contact.email_preferences_changed": _("Contact email choices changed"),
    # Users and two-factor login
    "user.changed_by_staff": _("User changed by staff"),
    "user.password_changed": _("Password changed"),
    "user.two_factor_on": _("Two-factor login turned on"),
    "user.two_factor_off": _("Two-factor login turned off"),
    "user.two_factor_reset": _("Two-factor login reset by staff"),
    "user.two_factor_verified": _("Two-factor code accepted"),
    "user.two_factor_failed": _("Two-factor code refused"),
    "user.two_factor_recovery_code_used": _("Recovery code used"),
    "user.two_factor_new_codes": _("New recovery codes made"),
    # Withholdings
    "withholdings.agent_requested": _("Withholding agent status requested"),
    "withholdings.agent_saved": _("Withholding agent status saved"),
    "withholdings.withholdingrule_saved": _("Withholding rule saved"),
    "withholdings.uvtvalue_saved": _("UVT value saved"),
    "withholdings.fixed": _("Withholdings recorded on a paid order"),
    "withholdings.reversed": _("Withholdings reversed"),
    "withholdings.certificate_uploaded": _("Withholding certificate uploaded"),
    "withholdings.certificate_accepted": _("Withholding certificate accepted"),
    "withholdings.certificate_rejected": _("Withholding certificate rejected"),
    # Help center
    "helpcenter.article_added": _("Help article added"),
    "helpcenter.article_edited": _("Help article edited"),
    "helpcenter.article_published": _("Help article published"),
    "helpcenter.article_unpublished": _("Help article unpublished"),
}


def action_label(code: str) -> str:
    """The action in the active language; the code itself when it has no label."""
    label = ACTION_LABELS.get(code)
    return str(label) if label is not None else code
