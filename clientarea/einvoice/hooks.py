"""What billing calls inside the paid transaction. Wired to the invoice issuer once it exists."""

from __future__ import annotations


def on_order_paid(*, order) -> None:
    """Allocate the electronic invoice for a paid order (number, CUFE, issue time = payment time)."""
    from clientarea.einvoice import services

    issue = getattr(services, "allocate_invoice_for_order", None)
    if issue is not None:
        issue(order=order)
