"""What the back office's "Issue credit note" and "Issue debit note" share (``admin_credit_notes``,
``admin_debit_notes``): both act on an order's invoice DIAN accepted, and need "change invoice"."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from clientarea.billing import selectors
from clientarea.billing.models import Order
from clientarea.einvoice.models import Invoice
from clientarea.lib.admin import ObjectActionsAdminMixin


def accepted_invoice(
    admin: ObjectActionsAdminMixin[Order], request: HttpRequest, order: Order, *, refused: str
) -> Invoice | None:
    """The invoice of ``order`` DIAN accepted, for a note on it; None when there is none, after
    telling staff ``refused`` (formatted with the order's ``number``). 403 without "change
    invoice"."""
    if not request.user.has_perm("einvoice.change_invoice"):
        raise PermissionDenied
    invoice = selectors.order_invoice(order)
    if invoice is None or not invoice.is_validated:
        admin.message_user(request, refused % {"number": order.number}, messages.ERROR)
        return None
    return invoice
