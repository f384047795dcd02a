"""Plain, framework-free description of one DIAN electronic sales invoice.

Everything the XML builder, the CUFE, the QR and the PDF need is here as frozen
dataclasses, so those modules stay pure functions of an :class:`InvoiceDocument`
(no Django, no database) and can be tested and benchmarked on their own.

Money is ``Decimal`` only. Every amount is rounded once, to 2 decimals with
ROUND_HALF_UP (``clientarea.lib.money``), per line; document totals are plain
sums of the rounded line figures, so the lines always add up to the totals.
Section numbers (§) refer to ``shared/docs/dian-einvoice.md``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from clientarea.lib.money import ZERO, quantize, tax_for
from clientarea.lib.nit import check_digit as nit_check_digit

BOGOTA = ZoneInfo("America/Bogota")

PERSON_TYPES = {"juridica": "1", "natural": "2"}  # §2.2 TipoOrganizacion-2.1
TAX_TREATMENTS = ("taxed", "exempt", "excluded")
ENVIRONMENTS = ("1", "2")  # §2.2 TipoAmbiente-2.1: 1 producción, 2 pruebas
PAYMENT_FORMS = ("1", "2")  # §2.2 FormasPago-2.1: 1 contado, 2 crédito
TAX_SCHEMES = ("01", "ZZ")  # §2.2 cac:TaxScheme: 01 IVA or ZZ "No aplica"
IVA = "01"
_DIVIPOLA = re.compile(r"^\d{5}$")


def money_str(amount: Decimal) -> str:
    """An amount as written in the XML and in the CUFE: ``1234.50`` (§1.1).

    Two decimals, ``.`` as decimal point, no thousands separator.
    """
    return f"{quantize(amount):.2f}"


def decimal_str(value: Decimal, min_places: int = 2) -> str:
    """A quantity or unit price without losing precision (at least 2 decimals)."""
    value = Decimal(value)
    exponent = value.normalize().as_tuple().exponent
    places = max(min_places, -exponent if isinstance(exponent, int) else 0)
    return f"{value:.{places}f}"


def _require_decimal(name: str, value: object) -> None:
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}")


@dataclass(frozen=True, kw_only=True)
class Party:
    """Supplier or customer, with the identity data DIAN needs (§2.2, §6)."""

    person_type: str  # "natural" | "juridica"
    document_type: str  # TipoIdFiscal code: "13" cédula, "31" NIT, ...
    document_number: str
    check_digit: str = ""  # NIT DV; required for document_type "31"
    legal_name: str
    first_name: str = ""
    last_name: str = ""
    trade_name: str = ""
    email: str = ""
    phone: str = ""
    address_line: str = ""
    municipality_code: str  # DIVIPOLA, 5 digits (§6.4)
    municipality_name: str
    department_code: str
    department_name: str
    country: str = "CO"
    fiscal_responsibilities: tuple[str, ...] = ("R-99-PN",)
    tax_scheme: str = "ZZ"

    def __post_init__(self) -> None:
        if self.person_type not in PERSON_TYPES:
            raise ValueError(f"person_type must be one of {sorted(PERSON_TYPES)}")
        if not self.document_number.strip():
            raise ValueError("document_number is required")
        if not self.legal_name.strip():
            raise ValueError("legal_name is required")
        if self.tax_scheme not in TAX_SCHEMES:
            raise ValueError(f"tax_scheme must be one of {TAX_SCHEMES}")
        if not _DIVIPOLA.match(self.municipality_code):
            raise ValueError("municipality_code must be a 5-digit DIVIPOLA code")
        if self.department_code != self.municipality_code[:2]:
            # §6.4: the first two DIVIPOLA digits are the department.
            raise ValueError("department_code must be the first 2 digits of municipality_code")
        if not self.fiscal_responsibilities:
            raise ValueError("at least one fiscal responsibility code is required (§6.3)")
        if self.document_type == "31":
            if not self.document_number.isdigit():
                raise ValueError(
                    "a NIT is written with digits only, without DV, dots or dashes (§1.1)"
                )
            if self.check_digit != nit_check_digit(self.document_number):
                raise ValueError(f"wrong NIT check digit for {self.document_number}")

    @property
    def additional_account_id(self) -> str:
        """``cbc:AdditionalAccountID``: 1 persona jurídica, 2 persona natural (§2.2)."""
        return PERSON_TYPES[self.person_type]

    @property
    def is_natural(self) -> bool:
        return self.person_type == "natural"

    @property
    def display_name(self) -> str:
        """Name shown in ``cac:PartyName``: trade name if any, else the legal name."""
        return self.trade_name or self.legal_name

    @property
    def document_label(self) -> str:
        """``900123456-7`` for a NIT, the bare number otherwise."""
        if self.check_digit:
            return f"{self.document_number}-{self.check_digit}"
        return self.document_number


@dataclass(frozen=True, kw_only=True)
class Resolution:
    """DIAN numbering authorization (resolución de numeración, §5)."""

    number: str
    prefix: str
    range_from: int
    range_to: int
    valid_from: dt.date
    valid_to: dt.date
    technical_key: str  # ClTec, from GetNumberingRange (§5); never written in the XML
    environment: str = "2"

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ValueError(f"environment must be one of {ENVIRONMENTS}")
        if not (0 < self.range_from <= self.range_to):
            raise ValueError("invalid numbering range")
        if self.valid_from > self.valid_to:
            raise ValueError("invalid validity period")
        if len(self.prefix) > 4 or (self.prefix and not self.prefix.isalnum()):
            # §5: "Prefijo: está compuesto por cuatro letras, números o una combinación".
            raise ValueError("prefix must be at most 4 letters or digits")
        if not self.technical_key:
            raise ValueError("technical_key is required")


@dataclass(frozen=True, kw_only=True)
class Line:
    """One invoice line. Amounts are already rounded; see :meth:`build`."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    line_extension: Decimal
    tax_rate: Decimal = ZERO
    tax_amount: Decimal = ZERO
    tax_treatment: str = "taxed"
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    code: str = ""
    #: A discount on the line (line-level ``cac:AllowanceCharge``, ChargeIndicator false): the
    #: line's value is quantity × unit price minus it, and IVA is computed on that value.
    allowance: Decimal = ZERO
    allowance_reason: str = ""

    @classmethod
    def build(
        cls,
        *,
        description: str,
        quantity: Decimal,
        unit_price: Decimal,
        tax_rate: Decimal = Decimal("19.00"),
        tax_treatment: str = "taxed",
        period_start: dt.date | None = None,
        period_end: dt.date | None = None,
        code: str = "",
        allowance: Decimal = ZERO,
        allowance_reason: str = "",
    ) -> Line:
        """Compute ``line_extension`` and ``tax_amount`` with the project's rounding rule."""
        allowance = quantize(allowance)
        line_extension = quantize(quantity * unit_price) - allowance
        rate = quantize(tax_rate) if tax_treatment == "taxed" else ZERO
        return cls(
            description=description,
            quantity=quantity,
            unit_price=unit_price,
            line_extension=line_extension,
            tax_rate=rate,
            tax_amount=tax_for(line_extension, rate) if tax_treatment == "taxed" else ZERO,
            tax_treatment=tax_treatment,
            period_start=period_start,
            period_end=period_end,
            code=code,
            allowance=allowance,
            allowance_reason=allowance_reason,
        )

    def __post_init__(self) -> None:
        for name in (
            "quantity",
            "unit_price",
            "line_extension",
            "tax_rate",
            "tax_amount",
            "allowance",
        ):
            _require_decimal(name, getattr(self, name))
        if self.tax_treatment not in TAX_TREATMENTS:
            raise ValueError(f"tax_treatment must be one of {TAX_TREATMENTS}")
        if not self.description.strip():
            raise ValueError("description is required")
        if self.quantity <= 0:
            raise ValueError("quantity must be positive")
        if self.unit_price < 0:
            # §2.2: negative values are prohibited (rule VLR01).
            raise ValueError("unit_price must not be negative")
        if self.allowance < 0 or self.allowance > self.gross_amount:
            raise ValueError("an allowance is between 0 and the line's quantity × unit_price")
        if self.allowance and not self.allowance_reason.strip():
            raise ValueError("an allowance needs its reason (AllowanceChargeReason)")
        if self.line_extension != self.gross_amount - self.allowance:
            raise ValueError(
                "line_extension must be quantity × unit_price rounded to 0.01, minus the allowance"
            )
        if self.tax_treatment == "taxed":
            if self.tax_rate <= 0:
                raise ValueError("a taxed line needs a positive IVA rate; use 'exempt' for 0 %")
            if self.tax_amount != tax_for(self.line_extension, self.tax_rate):
                raise ValueError(
                    "tax_amount must be line_extension × tax_rate / 100 rounded to 0.01"
                )
        elif self.tax_rate != 0 or self.tax_amount != 0:
            raise ValueError(f"an {self.tax_treatment} line carries no IVA (rate and amount 0)")
        if (self.period_start is None) != (self.period_end is None):
            raise ValueError("give both period_start and period_end, or neither")
        if self.period_start and self.period_end and self.period_start > self.period_end:
            raise ValueError("period_start is after period_end")

    @property
    def gross_amount(self) -> Decimal:
        """Quantity × unit price, rounded: the allowance's ``BaseAmount``."""
        return quantize(self.quantity * self.unit_price)

    @property
    def allowance_percent(self) -> Decimal:
        """``MultiplierFactorNumeric``: the allowance as a percent of its base, 2 decimals."""
        gross = self.gross_amount
        return quantize(self.allowance * 100 / gross) if gross else ZERO

    @property
    def has_iva_subtotal(self) -> bool:
        """Taxed and exempt (0 %) lines carry an IVA subtotal; excluded lines none."""
        return self.tax_treatment != "excluded"

    @property
    def total(self) -> Decimal:
        return self.line_extension + self.tax_amount


