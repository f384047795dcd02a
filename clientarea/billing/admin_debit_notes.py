"""Back office: "Issue debit note", the one entry point for staff.

The button sits on the electronic invoice's page (``einvoice`` admin) and leads here, to an action
of the invoice's order: the debit note must also become owed on the customer's account, which only
billing can write (``billing.debit_notes.issue_debit_note``). Needs "change order" (acting on
orders) and "change invoice" (issuing notes, as for credit notes).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext

from clientarea.billing import debit_notes
from clientarea.billing.admin_notes import accepted_invoice
from clientarea.billing.models import Order
from clientarea.einvoice import builder
from clientarea.einvoice.forms import NoteForm
from clientarea.einvoice.models import DocumentKind
from clientarea.einvoice.selectors import invoice_balance
from clientarea.einvoice.services import NoteRefused
from clientarea.lib.admin import ObjectActionsAdminMixin
from clientarea.lib.money import format_cop


class OrderDebitNoteMixin(ObjectActionsAdminMixin[Order]):
    """Mixed into the order admin (before ``admin.ModelAdmin``); its ``object_actions`` list
    ``("debit-note", "debit_note_view")``."""

    def debit_note_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self.get_object_or_404_for_action(request, object_id)
        invoice = accepted_invoice(
            self,
            request,
            order,
            refused=gettext(
                "Order %(number)s has no invoice accepted by DIAN: a debit note can only be "
                "issued on one."
            ),
        )
        if invoice is None:
            return HttpResponseRedirect(self.change_url(order))
        invoice_url = reverse("admin:einvoice_invoice_change", args=[invoice.pk])
        lines = builder.document_from_json(invoice.document).lines
        form = NoteForm(request.POST or None, kind=DocumentKind.DEBIT_NOTE, lines=lines)
        if request.method == "POST" and form.is_valid():
            try:
                note, owed = debit_notes.issue_debit_note(
                    invoice=invoice,
                    concept=form.cleaned_data["concept"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                    **form.note_arguments(),
                )
            except NoteRefused as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    gettext(
                        "Debit note %(number)s issued for %(total)s and owed on the customer's "
                        "account (%(state)s); it is being sent to DIAN and is emailed to the "
                        "customer, with a link to pay it, once DIAN accepts it."
                    )
                    % {
                        "number": note.full_number,
                        "total": format_cop(note.total, decimals=True),
                        "state": owed.get_state_display().lower(),
                    },
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(invoice_url)
        return self.render_action_form(
            request,
            title=gettext("Issue debit note on %(n)s") % {"n": invoice.full_number},
            objects=[order],
            form=form,
            submit=gettext("Issue the debit note"),
            intro=gettext(
                "The note's total (IVA included) becomes owed on the customer's account: the "
                "customer sees it on Billing and pays it online like an order. What is left of "
                "invoice %(number)s: %(left)s (IVA included)."
            )
            % {
                "number": invoice.full_number,
                "left": format_cop(invoice_balance(invoice), decimals=True),
            },
        )
