"""``EINVOICE_TRANSMITTER = "clientarea.einvoice.dian.transmitter.DianTransmitter"``: invoices to DIAN.

Sends the signed invoice with SendBillSync and turns DIAN's answer into a
:class:`~clientarea.einvoice.transmission.TransmissionResult`; it writes nothing (the caller
records the attempt). DIAN's rules it applies (``dian-webservice.md`` §2.3–§2.6):

- ``00`` → accepted, with DIAN's ApplicationResponse and notifications;
- rule 90 alone ("Documento procesado anteriormente.") → accepted: DIAN sends the original
  outcome again, so a resend after a lost answer is harmless; when that answer carries no
  ApplicationResponse it is fetched with GetStatus;
- ``99`` → rejected, with DIAN's rule messages (fix and resend with the same number);
- a timeout leaves the outcome unknown: GetStatus(CUFE) is asked at once, and an accepted
  status is taken; otherwise, like no answer, HTTP 5xx, DIAN's ``500``/``98`` or an answer that
  is not DIAN's protocol → ``sent``, retryable (the worker retries; contingency after DIAN's
  retry rule is the caller's);
- a SOAP fault for the request (certificate, authorization) and request-level codes
  (``66``, ``89``) → rejected, not retryable: sending the same again cannot succeed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from clientarea.einvoice import attempt_texts, builder, signing
from clientarea.einvoice.dian import files
from clientarea.einvoice.dian.client import (
    HABILITACION_URL,
    PRODUCTION_URL,
    DianClient,
    DianError,
    DianFault,
    DianHttpError,
    DianTimeout,
    Exchange,
)
from clientarea.einvoice.dian.responses import SERVER_ERROR, DianResponse
from clientarea.einvoice.documents import InvoiceDocument
from clientarea.einvoice.models import InvoiceStatus
from clientarea.einvoice.transmission import RawExchange, TransmissionResult, Transmitter

logger = logging.getLogger(__name__)

ENVIRONMENTS = {"habilitacion": HABILITACION_URL, "production": PRODUCTION_URL}


def endpoint_url() -> str:
    """``DIAN_WS_URL``, or by default the simulator (``DIAN_SANDBOX``) or DIAN's URL."""
    if settings.DIAN_WS_URL:
        return settings.DIAN_WS_URL
    if settings.DIAN_SANDBOX:
        return settings.SITE_URL + settings.DIAN_SANDBOX_PATH
    try:
        return ENVIRONMENTS[settings.EINVOICE_ENVIRONMENT]
    except KeyError:
        raise ImproperlyConfigured(
            f"EINVOICE_ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}, "
            f"not {settings.EINVOICE_ENVIRONMENT!r}"
        ) from None


def client_from_settings(*, interactive: bool = False) -> DianClient:
    """A client for the configured endpoint, signing with ``EINVOICE_CERT_PATH``.

    ``interactive``: a person waits for the answer in a web request, so each read is bounded by
    ``DIAN_WS_INTERACTIVE_TIMEOUT`` (and opening the connection by no more than that) instead
    of ``DIAN_WS_TIMEOUT``, which is for the worker and the commands."""
    key, certificate = signing.load_pkcs12(
        settings.EINVOICE_CERT_PATH, settings.EINVOICE_CERT_PASSWORD
    )
    timeout = settings.DIAN_WS_TIMEOUT
    connect_timeout = settings.DIAN_WS_CONNECT_TIMEOUT
    if interactive:
        timeout = settings.DIAN_WS_INTERACTIVE_TIMEOUT
        connect_timeout = min(connect_timeout, timeout)
    return DianClient(
        url=endpoint_url(),
        key=key,
        certificate=certificate,
        timeout=timeout,
        connect_timeout=connect_timeout,
    )


def _raw(exchange: Exchange) -> RawExchange:
    return RawExchange(
        operation=exchange.operation,
        url=exchange.url,
        request=exchange.request,
        response=exchange.response,
        http_status=exchange.http_status,
        sent_at=exchange.sent_at,
    )


def _summary(response: DianResponse) -> str:
    parts = [response.status_code, response.status_description, response.status_message]
    return " ".join(part for part in parts if part)


#: The file-name prefix of each document type (fv / nc / nd).
_FILE_KINDS = {
    "01": files.DocumentKind.INVOICE,
    "91": files.DocumentKind.CREDIT_NOTE,
    "92": files.DocumentKind.DEBIT_NOTE,
}


