"""Emails sent by the billing run: written to the email log, delivered per batch.

Every email is written to the email log (notifications.OutgoingEmail) inside the
caller's transaction, as ``notifications.services.queue_email`` does. Delivery is
one worker task per committed group (``tasks.deliver_run_emails_task``), not
one task per email. A crash between commit and enqueue leaves queued rows, which
the outbox sweep (``deliver_due_emails_task``) delivers.

Why a stencil. A day's renewals come tens of thousands at a time, and a full
render of the "order created" email (three Django templates) costs about 0.5 ms,
as much as creating the order. So ``OrderEmailRenderer`` renders each template
once per language and *shape* with Django's public template API, giving the
order, its items and the customer unique stand-in values (probes), finds where
each probe landed in the output (and how it was formatted: escaped or not, as an
amount, as a date), and then fills in each order's own values with plain string
operations. No template internals are read. A stencil is used only while it
provably gives the same bytes as a full render:

* Shape. The stencil key holds the language, the number of items, the choice
  fields, and which values are empty or negative, and the probes keep each
  value's emptiness and sign, so every ``if``/``for`` that tests a value's
  truthiness or sign takes the same branch for the probes as for the order.
  A comparison between two values or with another constant is not part of the
  shape: the checks below are what guard it (no order email has one today).
* Reads. While the probe renders, the templates may read only the known fields
  of the order, its items, the customer and the user, plus properties derived
  from them (``display_name``...). Each read is recorded; anything else means
  a full render for that template.
* Transformations. A probe that does not come out as one of the known
  formattings (a filter such as ``upper`` or ``truncatechars`` changed it)
  means a full render for that template.
* Checks. A second probe set with other values, then the first real order of
  each shape, are rendered both ways and must match exactly. Every
  ``AUDIT_EVERY``-th email is checked again. A mismatch drops the stencil for
  the rest of the run, and a full render is used.

Why one file: the stencil is one mechanism whose safety is the argument above (shape, reads,
transformations, checks), and each part of the code below guards one line of that argument.
Read apart, the probes, the recorded reads and the fill could each look correct while the
whole is not; kept together, the module is reviewed against this docstring in one sitting.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Model
from django.utils import dateformat, formats, translation
from django.utils.html import escape

from clientarea.accounts.models import Customer, EmailCategory, User
from clientarea.accounts.selectors import email_recipients_by_customer
from clientarea.billing.jobs import deliver_run_emails_task
from clientarea.billing.models import Order, OrderItem
from clientarea.lib import bulk
from clientarea.lib.money import format_cop
from clientarea.notifications.models import OutgoingEmail
from clientarea.notifications.services import render_email

logger = logging.getLogger(__name__)

AUDIT_EVERY = 500
PARTS = ("subject.txt", "txt", "html")

# The values an order email may show, read from the real objects and replaced by probes.
ORDER_VALUES = ("number", "issue_date", "due_date", "subtotal", "tax_total", "rounding", "total")
ITEM_VALUES = (
    "description",
    "period_start",
    "period_end",
    "quantity",
    "unit_price",
    "tax_rate",
    "subtotal",
    "tax_amount",
    "total",
)
CUSTOMER_VALUES = (
    "first_name",
    "last_name",
    "legal_name",
    "trade_name",
    "document_number",
    "check_digit",
    "phone",
    "address",
)
USER_VALUES = ("email", "full_name")
# Plain values of the context beside the order and the customer.
CONTEXT_VALUES = ("pay_url", "credit_applied", "to_pay")
# Choice fields: copied as they are and part of the stencil key.
ORDER_CHOICES = ("state", "currency")
ITEM_CHOICES = ("kind", "tax_treatment", "position")
CUSTOMER_CHOICES = ("person_type", "document_type", "preferred_language")
# What else a template may read: relations, and properties computed only from the fields above.
DERIVED: dict[type[Model], set[str]] = {
    Order: {"items", "customer", "get_state_display"},
    OrderItem: {"get_kind_display", "get_tax_treatment_display"},
    Customer: {
        "user",
        "display_name",
        "email",
        "document_display",
        "get_person_type_display",
        "get_document_type_display",
    },
    User: {"get_full_name"},
}
ALLOWED_READS: dict[type[Model], set[str]] = {
    Order: {*ORDER_VALUES, *ORDER_CHOICES, *DERIVED[Order]},
    OrderItem: {*ITEM_VALUES, *ITEM_CHOICES, *DERIVED[OrderItem]},
    Customer: {*CUSTOMER_VALUES, *CUSTOMER_CHOICES, *DERIVED[Customer]},
    User: {*USER_VALUES, *DERIVED[User]},
}
PROBE_OPEN, PROBE_CLOSE = "\ue000", "\ue001"  # Unicode private use: never in real names or numbers
DATE_FORMATS = ("d/m/Y", "j/n/Y", "d/m/y", "Y-m-d", "j F Y", r"j \d\e F \d\e Y", "F j, Y", "N j, Y")


# --- Delivery -------------------------------------------------------------------------


def save_emails(emails: Sequence[OutgoingEmail]) -> list[int]:
    """Insert emails into the log (caller's transaction) and deliver them after commit, in one task.

    Each email built for a customer goes to the account's contacts who receive billing emails
    (one log row each; ``accounts.selectors.email_recipients``).
    """
    if not emails:
        return []
    emails = _to_billing_contacts(emails)
    bulk.insert(emails, return_ids=True)  # bulk_create's rows, without its per-value cost
    ids = [email.pk for email in emails]

    def deliver() -> None:
        deliver_run_emails_task(ids)

    transaction.on_commit(deliver)
    return ids


def _to_billing_contacts(emails: Sequence[OutgoingEmail]) -> list[OutgoingEmail]:
    customers = {e.customer_id: e.customer for e in emails if e.customer is not None}
    if not customers:
        return list(emails)
    recipients = email_recipients_by_customer(customers.values(), EmailCategory.BILLING)
    expanded: list[OutgoingEmail] = []
    for email in emails:
        to = recipients.get(email.customer_id) if email.customer_id is not None else None
        if not to or to == [email.to_email]:  # the usual case: the holder alone
            expanded.append(email)
            continue
        for address in to:
            expanded.append(
                OutgoingEmail(
                    customer=email.customer,
                    to_email=address,
                    subject=email.subject,
                    template=email.template,
                    language=email.language,
                    body_text=email.body_text,
                    body_html=email.body_html,
                )
            )
    return expanded


def build_email(
    *,
    customer: Customer,
    template: str,
    context: dict[str, Any],
    language: str | None = None,
    rendered: tuple[str, str, str] | None = None,
) -> OutgoingEmail:
    """An unsaved email log row for ``customer``, fully rendered unless ``rendered`` is given."""
    lang = language or customer.preferred_language or settings.LANGUAGE_CODE
    subject, text, html = rendered or render_email(
        template=template, context=context, language=lang
    )
    return OutgoingEmail(
        customer=customer,
        to_email=customer.user.email,
        subject=subject,
        template=template,
        language=lang,
        body_text=text,
        body_html=html,
    )


class _Items:
    """Stands for ``order.items`` in a template: ``.all`` gives the items already in memory."""

    def __init__(self, items: Sequence[Any]):
        self._items = list(items)

    def all(self) -> list[Any]:
        return self._items


class OrderWithItems:
    """An order as the email templates see it, with ``order.items.all`` answered from memory.

    Every other attribute is the order's own, so a template cannot tell the difference,
    and no query is made for the items (the billing run has just created them).
    """

    def __init__(self, order: Any, items: Sequence[Any]):
        self._order = order
        self.items = _Items(items)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._order, name)


def attach_items(order: Any, items: Sequence[Any]) -> OrderWithItems:
    """``order`` for a template context, with ``order.items.all`` returning ``items`` (no query)."""
    return OrderWithItems(order, items)


# --- Stencils ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Slot:
    key: str
    fmt: str  # esc | raw | cop | l10n | str | date:<format>


class _Stencil:
    """One rendered part (subject, text or HTML): literal text and value slots."""

    def __init__(self, parts: list[str | _Slot], post: str):
        self.parts = parts
        self.post = post
        # (literal, key, format) triples: the fill loop is the hot path of a billing run.
        ops: list[tuple[str, str | None, str]] = []
        literal = ""
        for part in parts:
            if isinstance(part, str):
                literal += part
            else:
                ops.append((literal, part.key, part.fmt))
                literal = ""
        ops.append((literal, None, ""))
        self.ops = ops

    def fill(self, values: dict[str, Any], cache: dict[tuple, str], local: dict[tuple, str]) -> str:
        """``cache``: formatted amounts and dates for the run; ``local``: this email's strings."""
        out: list[str] = []
        for literal, key, fmt in self.ops:
            out.append(literal)
            if key is not None:
                value = values[key]
                if type(value) is str:
                    text = local.get((key, fmt))
                    if text is None:
                        text = local[(key, fmt)] = _format(value, fmt)
                    out.append(text)
                else:  # amounts and dates repeat a lot: format each once per run and language
                    # cop and dates depend on the value only; str/l10n also on the exponent
                    # (Decimal("1.00") == Decimal("1") but prints differently).
                    cache_key = (
                        (fmt, value)
                        if fmt == "cop" or type(value) is dt.date
                        else (fmt, str(value))
                    )
                    text = cache.get(cache_key)
                    if text is None:
                        text = cache[cache_key] = _format(value, fmt)
                    out.append(text)
        return _post_process("".join(out), self.post)


def _post_process(text: str, post: str) -> str:
    # Mirrors notifications.services.render_email; the checks catch any divergence.
    if post == "subject.txt":
        return " ".join(text.split())
    if post == "txt":
        return text.strip() + "\n"
    return text


def _format(value: Any, fmt: str) -> str:
    # html.escape(str(x)) is exactly django.utils.html.escape without the lazy/SafeString wrappers.
    if fmt == "esc":
        return html.escape(str(value))
    if fmt == "raw":
        return str(value)
    if fmt == "cop":
        return format_cop(value)
    if fmt == "l10n":
        return html.escape(str(formats.localize(value)))
    if fmt == "str":
        return html.escape(str(value))
    return html.escape(str(dateformat.format(value, fmt[5:])))  # "date:<format>"


class _Reads:
    """Wraps a model instance during the probe render and records what the templates read.

    ``items``: for the order, the (wrapped) items that ``order.items.all`` gives.
    """

    def __init__(self, obj: Model, seen: set[tuple[type, str]], items: list[Any] | None = None):
        self.__dict__["_obj"] = obj
        self.__dict__["_seen"] = seen
        self.__dict__["_items"] = None if items is None else _Items(items)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        self._seen.add((type(self._obj), name))
        if name == "items" and self._items is not None:
            return self._items
        value = getattr(self._obj, name)
        return _Reads(value, self._seen) if isinstance(value, Model) else value


class _Unsafe(Exception):
    """The stencil cannot be proven equal to a full render.

    ``template_wide``: the template itself is the reason (it transforms a value,
    or reads something else), so no shape of it is stencilled in this run;
    otherwise only this shape.
    """

    def __init__(self, message: str, *, template_wide: bool = False):
        super().__init__(message)
        self.template_wide = template_wide


_ORDER_KEYS = [(name, f"order.{name}") for name in ORDER_VALUES]
_CUSTOMER_KEYS = [(name, f"customer.{name}") for name in CUSTOMER_VALUES]
_USER_KEYS = [(name, f"user.{name}") for name in USER_VALUES]
_ITEM_KEYS: list[list[tuple[str, str]]] = []


def _item_keys(i: int) -> list[tuple[str, str]]:
    while len(_ITEM_KEYS) <= i:
        _ITEM_KEYS.append([(name, f"item{len(_ITEM_KEYS)}.{name}") for name in ITEM_VALUES])
    return _ITEM_KEYS[i]


def order_values(
    *,
    order: Order,
    items: Sequence[OrderItem],
    customer: Customer,
    pay_url: str,
    credit_applied: Decimal = Decimal(0),
    to_pay: Decimal | None = None,
) -> tuple[dict[str, Any], tuple]:
    """The values an order email may show, and the choice fields (part of the stencil key).

    ``credit_applied``: the account credit the order took when it was created; ``to_pay``: what
    is left to pay (default: the total)."""
    values: dict[str, Any] = {
        "pay_url": pay_url,
        "credit_applied": credit_applied,
        "to_pay": order.total if to_pay is None else to_pay,
    }
    for name, key in _ORDER_KEYS:
        values[key] = getattr(order, name)
    for i, item in enumerate(items):
        for name, key in _item_keys(i):
            values[key] = getattr(item, name)
    for name, key in _CUSTOMER_KEYS:
        values[key] = getattr(customer, name)
    user = customer.user
    for name, key in _USER_KEYS:
        values[key] = getattr(user, name)
    choices = (
        tuple(getattr(order, name) for name in ORDER_CHOICES),
        tuple(tuple(getattr(item, name) for name in ITEM_CHOICES) for item in items),
        tuple(getattr(customer, name) for name in CUSTOMER_CHOICES),
    )
    return values, choices


def _stencilable(values: dict[str, Any]) -> bool:
    for value in values.values():
        if type(value) is str:
            if value != value.strip() or PROBE_OPEN in value or PROBE_CLOSE in value:
                return False  # derived properties strip; probes must stay unique
        elif not (value is None or type(value) is Decimal or type(value) is dt.date):
            return False  # datetimes, subclasses, anything else: full render
    return True


def _probe(value: Any, n: int, variant: int) -> Any:
    """A unique stand-in of the same type, truthiness and sign (empty values stay as they are)."""
    if not value:
        return value
    if isinstance(value, str):
        return f"{PROBE_OPEN}{variant}.{n}&x{PROBE_CLOSE}"  # '&' shows escaping, 'x' shows case changes
    if isinstance(value, Decimal):
        base = 7_000_000 if variant == 0 else 3_000_000
        probe = Decimal(f"{base + 1009 * (n + 1)}.{'37' if variant == 0 else '00'}")
        return -probe if value < 0 else probe
    if variant == 0:
        return dt.date(2071 + n, 10 + n % 3, 20 + n % 9)
    return dt.date(2031 + n, 1 + n % 9, 1 + n % 9)


def _probe_context(
    values: dict[str, Any], choices: tuple, seen: set | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Unsaved model instances carrying the given values, as the email context."""
    order_choices, item_choices, customer_choices = choices
    user = User(**{name: values[f"user.{name}"] for name in USER_VALUES})
    customer = Customer(
        user=user,
        **{name: values[f"customer.{name}"] for name in CUSTOMER_VALUES},
        **dict(zip(CUSTOMER_CHOICES, customer_choices, strict=True)),
    )
    order = Order(
        pk=-1,
        customer=customer,
        **{name: values[f"order.{name}"] for name in ORDER_VALUES},
        **dict(zip(ORDER_CHOICES, order_choices, strict=True)),
    )
    items = [
        OrderItem(
            pk=-2 - i,
            order=order,
            **{name: values[f"item{i}.{name}"] for name in ITEM_VALUES},
            **dict(zip(ITEM_CHOICES, one, strict=True)),
        )
        for i, one in enumerate(item_choices)
    ]
    extra = {key: values[key] for key in CONTEXT_VALUES}
    if seen is not None:
        return {
            "order": _Reads(order, seen, items=[_Reads(item, seen) for item in items]),
            "customer": _Reads(customer, seen),
            **extra,
        }, values
    return {"order": attach_items(order, items), "customer": customer, **extra}, values


def _candidates(key: str, probe: Any) -> list[tuple[str, str]]:
    """(rendered text, format) pairs a template might produce for this probe value."""
    if isinstance(probe, str):
        return [(str(escape(probe)), "esc"), (probe, "raw")]
    if isinstance(probe, Decimal):
        return [
            (format_cop(probe), "cop"),
            (str(formats.localize(probe)), "l10n"),
            (str(probe), "str"),
        ]
    fmts = [
        *DATE_FORMATS,
        formats.get_format("DATE_FORMAT"),
        formats.get_format("SHORT_DATE_FORMAT"),
    ]
    return [(dateformat.format(probe, fmt), f"date:{fmt}") for fmt in fmts]


def _build(
    template: str, language: str, values: dict[str, Any], choices: tuple
) -> dict[str, _Stencil]:
    """Render the probe and cut it into stencils; raises _Unsafe if it cannot be proven equal."""
    keys = list(values)
    probes_a = {k: _probe(v, i, 0) for i, (k, v) in enumerate(values.items())}
    probes_b = {k: _probe(v, i, 1) for i, (k, v) in enumerate(values.items())}
    seen: set[tuple[type, str]] = set()
    context, _ = _probe_context(probes_a, choices, seen)
    rendered_a = render_email(template=template, context=context, language=language)
    for model, name in seen:
        allowed = ALLOWED_READS.get(model, set())
        if name not in allowed:
            raise _Unsafe(f"template reads {model.__name__}.{name}", template_wide=True)
    with translation.override(language):
        lookup: dict[str, tuple[str, str]] = {}
        for key in keys:
            if probes_a[key]:
                for text, fmt in _candidates(key, probes_a[key]):
                    lookup.setdefault(text, (key, fmt))
    if not lookup:
        raise _Unsafe(f"{template}: no value to fill in")
    pattern = re.compile(
        "|".join(re.escape(text) for text in sorted(lookup, key=len, reverse=True))
    )
    stencils: dict[str, _Stencil] = {}
    for part, output in zip(PARTS, rendered_a, strict=True):
        pieces: list[str | _Slot] = []
        pos = 0
        for match in pattern.finditer(output):
            pieces.append(output[pos : match.start()])
            pieces.append(_Slot(*lookup[match.group()]))
            pos = match.end()
        pieces.append(output[pos:])
        if any(isinstance(p, str) and (PROBE_OPEN in p or PROBE_CLOSE in p) for p in pieces):
            raise _Unsafe(f"a value in {template}.{part} is transformed", template_wide=True)
        stencils[part] = _Stencil([p for p in pieces if p != ""], part)
    # Cross-check with other probe values (integer amounts, one-digit days and months...).
    context_b, _ = _probe_context(probes_b, choices, None)
    if _fill(stencils, probes_b, language) != render_email(
        template=template, context=context_b, language=language
    ):
        raise _Unsafe(f"{template}: stencil differs from the template for other values")
    return stencils


def _fill(
    stencils: dict[str, _Stencil],
    values: dict[str, Any],
    language: str,
    cache: dict[tuple, str] | None = None,
) -> tuple[str, str, str]:
    cache = {} if cache is None else cache
    local: dict[tuple, str] = {}
    with translation.override(language):
        return tuple(stencils[part].fill(values, cache, local) for part in PARTS)  # type: ignore[return-value]


class OrderEmailRenderer:
    """Renders emails whose context is {order, customer, pay_url, credit_applied, to_pay}, through
    verified stencils when possible."""

    def __init__(self, *, audit_every: int = AUDIT_EVERY):
        self.audit_every = audit_every
        self._stencils: dict[tuple, dict[str, _Stencil] | None] = {}
        self._verified: set[tuple] = set()
        self._unsafe: dict[str, str] = {}
        self._uses = 0
        self._formatted: dict[str, dict[tuple, str]] = {}  # per language
        self.stats = {"stencil": 0, "full": 0, "dropped": 0}

    def render(
        self,
        *,
        template: str,
        order: Order,
        items: Sequence[OrderItem],
        customer: Customer,
        pay_url: str,
        language: str,
        credit_applied: Decimal = Decimal(0),
        to_pay: Decimal | None = None,
    ) -> tuple[str, str, str]:
        values, choices = order_values(
            order=order,
            items=items,
            customer=customer,
            pay_url=pay_url,
            credit_applied=credit_applied,
            to_pay=to_pay,
        )

        def full() -> tuple[str, str, str]:
            context = {
                "order": attach_items(order, items),
                "customer": customer,
                **{key: values[key] for key in CONTEXT_VALUES},
            }
            return render_email(template=template, context=context, language=language)

        if template in self._unsafe or not _stencilable(values):
            self.stats["full"] += 1
            return full()
        key = (
            template,
            language,
            choices,
            tuple((k, v) for k, v in values.items() if not v),
            tuple(k for k, v in values.items() if type(v) is Decimal and v < 0),
        )
        if key not in self._stencils:
            self._stencils[key] = self._build(template, language, values, choices)
        stencils = self._stencils[key]
        if stencils is None:
            self.stats["full"] += 1
            return full()
        self._uses += 1
        cache = self._formatted.setdefault(language, {})
        if len(cache) > 50_000:
            cache.clear()
        filled = _fill(stencils, values, language, cache)
        if key not in self._verified or self._uses % self.audit_every == 0:
            expected = full()
            if expected != filled:
                logger.warning(
                    "email stencil for %s (%s) differs from a full render: dropped",
                    template,
                    language,
                )
                self._stencils[key] = None
                self.stats["dropped"] += 1
                self.stats["full"] += 1
                return expected
            self._verified.add(key)
        self.stats["stencil"] += 1
        return filled

    def _build(
        self, template: str, language: str, values: dict[str, Any], choices: tuple
    ) -> dict[str, _Stencil] | None:
        try:
            return _build(template, language, values, choices)
        except _Unsafe as exc:
            logger.info("email %s (%s) is rendered in full: %s", template, language, exc)
            if exc.template_wide:
                self._unsafe[template] = str(exc)
            return None
