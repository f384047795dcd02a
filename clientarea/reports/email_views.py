"""Back office → Email templates: edit per language with a preview, version history, revert.

The files in ``templates/emails/`` stay the defaults; a saved version overrides them for one
template and language (``notifications.rendering``). Every page needs the
``notifications.edit_email_templates`` permission.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from clientarea.notifications import rendering, sandbox, selectors
from clientarea.notifications import services as notifications
from clientarea.notifications.editable import EDITABLE
from clientarea.reports.email_samples import sample_context
from clientarea.reports.forms import EmailTemplateForm
from clientarea.reports.views import page_context, staff_view

EDIT_TEMPLATES = "notifications.edit_email_templates"


def _check(template: str, language: str) -> None:
    if template not in EDITABLE or language not in dict(settings.LANGUAGES):
        raise Http404


@staff_view(EDIT_TEMPLATES)
def template_list(request: HttpRequest) -> HttpResponse:
    in_force = selectors.overrides_in_force()
    languages = settings.LANGUAGES
    rows = [
        {
            "key": key,
            "label": item.label,
            "languages": [
                {"code": code, "name": name, "version": in_force.get((key, code))}
                for code, name in languages
            ],
        }
        for key, item in EDITABLE.items()
    ]
    return TemplateResponse(
        request,
        "reports/email_templates.html",
        page_context(request, _("Email templates"), rows=rows),
    )


@staff_view(EDIT_TEMPLATES)
def template_edit(request: HttpRequest, template: str, language: str) -> HttpResponse:
    _check(template, language)
    current = selectors.current_override(template=template, language=language)
    preview = None
    status = 200
    if request.method == "POST":
        form = EmailTemplateForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            parts = {k: data[k] for k in ("subject", "body_text", "body_html")}
            try:
                if "preview" in request.POST:
                    with_site = {**notifications.site_context(), **sample_context(template)}
                    preview = sandbox.validate(
                        template=template, parts=parts, sample=with_site, language=language
                    )
                else:
                    version = notifications.save_template_version(
                        template=template,
                        language=language,
                        sample=sample_context(template),
                        actor=request.user,
                        note=data["note"],
                        **parts,
                    )
                    messages.success(
                        request,
                        _("Version %(n)d saved; it is used for every new email.")
                        % {"n": version.version},
                    )
                    return redirect("reports:email_template", template=template, language=language)
            except sandbox.TemplateRefused as refused:
                for part, errors in refused.errors.items():
                    for error in errors:
                        form.add_error(part if part in form.fields else None, error)
        if not form.is_valid():
            status = 400
    else:
        initial = (
            {
                "subject": current.subject,
                "body_text": current.body_text,
                "body_html": current.body_html,
            }
            if current
            else rendering.default_sources(template)
        )
        form = EmailTemplateForm(initial=initial)
    context = page_context(
        request,
        _("Email template: %(name)s (%(language)s)")
        % {"name": EDITABLE[template].label, "language": dict(settings.LANGUAGES)[language]},
        form=form,
        template_key=template,
        language=language,
        current=current,
        preview=preview,
        variables=sandbox.allowed_variables(template),
        versions=selectors.template_versions(template=template, language=language)[:50],
    )
    return TemplateResponse(request, "reports/email_template_edit.html", context, status=status)


@require_POST
@staff_view(EDIT_TEMPLATES)
def template_revert(request: HttpRequest, template: str, language: str) -> HttpResponseBase:
    _check(template, language)
    try:
        number = int(request.POST.get("version", ""))
    except ValueError:
        return HttpResponse(_("Choose a version."), status=400)
    if (
        not selectors.template_versions(template=template, language=language)
        .filter(version=number)
        .exists()
    ):
        raise Http404
    try:
        version = notifications.revert_template_version(
            template=template,
            language=language,
            version=number,
            sample=sample_context(template),
            actor=request.user,
        )
    except sandbox.TemplateRefused as refused:
        messages.error(
            request,
            _("Version %(n)d cannot be used again: %(why)s") % {"n": number, "why": refused},
        )
    else:
        messages.success(
            request,
            _("Version %(old)d is in force again (saved as version %(n)d).")
            % {"old": number, "n": version.version},
        )
    return redirect("reports:email_template", template=template, language=language)


@require_POST
@staff_view(EDIT_TEMPLATES)
def template_default(request: HttpRequest, template: str, language: str) -> HttpResponseBase:
    _check(template, language)
    notifications.use_default_template(template=template, language=language, actor=request.user)
    messages.success(request, _("The default file is in force again."))
    return redirect("reports:email_template", template=template, language=language)
