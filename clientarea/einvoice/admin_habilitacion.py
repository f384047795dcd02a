"""Back office: "Import from DIAN" on the numbering resolutions, and the habilitación test sets.

Imported by ``einvoice.admin``: :class:`NumberingImportAdminMixin` is mixed into the numbering
resolutions' admin; :class:`TestSetRunAdmin` lists the test-set runs, starts one (a form with
DIAN's TestSetId) and shows a run's progress, refreshing itself while DIAN validates, with DIAN's
messages in words and what to do next. Each view calls one service.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from clientarea.accounts.models import User
from clientarea.einvoice import habilitacion, numbering
from clientarea.einvoice.habilitacion_models import TestDocumentKind, TestSetRun
from clientarea.lib.admin import ObjectActionsAdminMixin

#: The progress page reloads itself this often while DIAN validates (no script needed).
REFRESH_SECONDS = 3


def _actor(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


class NumberingImportAdminMixin(admin.ModelAdmin):
    """Adds "Import from DIAN" (GetNumberingRange) above the numbering resolutions."""

    change_list_template = "einvoice/admin_numbering_change_list.html"

    def get_urls(self) -> list[URLPattern]:
        import_view = path(
            "import-from-dian/",
            self.admin_site.admin_view(self.import_from_dian_view),
            name="einvoice_numberingresolution_import",
        )
        return [import_view, *super().get_urls()]

    def can_import(self, request: HttpRequest) -> bool:
        return request.user.has_perm("einvoice.add_numberingresolution") and request.user.has_perm(
            "einvoice.change_numberingresolution"
        )

    def changelist_view(self, request, extra_context=None):
        extra = {
            "can_import_numbering": self.can_import(request),
            "numbering_import_seconds": f"{settings.DIAN_WS_INTERACTIVE_TIMEOUT:g}",
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=extra)

    def import_from_dian_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.can_import(request):
            raise PermissionDenied
        try:
            result = numbering.import_numbering_ranges(actor=_actor(request), interactive=True)
        except numbering.NumberingImportError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, result.summary(), messages.SUCCESS)
            for label in result.created + result.updated:
                self.message_user(request, label, messages.INFO)
        return HttpResponseRedirect(reverse("admin:einvoice_numberingresolution_changelist"))


class TestSetForm(forms.Form):
    __test__ = False  # not a pytest class

    test_set_id = forms.CharField(
        label=_("TestSetId"),
        max_length=40,
        help_text=_(
            "The GUID DIAN's habilitación portal gives for the software's test set, e.g. "
            "7c4f0a2e-5b1d-4e8a-9f63-2d8b1e6a0c35."
        ),
    )
    invoices = forms.IntegerField(
        label=_("invoices"),
        min_value=1,
        max_value=50,
        initial=2,
        help_text=_("As many as DIAN's portal says the set requires (its default: 2)."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kinds = habilitacion.available_kinds()
        for kind, label in (
            (TestDocumentKind.CREDIT_NOTE, _("credit notes")),
            (TestDocumentKind.DEBIT_NOTE, _("debit notes")),
        ):
            if kind in kinds:
                self.fields[f"{kind}s"] = forms.IntegerField(
                    label=label, min_value=0, max_value=50, initial=1, required=False
                )

    def counts(self) -> dict[str, int]:
        data = self.cleaned_data
        return {
            kind: data[f"{kind}s"]
            for kind in TestDocumentKind.values
            if data.get(f"{kind}s") is not None
        }


@admin.register(TestSetRun)
class TestSetRunAdmin(ObjectActionsAdminMixin[TestSetRun], admin.ModelAdmin):
    list_display = ["test_set_id", "status", "started_at", "finished_at", "summary", "started_by"]
    list_filter = ["status"]
    change_list_template = "einvoice/admin_testsetrun_change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # started through "Start a test set", never typed in

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def can_start(self, request: HttpRequest) -> bool:
        return request.user.has_perm("einvoice.add_testsetrun")

    def get_urls(self) -> list[URLPattern]:
        start = path(
            "start/",
            self.admin_site.admin_view(self.start_view),
            name="einvoice_testsetrun_start",
        )
        return [start, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra = {"can_start_test_set": self.can_start(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    @admin.display(description=_("documents"))
    def summary(self, run: TestSetRun) -> str:
        counts = habilitacion.progress(run)
        return gettext("%(accepted)d of %(total)d accepted, %(rejected)d rejected") % {
            "accepted": counts["accepted"],
            "total": counts["total"],
            "rejected": counts["rejected"],
        }

    def start_view(self, request: HttpRequest) -> HttpResponse:
        if not self.can_start(request):
            raise PermissionDenied
        form = TestSetForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                run = habilitacion.start_test_set(
                    test_set_id=form.cleaned_data["test_set_id"],
                    counts=form.counts(),
                    actor=_actor(request),
                )
            except habilitacion.HabilitacionError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    gettext("Test set started: the worker sends the documents to DIAN now."),
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(self.change_url(run))
        return self.render_action_form(
            request,
            title=gettext("Start DIAN's habilitación test set"),
            objects=[],
            form=form,
            submit=gettext("Send the test set to DIAN"),
            intro=gettext(
                "Sends the test documents to DIAN with SendTestSetAsync, on the test numbering "
                "(prefix SETP), with DIAN's “consumidor final” as buyer: no order, customer or "
                "real number is used. Then follows each one with GetStatusZip."
            ),
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        if run is None or not self.has_view_permission(request, run):
            return super().change_view(request, object_id, form_url, extra_context)
        documents = list(run.documents.all())
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Habilitación test set %(id)s") % {"id": run.test_set_id},
            "run": run,
            "progress": habilitacion.progress(run),
            "outcome_message": habilitacion.outcome_message(run),
            "documents": [(d, habilitacion.rule_lines(d)) for d in documents],
            "next_steps": habilitacion.next_steps(run),
            "refresh_seconds": None if run.is_finished else REFRESH_SECONDS,
        }
        return TemplateResponse(request, "einvoice/admin_testsetrun_progress.html", context)
