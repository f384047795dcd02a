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


class OptionKind(models.TextChoices):
    QUANTITY = "quantity", _("Quantity (e.g. extra GB)")
    CHOICE = "choice", _("One choice from a list")


class OptionGroup(models.Model):
    """A configurable option of a product: a quantity within bounds, or one choice from a list.

    A quantity group has exactly one option, priced per unit; a choice group has several (one of
    them may cost nothing, e.g. "No control panel").
    """

    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="option_groups", verbose_name=_("product")
    )
    name = models.CharField(_("name"), max_length=120)
    name_en = models.CharField(_("name (English)"), max_length=120, blank=True)
    kind = models.CharField(_("type"), max_length=10, choices=OptionKind.choices)
    required = models.BooleanField(
        _("required"), default=False, help_text=_("A choice group: the customer must pick one.")
    )
    min_quantity = models.PositiveIntegerField(_("minimum quantity"), default=0)
    max_quantity = models.PositiveIntegerField(_("maximum quantity"), default=1)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("option group")
        verbose_name_plural = _("option groups")
        ordering = ["product", "sort_order", "id"]

    def __str__(self) -> str:
        return f"{self.product} · {self.name}"

    def clean(self) -> None:
        if self.kind == OptionKind.QUANTITY and self.min_quantity > self.max_quantity:
            raise ValidationError(
                {"max_quantity": _("The maximum must not be smaller than the minimum.")}
            )

    def display_name(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name


class Option(models.Model):
    group = models.ForeignKey(
        OptionGroup, on_delete=models.CASCADE, related_name="options", verbose_name=_("group")
    )
    name = models.CharField(_("name"), max_length=120)
    name_en = models.CharField(_("name (English)"), max_length=120, blank=True)
    active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("option")
        verbose_name_plural = _("options")
        ordering = ["group", "sort_order", "id"]

    def __str__(self) -> str:
        return f"{self.group.name}: {self.name}"

    def display_name(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name


class OptionPrice(models.Model):
    """What one unit of an option costs per period of a billing cycle (before IVA, the product's IVA)."""

    option = models.ForeignKey(Option, on_delete=models.CASCADE, related_name="prices")
    cycle = models.CharField(_("billing cycle"), max_length=12, choices=BillingCycle.choices)
    price = models.DecimalField(
        _("price per unit (before IVA)"),
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(0)],
    )

    class Meta:
        verbose_name = _("option price")
        verbose_name_plural = _("option prices")
        constraints = [
            models.UniqueConstraint(fields=["option", "cycle"], name="unique_option_cycle_price")
        ]
        ordering = ["option", "price"]

    def __str__(self) -> str:
        return f"{self.option} {self.get_cycle_display()}: {self.price}"


class CouponKind(models.TextChoices):
    PERCENT = "percent", _("Percentage")
    FIXED = "fixed", _("Fixed amount (COP before IVA)")


class CouponDuration(models.TextChoices):
    FIRST_PERIOD = "first", _("First period only")
    RECURRING = "recurring", _("Every renewal too")


class Coupon(models.Model):
    """A discount code: a percentage or a fixed amount off a product's price (before IVA).

    A percentage applies to the product and its options; a fixed amount to the product's line,
    never more than it. One coupon per order (no stacking). ``max_uses`` counts the orders that
    used it and were not cancelled; ``max_uses_per_customer`` the same per customer.
    """

    code = models.CharField(
        _("code"),
        max_length=40,
        unique=True,
        help_text=_("What the customer types; stored in capitals."),
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    kind = models.CharField(_("type"), max_length=10, choices=CouponKind.choices)
    value = models.DecimalField(
        _("value"),
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("Percent (1 to 100) or pesos before IVA."),
    )
    duration = models.CharField(
        _("applies to"),
        max_length=10,
        choices=CouponDuration.choices,
        default=CouponDuration.FIRST_PERIOD,
    )
    products = models.ManyToManyField(
        Product,
        blank=True,
        related_name="coupons",
        verbose_name=_("products"),
        help_text=_("Empty: every product."),
    )
    cycles = models.JSONField(
        _("billing cycles"), default=list, blank=True, help_text=_("Empty: every cycle.")
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    max_uses = models.PositiveIntegerField(
        _("maximum uses"), null=True, blank=True, help_text=_("Empty: no limit.")
    )
    max_uses_per_customer = models.PositiveIntegerField(
        _("maximum uses per customer"), null=True, blank=True, default=1
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-created_at", "code"]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        if self.kind == CouponKind.PERCENT and self.value and self.value > 100:
            raise ValidationError({"value": _("A percentage cannot be more than 100.")})
        if self.valid_from and self.valid_until and self.valid_from > self.valid_until:
            raise ValidationError({"valid_until": _("The coupon ends before it starts.")})
        unknown = [c for c in self.cycles or [] if c not in BillingCycle.values]
        if unknown:
            raise ValidationError({"cycles": _("Unknown billing cycle: %s") % ", ".join(unknown)})
