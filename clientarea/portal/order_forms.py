"""Forms of ordering from the catalog: one product's cycle, label and options; the coupon code."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from clientarea.billing.catalog_orders import CartError, CartItem, check_item
from clientarea.catalog.models import OptionGroup, OptionKind, Product
from clientarea.catalog.pricing import ConfigurationError, Selection
from clientarea.catalog.selectors import Offer
from clientarea.lib.money import format_cop
from clientarea.subscriptions.forms import LABEL_REQUIRED_KINDS

NBSP = "\u00a0"


def option_field_name(group: OptionGroup) -> str:
    return f"option_{group.pk}"


class ProductOrderForm(forms.Form):
    """Billing cycle, the domain or label, and one field per option group of the product."""

    cycle = forms.ChoiceField(label=_("Billing cycle"), widget=forms.RadioSelect)
    label = forms.CharField(
        label=_("Your domain or hostname"),
        max_length=200,
        required=False,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}
        ),
    )

    def __init__(
        self, *args, offer: Offer, groups: list[OptionGroup], language: str, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.product: Product = offer.product
        self.groups = groups
        cycle = self.fields["cycle"]
        assert isinstance(cycle, forms.ChoiceField)  # declared above
        cycle.choices = [
            (
                p.cycle,
                _("%(cycle)s: %(price)s + IVA %(tax)s = %(total)s")
                % {
                    "cycle": p.cycle_label,
                    # "$" and its figure on one line: the label wraps on a phone.
                    "price": format_cop(p.price).replace(" ", NBSP),
                    "tax": format_cop(p.tax).replace(" ", NBSP),
                    "total": format_cop(p.total).replace(" ", NBSP),
                },
            )
            for p in offer.prices
        ]
        if len(offer.prices) == 1:
            cycle.initial = offer.prices[0].cycle
        label = self.fields["label"]
        if self.product.kind in LABEL_REQUIRED_KINDS:
            label.required = True
            label.help_text = _("For example mitienda.com.co")
        else:
            label.label = _("Name or note for this service (optional)")
        self.fields.update(option_fields(groups, language=language))

    def clean(self):
        data = self.cleaned_data  # what super().clean() returns, typed as always set
        if self.errors:
            return data
        selections = selections_from(self.groups, data)
        item = CartItem(
            product_id=self.product.pk,
            cycle=data["cycle"],
            label=data.get("label", ""),
            selections=selections,
        )
        try:
            check_item(item=item)
        except (ConfigurationError, CartError) as exc:
            raise forms.ValidationError(str(exc), code="configuration") from exc
        data["item"] = item
        return data


def option_fields(groups: list[OptionGroup], *, language: str) -> dict[str, forms.Field]:
    """One field per option group: a quantity within its bounds, or one of its active options."""
    fields: dict[str, forms.Field] = {}
    for group in groups:
        name = group.display_name(language)
        options = [o for o in group.options.all() if o.active]
        if group.kind == OptionKind.QUANTITY:
            fields[option_field_name(group)] = forms.IntegerField(
                label=name,
                min_value=group.min_quantity,
                max_value=group.max_quantity,
                initial=group.min_quantity,
                help_text=_prices_text(options[0] if options else None, per_unit=True),
            )
        else:
            choices: list[tuple[str, str]] = [] if group.required else [("", str(_("None")))]
            choices += [
                (str(o.pk), f"{o.display_name(language)} ({_prices_text(o)})") for o in options
            ]
            # Radio buttons, not a drop-down: a choice with its prices is longer than a phone's
            # width, and a drop-down cut it ("cPanel (antes de IVA: Mensual $ 45.0").
            fields[option_field_name(group)] = forms.ChoiceField(
                label=name, choices=choices, required=group.required, widget=forms.RadioSelect
            )
    return fields


def selections_from(groups: list[OptionGroup], data: dict) -> dict[int, Selection]:
    """The cleaned option fields as the catalog's selections (group id → Selection)."""
    selections: dict[int, Selection] = {}
    for group in groups:
        value = data.get(option_field_name(group))
        if group.kind == OptionKind.QUANTITY:
            selections[group.pk] = Selection(option_id=None, quantity=int(value or 0))
        elif value:
            selections[group.pk] = Selection(option_id=int(value), quantity=1)
    return selections


class ServiceOptionsForm(forms.Form):
    """A service's configurable options, to change them (``billing.planchanges``): the same
    fields as when ordering, filled with what the service has."""

    def __init__(
        self,
        *args,
        groups: list[OptionGroup],
        current: dict[int, Selection],
        language: str,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.groups = groups
        self.fields.update(option_fields(groups, language=language))
        for group in groups:
            chosen = current.get(group.pk)
            field = self.fields[option_field_name(group)]
            if group.kind == OptionKind.QUANTITY:
                field.initial = chosen.quantity if chosen else 0
            else:
                field.initial = str(chosen.option_id) if chosen and chosen.option_id else ""

    def clean(self):
        data = self.cleaned_data  # what super().clean() returns, typed as always set
        if not self.errors:
            data["selections"] = selections_from(self.groups, data)
        return data


def _prices_text(option, *, per_unit: bool = False) -> str:
    """An option's prices per cycle, before IVA: "Monthly $ 5.000 · Annual $ 50.000"."""
    if option is None:
        return ""
    # Each cycle stays with its amount on one line: a phone broke "Quarterly $" / "34.000".
    text = " · ".join(
        f"{price.get_cycle_display()} {format_cop(price.price)}".replace(" ", NBSP)
        for price in option.prices.all()
    )
    if per_unit and text:
        return str(_("Per unit, before IVA: %(prices)s") % {"prices": text})
    return str(_("before IVA: %(prices)s") % {"prices": text}) if text else ""


class CouponForm(forms.Form):
    code = forms.CharField(
        label=_("Coupon code"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
