"""Products and their prices per billing cycle (COP)."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class BillingCycle(models.TextChoices):
    MONTHLY = "monthly", _("Monthly")
    QUARTERLY = "quarterly", _("Quarterly")
    SEMIANNUAL = "semiannual", _("Semiannual")
    ANNUAL = "annual", _("Annual")
    BIENNIAL = "biennial", _("Biennial")
    TRIENNIAL = "triennial", _("Triennial")
    ONE_TIME = "one_time", _("One time")


CYCLE_MONTHS: dict[str, int | None] = {
    BillingCycle.MONTHLY: 1,
    BillingCycle.QUARTERLY: 3,
    BillingCycle.SEMIANNUAL: 6,
    BillingCycle.ANNUAL: 12,
    BillingCycle.BIENNIAL: 24,
    BillingCycle.TRIENNIAL: 36,
    BillingCycle.ONE_TIME: None,
}


class ProductKind(models.TextChoices):
    HOSTING = "hosting", _("Web hosting")
    DOMAIN = "domain", _("Domain")
    VPS = "vps", _("VPS")
    SSL = "ssl", _("SSL certificate")
    EMAIL = "email", _("Email")
    OTHER = "other", _("Other")


class TaxTreatment(models.TextChoices):
    TAXED = "taxed", _("IVA (taxed)")
    EXEMPT = "exempt", _("Exempt (0%)")
    EXCLUDED = "excluded", _("Excluded (no IVA)")


class Product(models.Model):
    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=120)
    name_en = models.CharField(_("name (English)"), max_length=120, blank=True)
    kind = models.CharField(_("type"), max_length=10, choices=ProductKind.choices)
    description = models.TextField(_("description"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    tax_treatment = models.CharField(
        _("tax treatment"), max_length=10, choices=TaxTreatment.choices, default=TaxTreatment.TAXED
    )
    tax_rate = models.DecimalField(
        _("IVA rate %"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("19.00"),
        validators=[MinValueValidator(0)],
    )
    setup_fee = models.DecimalField(
        _("setup fee"),
        max_digits=14,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(0)],
    )
    active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.tax_treatment != TaxTreatment.TAXED and self.tax_rate:
            raise ValidationError({"tax_rate": _("Exempt and excluded products have a 0% rate.")})

    def display_name(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name

    @property
    def effective_tax_rate(self) -> Decimal:
        return self.tax_rate if self.tax_treatment == TaxTreatment.TAXED else Decimal("0")


class ProductPrice(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="prices")
    cycle = models.CharField(_("billing cycle"), max_length=12, choices=BillingCycle.choices)
    price = models.DecimalField(
        _("price (before IVA)"), max_digits=14, decimal_places=2, validators=[MinValueValidator(0)]
    )

    class Meta:
        verbose_name = _("price")
        verbose_name_plural = _("prices")
        constraints = [
            models.UniqueConstraint(fields=["product", "cycle"], name="unique_product_cycle_price")
        ]
        ordering = ["product", "price"]

    def __str__(self) -> str:
        return f"{self.product} {self.get_cycle_display()}: {self.price}"
