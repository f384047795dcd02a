"""Back office for credit and debit notes: issuing them from an invoice, and their own list.

The invoice page gets the button "Invoice again with corrected buyer data" (a form that calls one
service; the order stays paid, nothing is owed back) and lists the invoice's notes with their DIAN
state. Its "Issue credit note" and "Issue debit note" buttons lead to the invoice's order in the
billing admin (``billing.admin_credit_notes``, ``billing.admin_debit_notes``): a credit note's
total is owed back to the customer as credit and a debit note's is owed by them, on the
customer's account, which only billing writes. The notes list (``Note``, the same rows as invoices) has the invoice list's DIAN
columns, filters, downloads and actions (send to DIAN again, email again).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from clientarea.einvoice import selectors, services
from clientarea.einvoice.forms import ReissueForm
from clientarea.einvoice.models import Invoice
from clientarea.lib.admin import ObjectActionsAdminMixin
from clientarea.lib.money import format_cop


class InvoiceNotesMixin(ObjectActionsAdminMixin[Invoice]):
    """Mixed into the invoice admin (before ``admin.ModelAdmin``)."""

    object_actions = [("reissue", "reissue_view")]

    @admin.display(description=_("credit and debit notes"))
    def notes_list(self, obj):
        notes = list(selectors.invoice_notes(obj))
        if not notes:
            return "—"
        return format_html_join(
            "",
            '<p><a href="{}">{}</a> · {} · {} · {} · {}</p>',
            (
                (
                    reverse("admin:einvoice_note_change", args=[note.pk]),
                    note.full_number,
                    note.get_kind_display(),
                    note.concept_label,
                    format_cop(note.total, decimals=True),
                    note.dian_state,
                )
                for note in notes
            ),
        )

    @admin.display(description=_("what is left of the invoice"))
    def balance(self, obj):
        if not obj.is_issued or obj.is_note:
            return "—"
        return format_cop(selectors.invoice_balance(obj), decimals=True)

    def reissue_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        invoice = self.get_object_or_404_for_action(request, object_id)
        form = ReissueForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                new = services.reissue_with_corrected_buyer(
                    invoice=invoice, reason=form.cleaned_data["reason"], actor=request.user
                )
            except services.NoteRefused as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    gettext(
                        "Invoice %(old)s was cancelled with a credit note; the order's new invoice "
                        "is %(new)s."
                    )
                    % {
                        "old": invoice.full_number,
                        "new": new.full_number or new.get_status_display(),
                    },
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(self.change_url(new))
        return self.render_action_form(
            request,
            title=gettext("Invoice %(n)s again with corrected buyer data")
            % {"n": invoice.full_number},
            objects=[invoice],
            form=form,
            submit=gettext("Cancel it and invoice again"),
            intro=gettext(
                "A credit note cancels the whole invoice (DIAN concept 2) and a new invoice is issued "
                "for the same order with the customer's current data. The order stays paid."
            ),
        )


def note_reference(obj: Invoice):
    if obj.reference_id is None:
        return "—"
    return format_html(
        '<a href="{}">{}</a>',
        reverse("admin:einvoice_invoice_change", args=[obj.reference_id]),
        obj.reference,
    )
