"""The SOAP endpoint of the DIAN simulator, and the tiny fault-switch API for tests and demos."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from . import envelope, faults, selectors, services, soap
from .models import FaultKind

logger = logging.getLogger(__name__)
MAX_BYTES = 10 * 1024 * 1024  # maxReceivedMessageSize of DIAN's binding (§1.2)
INTERNAL_ERROR = (
    "The server was unable to process the request due to an internal error. For more "
    "information about the error, either turn on IncludeExceptionDetailInFaults (either from "
    "ServiceBehaviorAttribute or from the <serviceDebug> configuration behavior) on the server "
    "in order to send the exception information back to the client, or turn on tracing as per "
    "the Microsoft .NET Framework SDK documentation and inspect the server trace logs."
)


def _soap(body: bytes, status: int = 200) -> HttpResponse:
    return HttpResponse(body, status=status, content_type=soap.CONTENT_TYPE)


def _fault(fault: soap.SoapFault) -> HttpResponse:
    logger.info("DIAN simulator: fault %s (%s)", fault.reason, fault.detail)
    return _soap(soap.fault_response(fault, timezone.now()), fault.http_status)


def _transport_fault(armed: frozenset[str]) -> HttpResponse | None:
    fault = faults.take_fault(faults.TRANSPORT_FAULTS, armed=armed)
    if fault is None:
        return None
    if fault.kind in (FaultKind.SLOW, FaultKind.TIMEOUT):
        time.sleep(fault.seconds)
        if fault.kind == FaultKind.SLOW:
            return None  # then the normal answer
        return HttpResponse(b"", status=504)  # the client should have given up long before
    if fault.kind == FaultKind.HTTP_500:
        return HttpResponse(b"", status=500)
    if fault.kind == FaultKind.HTTP_503:
        return HttpResponse(
            b"<html><body><h1>Service Unavailable</h1></body></html>",
            status=503, content_type="text/html",
        )  # fmt: skip
    return HttpResponse(b"\x00\x17<<garbage \xff\xfe not SOAP", content_type="text/html")


def _dispatch(request: envelope.Request, production: bool, known: selectors.Known) -> bytes:
    """The operation's answer; ``known`` (settings, software, ranges, armed faults): read once
    for this request."""
    now = timezone.now()
    p, nit = request.params, request.certificate_nit
    op = request.operation
    if op == "SendBillSync":
        answer = services.send_bill_sync(
            file_name=p.get("fileName") or "", content=p.get("contentFile"), certificate_nit=nit,
            known=known,
        )  # fmt: skip
        return soap.dian_response(op, answer, now)
    if op in ("SendTestSetAsync", "SendBillAsync"):
        upload = services.send_batch(
            file_name=p.get("fileName") or "", content=p.get("contentFile"), certificate_nit=nit,
            test_set_id=(p.get("testSetId") or "") if op == "SendTestSetAsync" else None,
            production=production, known=known,
        )  # fmt: skip
        return soap.upload_response(op, upload, now)
    if op == "GetStatus":
        return soap.dian_response(op, services.get_status(track_id=p.get("trackId")), now)
    if op == "GetStatusZip":
        return soap.status_zip_response(services.get_status_zip(track_id=p.get("trackId")), now)
    if op == "GetNumberingRange":
        numbering = services.get_numbering_range(
            account_code=p.get("accountCode"), account_code_t=p.get("accountCodeT"),
            software_code=p.get("softwareCode"), certificate_nit=nit,
        )  # fmt: skip
        return soap.numbering_response(numbering, now)
    xml = services.get_xml_by_document_key(track_id=p.get("trackId"), certificate_nit=nit)
    return soap.xml_response(xml, now)


def _http_action(content_type: str) -> str:
    match = re.search(r'action="?([^";]+)"?', content_type)
    return match.group(1).strip() if match else ""


@csrf_exempt
def service(request: HttpRequest, production: bool = False) -> HttpResponse:
    """``WcfDianCustomerServices.svc``: SOAP 1.2 POST only, like the WCF service."""
    if request.method != "POST":
        response = HttpResponse(b"", status=405)
        response["Allow"] = "POST"
        return response
    # One read of the data stamp (the rest from this process's copy while it is current): the
    # transport faults here, the settings, software, ranges and verdict faults later.
    known = selectors.known()
    injected = _transport_fault(known.armed)
    if injected is not None:
        return injected
    content_type = request.headers.get("Content-Type", "")
    if not content_type.lower().startswith("application/soap+xml"):
        return HttpResponse(
            f"Cannot process the message because the content type '{content_type}' was not the "
            "expected type 'application/soap+xml; charset=utf-8'.".encode(),
            status=415, content_type="text/plain",
        )  # fmt: skip
    if int(request.headers.get("Content-Length") or 0) > MAX_BYTES:
        return HttpResponse(b"", status=413)
    body = request.body
    if len(body) > MAX_BYTES:
        return HttpResponse(b"", status=413)
    try:
        parsed = envelope.read(
            body, now=timezone.now(), skew=dt.timedelta(seconds=known.settings.clock_skew_seconds),
            trusted=known.trusted, http_action=_http_action(content_type),
        )  # fmt: skip
    except soap.SoapFault as fault:
        return _fault(fault)
    logger.info("DIAN simulator: %s from NIT %s", parsed.operation, parsed.certificate_nit)
    try:
        return _soap(_dispatch(parsed, production, known))
    except Exception:  # a bug or the database: WCF answers a generic fault, never a traceback
        logger.exception("DIAN simulator: %s failed", parsed.operation)
        return _fault(
            soap.SoapFault("Receiver", INTERNAL_ERROR, detail="internal error (see the log)")
        )


def index(request: HttpRequest) -> HttpResponse:
    """``/sandbox/dian/`` in a browser: the simulator's pages in the back office (staff login)."""
    return redirect("admin:app_list", app_label="dian_sandbox")


@csrf_exempt
def fault_switches(request: HttpRequest) -> HttpResponse:
    """Fault switches over HTTP: POST kind, seconds, rule_code, rule_text, times; DELETE clears."""
    if request.method == "DELETE":
        return JsonResponse({"cleared": faults.clear_faults()})
    if request.method != "POST":
        response = JsonResponse({"error": "POST or DELETE"}, status=405)
        response["Allow"] = "POST, DELETE"
        return response
    data = request.POST
    try:
        fault = faults.arm_fault(
            kind=data.get("kind", ""), seconds=int(data.get("seconds") or 0),
            rule_code=data.get("rule_code", "")[:20], rule_text=data.get("rule_text", "")[:300],
            times=int(data.get("times") or 1),
        )  # fmt: skip
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(
        {"id": fault.pk, "kind": fault.kind, "remaining": fault.remaining}, status=201
    )