@dataclass(frozen=True)
class TaxSubtotal:
    """IVA of all lines sharing one rate (exempt lines are the 0.00 % group)."""

    rate: Decimal
    taxable_amount: Decimal
    tax_amount: Decimal


#: ``cbc:InvoiceTypeCode`` / ``CreditNoteTypeCode`` of each kind of document (92 is implied
#: for a DebitNote, which has no type-code element: ``dian-webservice.md`` §4.2).
INVOICE_TYPE = "01"
CREDIT_NOTE_TYPE = "91"
DEBIT_NOTE_TYPE = "92"
DOCUMENT_TYPES = (INVOICE_TYPE, CREDIT_NOTE_TYPE, DEBIT_NOTE_TYPE)


@dataclass(frozen=True, kw_only=True)
class InvoiceReference:
    """The invoice a credit or debit note corrects (``cac:BillingReference``, §4.2)."""

    number: str
    cufe: str
    issue_date: dt.date


#: DIAN TipoImpuesto-2.1 codes and names of the withholdings an invoice may report (§6.2 of
#: dian-webservice.md): 05 ReteIVA (base: the IVA), 06 ReteFuente and 07 ReteICA (base: the value).
WITHHOLDING_SCHEMES = {"05": "ReteIVA", "06": "ReteFuente", "07": "ReteICA"}


