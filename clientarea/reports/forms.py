"""The filters of a report, validated with clear messages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from clientarea.billing.models import PaidVia, PaymentMethod
from clientarea.lib.dates import local_today
from clientarea.lib.forms import DayField
from clientarea.reports.exports import Filters

#: The longest period one export may cover (the sales book of a year and a bit).
MAX_DAYS = 732


class ReportFilterForm(forms.Form):
    date_from = DayField(label=_("From"), required=False)
    date_to = DayField(label=_("To"), required=False)
    via = forms.ChoiceField(
        label=_("Gateway"), choices=[("", _("All")), *PaidVia.choices], required=False
    )
    method = forms.ChoiceField(
        label=_("Method"),
        choices=[("", _("All")), *PaymentMethod.choices],
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        today = local_today()
        date_from = data.get("date_from") or today.replace(day=1)
        date_to = data.get("date_to") or today
        if "date_from" in self.errors or "date_to" in self.errors:
            return data
        if date_from > date_to:
            raise forms.ValidationError(_("The start date must be on or before the end date."))
        if (date_to - date_from).days > MAX_DAYS:
            raise forms.ValidationError(
                _("A report covers at most %(days)d days; choose a shorter period.")
                % {"days": MAX_DAYS}
            )
        data["date_from"], data["date_to"] = date_from, date_to
        return data

    def filters(self) -> Filters:
        data = self.cleaned_data
        return Filters(
            date_from=data["date_from"],
            date_to=data["date_to"],
            via=data.get("via") or "",
            method=data.get("method") or "",
        )


def default_filters() -> Filters:
    today = local_today()
    return Filters(date_from=today.replace(day=1), date_to=today)


__all__ = ["MAX_DAYS", "ReportFilterForm", "default_filters"]


class EmailTemplateForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=1000)
    body_text = forms.CharField(
        label=_("Text body"), widget=forms.Textarea(attrs={"rows": 14, "cols": 90})
    )
    body_html = forms.CharField(
        label=_("HTML body"), widget=forms.Textarea(attrs={"rows": 18, "cols": 90})
    )
    note = forms.CharField(label=_("What changed (optional)"), max_length=200, required=False)
