"""How invoices reach DIAN. Pluggable by ``settings.EINVOICE_TRANSMITTER``.

The default stores invoices only (the provider uploads them or uses a
certified provider). A DIAN web-service transmitter (SendBillSync over
WS-Security, then GetStatus) implements the same interface: it returns
``sent`` with ``retryable=True`` on HTTP 500/503/507 so the worker retries
(DIAN's contingency rule: two more tries 20 s apart, then contingency type 4),
``accepted`` or ``rejected`` from DIAN's ApplicationResponse.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from clientarea.einvoice.models import InvoiceStatus


@dataclass(frozen=True)
class TransmissionResult:
    status: str
    message: str = ""
    retryable: bool = False


class Transmitter(ABC):
    @abstractmethod
    def transmit(self, invoice) -> TransmissionResult:
        """Deliver one issued, rendered invoice; never raise for a DIAN answer, return it."""


class StoreOnlyTransmitter(Transmitter):
    """Keeps the signed invoice in the database; nothing is sent to DIAN."""

    def transmit(self, invoice) -> TransmissionResult:
        return TransmissionResult(
            status=InvoiceStatus.ISSUED, message="stored only (no DIAN transmitter configured)"
        )
