"""Back office for the catalog: products with their prices per billing cycle."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from clientarea.catalog.models import Product, ProductPrice


class ProductPriceInline(admin.TabularInline):
    model = ProductPrice
    extra = 1
    fields = ["cycle", "price"]


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
    inlines = [ProductPriceInline]
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
