"""The customer's Withholdings page: agent status (request it), withheld amounts, certificates."""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clientarea.accounts.models import Customer
from clientarea.accounts.permissions import Permission, client_area, request_customer
from clientarea.lib.http import client_ip
from clientarea.withholdings import selectors, services
from clientarea.withholdings.forms import AgentRequestForm, CertificateForm
from clientarea.withholdings.models import AgentStatus, WithholdingCertificate


def _customer(request: HttpRequest) -> Customer:
    return request_customer(request)


def _page(
    request: HttpRequest,
    customer: Customer,
    *,
    agent_form: AgentRequestForm | None = None,
    upload_form: CertificateForm | None = None,
    status: int = 200,
) -> HttpResponse:
    agent = selectors.agent_for(customer)
    can_request = agent is None or agent.status in (AgentStatus.REJECTED, AgentStatus.REVOKED)
    return render(
        request,
        "withholdings/index.html",
        {
            "customer": customer,
            "agent": agent,
            "rules": selectors.rules_for_agent(agent) if agent and agent.is_approved else [],
            "can_request": can_request,
            "agent_form": agent_form or AgentRequestForm(),
            "upload_form": upload_form or CertificateForm(),
            "withholdings": selectors.customer_withholdings(customer),
            "open_total": selectors.open_total(customer),
            "reversed_total": selectors.reversed_total(customer),
            "certificates": selectors.customer_certificates(customer),
        },
        status=status,
    )


@client_area(Permission.BILLING_VIEW)
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return _page(request, _customer(request))


@client_area(Permission.BILLING)
@require_POST
def request_agent(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    form = AgentRequestForm(request.POST)
    if form.is_valid():
        try:
            services.request_agent_status(
                customer=customer,
                reteiva=form.cleaned_data["reteiva"],
                reteica=form.cleaned_data["reteica"],
                note=form.cleaned_data["note"],
                ip=client_ip(request),
                actor=request.user,
            )
        except services.WithholdingError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _(
                    "Request sent. Our staff will check it and email you; until then you pay the full total."
                ),
            )
        return redirect("withholdings:index")
    return _page(request, customer, agent_form=form, status=400)


@client_area(Permission.BILLING_VIEW, write=Permission.BILLING)
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    if request.method == "GET":
        return redirect("withholdings:index")
    form = CertificateForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.upload_certificate(
                customer=customer,
                user=request.user,
                kind=data["kind"],
                year=data["year"],
                period_type=data["period_type"],
                period_number=data["period_number"],
                upload=data["file"],
                ip=client_ip(request),
            )
        except services.WithholdingError as exc:
            form.add_error(exc.field, exc.message)
        else:
            messages.success(request, _("Certificate received. We will review it and email you."))
            return redirect("withholdings:index")
    return _page(request, customer, upload_form=form, status=400)


@client_area(Permission.BILLING_VIEW)
@require_GET
def certificate_pdf(request: HttpRequest, pk: int) -> FileResponse:
    customer = _customer(request)
    try:
        certificate = selectors.certificate_for_customer(customer, pk)
    except WithholdingCertificate.DoesNotExist:
        raise Http404("No such certificate") from None
    return FileResponse(
        certificate.file.open("rb"),
        content_type="application/pdf",
        as_attachment=True,
        filename=certificate.original_name or "certificate.pdf",
    )
