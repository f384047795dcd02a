"""Ordering from the catalog (``/clientarea/order/``): the catalog, a product's page with its
cycles and options, the cart with a coupon, and checkout (one order through billing).

The cart lives in the session, so it survives logging in (Django keeps the session's data when
an anonymous visitor logs in): browsing, configuring and the cart are open to visitors, checkout
needs a customer. It holds ids and choices only; prices are computed from the catalog each time
(``billing.catalog_orders.quote_cart``), so a price changed meanwhile is the one charged.
"""

from __future__ import annotations

import secrets
from urllib.parse import quote

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clientarea.accounts.models import Customer
from clientarea.accounts.permissions import Permission, client_area, request_customer
from clientarea.accounts.selectors import customer_for_user
from clientarea.billing.catalog_orders import (
    MAX_CART_ITEMS,
    CartError,
    CartItem,
    place_cart_order,
    quote_cart,
)
from clientarea.catalog import selectors as catalog_selectors
from clientarea.catalog.pricing import (
    ConfigurationError,
    CouponError,
    Selection,
    normalize_code,
    option_groups,
)
from clientarea.lib.http import client_ip
from clientarea.portal.order_forms import CouponForm, ProductOrderForm
from clientarea.withholdings import selectors as withholdings

CART = "catalog_cart"


def _base(request: HttpRequest) -> str:
    return "clientarea/base.html" if request.user.is_authenticated else "base.html"


def _customer_or_none(request: HttpRequest) -> Customer | None:
    """The customer for prices and coupon limits: none for a visitor (or staff without one)."""
    if not request.user.is_authenticated:
        return None
    try:
        return customer_for_user(request.user)
    except Http404:
        return None


def _cart(request: HttpRequest) -> dict:
    cart = request.session.get(CART)
    if not isinstance(cart, dict) or not isinstance(cart.get("items"), list):
        cart = {"items": [], "coupon": ""}
    if not isinstance(cart.get("coupon"), str):
        cart["coupon"] = ""
    return cart


def _save(request: HttpRequest, cart: dict) -> None:
    request.session[CART] = cart


def _to_session(item: CartItem) -> dict:
    return {
        "product": item.product_id,
        "cycle": item.cycle,
        "label": item.label,
        "options": {str(group): [s.option_id, s.quantity] for group, s in item.selections.items()},
    }


def _from_session(data: object) -> CartItem | None:
    if not isinstance(data, dict):
        return None
    try:
        return CartItem(
            product_id=int(data["product"]),
            cycle=str(data["cycle"]),
            label=str(data.get("label", "")),
            selections={
                int(group): Selection(
                    option_id=None if value[0] is None else int(value[0]),
                    quantity=int(value[1]),
                )
                for group, value in dict(data.get("options", {})).items()
            },
        )
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def _items(cart: dict) -> list[CartItem]:
    return [item for item in (_from_session(d) for d in cart["items"]) if item is not None]


@require_GET
def catalog(request: HttpRequest) -> HttpResponse:
    groups = catalog_selectors.orderable_catalog(translation.get_language())
    return render(
        request,
        "portal/order/catalog.html",
        {"catalog": groups, "base": _base(request), "cart_count": len(_cart(request)["items"])},
    )


@require_http_methods(["GET", "POST"])
def product(request: HttpRequest, code: str) -> HttpResponse:
    language = translation.get_language()
    offer = catalog_selectors.orderable_offer(code=code, language=language)
    if offer is None:
        raise Http404
    groups = option_groups(offer.product)
    form = ProductOrderForm(
        request.POST if request.method == "POST" else None,
        offer=offer,
        groups=groups,
        language=language,
        initial={"cycle": request.GET.get("cycle", "")},
    )
    if request.method == "POST" and form.is_valid():
        cart = _cart(request)
        if len(cart["items"]) >= MAX_CART_ITEMS:
            form.add_error(
                None, _("One order can have at most %(n)s items.") % {"n": MAX_CART_ITEMS}
            )
        else:
            cart["items"].append(_to_session(form.cleaned_data["item"]))
            cart.setdefault("token", secrets.token_hex(12))
            _save(request, cart)
            messages.success(request, _("%(product)s is in your cart.") % {"product": offer.name})
            return redirect("order:cart")
    return render(
        request,
        "portal/order/product.html",
        {"offer": offer, "form": form, "base": _base(request)},
    )


@require_GET
def cart(request: HttpRequest) -> HttpResponse:
    data = _cart(request)
    items = _items(data)
    customer = _customer_or_none(request)
    quote, error, coupon_error = None, "", ""
    if items:
        try:
            quote = quote_cart(items=items, customer=customer, coupon_code=data.get("coupon", ""))
        except CouponError as exc:
            coupon_error = str(exc)
            try:
                quote = quote_cart(items=items, customer=customer)
            except (CartError, ConfigurationError) as inner:
                error = str(inner)
        except (CartError, ConfigurationError) as exc:
            error = str(exc)
    return render(
        request,
        "portal/order/cart.html",
        {
            "quote": quote,
            "error": error,
            "coupon_error": coupon_error,
            "coupon_code": data.get("coupon", ""),
            "coupon_form": CouponForm(initial={"code": data.get("coupon", "")}),
            "has_items": bool(data["items"]),
            # A withholding agent's order asks for the net: the cart says so beside its total.
            "withholding_agent": customer is not None
            and withholdings.approved_agent(customer.pk) is not None,
            "base": _base(request),
            "login_url": reverse("accounts:login") + "?next=" + quote_path(reverse("order:cart")),
        },
    )


def quote_path(path: str) -> str:
    return quote(path, safe="/")


@require_POST
def remove_item(request: HttpRequest, index: int) -> HttpResponse:
    data = _cart(request)
    if 0 <= index < len(data["items"]):
        del data["items"][index]
        _save(request, data)
        messages.success(request, _("The item was removed from your cart."))
    return redirect("order:cart")


@require_POST
def apply_coupon(request: HttpRequest) -> HttpResponse:
    data = _cart(request)
    if "remove" in request.POST:
        data["coupon"] = ""
        _save(request, data)
        messages.success(request, _("The coupon was removed."))
        return redirect("order:cart")
    form = CouponForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter a coupon code."))
        return redirect("order:cart")
    code = normalize_code(form.cleaned_data["code"])
    customer = _customer_or_none(request)
    try:
        quote_cart(items=_items(data), customer=customer, coupon_code=code)
    except (CouponError, CartError, ConfigurationError) as exc:
        messages.error(request, str(exc))
        return redirect("order:cart")
    data["coupon"] = code
    _save(request, data)
    messages.success(request, _("Coupon %(code)s applied.") % {"code": code})
    return redirect("order:cart")


@client_area(Permission.BILLING)
@require_POST
def checkout(request: HttpRequest) -> HttpResponse:
    customer = request_customer(request)
    data = _cart(request)
    try:
        order = place_cart_order(
            customer=customer,
            items=_items(data),
            coupon_code=data.get("coupon", ""),
            actor=request.user,
            ip=client_ip(request),
            cart_token=str(data.get("token", "")),
        )
    except (CouponError, CartError, ConfigurationError) as exc:
        messages.error(request, str(exc))
        return redirect("order:cart")
    request.session[CART] = {"items": [], "coupon": ""}
    messages.success(
        request,
        _("We created service order %(number)s. Pay it to activate your services.")
        % {"number": order.number},
    )
    return redirect("billing:order", number=order.number)
