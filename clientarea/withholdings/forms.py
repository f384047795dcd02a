"""Customer forms: request agent status, upload a certificate; staff: reject with a reason."""

from __future__ import annotations

from django import forms
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from clientarea.lib.dates import local_today
from clientarea.withholdings.models import CertificatePeriod, WithholdingKind
from clientarea.withholdings.services import MAX_CERTIFICATE_BYTES


class AgentRequestForm(forms.Form):
    reteiva = forms.BooleanField(
        label=_(
            "We also withhold ReteIVA (we are an IVA withholding agent, e.g. gran contribuyente)"
        ),
        required=False,
    )
    reteica = forms.BooleanField(
        label=_("We also withhold ReteICA in our municipality"), required=False
    )
    note = forms.CharField(
        label=_("Note for our staff (optional)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For example the concept you apply and its rate, if it is not 4 %."),
    )


def _year_choices() -> list[tuple[int, int]]:
    year = local_today().year
    return [(y, y) for y in range(year, year - 6, -1)]


class CertificateForm(forms.Form):
    kind = forms.ChoiceField(label=_("Withholding"), choices=WithholdingKind.choices)
    year = forms.TypedChoiceField(label=_("Year"), coerce=int, choices=_year_choices)
    period_type = forms.ChoiceField(
        label=_("Period the certificate covers"),
        choices=CertificatePeriod.choices,
        initial=CertificatePeriod.YEAR,
    )
    period_number = forms.IntegerField(
        label=_("Month or two-month period"),
        min_value=1,
        max_value=12,
        initial=1,
        help_text=_(
            "Month 1–12, or two-month period 1–6 (1 = January–February). Ignored for a year."
        ),
    )
    file = forms.FileField(
        label=_("Certificate (PDF, up to 5 MB)"),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_CERTIFICATE_BYTES:
            raise forms.ValidationError(
                _("The file is too large (%(size)s MB). The limit is 5 MB."),
                params={"size": number_format(upload.size / 1024 / 1024, 1)},
            )
        return upload


class RejectCertificateForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (sent to the customer)"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
