"""Admin scaffolding for staff "object actions": buttons on a change page that open an intermediate form.

A read-only model admin (orders, payments) lets staff act on one object through
custom views: ``<object_id>/<suffix>/`` shows a small form (or just a
confirmation), and its POST calls a service and redirects back to the change
page. :class:`ObjectActionsAdminMixin` holds the parts every such admin repeats:
the URLs, the ``can_act`` flag for the change form's buttons, the permission
and existence checks, and the intermediate page
(``admin/clientarea/action_form.html``, which list actions reuse too).
:class:`ReadOnlyInline` is the inline such admins show their history with, and
:class:`ReadOnlyAdminMixin` the admin of a record staff only read, and
:class:`ViewPageAdminMixin` the page of a record staff act on but never edit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from clientarea.lib import periodic
from clientarea.lib.models import PeriodicRun
from clientarea.lib.text import fold

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

_ModelT = TypeVar("_ModelT", bound=Model)

if TYPE_CHECKING:
    # For the type checker the mixin is the ModelAdmin it is always mixed into (opts, admin_site,
    # get_object, super().get_urls()). At run time ModelAdmin cannot be subscripted, so the mixin
    # is a plain generic class and the real ModelAdmin comes after it in the admin's bases.
    _MixinBase = admin.ModelAdmin
else:
    _MixinBase = Generic


class ReadOnlyInline(admin.TabularInline):
    """An inline that only shows rows: none can be added, changed or deleted here, and its table
    has no "Add another …" link or "Delete?" column (its own template, without the inline script)."""

    template = "admin/clientarea/readonly_tabular.html"
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdminMixin:
    """Mix into a ``ModelAdmin`` (before it) for a record staff only read here (ledger movements,
    payments, gateway messages, refunds, withholdings, plan changes...): every field shown
    read-only; nothing is added, changed or deleted through the admin's forms (services write
    those rows, some through the admin's object actions)."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]  # type: ignore[attr-defined]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ViewPageAdminMixin(_MixinBase[_ModelT]):
    """Mix into a ``ModelAdmin`` (before it) for a record whose every field is read-only but on
    which staff act (buttons, list actions: those need its change permission, so the admin keeps
    it). Its page is titled as a view, as Django titles it for a user without that permission
    ("View email", or :meth:`view_title`), not "Change …", and has no Save buttons."""

    def view_title(self, obj: _ModelT) -> str:
        return gettext("View %s") % self.opts.verbose_name

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)  # integer keys: nothing to unquote
        extra_context = {
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            **(extra_context or {}),
        }
        if obj is not None:
            title = self.view_title(obj)
            # Django's subtitle repeats the object: not when the title already names it.
            extra_context.setdefault("title", title)
            if str(obj) in title:
                extra_context.setdefault("subtitle", None)
        return super().change_view(request, object_id, form_url, extra_context)


class ObjectActionsAdminMixin(_MixinBase[_ModelT]):
    """Mix into a ``ModelAdmin`` (before it) to add per-object action views.

    Subscript it with the admin's model (``ObjectActionsAdminMixin[Order]``) so the action
    views get that model back from :meth:`get_object_or_404_for_action`.

    ``object_actions`` lists ``(url_suffix, view_method_name)``: each becomes
    ``<path:object_id>/<url_suffix>/`` named ``<app_label>_<model_name>_<url_suffix>``
    (``admin:billing_order_cancel``), wrapped in ``admin_site.admin_view``. The
    view method takes ``(request, object_id)``.

    ``action_form_template`` is the intermediate page; it normally extends
    ``admin/clientarea/action_form.html`` and fills its ``objects_table`` and
    ``object_label`` blocks.
    """

    object_actions: Sequence[tuple[str, str]] = ()
    action_form_template: str = "admin/clientarea/action_form.html"

    def has_act_permission(self, request: HttpRequest) -> bool:
        """Acting on objects (the views above and list actions with ``permissions=["act"]``) needs "change <model>"."""
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        custom = [
            path(
                f"<path:object_id>/{suffix}/",
                self.admin_site.admin_view(getattr(self, method)),
                name=f"{info[0]}_{info[1]}_{suffix}",
            )
            for suffix, method in self.object_actions
        ]
        return custom + super().get_urls()

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = {**(extra_context or {}), "can_act": self.has_act_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_object_or_404_for_action(self, request: HttpRequest, object_id: str) -> _ModelT:
        """The object an action view works on: PermissionDenied without the act permission, Http404 if it is missing."""
        if not self.has_act_permission(request):
            raise PermissionDenied
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404
        return obj

    def change_url(self, obj: Model) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[obj.pk])

    def render_action_form(
        self,
        request: HttpRequest,
        *,
        title: StrOrPromise,
        objects: Sequence[_ModelT],
        form: Any,
        submit: StrOrPromise,
        intro: StrOrPromise = "",
        action: str = "",
        selected: Iterable[Any] = (),
        warning: StrOrPromise = "",
    ) -> TemplateResponse:
        """The intermediate page: a summary table of ``objects``, then ``form`` (or none) and a ``submit`` button.

        From a list action, pass ``action`` (its name) and ``selected`` (the pks) so the POST comes back
        to the same action with ``apply=1``. ``warning``: what staff must read before they submit
        again (a confirmation step), above the form.
        """
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "objects": objects,
            "form": form,
            "submit_label": submit,
            "intro": intro,
            "warning": warning,
            "action": action,
            "selected": selected,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, self.action_form_template, context)


def periodic_job_labels() -> dict[str, Any]:
    """Every periodic job's name for people, by its dotted path (the jobs are declared in the
    apps' ``tasks`` modules, which the web process imports only here)."""
    autodiscover_modules("tasks")
    return periodic.LABELS


class PeriodicJobFilter(admin.SimpleListFilter):
    """The list's "By job" filter, in words, in the order staff read them."""

    title = _("job")
    parameter_name = "task"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        labels = periodic_job_labels()
        return sorted(labels.items(), key=lambda item: str(item[1]))

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(task=self.value()) if self.value() else queryset


@admin.register(PeriodicRun)
class PeriodicRunAdmin(admin.ModelAdmin):
    """Read only: which worker ran each periodic job for each slot, and how it ended."""

    list_display = ("job", "slot", "claimed_by", "started_at", "finished_at", "succeeded")
    list_filter = (PeriodicJobFilter, "succeeded")
    date_hierarchy = "slot"

    @admin.display(description=_("job"), ordering="task")
    def job(self, obj: PeriodicRun) -> str:
        """The job in words, with its dotted path small beneath (what the logs say)."""
        label = periodic_job_labels().get(obj.task)
        if label is None:
            return obj.task
        return format_html('{}<br><code class="periodic-task">{}</code>', label, obj.task)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CustomerScopedAdminMixin(admin.ModelAdmin):
    """The admin of a model that belongs to a customer (orders, services).

    "Add" leads to the back-office customer search (a new order or service is made from the
    customer's page, ``add_message`` says so), and the list's search also matches the customer's
    folded name, company, document and email (``Customer.search_text``: "peña" finds "Peña").
    """

    add_message: Any = ""

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        self.message_user(request, str(self.add_message), messages.INFO)
        return HttpResponseRedirect(reverse("backoffice:search"))

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip():
            queryset |= self.model._default_manager.filter(
                customer__search_text__contains=fold(search_term)
            )
        return queryset, may_have_duplicates
