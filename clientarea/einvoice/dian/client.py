"""Client of DIAN's validation web service, ``WcfDianCustomerServices`` (``dian-webservice.md`` §1–§2).

Turns calls into signed SOAP requests and DIAN's answers into dataclasses; nothing else. It never
reads or writes invoices, orders or any model: the caller (``transmitter.DianTransmitter``, the
habilitación tooling) passes in the endpoint, timeout and signing key and decides what an answer
means for its documents.

Every call returns a :class:`Reply`: the parsed result plus the :class:`Exchange` (the request as
sent and the answer as received, raw) for the caller to store. The request carries the issuer's
certificate, never its private key. Failures raise :class:`DianError` subclasses, each with the
exchange so far and ``retryable``:

- :class:`DianUnavailable` (timeout, connection refused/reset, HTTP 5xx without a SOAP fault,
  an answer that is not DIAN's XML): retryable, the caller applies DIAN's retry rule and then
  contingency (§2.6, §5);
- :class:`DianFault` (a SOAP Fault): ``Sender``/``Client`` faults (certificate, authorization,
  malformed request) are not retryable; ``Receiver`` faults (DIAN's internal errors) are;
- :class:`DianHttpError` (any other non-2xx answer, e.g. 404 for a wrong URL): not retryable,
  except 408 and 429.

HTTP goes through ``clientarea.einvoice.dian.transport.send`` (the project's HTTP contract, as
``clientarea.lib.http.send``: it logs method, URL without query, status and duration, never a
body), which keeps one connection per thread open and bounds opening the connection by
``connect_timeout`` (``DIAN_WS_CONNECT_TIMEOUT``) and every read by ``timeout``
(``DIAN_WS_TIMEOUT``).
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from clientarea.einvoice.dian import envelope, responses, transport
from clientarea.lib import http

logger = logging.getLogger(__name__)

#: DIAN's endpoints (§1.1).
PRODUCTION_URL = "https://vpfe.dian.gov.co/WcfDianCustomerServices.svc"
HABILITACION_URL = "https://vpfe-hab.dian.gov.co/WcfDianCustomerServices.svc"
#: DIAN's server gives up after 59 s (§1.2); wait a little longer for its answer.
DEFAULT_TIMEOUT = 65.0
#: A connection to DIAN that does not open in this long means DIAN or the network is down.
DEFAULT_CONNECT_TIMEOUT = transport.DEFAULT_CONNECT_TIMEOUT

T = TypeVar("T")
Sender = Callable[..., http.HttpResponse]


@dataclass(frozen=True)
class Exchange:
    """One request and its answer, raw, for the record (no private key ever appears here)."""

    operation: str
    url: str
    request: bytes
    response: bytes
    http_status: int | None
    sent_at: dt.datetime
    duration: float


@dataclass(frozen=True)
class Reply(Generic[T]):
    """A parsed answer and the exchange it came from."""

    result: T
    exchange: Exchange


class DianError(Exception):
    """No usable answer. ``retryable`` says whether sending again later can succeed."""

    retryable = False

    def __init__(self, message: str, *, exchange: Exchange) -> None:
        super().__init__(message)
        self.exchange = exchange


class DianUnavailable(DianError):
    """DIAN did not answer, answered 5xx, or answered something that is not its protocol."""

    retryable = True


class DianTimeout(DianUnavailable):
    """No answer within the timeout: the outcome is unknown (ask GetStatus before resending)."""


class DianHttpError(DianError):
    """A non-2xx answer without a SOAP Fault (e.g. 404 for a wrong URL)."""

    def __init__(self, message: str, *, exchange: Exchange, status: int) -> None:
        super().__init__(message, exchange=exchange)
        self.status = status
        self.retryable = status in (408, 429) or status >= 500


class DianFault(DianError):
    """DIAN answered a SOAP Fault (certificate not valid or not trusted, not authorized…)."""

    def __init__(self, fault: responses.SoapFault, *, exchange: Exchange) -> None:
        reason = fault.reason or "no reason given"
        super().__init__(f"SOAP fault {fault.code}: {reason}", exchange=exchange)
        self.fault = fault
        self.retryable = not fault.sender_error


class DianClient:
    """Signed calls to one DIAN endpoint with the issuer's key and certificate.

    ``url`` is the endpoint (also written in ``wsa:To``); ``timeout`` bounds each read and
    ``connect_timeout`` opening the connection, in seconds; ``send`` is the HTTP function
    (default: ``transport.send``, looked up at call time so tests can replace it).
    """

    def __init__(
        self,
        *,
        url: str,
        key: rsa.RSAPrivateKey,
        certificate: x509.Certificate,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        send: Sender | None = None,
    ) -> None:
        if timeout <= 0 or connect_timeout <= 0:
            raise ValueError("timeouts must be positive")
        self.url = url
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._key = key
        self._certificate = certificate
        self._send = send

    def __repr__(self) -> str:  # never shows the key
        return f"DianClient(url={self.url!r}, timeout={self.timeout})"

    # -- operations ------------------------------------------------------------------

    def send_bill_sync(self, *, file_name: str, content: bytes) -> Reply[responses.DianResponse]:
        """Validate one document now (production). ``content`` is the ZIP holding its XML."""
        return self._call(
            "SendBillSync",
            [("fileName", file_name), ("contentFile", _b64(content))],
            responses.required_dian_response,
        )

    def send_test_set_async(
        self, *, file_name: str, content: bytes, test_set_id: str
    ) -> Reply[responses.UploadResponse]:
        """Upload a document of the habilitación test set; poll ``get_status_zip(zip_key)``."""
        return self._call(
            "SendTestSetAsync",
            [("fileName", file_name), ("contentFile", _b64(content)), ("testSetId", test_set_id)],
            responses.upload_response,
        )

    def get_status(self, *, track_id: str) -> Reply[responses.DianResponse]:
        """The outcome of one document by its CUFE/CUDE."""
        return self._call("GetStatus", [("trackId", track_id)], responses.required_dian_response)

    def get_status_zip(self, *, track_id: str) -> Reply[tuple[responses.DianResponse, ...]]:
        """The outcome of each document of an asynchronous upload, by its ZipKey."""
        return self._call("GetStatusZip", [("trackId", track_id)], responses.dian_responses)

    def get_numbering_range(
        self, *, account_code: str, account_code_t: str, software_code: str
    ) -> Reply[responses.NumberingRangeResponse]:
        """The numbering resolutions DIAN authorized for the issuer's software (§2.9)."""
        return self._call(
            "GetNumberingRange",
            [
                ("accountCode", account_code),
                ("accountCodeT", account_code_t),
                ("softwareCode", software_code),
            ],
            responses.numbering_range_response,
        )

    # -- plumbing --------------------------------------------------------------------

    def _call(
        self,
        operation: str,
        params: Sequence[tuple[str, str | None]],
        parse: Callable[[etree._Element | None], T],
    ) -> Reply[T]:
        """Send, then read ``<operation>Result`` with ``parse``; anything unreadable is
        :class:`DianUnavailable` (DIAN, or something pretending to be it, is not answering its
        protocol)."""
        element, exchange = self._exchange(operation, params)
        try:
            return Reply(parse(responses.result_element(element, operation)), exchange)
        except responses.ParseError as exc:
            raise DianUnavailable(f"{operation}: {exc}", exchange=exchange) from exc

    def _exchange(
        self, operation: str, params: Sequence[tuple[str, str | None]]
    ) -> tuple[etree._Element, Exchange]:
        request = envelope.build_request(
            operation=operation,
            params=params,
            to=self.url,
            key=self._key,
            certificate=self._certificate,
        )
        headers: Mapping[str, str] = {
            "Content-Type": f'application/soap+xml;charset=UTF-8;action="{envelope.action(operation)}"',
            "User-Agent": http.USER_AGENT,
        }
        send = self._send or transport.send
        sent_at = dt.datetime.now(dt.UTC)
        started = time.monotonic()

        def exchange(status: int | None = None, body: bytes = b"") -> Exchange:
            return Exchange(
                operation=operation,
                url=self.url,
                request=request,
                response=body,
                http_status=status,
                sent_at=sent_at,
                duration=time.monotonic() - started,
            )

        try:
            answer = send(
                "POST",
                self.url,
                request,
                headers,
                timeout=self.timeout,
                connect_timeout=self.connect_timeout,
            )
        except http.HttpError as exc:
            failed = exchange()
            if _timed_out(exc):
                raise DianTimeout(
                    f"{operation}: no answer from DIAN within {self.timeout:g} s "
                    f"(connection: {self.connect_timeout:g} s)",
                    exchange=failed,
                ) from exc
            raise DianUnavailable(f"{operation}: {exc}", exchange=failed) from exc
        done = exchange(answer.status, answer.body)
        logger.info("DIAN %s answered HTTP %s in %.2fs", operation, answer.status, done.duration)
        try:
            element = responses.parse_envelope(answer.body)
        except responses.ParseError as exc:
            if answer.ok or answer.status >= 500:
                raise DianUnavailable(
                    f"{operation}: HTTP {answer.status}, not a SOAP answer ({exc})", exchange=done
                ) from exc
            raise DianHttpError(
                f"{operation}: HTTP {answer.status}", exchange=done, status=answer.status
            ) from exc
        fault = responses.fault(element)
        if fault is not None:
            logger.warning("DIAN %s: SOAP fault %s (%s)", operation, fault.code, fault.reason[:200])
            raise DianFault(fault, exchange=done)
        if not answer.ok:
            raise DianHttpError(
                f"{operation}: HTTP {answer.status}", exchange=done, status=answer.status
            )
        return element, done


def _timed_out(error: BaseException) -> bool:
    """True when the HTTP failure was a timeout (urllib wraps it in ``URLError.reason``)."""
    cause = error.__cause__
    return isinstance(cause, TimeoutError) or isinstance(
        getattr(cause, "reason", None), TimeoutError
    )


def _b64(content: bytes) -> str:
    return base64.b64encode(content).decode("ascii")