class DianTransmitter(Transmitter):
    """SendBillSync to DIAN (or its local simulator) with the issuer's certificate."""

    answers_with_application_response = True

    def __init__(self, client: DianClient | None = None) -> None:
        self._client = client

    def transmit(self, invoice) -> TransmissionResult:
        return self._transmit(invoice, None)

    def transmit_document(self, invoice, doc: InvoiceDocument) -> TransmissionResult:
        return self._transmit(invoice, doc)

    def _transmit(self, invoice, doc: InvoiceDocument | None) -> TransmissionResult:
        signed = bytes(invoice.xml_signed or b"")
        if not signed:
            return TransmissionResult(
                status=invoice.status,
                message=attempt_texts.english("not_signed", {}),
                message_code="not_signed",
                retryable=True,
            )
        doc = doc or builder.document_from_json(invoice.document)
        package = files.package(
            signed,
            _FILE_KINDS[doc.document_type],
            supplier_nit=doc.supplier.document_number,
            year=doc.issue_date.year,
            sequence=invoice.number % 0xFFFFFFFF or 1,
            when=doc.local_issue,
        )
        client = self._client or client_from_settings(interactive=self.interactive)
        exchanges: list[Exchange] = []
        try:
            reply = client.send_bill_sync(file_name=package.file_name, content=package.content)
        except DianTimeout as exc:
            exchanges.append(exc.exchange)
            logger.warning("invoice %s: %s; asking DIAN for its status", invoice.full_number, exc)
            return self._after_timeout(client, invoice, exchanges, detail=str(exc))
        except DianError as exc:
            exchanges.append(exc.exchange)
            return self._failed(invoice, exc, exchanges)
        exchanges.append(reply.exchange)
        return self._outcome(client, invoice, reply.result, exchanges)

    def _outcome(
        self, client: DianClient, invoice, response: DianResponse, exchanges: list[Exchange]
    ) -> TransmissionResult:
        if response.accepted:
            application_response = response.application_response
            if not application_response:  # "already processed" without the original answer
                try:
                    status = client.get_status(track_id=response.xml_document_key or invoice.cufe)
                    exchanges.append(status.exchange)
                    application_response = status.result.application_response
                except DianError as exc:
                    exchanges.append(exc.exchange)
            return self._result(
                InvoiceStatus.ACCEPTED,
                response,
                exchanges,
                application_response=application_response,
            )
        if response.pending or response.status_code == SERVER_ERROR:
            return self._result(InvoiceStatus.SENT, response, exchanges, retryable=True)
        logger.warning(
            "invoice %s not accepted by DIAN: %s", invoice.full_number, _summary(response)
        )
        return self._result(InvoiceStatus.REJECTED, response, exchanges)

    def _after_timeout(
        self, client: DianClient, invoice, exchanges: list[Exchange], *, detail: str
    ) -> TransmissionResult:
        """The outcome is unknown: take DIAN's status if it has the document (§2.6.1)."""
        try:
            status = client.get_status(track_id=invoice.cufe)
        except DianError as exc:
            exchanges.append(exc.exchange)
            detail = f"{detail}\n{exc}"
        else:
            exchanges.append(status.exchange)
            if status.result.accepted:
                return self._result(
                    InvoiceStatus.ACCEPTED,
                    status.result,
                    exchanges,
                    application_response=status.result.application_response,
                )
        values = {"seconds": f"{client.timeout:g}"}
        return TransmissionResult(
            status=InvoiceStatus.SENT,
            message=attempt_texts.english("timeout_unknown", values),
            message_code="timeout_unknown",
            message_values=values,
            detail=detail,
            retryable=True,
            exchanges=tuple(_raw(e) for e in exchanges),
        )

    def _failed(self, invoice, error: DianError, exchanges: list[Exchange]) -> TransmissionResult:
        if error.retryable:
            logger.warning("invoice %s: DIAN unavailable: %s", invoice.full_number, error)
            status = InvoiceStatus.SENT
        else:
            logger.error("invoice %s: DIAN refused the request: %s", invoice.full_number, error)
            status = InvoiceStatus.REJECTED
        code, values = failure_text(error)
        return TransmissionResult(
            status=status,
            message=attempt_texts.english(code, values),
            message_code=code,
            message_values=values,
            detail=str(error),
            retryable=error.retryable,
            exchanges=tuple(_raw(e) for e in exchanges),
        )

    def _result(
        self,
        status: str,
        response: DianResponse,
        exchanges: Iterable[Exchange],
        *,
        retryable: bool = False,
        application_response: bytes = b"",
    ) -> TransmissionResult:
        return TransmissionResult(
            status=status,
            message=_summary(response),
            retryable=retryable,
            document_key=response.xml_document_key,
            application_response=application_response,
            notifications=tuple(m.raw for m in response.notifications),
            errors=tuple(m.raw for m in response.errors),
            exchanges=tuple(_raw(e) for e in exchanges),
        )


def failure_text(error: DianError) -> tuple[str, dict[str, str]]:
    """What happened, in our words (an ``attempt_texts`` code and its values), when DIAN gave no
    usable answer. The error's own text (the client's or the transport's, in English) is the
    attempt's technical detail, never part of these words."""
    status = error.exchange.http_status
    if isinstance(error, DianFault):
        # DIAN's reason is DIAN's words (quoted as written); its SOAP code is technical detail.
        reason = error.fault.reason or "—"
        return ("unavailable_fault" if error.retryable else "refused_fault"), {"reason": reason}
    if isinstance(error, DianHttpError):
        code = "unavailable_http" if error.retryable else "refused_http"
        return code, {"status": str(error.status)}
    if not error.retryable:
        return "refused_request", {}
    if status is None:
        return "unavailable_no_connection", {}
    if status >= 300:
        return "unavailable_http", {"status": str(status)}
    return "unavailable_unreadable", {}
