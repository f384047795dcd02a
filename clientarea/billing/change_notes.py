"""A downgrade's credit for money already invoiced: a DIAN credit note on the invoice that paid
the service's period, and the ledger's record of it (``billing.planchanges`` calls
:func:`credit_downgrade` when a downgrade, of plan or of options, applies now).

* The credit (IVA included) is split over the paid orders that billed the service's days after
  today (the current period, a renewal paid early, an upgrade), newest period first, never more
  than each charged for the service (its lines' totals, after discounts) less earlier downgrade
  credits on it: never credit beyond what was paid. A service no paid order billed (recorded by
  staff by hand) gets plain account credit, as before.
* Each share becomes one ``PlanChangeCreditNote`` and, on that order's invoice, a credit note
  with DIAN concept 1 (partial non-acceptance of the service), sized with IVA like refund notes
  (``einvoice.services.issue_refund_credit_note``). The ledger records the note (−) and moves
  its amount to the customer's credit (``ledger.post_plan_change_credit_note``).
* DIAN's rules may not allow the note yet (the invoice is not accepted, or waits for a
  numbering resolution): the credit is given anyway, the row keeps why, and the billing sweep
  (:func:`retry_change_notes`, every 5 minutes) issues it later.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Sum
from django.utils import translation
from django.utils.translation import gettext as _

from clientarea.accounts.models import User
from clientarea.billing import ledger, selectors
from clientarea.billing.models import ItemKind, Order, OrderItem, OrderState, PlanChangeCreditNote
from clientarea.einvoice.services import NoteRefused, issue_refund_credit_note
from clientarea.lib.dates import local_today
from clientarea.lib.money import ZERO, quantize
from clientarea.subscriptions import services as subscription_services
from clientarea.subscriptions.models import PlanChange, PlanChangeKind, Service

logger = logging.getLogger(__name__)


def change_memo(*, service: Service, change: PlanChange) -> str:
    """How the change reads on the account's movements and on its credit note (the site's
    language: stored texts and DIAN documents are in Spanish)."""
    with translation.override(settings.LANGUAGE_CODE):
        if change.kind == PlanChangeKind.OPTIONS:
            text = _("Options change: %(changes)s") % {
                "changes": subscription_services.options_diff_text(
                    change.from_options, change.to_options
                )
            }
        elif change.cycle_only:
            text = _("Billing cycle change: %(plan)s, %(old)s → %(new)s") % {
                "plan": change.to_product,
                "old": change.get_from_cycle_display(),
                "new": change.get_to_cycle_display(),
            }
        else:
            text = _("Plan change: %(old)s → %(new)s") % {
                "old": change.from_product,
                "new": change.to_product,
            }
    text = f"{text} · {service.label}" if service.label else text
    return text[:300]


def _paid_periods(service: Service, *, today: dt.date) -> list[tuple[Order, Decimal]]:
    """The paid orders that billed this service for days after today (its current period, a
    renewal paid early, an upgrade), newest period first, each with what is left of what it
    charged for the service (IVA included, less earlier downgrade credits on it)."""
    rows = (
        OrderItem.objects.filter(
            service=service, order__state=OrderState.PAID, period_end__gt=today
        )
        .exclude(kind=ItemKind.SETUP_FEE)
        .values("order_id")
        .annotate(paid=Sum("total"), end=Max("period_end"))
        .order_by("-end", "-order_id")
    )
    ids = [row["order_id"] for row in rows]
    orders = Order.objects.in_bulk(ids)
    credited = dict(
        PlanChangeCreditNote.objects.filter(order_id__in=ids, plan_change__service=service)
        .values("order_id")
        .annotate(total=Sum("amount"))
        .values_list("order_id", "total")
    )
    return [
        (orders[row["order_id"]], max(row["paid"] - credited.get(row["order_id"], ZERO), ZERO))
        for row in rows
    ]


def credit_downgrade(
    *,
    service: Service,
    change: PlanChange,
    amount: Decimal,
    memo: str,
    actor: User | None = None,
    today: dt.date | None = None,
) -> Decimal:
    """A downgrade applied now: its credit (IVA included) for money already invoiced gets a
    DIAN credit note (concept 1) on the invoice of each paid order that billed the period,
    newest first, never more than that order charged for the service (less earlier downgrade
    credits on it), and the ledger records each note and moves its amount to the customer's
    credit. A service no paid order billed (one staff recorded by hand) gets plain credit, as
    before. In the caller's transaction, under the customer's lock. ``change.amount`` (the
    notes' total) is lowered when what was paid caps it. Returns the credit given: the notes'
    total, less what a withholding agent withheld on the credited parts (it recovers that from
    DIAN, ``ledger.withholding_reversal``)."""
    today = today or local_today()
    wanted = quantize(amount)
    if wanted <= 0:
        return ZERO
    periods = _paid_periods(service, today=today)
    if not periods:  # never invoiced: plain credit (it applies credit to pending orders itself)
        ledger.post_plan_change_credit(
            customer_id=service.customer_id, amount=wanted, memo=memo, actor=actor
        )
        return wanted
    given = ZERO
    credited = ZERO  # what reached the customer's credit (less an agent's withholdings)
    for order, paid in periods:
        share = min(wanted - given, paid)
        if share <= 0:
            continue
        # What a withholding agent withheld on this part is not credited: it recovers it from
        # DIAN (``ledger.withholding_reversal``); read before the note is posted.
        credited += share - ledger.withholding_reversal(order=order, amount=share)
        row = PlanChangeCreditNote.objects.create(plan_change=change, order=order, amount=share)
        issue_change_note(row=row, memo=memo, actor=actor)
        row.entry = ledger.post_plan_change_credit_note(
            order=order,
            amount=share,
            note=(row.credit_note.full_number or "") if row.credit_note else "",
            memo=memo,
            actor=actor,
        )
        row.save(update_fields=["entry"])
        given += share
        if given >= wanted:
            break
    if given != wanted:
        PlanChange.objects.filter(pk=change.pk).update(amount=given)
        change.amount = given
    if given > 0 and settings.BILLING_AUTO_APPLY_CREDIT:
        ledger.apply_credit(customer_id=service.customer_id, actor=actor)
    return credited


def issue_change_note(*, row: PlanChangeCreditNote, memo: str, actor: User | None = None) -> bool:
    """The credit note of one downgrade credit, on the invoice of the order it credits: DIAN
    concept 1 (partial non-acceptance of the service: the customer gives up the rest of the
    period of what was invoiced), for the amount IVA included, sized as refund notes are. A
    refusal (the invoice is not accepted by DIAN yet, or has none yet) is kept on the row for
    the sweep and never undoes the credit. Returns whether the note was issued."""
    invoice = selectors.order_invoice(row.order)
    if invoice is None:
        row.note_error = _("The order has no electronic invoice yet.")[:300]
        row.save(update_fields=["note_error"])
        return False
    try:
        with translation.override(settings.LANGUAGE_CODE):
            reason = _("Credit for the unused days: %(memo)s") % {"memo": memo}
        row.credit_note = issue_refund_credit_note(
            invoice=invoice,
            amount=row.amount,
            whole=False,
            reason=reason[:500],
            actor=actor,
        )
        row.note_error = ""
    except NoteRefused as exc:
        row.note_error = str(exc)[:300]
        logger.warning("plan change %s: credit note not issued yet: %s", row.plan_change_id, exc)
    row.save(update_fields=["credit_note", "note_error"])
    return row.credit_note_id is not None


def retry_change_notes(*, limit: int = 100) -> int:
    """The billing sweep: credit notes of downgrades that DIAN's rules did not allow when the
    credit was given (the invoice was not accepted yet). One transaction each."""
    done = 0
    for pk in list(
        PlanChangeCreditNote.objects.filter(credit_note__isnull=True).values_list("pk", flat=True)[
            :limit
        ]
    ):
        with transaction.atomic():
            row = (
                PlanChangeCreditNote.objects.select_for_update()
                .select_related("order", "plan_change__service")
                .filter(pk=pk, credit_note__isnull=True)
                .first()
            )
            if row is None:
                continue
            memo = change_memo(service=row.plan_change.service, change=row.plan_change)
            if issue_change_note(row=row, memo=memo):
                done += 1
    return done