@dataclass(frozen=True, kw_only=True)
class Withholding:
    """An amount the buyer withheld (informative: it changes neither PayableAmount nor the CUFE).

    ``percent`` is the rate as a percent of ``base`` (ReteICA's 9.66 per mil is 0.966).
    """

    scheme: str
    base: Decimal
    percent: Decimal
    amount: Decimal

    def __post_init__(self) -> None:
        for name in ("base", "percent", "amount"):
            _require_decimal(name, getattr(self, name))
        if self.scheme not in WITHHOLDING_SCHEMES:
            raise ValueError(f"scheme must be one of {sorted(WITHHOLDING_SCHEMES)}")
        if self.base < 0 or self.amount < 0 or self.percent <= 0:
            raise ValueError("withholding amounts are positive")

    @property
    def name(self) -> str:
        return WITHHOLDING_SCHEMES[self.scheme]

    @property
    def percent_str(self) -> str:
        """``Percent``: 2 decimals, 3 only where the rate has them (``0.966``)."""
        return decimal_str(Decimal(self.percent).normalize(), min_places=2)


@dataclass(frozen=True, kw_only=True)
class InvoiceDocument:
    """One factura electrónica de venta, or a nota crédito / débito on one, ready to be rendered.

    A note (``document_type`` 91 or 92) carries its own number with its own prefix
    (``note_prefix``, §4.4), the invoice it corrects (``reference``) and DIAN's concept code with
    the reason (``cac:DiscrepancyResponse``); ``resolution`` is then the corrected invoice's, for
    the environment only (DIAN numbers invoices, not notes).
    """

    number: int
    resolution: Resolution
    issue: dt.datetime  # timezone-aware
    due: dt.date
    currency: str = "COP"
    supplier: Party
    customer: Party
    lines: tuple[Line, ...]
    payment_form: str = "1"
    payment_means_code: str = "48"
    order_reference: str = ""
    note: str = ""
    software_id: str
    software_pin: str
    software_provider_nit: str
    software_provider_dv: str
    invoice_type_code: str = "01"  # §2.2: 01 venta nacional
    #: PayableRoundingAmount: makes the amount to pay whole pesos (the order's rounding, lib/money.py).
    payable_rounding: Decimal = ZERO
    #: 01 invoice, 91 credit note, 92 debit note.
    document_type: str = INVOICE_TYPE
    note_prefix: str = ""
    reference: InvoiceReference | None = None
    concept_code: str = ""
    concept_reason: str = ""
    #: What a withholding-agent buyer withheld (UBL WithholdingTaxTotal), at most one per scheme.
    withholdings: tuple[Withholding, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "withholdings", tuple(self.withholdings))
        if len({w.scheme for w in self.withholdings}) != len(self.withholdings):
            raise ValueError("at most one withholding per scheme")
        if self.issue.tzinfo is None or self.issue.utcoffset() is None:
            raise ValueError("issue must be a timezone-aware datetime")
        if not self.lines:
            raise ValueError("an invoice needs at least one line")
        object.__setattr__(self, "lines", tuple(self.lines))
        if self.document_type not in DOCUMENT_TYPES:
            raise ValueError(f"document_type must be one of {DOCUMENT_TYPES}")
        if self.is_note:
            self._check_note()
        else:
            self._check_numbering()
        if self.due < self.issue_date:
            raise ValueError("due date is before the issue date")
        if self.payment_form not in PAYMENT_FORMS:
            raise ValueError(f"payment_form must be one of {PAYMENT_FORMS}")
        if self.currency != "COP":
            raise ValueError("only COP invoices are supported")
        object.__setattr__(self, "payable_rounding", quantize(Decimal(self.payable_rounding)))
        if abs(self.payable_rounding) > Decimal("0.50"):
            raise ValueError("payable_rounding must be between -0.50 and +0.50")

    def _check_note(self) -> None:
        if self.reference is None or not self.reference.cufe or not self.reference.number:
            raise ValueError("a note needs the number and CUFE of the invoice it corrects")
        if not self.concept_code or not self.concept_reason.strip():
            raise ValueError("a note needs DIAN's concept code and a reason")
        if not self.note_prefix or len(self.note_prefix) > 4 or not self.note_prefix.isalnum():
            raise ValueError("a note needs a prefix of up to 4 letters or digits")
        if self.number <= 0:
            raise ValueError("a note number must be positive")

    def _check_numbering(self) -> None:
        res = self.resolution
        if not (res.range_from <= self.number <= res.range_to):
            # §5: DIAN rejects numbers outside the authorized range.
            raise ValueError(
                f"number {self.number} is outside the authorized range {res.range_from}-{res.range_to}"
            )
        if not (res.valid_from <= self.issue_date <= res.valid_to):
            raise ValueError("issue date is outside the validity of the numbering resolution (§5)")

    # -- identity -------------------------------------------------------------
    @property
    def full_id(self) -> str:
        """``cbc:ID``: prefix + consecutive number, e.g. ``SETP990000002`` (§2.2), ``NC12``."""
        if self.is_note:
            return f"{self.note_prefix}{self.number}"
        return f"{self.resolution.prefix}{self.number}"

    @property
    def is_note(self) -> bool:
        return self.document_type != INVOICE_TYPE

    @property
    def is_credit_note(self) -> bool:
        return self.document_type == CREDIT_NOTE_TYPE

    @property
    def is_debit_note(self) -> bool:
        return self.document_type == DEBIT_NOTE_TYPE

    @property
    def environment(self) -> str:
        return self.resolution.environment

    @property
    def local_issue(self) -> dt.datetime:
        """Issue moment in America/Bogota (§1.1: Colombia is UTC-05:00, no DST)."""
        return self.issue.astimezone(BOGOTA)

    @property
    def issue_date(self) -> dt.date:
        return self.local_issue.date()

    @property
    def issue_date_str(self) -> str:
        return self.local_issue.strftime("%Y-%m-%d")

    @property
    def issue_time_str(self) -> str:
        """``HH:MM:SS-05:00``: the offset is part of the CUFE string (§1.1)."""
        return self.local_issue.strftime("%H:%M:%S") + "-05:00"

    # -- totals ---------------------------------------------------------------
    @property
    def line_extension_total(self) -> Decimal:
        """Sum of line values before tax (``LineExtensionAmount``, CUFE ValFac)."""
        return quantize(sum((line.line_extension for line in self.lines), ZERO))

    @property
    def iva_subtotals(self) -> tuple[TaxSubtotal, ...]:
        """IVA grouped by rate, highest rate first; excluded lines are not taxable."""
        groups: dict[Decimal, tuple[Decimal, Decimal]] = {}
        for line in self.lines:
            if not line.has_iva_subtotal:
                continue
            rate = quantize(line.tax_rate)
            base, tax = groups.get(rate, (ZERO, ZERO))
            groups[rate] = (base + line.line_extension, tax + line.tax_amount)
        return tuple(
            TaxSubtotal(rate=rate, taxable_amount=quantize(base), tax_amount=quantize(tax))
            for rate, (base, tax) in sorted(groups.items(), key=lambda item: item[0], reverse=True)
        )

    @property
    def iva_total(self) -> Decimal:
        """Total IVA (CUFE ValImp1): the sum of the lines' IVA."""
        return quantize(sum((line.tax_amount for line in self.lines), ZERO))

    @property
    def excluded_total(self) -> Decimal:
        return quantize(
            sum((line.line_extension for line in self.lines if not line.has_iva_subtotal), ZERO)
        )

    @property
    def tax_exclusive_amount(self) -> Decimal:
        """``TaxExclusiveAmount``: the taxable base (taxed + exempt lines, not excluded)."""
        return quantize(sum((sub.taxable_amount for sub in self.iva_subtotals), ZERO))

    @property
    def tax_inclusive_amount(self) -> Decimal:
        return quantize(self.line_extension_total + self.iva_total)

    @property
    def payable_amount(self) -> Decimal:
        """``PayableAmount`` (CUFE ValTot): no allowances, charges or prepayments here, so
        TaxInclusiveAmount + PayableRoundingAmount."""
        return quantize(self.tax_inclusive_amount + self.payable_rounding)

    @property
    def withheld_total(self) -> Decimal:
        return quantize(sum((w.amount for w in self.withholdings), ZERO))

    @property
    def net_payable(self) -> Decimal:
        """What the buyer paid: PayableAmount minus what it withheld."""
        return quantize(self.payable_amount - self.withheld_total)
