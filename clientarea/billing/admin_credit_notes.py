"""Back office: "Issue credit note", the one entry point for staff.

The button sits on the electronic invoice's page (``einvoice`` admin) and leads here, to an action
of the invoice's order: the invoice was paid, so the note's total is owed back to the customer and
becomes their credit, which only billing can write (``billing.credit_notes.issue_credit_note``).
Needs "change order" (acting on orders) and "change invoice" (issuing notes), as debit notes.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext

from clientarea.billing import credit_notes, selectors
from clientarea.billing.admin_notes import accepted_invoice
from clientarea.billing.forms import StaffCreditNoteForm
from clientarea.billing.models import Order
from clientarea.einvoice import builder
from clientarea.einvoice.selectors import invoice_balance
from clientarea.einvoice.services import NoteRefused
from clientarea.lib.admin import ObjectActionsAdminMixin
from clientarea.lib.money import ZERO, format_cop


class OrderCreditNoteMixin(ObjectActionsAdminMixin[Order]):
    """Mixed into the order admin (before ``admin.ModelAdmin``); its ``object_actions`` list
    ``("credit-note", "credit_note_view")``."""

    def credit_note_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self.get_object_or_404_for_action(request, object_id)
        invoice = accepted_invoice(
            self,
            request,
            order,
            refused=gettext(
                "Order %(number)s has no invoice accepted by DIAN: a credit note can only be "
                "issued on one."
            ),
        )
        if invoice is None:
            return HttpResponseRedirect(self.change_url(order))
        invoice_url = reverse("admin:einvoice_invoice_change", args=[invoice.pk])
        lines = builder.document_from_json(invoice.document).lines
        form = StaffCreditNoteForm(request.POST or None, lines=lines)
        if request.method == "POST" and form.is_valid():
            try:
                note, entry = credit_notes.issue_credit_note(
                    invoice=invoice,
                    concept=form.cleaned_data["concept"],
                    reason=form.cleaned_data["reason"],
                    destination=form.cleaned_data["destination"],
                    actor=request.user,
                    **form.note_arguments(),
                )
            except NoteRefused as exc:
                form.add_error(None, str(exc))
            else:
                values = {
                    "number": note.full_number,
                    "total": format_cop(note.total, decimals=True),
                }
                withheld = (
                    selectors.withholdings_reversed_by_note(
                        order=order, note_number=note.full_number or ""
                    )
                    if entry is not None
                    else ZERO
                )
                if withheld > 0:
                    values["credit"] = format_cop(note.total - withheld, decimals=True)
                    values["withheld"] = format_cop(withheld, decimals=True)
                    text = gettext(
                        "Credit note %(number)s issued for %(total)s; %(credit)s was added to the "
                        "customer's credit: the note less the %(withheld)s the customer withheld "
                        "on the credited part, which it recovers from DIAN. It is being sent to "
                        "DIAN and is emailed to the customer once DIAN accepts it."
                    )
                elif entry is not None:
                    text = gettext(
                        "Credit note %(number)s issued for %(total)s and added to the customer's "
                        "credit; it is being sent to DIAN and is emailed to the customer once DIAN "
                        "accepts it."
                    )
                else:
                    text = gettext(
                        "Credit note %(number)s issued for %(total)s; nothing was added to the "
                        "customer's account. It is being sent to DIAN and is emailed to the "
                        "customer once DIAN accepts it."
                    )
                self.message_user(request, text % values, messages.SUCCESS)
                return HttpResponseRedirect(invoice_url)
        return self.render_action_form(
            request,
            title=gettext("Issue credit note on %(n)s") % {"n": invoice.full_number},
            objects=[order],
            form=form,
            submit=gettext("Issue the credit note"),
            intro=gettext(
                "What is left of invoice %(number)s: %(left)s (IVA included). A credit note can "
                "never exceed it. The order was paid, so the note's total (IVA included) is owed "
                "back to the customer: say below what happens to it."
            )
            % {
                "number": invoice.full_number,
                "left": format_cop(invoice_balance(invoice), decimals=True),
            },
        )
