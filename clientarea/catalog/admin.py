"""Back office for the catalog: products with their prices per billing cycle, their configurable
options (groups, options, prices per cycle) and coupons."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from clientarea.catalog import services
from clientarea.catalog.models import (
    BillingCycle,
    Coupon,
    Option,
    OptionGroup,
    OptionPrice,
    Product,
    ProductPrice,
)


class ProductPriceInline(admin.TabularInline):
    model = ProductPrice
    extra = 1
    fields = ["cycle", "price"]


class OptionGroupInline(admin.TabularInline):
    model = OptionGroup
    extra = 0
    fields = ["name", "name_en", "kind", "required", "min_quantity", "max_quantity", "sort_order"]
    show_change_link = True


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "name_en",
        "kind",
        "tax_treatment",
        "tax_rate",
        "setup_fee",
        "active",
        "sort_order",
    ]
    list_filter = ["kind", "active", "tax_treatment"]
    list_editable = ["active", "sort_order"]
    search_fields = ["code", "name", "name_en"]
    prepopulated_fields = {"code": ["name"]}
    inlines = [ProductPriceInline, OptionGroupInline]
    fieldsets = (
        (None, {"fields": ("code", "name", "name_en", "kind", "active", "sort_order")}),
        (_("Description"), {"fields": ("description", "description_en")}),
        (
            _("Tax and fees"),
            {
                "fields": ("tax_treatment", "tax_rate", "setup_fee"),
                "description": _(
                    "Prices are before IVA. Changing a price does not change existing services or orders."
                ),
            },
        ),
    )

    def has_delete_permission(self, request, obj=None) -> bool:
        # Products with services are protected by the database; deactivate them instead.
        return super().has_delete_permission(request, obj) and (
            obj is None or not obj.services.exists()
        )


class OptionInline(admin.TabularInline):
    model = Option
    extra = 1
    fields = ["name", "name_en", "active", "sort_order"]
    show_change_link = True


@admin.register(OptionGroup)
class OptionGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "product", "kind", "required", "min_quantity", "max_quantity"]
    list_filter = ["kind", "product"]
    search_fields = ["name", "name_en", "product__name", "product__code"]
    list_select_related = ["product"]
    inlines = [OptionInline]
    fieldsets = (
        (
            None,
            {
                "fields": ("product", "name", "name_en", "kind", "sort_order"),
                "description": _(
                    "A quantity group has one option, priced per unit (e.g. extra disk GB); a "
                    "choice group has several, the customer picks one. Prices per cycle are on "
                    "each option. Prices are before IVA, with the product's IVA."
                ),
            },
        ),
        (_("Rules"), {"fields": ("required", "min_quantity", "max_quantity")}),
    )


class OptionPriceInline(admin.TabularInline):
    model = OptionPrice
    extra = 1
    fields = ["cycle", "price"]


@admin.register(Option)
class OptionAdmin(admin.ModelAdmin):
    list_display = ["name", "group", "active", "sort_order"]
    list_filter = ["active", "group__product"]
    search_fields = ["name", "name_en", "group__name"]
    list_select_related = ["group__product"]
    inlines = [OptionPriceInline]


class CouponForm(forms.ModelForm):
    cycles = forms.MultipleChoiceField(
        label=_("billing cycles"),
        choices=BillingCycle.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Empty: every cycle."),
    )

    class Meta:
        model = Coupon
        fields = [
            "code",
            "description",
            "active",
            "kind",
            "value",
            "duration",
            "products",
            "cycles",
            "valid_from",
            "valid_until",
            "max_uses",
            "max_uses_per_customer",
        ]

    def clean_code(self) -> str:
        return self.cleaned_data["code"].strip().upper()


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    form = CouponForm
    list_display = [
        "code",
        "kind",
        "value",
        "duration",
        "valid_from",
        "valid_until",
        "max_uses",
        "max_uses_per_customer",
        "uses",
        "active",
    ]
    list_filter = ["active", "kind", "duration"]
    search_fields = ["code", "description"]
    filter_horizontal = ["products"]
    actions = ["activate", "deactivate"]
    fieldsets = (
        (None, {"fields": ("code", "description", "active")}),
        (_("Discount"), {"fields": ("kind", "value", "duration")}),
        (_("Where it applies"), {"fields": ("products", "cycles")}),
        (
            _("Limits"),
            {"fields": ("valid_from", "valid_until", "max_uses", "max_uses_per_customer")},
        ),
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                live_uses=Count(
                    "redemptions", filter=~Q(redemptions__order__state="cancelled"), distinct=True
                )
            )
        )

    @admin.display(description=_("uses"), ordering="live_uses")
    def uses(self, obj: Coupon) -> int:
        return getattr(obj, "live_uses", 0)

    @admin.action(description=_("Activate selected coupons"), permissions=["change"])
    def activate(self, request, queryset):
        n = services.set_coupons_active(
            coupon_ids=queryset.values_list("pk", flat=True), active=True, actor=request.user
        )
        self.message_user(
            request,
            ngettext("%(n)d coupon activated.", "%(n)d coupons activated.", n) % {"n": n},
            messages.SUCCESS,
        )

    @admin.action(description=_("Deactivate selected coupons"), permissions=["change"])
    def deactivate(self, request, queryset):
        n = services.set_coupons_active(
            coupon_ids=queryset.values_list("pk", flat=True), active=False, actor=request.user
        )
        self.message_user(
            request,
            ngettext("%(n)d coupon deactivated.", "%(n)d coupons deactivated.", n) % {"n": n},
            messages.SUCCESS,
        )
