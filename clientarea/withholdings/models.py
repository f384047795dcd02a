"""B2B withholdings (retenciones): the provider's rules, the customers that withhold, the amounts
withheld from each paid order and the certificates that settle them.

Rates and bases are data staff edit, never code: the buyer decides which concept it applies
(shared/docs/dian-webservice.md §6.1). The computation lives in ``calculation.py``.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class WithholdingKind(models.TextChoices):
    """DIAN TipoImpuesto-2.1 codes of the three withholdings (the UBL ``TaxScheme/ID``)."""

    RETEIVA = "05", _("ReteIVA")
    RETEFUENTE = "06", _("ReteFuente")
    RETEICA = "07", _("ReteICA")


class UvtValue(models.Model):
    """The UVT (unidad de valor tributario) of one tax year, as DIAN fixes it each December."""

    year = models.PositiveSmallIntegerField(
        _("year"), unique=True, validators=[MinValueValidator(2000), MaxValueValidator(2100)]
    )
    value = models.DecimalField(
        _("value in COP"), max_digits=10, decimal_places=2, validators=[MinValueValidator(1)]
    )
    source = models.CharField(
        _("source"), max_length=200, blank=True, help_text=_("The DIAN resolution that fixed it.")
    )

    class Meta:
        verbose_name = _("UVT value")
        verbose_name_plural = _("UVT values")
        ordering = ["-year"]

    def __str__(self) -> str:
        return f"UVT {self.year}: {self.value}"


class WithholdingRule(models.Model):
    """One withholding the provider's customers apply: its rate and minimum base.

    ``rate`` means: ReteFuente, percent of the value before IVA (4.00 = 4 %); ReteIVA, percent
    of the IVA (15.00 = 15 %); ReteICA, per mil of the value before IVA (9.660 = 9.66 ‰), for
    the municipality in ``municipality_code``.
    """

    kind = models.CharField(_("withholding"), max_length=2, choices=WithholdingKind.choices)
    municipality_code = models.CharField(
        _("municipality (DIVIPOLA)"),
        max_length=5,
        blank=True,
        help_text=_("ReteICA only: the 5-digit DIVIPOLA code of the municipality, e.g. 11001."),
    )
    rate = models.DecimalField(
        _("rate"),
        max_digits=7,
        decimal_places=3,
        validators=[MinValueValidator(Decimal("0.001")), MaxValueValidator(Decimal("100"))],
        help_text=_(
            "ReteFuente: % of the value before IVA. ReteIVA: % of the IVA. ReteICA: per mil (‰) of the value before IVA."
        ),
    )
    min_base_uvt = models.DecimalField(
        _("minimum base (UVT)"),
        max_digits=8,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_(
            "Nothing is withheld from an order whose value before IVA is below this many UVT of the order's year."
        ),
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("withholding rule")
        verbose_name_plural = _("withholding rules")
        ordering = ["kind", "municipality_code"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "municipality_code"], name="withholding_rule_unique"
            ),
        ]

    def __str__(self) -> str:
        label = self.get_kind_display()
        return f"{label} {self.municipality_code}".strip()

    def clean(self) -> None:
        if self.kind == WithholdingKind.RETEICA:
            if not (len(self.municipality_code) == 5 and self.municipality_code.isdigit()):
                raise ValidationError(
                    {"municipality_code": _("ReteICA needs the municipality's 5-digit code.")}
                )
        elif self.municipality_code:
            raise ValidationError(
                {"municipality_code": _("Only ReteICA depends on the municipality.")}
            )


class AgentStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested, waiting for staff")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    REVOKED = "revoked", _("Revoked")


class WithholdingAgent(models.Model):
    """A customer's status as a withholding agent (agente de retención) and what it withholds.

    Only an approved agent pays the net amount; the request and every decision are audited.
    """

    customer = models.OneToOneField(
        "accounts.Customer",
        on_delete=models.PROTECT,
        related_name="withholding_agent",
        verbose_name=_("customer"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=AgentStatus.choices, default=AgentStatus.REQUESTED
    )
    retefuente = models.BooleanField(_("withholds ReteFuente"), default=True)
    reteiva = models.BooleanField(_("withholds ReteIVA"), default=False)
    reteica = models.BooleanField(_("withholds ReteICA"), default=False)
    ica_municipality_code = models.CharField(
        _("ReteICA municipality (DIVIPOLA)"),
        max_length=5,
        blank=True,
        help_text=_("Where the customer withholds ICA; empty: the customer's own municipality."),
    )
    retefuente_rate = models.DecimalField(
        _("ReteFuente rate for this customer (%)"),
        max_digits=7,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.001")), MaxValueValidator(Decimal("100"))],
        help_text=_("Only if this customer applies another concept (software: 3.5 %)."),
    )
    customer_note = models.CharField(_("customer's note"), max_length=500, blank=True)
    decision_note = models.CharField(_("staff note"), max_length=500, blank=True)
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("decided by"),
    )

    class Meta:
        verbose_name = _("withholding agent")
        verbose_name_plural = _("withholding agents")
        ordering = ["status", "-requested_at"]

    def __str__(self) -> str:
        return f"{self.customer} ({self.get_status_display()})"

    @property
    def is_approved(self) -> bool:
        return self.status == AgentStatus.APPROVED

    def clean(self) -> None:
        code = self.ica_municipality_code
        if code and not (len(code) == 5 and code.isdigit()):
            raise ValidationError(
                {"ica_municipality_code": _("Enter the municipality's 5-digit code.")}
            )


class OrderWithholding(models.Model):
    """One amount a customer withheld from one paid order, fixed in the paid transaction.

    Open (a receivable, an *anticipo de impuestos*) until a certificate covering it is accepted;
    ``settled_by`` then points to that certificate. These rows are what a customer ledger posts.
    """

    order = models.ForeignKey(
        "billing.Order",
        on_delete=models.PROTECT,
        related_name="withholdings",
        verbose_name=_("order"),
    )
    customer = models.ForeignKey(
        "accounts.Customer",
        on_delete=models.PROTECT,
        related_name="withholdings",
        verbose_name=_("customer"),
    )
    kind = models.CharField(_("withholding"), max_length=2, choices=WithholdingKind.choices)
    base = models.DecimalField(_("withholding base"), max_digits=14, decimal_places=2)
    rate = models.DecimalField(_("rate"), max_digits=7, decimal_places=3)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    withheld_on = models.DateField(_("withheld on"), help_text=_("The payment date (Colombia)."))
    created_at = models.DateTimeField(_("recorded"), default=timezone.now)
    settled_by = models.ForeignKey(
        "WithholdingCertificate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="withholdings",
        verbose_name=_("certificate"),
    )
    settled_at = models.DateTimeField(_("settled"), null=True, blank=True)
    reversed_amount = models.DecimalField(
        _("reversed by credit notes"),
        max_digits=14,
        decimal_places=2,
        default=0,
        help_text=_(
            "The part of the amount that credit notes on the order reversed: the customer "
            "recovers it from DIAN, so it is not expected on a certificate."
        ),
    )

    class Meta:
        verbose_name = _("order withholding")
        verbose_name_plural = _("order withholdings")
        ordering = ["-withheld_on", "order", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["order", "kind"], name="order_withholding_unique"),
        ]
        indexes = [models.Index(fields=["customer", "kind", "withheld_on"])]

    def __str__(self) -> str:
        return f"{self.order_id} {self.get_kind_display()} {self.amount}"

    @property
    def expected(self) -> Decimal:
        """What a certificate is expected to cover: the amount less what credit notes reversed."""
        return Decimal(self.amount) - Decimal(self.reversed_amount)

    @property
    def is_reversed(self) -> bool:
        """Wholly reversed by credit notes before a certificate settled it: nothing expected."""
        return self.settled_by_id is None and self.expected <= 0

    @property
    def is_open(self) -> bool:
        """Waiting for a certificate: not settled, and something of it is still expected."""
        return self.settled_by_id is None and self.expected > 0


class CertificatePeriod(models.TextChoices):
    YEAR = "year", _("Year")
    BIMESTER = "bimester", _("Two months")
    MONTH = "month", _("Month")


class CertificateStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for review")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")


class WithholdingCertificate(models.Model):
    """A withholding certificate (certificado de retención) the customer uploads for a period."""

    customer = models.ForeignKey(
        "accounts.Customer",
        on_delete=models.PROTECT,
        related_name="withholding_certificates",
        verbose_name=_("customer"),
    )
    kind = models.CharField(_("withholding"), max_length=2, choices=WithholdingKind.choices)
    year = models.PositiveSmallIntegerField(_("year"))
    period_type = models.CharField(
        _("period"),
        max_length=10,
        choices=CertificatePeriod.choices,
        default=CertificatePeriod.YEAR,
    )
    period_number = models.PositiveSmallIntegerField(
        _("period number"),
        default=1,
        help_text=_("Month 1–12 or two-month period 1–6; 1 for a whole year."),
    )
    file = models.FileField(_("PDF file"), upload_to="withholding-certificates/%Y/")
    original_name = models.CharField(_("file name"), max_length=200, blank=True)
    uploaded_at = models.DateTimeField(_("uploaded"), default=timezone.now)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=CertificateStatus.choices,
        default=CertificateStatus.PENDING,
        db_index=True,
    )
    reject_reason = models.CharField(_("reason for rejection"), max_length=500, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reviewed by"),
    )

    class Meta:
        verbose_name = _("withholding certificate")
        verbose_name_plural = _("withholding certificates")
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.period_label} · {self.customer}"

    @property
    def period_label(self) -> str:
        if self.period_type == CertificatePeriod.MONTH:
            return f"{self.year}-{self.period_number:02d}"
        if self.period_type == CertificatePeriod.BIMESTER:
            return f"{self.year} B{self.period_number}"
        return str(self.year)
