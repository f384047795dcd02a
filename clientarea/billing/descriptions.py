"""Order line descriptions, written once in the language of the customer the order bills.

An order is a document: its item descriptions are composed when it is created and stored, and
the order page, its emails, the printable order and the invoice show the stored text. They are
composed in the customer's language (``Customer.preferred_language``), whoever creates the order:
the customer on a page in either language, staff, the billing run or the demo. The product reads
``Product.name_en`` in English when staff filled it in, else its one name. Texts staff type for a
manual order are stored as typed and never pass through here.

The fixed parts ("(renewal)", "Setup fee: …") are translated once per language: a
:class:`LineDescriptions` keeps them in a dict by language for a whole batch (the billing run
holds one for the run), so the cost does not grow with the number of items.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from clientarea.accounts.models import Customer
from clientarea.catalog.models import Product


def customer_language(customer: Customer) -> str:
    """The customer's language as one of ``settings.LANGUAGES`` (the site's when unset or unknown)."""
    try:
        return translation.get_supported_language_variant(customer.preferred_language or "")
    except LookupError:
        return settings.LANGUAGE_CODE


@dataclass(frozen=True, kw_only=True)
class LineTexts:
    """The fixed parts of item descriptions, translated into one language."""

    language: str
    renewal: str
    renewal_labelled: str
    setup_fee: str
    coupon: str

    @staticmethod
    def translate(language: str) -> LineTexts:
        with translation.override(language):
            return LineTexts(
                language=language,
                renewal=_("%(product)s (renewal)"),
                renewal_labelled=_("%(product)s · %(label)s (renewal)"),
                setup_fee=_("Setup fee: %(name)s"),
                coupon=_("Coupon %(code)s (%(value)s)"),
            )

    def product_name(self, product: Product) -> str:
        return product.display_name(self.language)

    def new_service(self, *, product: Product, label: str) -> str:
        """The line that bills a newly ordered service: "<product> · <label>"."""
        name = self.product_name(product)
        return f"{name} · {label}" if label else name

    def setup_fee_for(self, *, product: Product) -> str:
        """The activation charge of a newly ordered service."""
        return self.setup_fee % {"name": self.product_name(product)}

    def option_for(self, *, service_text: str, option: str) -> str:
        """A configurable option's line: "<product> · <label> · <option>" (or with "(renewal)")."""
        return f"{service_text} · {option}"

    def coupon_for(self, *, code: str, value: str) -> str:
        """Why a line is discounted: "Coupon BIENVENIDA (10 %)"."""
        return self.coupon % {"code": code, "value": value}

    def renewal_for(self, *, product: Product, label: str) -> str:
        """The line that bills a service's next period: "<product> · <label> (renewal)"."""
        text = self.renewal_labelled if label else self.renewal
        return text % {"product": self.product_name(product), "label": label}


class LineDescriptions:
    """Per-language :class:`LineTexts` for one batch, each language translated once."""

    def __init__(self) -> None:
        self._by_language: dict[str, LineTexts] = {}

    def for_language(self, language: str) -> LineTexts:
        texts = self._by_language.get(language)
        if texts is None:
            texts = self._by_language[language] = LineTexts.translate(language)
        return texts

    def for_customer(self, customer: Customer) -> LineTexts:
        return self.for_language(customer_language(customer))


def texts_for(customer: Customer) -> LineTexts:
    """The fixed texts in one customer's language (for a single order)."""
    return LineTexts.translate(customer_language(customer))
