"""The "order a new service" form: product, billing cycle and the domain or hostname."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from clientarea.catalog.models import BillingCycle, ProductKind
from clientarea.catalog.selectors import OfferGroup
from clientarea.subscriptions.models import CancellationReason, CancellationWhen

# Kinds whose service is tied to a name: the label is required and must look like a hostname.
LABEL_REQUIRED_KINDS = (ProductKind.DOMAIN, ProductKind.HOSTING, ProductKind.SSL)
_HOSTNAME = re.compile(
    r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$"
)


def normalize_hostname(value: str) -> str | None:
    """Lower-case hostname (IDN allowed, e.g. cafetería.co), or None if it is not one."""
    value = value.strip().rstrip(".").lower()
    try:
        ascii_form = value.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return value if _HOSTNAME.match(ascii_form) else None


class OrderServiceForm(forms.Form):
    product = forms.ChoiceField(label=_("Product"))
    cycle = forms.ChoiceField(
        label=_("Billing cycle"), choices=[("", _("Choose a billing cycle")), *BillingCycle.choices]
    )
    label = forms.CharField(
        label=_("Your domain or hostname"),
        max_length=200,
        required=False,
        help_text=_("Required for domains, hosting and certificates, e.g. mitienda.com.co"),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}
        ),
    )

    def __init__(self, *args, catalog: list[OfferGroup], **kwargs):
        super().__init__(*args, **kwargs)
        self.offers = {offer.product.code: offer for group in catalog for offer in group.offers}
        product = self.fields["product"]
        assert isinstance(product, forms.ChoiceField)  # declared above
        product.choices = [
            ("", _("Choose a product")),
            *(
                (group.label, [(offer.product.code, offer.name) for offer in group.offers])
                for group in catalog
            ),
        ]

    def clean(self):
        data = self.cleaned_data  # what super().clean() returns, typed as always set
        offer = self.offers.get(data.get("product", ""))
        cycle = data.get("cycle")
        if offer is None:
            return data
        data["product"] = offer.product
        if cycle and cycle not in {p.cycle for p in offer.prices}:
            offered = ", ".join(str(p.cycle_label) for p in offer.prices)
            self.add_error(
                "cycle",
                forms.ValidationError(
                    _("%(product)s can be ordered with these billing cycles: %(cycles)s.")
                    % {"product": offer.name, "cycles": offered},
                    code="cycle_not_offered",
                ),
            )
        if "label" in self.errors:
            return data
        label = data.get("label", "").strip()
        if offer.product.kind in LABEL_REQUIRED_KINDS:
            if not label:
                self.add_error(
                    "label",
                    forms.ValidationError(
                        _("Enter your domain or hostname, e.g. mitienda.com.co"),
                        code="label_required",
                    ),
                )
            else:
                hostname = normalize_hostname(label)
                if hostname is None:
                    self.add_error(
                        "label",
                        forms.ValidationError(
                            _(
                                "Enter only the domain or hostname, e.g. mitienda.com.co (without http://, spaces or slashes)."
                            ),
                            code="label_invalid",
                        ),
                    )
                else:
                    data["label"] = hostname
        else:
            data["label"] = label
        return data


class CancellationForm(forms.Form):
    """The customer's cancellation request: when, why, and an optional comment."""

    when = forms.ChoiceField(
        label=_("When should the service end?"),
        choices=CancellationWhen.choices,
        initial=CancellationWhen.END_OF_PERIOD,
        widget=forms.RadioSelect,
    )
    reason = forms.ChoiceField(
        label=_("Why are you cancelling?"),
        choices=[("", _("Choose a reason")), *CancellationReason.choices],
    )
    comment = forms.CharField(
        label=_("Anything you want to tell us (optional)"),
        required=False,
        max_length=1000,
        help_text=_(
            "Kept as you write it and shown as your own words in the service's history, "
            "beside the reason you chose."
        ),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    confirm = forms.BooleanField(
        label=_("I understand that the service and its data end on that date."),
    )

    def __init__(self, *args, ends_at_once: bool = False, **kwargs):
        """``ends_at_once``: nothing is left of the paid period (billing.cancellations.ends_at_once),
        so there is no "when" to choose and the customer confirms that it ends now."""
        super().__init__(*args, **kwargs)
        self.ends_at_once = ends_at_once
        if ends_at_once:
            del self.fields["when"]
            self.fields["confirm"].label = _(
                "I understand that the service and its data end as soon as I send this request."
            )
