"""How invoices reach DIAN. Pluggable by ``settings.EINVOICE_TRANSMITTER``.

The default stores invoices only (the provider uploads them or uses a
certified provider). ``clientarea.einvoice.dian.transmitter.DianTransmitter``
sends them to DIAN's web service (SendBillSync) and returns ``accepted`` (with
DIAN's ApplicationResponse and any notifications), ``rejected`` (with DIAN's
rule messages), or ``sent`` with ``retryable=True`` when DIAN did not answer
or answered 5xx, so the worker retries (DIAN's contingency rule: two more
tries 20 s apart, then contingency type 4).
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clientarea.einvoice import attempt_texts
from clientarea.einvoice.documents import InvoiceDocument
from clientarea.einvoice.models import InvoiceStatus


@dataclass(frozen=True)
class RawExchange:
    """One request sent to DIAN and its answer, byte for byte, for the record.

    The request carries the issuer's certificate, never its private key.
    """

    operation: str
    url: str
    request: bytes
    response: bytes
    http_status: int | None
    sent_at: dt.datetime


@dataclass(frozen=True)
class TransmissionResult:
    status: str
    message: str = ""
    retryable: bool = False
    #: Our own words about it as a code and its values (``attempt_texts``), shown in the reader's
    #: language; ``message`` is then their English sentence. Empty: ``message`` is DIAN's answer.
    message_code: str = ""
    message_values: Mapping[str, Any] = field(default_factory=dict)
    #: The client's or the transport's own text about a failure (English, for whoever debugs
    #: it): shown to staff as the technical detail, apart from our words.
    detail: str = ""
    #: The CUFE/CUDE as DIAN returned it (its trackId).
    document_key: str = ""
    #: DIAN's ApplicationResponse XML for an accepted document (it goes into the AttachedDocument).
    application_response: bytes = b""
    #: DIAN's messages as it wrote them ("Regla: FAJ44b, Notificación: …").
    notifications: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    #: Every request and answer of this transmission, in order.
    exchanges: tuple[RawExchange, ...] = ()


class Transmitter(ABC):
    #: An accepted answer carries DIAN's ApplicationResponse, which goes into the signed
    #: AttachedDocument: rendering then keeps an unsigned container, and the signed one is
    #: built once, with the answer (``delivery.transmit_invoice``).
    answers_with_application_response = False
    #: A person waits for this transmission in a web request (staff's "Email the document again"
    #: on a document never sent): a transmitter that waits for a remote answer keeps that wait
    #: short (``DIAN_WS_INTERACTIVE_TIMEOUT``). Set by ``delivery.transmit_invoice``.
    interactive = False

    @abstractmethod
    def transmit(self, invoice) -> TransmissionResult:
        """Deliver one issued, rendered invoice; never raise for a DIAN answer, return it."""

    def transmit_document(self, invoice, doc: InvoiceDocument) -> TransmissionResult:
        """:meth:`transmit`, given the invoice's document as the caller already built it
        (``builder.document_from_json(invoice.document)``: the worker builds it once per invoice).
        By default the document is not needed, and this is :meth:`transmit`."""
        return self.transmit(invoice)


class StoreOnlyTransmitter(Transmitter):
    """Keeps the signed invoice in the database; nothing is sent to DIAN."""

    def transmit(self, invoice) -> TransmissionResult:
        return TransmissionResult(
            status=InvoiceStatus.ISSUED,
            message=attempt_texts.english("stored_only", {}),
            message_code="stored_only",
        )
