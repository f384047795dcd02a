"""The customer's Invoices page and downloads (PDF, signed XML, AttachedDocument ZIP)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from clientarea.accounts.permissions import Permission, client_area, request_customer
from clientarea.einvoice.models import Invoice, InvoiceStatus
from clientarea.einvoice.selectors import customer_invoices


@client_area(Permission.BILLING_VIEW)
def invoice_list(request: HttpRequest) -> HttpResponse:
    customer = request_customer(request)
    page = Paginator(customer_invoices(customer), 25).get_page(request.GET.get("page"))
    return render(request, "einvoice/list.html", {"page": page})


@client_area(Permission.BILLING_VIEW)
def download(request: HttpRequest, number: str, kind: str) -> HttpResponse:
    customer = request_customer(request)
    invoice = get_object_or_404(
        Invoice.objects.exclude(status=InvoiceStatus.WAITING), full_number=number, customer=customer
    )
    if not invoice.is_rendered or not invoice.is_validated:
        raise Http404("not validated by DIAN yet")  # never handed out as if valid
    if kind == "pdf":
        body, content_type, name = bytes(invoice.pdf), "application/pdf", f"{number}.pdf"
    elif kind == "xml":
        body, content_type, name = bytes(invoice.xml_signed), "application/xml", f"{number}.xml"
    elif kind == "attached":
        body, content_type, name = (
            bytes(invoice.attached_document),
            "application/xml",
            f"{number}-attached.xml",
        )
    else:
        raise Http404
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
