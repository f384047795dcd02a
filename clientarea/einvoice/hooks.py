"""What billing calls inside the paid transaction."""

from __future__ import annotations


def on_order_paid(*, order) -> None:
    """Allocate the electronic invoice: number, CUFE and issue time (= payment time), same transaction."""
    from clientarea.einvoice.services import allocate_invoice_for_order

    allocate_invoice_for_order(order=order)
