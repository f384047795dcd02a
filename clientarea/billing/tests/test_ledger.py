"""The customer's account: invariants for any sequence of movements (hypothesis), and real
concurrency on PostgreSQL (two payments reaching for the same credit)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from clientarea.billing import credit_notes, debit_notes, ledger, selectors, services
from clientarea.billing.models import LedgerEntry, LedgerKind, Order, OrderState
from clientarea.einvoice.models import Invoice
from clientarea.einvoice.services import NoteRefused
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.lib.money import ZERO
from clientarea.payments.services import ManualPaymentDetails, register_manual_payment
from clientarea.test import make_customer, make_provider, make_staff

AMOUNTS = st.decimals(min_value=Decimal("1"), max_value=Decimal("300000"), places=2)

# One step of a customer's life: (operation, amount, which order).
STEPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "order",
                "partial",
                "payment",
                "several",
                "credit",
                "apply",
                "cancel",
                "refund",
                "order_refund",
                "debit_note",
                "credit_note",
            ]
        ),
        AMOUNTS,
        st.integers(min_value=0, max_value=20),
    ),
    min_size=1,
    max_size=14,
)


def check_invariants(customer) -> None:
    entries = list(LedgerEntry.objects.filter(customer=customer))
    account = selectors.account_summary(customer)
    total = sum((e.amount for e in entries), ZERO)
    validating = set(
        Order.objects.filter(customer=customer, state=OrderState.VALIDATING).values_list(
            "pk", flat=True
        )
    )
    held = sum((e.amount for e in entries if e.order_id in validating), ZERO)
    # The balance is the sum of the movements (but the charge of a debit note DIAN has not
    # validated yet), and is what is due minus the credit.
    assert account.balance == total - held
    assert account.balance == account.due - account.credit
    # Credit never goes negative.
    unassigned = sum((e.amount for e in entries if e.order_id is None), ZERO)
    assert unassigned <= 0
    assert account.credit == -unassigned
    for order in Order.objects.filter(customer=customer):
        own = [e for e in entries if e.order_id == order.pk]
        due = sum((e.amount for e in own), ZERO)
        paid = -sum(
            (e.amount for e in own if e.kind in (LedgerKind.PAYMENT, LedgerKind.CREDIT_APPLIED)),
            ZERO,
        )
        # No order is paid beyond its total; a paid or cancelled order owes nothing.
        assert paid <= order.total
        if order.state == OrderState.PENDING:
            assert ZERO < due <= order.total
        elif order.state == OrderState.VALIDATING:
            assert due == order.total  # nothing collected on it, not even credit
        else:
            assert due == ZERO
        if order.state == OrderState.PAID:
            assert paid == order.total
        if order.debit_note_id:
            # A debit note is owed for its total with IVA, once; paying it issues no invoice.
            charges = [e.amount for e in own if e.kind == LedgerKind.DEBIT_NOTE]
            assert order.debit_note is not None
            assert charges == [order.total] and order.debit_note.total == order.total
            assert not Invoice.objects.filter(order=order).exists()


class LedgerPropertyTests(HypothesisTestCase):
    @hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(steps=STEPS, auto_apply=st.booleans())
    def test_any_sequence_of_movements_keeps_the_account_consistent(self, steps, auto_apply):
        make_provider()
        staff = make_staff("carol@example.com")
        customer = make_customer("alice@example.com")
        make_resolution()  # paid orders get an invoice, which a debit note can correct
        with self.settings(BILLING_AUTO_APPLY_CREDIT=auto_apply):
            for n, (operation, amount, pick) in enumerate(steps):
                pending = list(
                    Order.objects.filter(customer=customer, state=OrderState.PENDING).order_by("pk")
                )
                target = pending[pick % len(pending)] if pending else None
                due = selectors.order_balance_due(target) if target else ZERO
                if operation == "order" or target is None:
                    services.create_manual_order(
                        customer=customer, description=f"Item {n}", unit_price=amount, notify=False
                    )
                elif operation == "partial":
                    if amount > due:
                        with pytest.raises(services.OrderStateError):
                            register_manual_payment(
                                details=ManualPaymentDetails(
                                    order=target, reference=f"T{n}", amount=amount
                                ),
                                actor=staff,
                            )
                    else:
                        register_manual_payment(
                            details=ManualPaymentDetails(
                                order=target, reference=f"T{n}", amount=amount
                            ),
                            actor=staff,
                        )
                elif operation == "payment":
                    ledger.record_payment(
                        customer_id=customer.pk,
                        amount=amount,
                        allocations=[ledger.Allocation(order_id=target.pk)],
                        reference=f"P{n}",
                        via="payu",
                    )
                elif operation == "several":
                    ledger.record_payment(
                        customer_id=customer.pk,
                        amount=amount,
                        allocations=[ledger.Allocation(order_id=o.pk) for o in pending],
                        reference=f"S{n}",
                        via="payvalida",
                    )
                elif operation == "credit":
                    ledger.record_payment(
                        customer_id=customer.pk, amount=amount, reference=f"C{n}", via="payu"
                    )
                elif operation == "apply":
                    ledger.apply_credit(customer_id=customer.pk, order_ids=[target.pk])
                elif operation == "cancel" and target.debit_note_id:
                    with pytest.raises(services.OrderStateError):
                        services.cancel_order(order=target, reason="test", notify=False)
                elif operation == "cancel":
                    services.cancel_order(order=target, reason="test", notify=False)
                elif operation == "debit_note":
                    invoice = (
                        Invoice.objects.filter(kind="invoice", customer=customer)
                        .order_by("pk")
                        .last()
                    )
                    if invoice is not None:
                        # DIAN accepted it (the store-only transmitter's state, without rendering).
                        Invoice.objects.filter(pk=invoice.pk).update(
                            status="issued", transmitted_at=timezone.now()
                        )
                        invoice.refresh_from_db()
                        owed_before = selectors.account_summary(customer).balance
                        note, order = debit_notes.issue_debit_note(
                            invoice=invoice, concept="1", reason="Mora", amount=amount
                        )
                        # Not owed until DIAN validates the note (here: stored only).
                        assert order.state == OrderState.VALIDATING
                        assert selectors.account_summary(customer).balance == owed_before
                        check_invariants(customer)
                        Invoice.objects.filter(pk=note.pk).update(transmitted_at=timezone.now())
                        note.refresh_from_db()
                        debit_notes.follow_note_state(note)
                        order.refresh_from_db()
                        owed_after = selectors.account_summary(customer).balance
                        assert owed_after == owed_before + note.total
                        event(f"debit note {order.state}")
                elif operation == "credit_note":
                    # A staff credit note on a paid order's invoice: its total with IVA becomes
                    # credit (the order stays settled), or it is refused and nothing moves.
                    invoice = (
                        Invoice.objects.filter(kind="invoice", customer=customer)
                        .order_by("pk")
                        .last()
                    )
                    if invoice is not None:
                        Invoice.objects.filter(pk=invoice.pk).update(
                            status="issued", transmitted_at=timezone.now()
                        )
                        invoice.refresh_from_db()
                        before = selectors.account_summary(customer).balance
                        try:
                            note, _entry = credit_notes.issue_credit_note(
                                invoice=invoice, concept="4", reason="Ajuste", amount=amount
                            )
                        except NoteRefused:
                            assert selectors.account_summary(customer).balance == before
                            event("credit note refused")
                        else:
                            after = selectors.account_summary(customer).balance
                            assert after == before - note.total
                            event("credit note credited")
                elif operation == "order_refund":
                    # Money that paid an order goes back (its credit note and the refund): the
                    # order stays settled and the balance does not move.
                    paid = list(
                        Order.objects.filter(customer=customer, state=OrderState.PAID).order_by(
                            "pk"
                        )
                    )
                    if paid:
                        order = paid[pick % len(paid)]
                        before = selectors.account_summary(customer).balance
                        ledger.record_order_refund(
                            order=order,
                            amount=min(amount, order.total),
                            reference=f"RF{n}",
                            note=f"NC{n}",
                        )
                        assert selectors.account_summary(customer).balance == before
                else:
                    credit = selectors.credit_available(customer)
                    if amount > credit:
                        with pytest.raises(ledger.LedgerError):
                            ledger.refund_credit(
                                customer_id=customer.pk, amount=amount, reference="R", actor=staff
                            )
                    else:
                        ledger.refund_credit(
                            customer_id=customer.pk, amount=amount, reference="R", actor=staff
                        )
                check_invariants(customer)


def test_a_negative_or_zero_payment_is_refused_and_writes_nothing(db):
    make_provider()
    customer = make_customer("alice@example.com")
    for amount in (Decimal("0"), Decimal("-10")):
        # record_payment holds no savepoint of its own: a caller that goes on after a refusal
        # holds one (a refusal marks the caller's transaction for rollback).
        with pytest.raises(ledger.LedgerError), transaction.atomic():
            ledger.record_payment(customer_id=customer.pk, amount=amount, reference="x", via="payu")
    assert not LedgerEntry.objects.exists()


@pytest.mark.parametrize(
    ("short_of_due", "taken_short", "left_credit"),
    [
        # A downgrade's credit has cents (exact, as its credit note): an order it covers in part
        # keeps a balance in whole pesos, which cash networks and Payvalida take; the cents stay.
        ("3000.80", "3001", "0.20"),
        ("0.80", "1", "0.20"),
        # Covering the order in full, cents and all.
        ("-5000.20", "0", "5000.20"),
    ],
)
def test_credit_with_cents_leaves_a_balance_in_whole_pesos(
    db, settings, short_of_due, taken_short, left_credit
):
    settings.BILLING_AUTO_APPLY_CREDIT = False  # applied below, by hand
    make_provider()
    customer = make_customer("alice@example.com")
    order = services.create_manual_order(
        customer=customer, description="Hosting", unit_price=Decimal("45990"), notify=False
    )
    due = selectors.order_balance_due(order)
    assert due == due.to_integral_value()  # orders are whole pesos (see the rounding line)
    credit = due - Decimal(short_of_due)
    ledger.post_plan_change_credit(customer_id=customer.pk, amount=credit, memo="downgrade")
    posting = ledger.apply_credit(customer_id=customer.pk)
    taken = due - Decimal(taken_short)
    assert posting.credit_applied == taken
    order.refresh_from_db()
    assert selectors.order_balance_due(order) == due - taken
    assert selectors.account_summary(customer).credit == Decimal(left_credit)
    assert (order.state == OrderState.PAID) == (taken == due)
    check_invariants(customer)


def test_less_than_a_peso_of_credit_leaves_a_whole_peso_order_alone(db, settings):
    settings.BILLING_AUTO_APPLY_CREDIT = False
    make_provider()
    customer = make_customer("alice@example.com")
    order = services.create_manual_order(
        customer=customer, description="Hosting", unit_price=Decimal("45990"), notify=False
    )
    due = selectors.order_balance_due(order)
    ledger.post_plan_change_credit(customer_id=customer.pk, amount=Decimal("0.20"), memo="x")
    assert ledger.apply_credit(customer_id=customer.pk).credit_applied == ZERO
    assert selectors.order_balance_due(order) == due
    assert selectors.account_summary(customer).credit == Decimal("0.20")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_payments_applying_the_same_credit_at_once_never_overdraw_it(settings):
    """Two orders, credit for one: both try to use it at the same moment; one gets it."""
    settings.BILLING_AUTO_APPLY_CREDIT = False
    make_provider()
    customer = make_customer("race@example.com")
    orders = [
        services.create_manual_order(
            customer=customer, description=f"Item {n}", unit_price=Decimal("100000"), notify=False
        )
        for n in range(2)
    ]
    ledger.record_payment(
        customer_id=customer.pk, amount=Decimal("119000"), reference="dup", via="payu"
    )
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker(order: Order) -> None:
        try:
            barrier.wait(timeout=10)
            ledger.apply_credit(customer_id=customer.pk, order_ids=[order.pk])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(o,)) for o in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    states = sorted(
        Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("state", flat=True)
    )
    assert states == ["paid", "pending"]
    assert selectors.credit_available(customer) == ZERO
    check_invariants(customer)
