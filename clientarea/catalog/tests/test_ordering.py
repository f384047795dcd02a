"""Ordering from the catalog: options validated and priced, coupons and their rules, the cart
becoming one order, the paid path, the invoice's line discounts, renewals with options and a
recurring coupon."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone, translation
from lxml import etree

from clientarea.billing import automation, cancellations
from clientarea.billing import services as billing
from clientarea.billing.catalog_orders import CartError, CartItem, place_cart_order, quote_cart
from clientarea.billing.models import CouponRedemption, ItemKind, Order, OrderItem, OrderState
from clientarea.billing.tests import make_product
from clientarea.catalog.models import (
    Coupon,
    CouponDuration,
    CouponKind,
    OptionGroup,
    OptionKind,
    Product,
    ProductKind,
)
from clientarea.catalog.pricing import ConfigurationError, CouponError, Selection, configure
from clientarea.einvoice import cufe, validation
from clientarea.einvoice.demo import DIAN_TEST_TECHNICAL_KEY
from clientarea.einvoice.models import Invoice
from clientarea.einvoice.sandbox import checks
from clientarea.einvoice.sandbox import document as sandbox_document
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.lib.dates import local_today
from clientarea.subscriptions.models import Service, ServiceOption, ServiceStatus
from clientarea.test import make_customer, make_provider

pytestmark = pytest.mark.django_db
UBL = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}


@pytest.fixture(autouse=True)
def english():
    """Messages for people in English here; order lines are in the customer's language (es-CO)."""
    with translation.override("en"):
        yield


@pytest.fixture
def vps():
    """A VPS (monthly 100.000, quarterly 280.000, setup 50.000) with extra disk (0–100 GB at
    500/GB a month), extra IPs (0–4 at 10.000) and a control panel choice (cPanel 40.000)."""
    make_provider()
    product = make_product(
        "vps",
        kind=ProductKind.VPS,
        prices={"monthly": "100000", "quarterly": "280000"},
        setup_fee="50000",
    )
    disk = OptionGroup.objects.create(
        product=product, name="Disco adicional (GB)", kind=OptionKind.QUANTITY, max_quantity=100
    )
    gb = disk.options.create(name="GB")
    gb.prices.create(cycle="monthly", price=Decimal("500"))
    gb.prices.create(cycle="quarterly", price=Decimal("1400"))
    ips = OptionGroup.objects.create(
        product=product, name="IP adicional", kind=OptionKind.QUANTITY, max_quantity=4
    )
    ip = ips.options.create(name="IPv4")
    ip.prices.create(cycle="monthly", price=Decimal("10000"))
    panel = OptionGroup.objects.create(
        product=product, name="Panel de control", kind=OptionKind.CHOICE
    )
    cpanel = panel.options.create(name="cPanel")
    cpanel.prices.create(cycle="monthly", price=Decimal("40000"))
    plesk = panel.options.create(name="Plesk")  # no quarterly price: not offered quarterly
    plesk.prices.create(cycle="monthly", price=Decimal("30000"))
    other = make_product("hosting", prices={"monthly": "20000"})
    foreign = OptionGroup.objects.create(product=other, name="Extra", kind=OptionKind.CHOICE)
    foreign_option = foreign.options.create(name="Extra")
    foreign_option.prices.create(cycle="monthly", price=Decimal("1"))
    return {
        "product": product,
        "hosting": other,
        "disk": disk,
        "ips": ips,
        "panel": panel,
        "cpanel": cpanel,
        "plesk": plesk,
        "foreign": foreign,
        "foreign_option": foreign_option,
    }


def vps_item(vps, *, disk=20, ips=2, panel="cpanel", cycle="monthly", label="srv1") -> CartItem:
    selections = {
        vps["disk"].pk: Selection(option_id=None, quantity=disk),
        vps["ips"].pk: Selection(option_id=None, quantity=ips),
    }
    if panel:
        selections[vps["panel"].pk] = Selection(option_id=vps[panel].pk)
    return CartItem(product_id=vps["product"].pk, cycle=cycle, label=label, selections=selections)


def hosting_item(vps, label="tienda.co") -> CartItem:
    return CartItem(product_id=vps["hosting"].pk, cycle="monthly", label=label)


def coupon(*, products: list[Product] | None = None, **fields) -> Coupon:
    data: dict[str, object] = dict(code="PROMO", kind=CouponKind.PERCENT, value=Decimal("10"))
    data.update(fields)
    created = Coupon.objects.create(**data)
    if products:
        created.products.set(products)
    return created


def pay(order: Order) -> None:
    billing.mark_order_paid(
        order_id=order.pk, paid_at=timezone.now(), via="payu", method="card", reference="tx"
    )


# --- Options ------------------------------------------------------------------------------------


def test_options_are_priced_per_cycle_and_quantity(vps):
    config = configure(
        product=vps["product"],
        cycle="monthly",
        selections=vps_item(vps).selections,
    )
    assert config.price == Decimal("100000")
    assert [(o.option.name, o.quantity, o.subtotal) for o in config.options] == [
        ("GB", 20, Decimal("10000.00")),
        ("IPv4", 2, Decimal("20000.00")),
        ("cPanel", 1, Decimal("40000.00")),
    ]
    assert config.recurring_subtotal == Decimal("170000.00")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"disk": 101}, "between 0 and 100"),
        ({"ips": 5}, "between 0 and 4"),
        ({"ips": -1}, "between 0 and 4"),
        ({"cycle": "quarterly", "ips": 0, "panel": "plesk"}, "not offered with that billing cycle"),
        ({"cycle": "annual"}, "not available with that billing cycle"),
    ],
)
def test_options_out_of_bounds_or_not_offered_are_refused(vps, change, message):
    item = vps_item(vps, **change)
    with pytest.raises(ConfigurationError, match=message):
        configure(product=vps["product"], cycle=item.cycle, selections=item.selections)


def test_an_option_of_another_product_or_a_missing_required_choice_is_refused(vps):
    selections = {vps["foreign"].pk: Selection(option_id=vps["foreign_option"].pk)}
    with pytest.raises(ConfigurationError, match="does not belong"):
        configure(product=vps["product"], cycle="monthly", selections=selections)
    # An option id of another group inside a real group of this product.
    wrong = {vps["panel"].pk: Selection(option_id=vps["foreign_option"].pk)}
    with pytest.raises(ConfigurationError, match="choice is not available"):
        configure(product=vps["product"], cycle="monthly", selections=wrong)
    OptionGroup.objects.filter(pk=vps["panel"].pk).update(required=True)
    with pytest.raises(ConfigurationError, match="choose one"):
        item = vps_item(vps, panel=None)
        configure(product=vps["product"], cycle="monthly", selections=item.selections)


def test_the_label_is_validated_per_product_kind(vps):
    customer = make_customer()
    with pytest.raises(CartError, match="domain or hostname"):
        quote_cart(items=[hosting_item(vps, label="")], customer=customer)
    with pytest.raises(CartError, match="without http"):
        quote_cart(items=[hosting_item(vps, label="http://tienda.co/")], customer=customer)
    quote = quote_cart(items=[hosting_item(vps, label="Tienda.CO")], customer=customer)
    assert quote.items[0].label == "tienda.co"
    # A VPS takes any short note as its label.
    assert quote_cart(items=[vps_item(vps, label="web 1")], customer=customer).items[0].label


# --- The cart becomes one order ----------------------------------------------------------------


def test_two_items_become_one_order_that_activates_both_services_when_paid(vps):
    customer = make_customer()
    make_resolution()
    order = place_cart_order(customer=customer, items=[vps_item(vps), hosting_item(vps)])
    items = list(order.items.order_by("position"))
    assert [(i.kind, i.quantity, i.unit_price) for i in items] == [
        (ItemKind.NEW_SERVICE, Decimal("1.00"), Decimal("100000.00")),
        (ItemKind.OPTION, Decimal("20.00"), Decimal("500.00")),
        (ItemKind.OPTION, Decimal("2.00"), Decimal("10000.00")),
        (ItemKind.OPTION, Decimal("1.00"), Decimal("40000.00")),
        (ItemKind.SETUP_FEE, Decimal("1.00"), Decimal("50000.00")),
        (ItemKind.NEW_SERVICE, Decimal("1.00"), Decimal("20000.00")),
    ]
    assert order.subtotal == Decimal("240000.00")
    assert order.tax_total == Decimal("45600.00")
    assert order.total == Decimal("285600.00")
    services = list(Service.objects.filter(customer=customer).order_by("pk"))
    assert [s.status for s in services] == [ServiceStatus.PENDING, ServiceStatus.PENDING]
    assert [
        (o.description, o.quantity, o.price)
        for o in ServiceOption.objects.filter(service=services[0])
    ] == [
        ("Disco adicional (GB)", 20, Decimal("10000.00") / 20),
        ("IP adicional", 2, Decimal("10000.00")),
        ("Panel de control: cPanel", 1, Decimal("40000.00")),
    ]
    pay(order)
    assert set(Service.objects.filter(customer=customer).values_list("status", flat=True)) == {
        ServiceStatus.ACTIVE
    }
    # Each service was activated once, not once per option line.
    assert services[0].events.filter(kind="activated").count() == 1


def test_cancelling_the_order_cancels_each_pending_service_once(vps):
    customer = make_customer()
    order = place_cart_order(customer=customer, items=[vps_item(vps)])
    billing.cancel_order(order=order, reason="changed my mind")
    service = Service.objects.get(customer=customer)
    assert service.status == ServiceStatus.CANCELLED
    assert service.events.filter(kind="cancelled").count() == 1


def test_an_invalid_item_writes_nothing(vps):
    customer = make_customer()
    with pytest.raises(ConfigurationError):
        place_cart_order(customer=customer, items=[hosting_item(vps), vps_item(vps, disk=500)])
    assert not Order.objects.exists() and not Service.objects.exists()
    with pytest.raises(CartError, match="empty"):
        place_cart_order(customer=customer, items=[])


# --- Coupons -------------------------------------------------------------------------------------


def test_a_percentage_coupon_discounts_the_product_and_its_options_not_the_setup_fee(vps):
    customer = make_customer()
    coupon(code="VPS10", products=[vps["product"]])
    order = place_cart_order(
        customer=customer, items=[vps_item(vps), hosting_item(vps)], coupon_code=" vps10 "
    )
    items = list(order.items.order_by("position"))
    assert [i.discount for i in items] == [
        Decimal("10000.00"),
        Decimal("1000.00"),
        Decimal("2000.00"),
        Decimal("4000.00"),
        Decimal("0.00"),  # setup fee
        Decimal("0.00"),  # hosting: not covered by the coupon
    ]
    assert items[0].subtotal == Decimal("90000.00")
    assert items[0].tax_amount == Decimal("17100.00")  # IVA on the discounted value
    assert items[0].discount_reason == "Cupón VPS10 (10 %)"
    assert order.subtotal == Decimal("223000.00")
    assert order.total == Decimal("265370.00")
    redemption = CouponRedemption.objects.get(order=order)
    assert redemption.discount == Decimal("17000.00")


def test_a_fixed_coupon_never_takes_more_than_the_product_line(vps):
    customer = make_customer()
    coupon(code="MENOS", kind=CouponKind.FIXED, value=Decimal("25000"))
    order = place_cart_order(customer=customer, items=[hosting_item(vps)], coupon_code="MENOS")
    item = order.items.get()
    assert item.discount == Decimal("20000.00") and item.subtotal == Decimal("0.00")
    assert order.total == Decimal("0.00")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"active": False}, "no longer valid"),
        ({"valid_until": dt.date(2020, 1, 1)}, "expired"),
        ({"valid_from": dt.date(2099, 1, 1)}, "not valid yet"),
        ({"cycles": ["annual"]}, "does not apply"),
    ],
)
def test_a_coupon_outside_its_terms_is_refused(vps, fields, message):
    coupon(code="X", **fields)
    with pytest.raises(CouponError, match=message):
        place_cart_order(customer=make_customer(), items=[hosting_item(vps)], coupon_code="X")
    assert not Order.objects.exists()


def test_a_coupon_for_other_products_or_an_unknown_code_is_refused(vps):
    coupon(code="SOLOVPS", products=[vps["product"]])
    with pytest.raises(CouponError, match="does not apply"):
        quote_cart(items=[hosting_item(vps)], customer=make_customer(), coupon_code="SOLOVPS")
    with pytest.raises(CouponError, match="do not know"):
        quote_cart(items=[hosting_item(vps)], customer=make_customer(), coupon_code="NOPE")


def test_usage_limits_count_orders_not_cancelled(vps):
    alice, bob, carla = make_customer(), make_customer(), make_customer()
    coupon(code="DOS", max_uses=2, max_uses_per_customer=1)
    first = place_cart_order(customer=alice, items=[hosting_item(vps, "a.co")], coupon_code="DOS")
    with pytest.raises(CouponError, match="already used"):
        place_cart_order(customer=alice, items=[hosting_item(vps, "b.co")], coupon_code="DOS")
    place_cart_order(customer=bob, items=[hosting_item(vps, "c.co")], coupon_code="DOS")
    with pytest.raises(CouponError, match="used up"):
        place_cart_order(customer=carla, items=[hosting_item(vps, "d.co")], coupon_code="DOS")
    # A cancelled order gives its use back.
    billing.cancel_order(order=first, reason="test")
    place_cart_order(customer=carla, items=[hosting_item(vps, "d.co")], coupon_code="DOS")
    assert Order.objects.exclude(state=OrderState.CANCELLED).count() == 2


# --- Invoice ------------------------------------------------------------------------------------


def test_the_invoice_shows_each_discount_as_a_line_allowance(
    vps, django_capture_on_commit_callbacks
):
    make_resolution()
    customer = make_customer()
    coupon(code="VPS10", products=[vps["product"]])
    order = place_cart_order(customer=customer, items=[vps_item(vps)], coupon_code="VPS10")
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
    invoice = Invoice.objects.get(order=order)
    xml = invoice.xml_unsigned.encode()
    assert validation.validate_invoice(xml, allow_unsigned=True) == []
    assert cufe.cufe_from_xml(xml, DIAN_TEST_TECHNICAL_KEY) == invoice.cufe
    root = etree.fromstring(xml)
    first = root.find("cac:InvoiceLine", UBL)
    allowance = first.find("cac:AllowanceCharge", UBL)
    assert allowance.findtext("cbc:ChargeIndicator", namespaces=UBL) == "false"
    assert allowance.findtext("cbc:AllowanceChargeReason", namespaces=UBL) == "Cupón VPS10 (10 %)"
    assert allowance.findtext("cbc:MultiplierFactorNumeric", namespaces=UBL) == "10.00"
    assert allowance.findtext("cbc:Amount", namespaces=UBL) == "10000.00"
    assert allowance.findtext("cbc:BaseAmount", namespaces=UBL) == "100000.00"
    assert first.findtext("cbc:LineExtensionAmount", namespaces=UBL) == "90000.00"
    assert first.findtext("cac:TaxTotal/cbc:TaxAmount", namespaces=UBL) == "17100.00"
    # The setup fee's line has no allowance.
    setup = root.findall("cac:InvoiceLine", UBL)[-1]
    assert setup.find("cac:AllowanceCharge", UBL) is None
    totals = root.find("cac:LegalMonetaryTotal", UBL)
    assert totals.findtext("cbc:LineExtensionAmount", namespaces=UBL) == f"{order.subtotal:.2f}"
    assert totals.find("cbc:AllowanceTotalAmount", UBL) is None  # line-level only
    assert totals.findtext("cbc:PayableAmount", namespaces=UBL) == f"{order.total:.2f}"


def test_the_dian_simulator_accepts_a_discounted_line_and_catches_a_wrong_one(
    vps, django_capture_on_commit_callbacks
):
    make_resolution()
    coupon(code="VPS10", products=[vps["product"]])
    order = place_cart_order(customer=make_customer(), items=[vps_item(vps)], coupon_code="VPS10")
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
    root = etree.fromstring(Invoice.objects.get(order=order).xml_unsigned.encode())
    facts = sandbox_document.facts(root)
    assert [f.rule for f in checks._total_findings(root, facts)] == []
    amount = root.find("cac:InvoiceLine/cac:AllowanceCharge/cbc:Amount", UBL)
    amount.text = "9000.00"
    assert "FAV02" in [f.rule for f in checks._total_findings(root, facts)]


# --- Renewals -----------------------------------------------------------------------------------


def test_renewals_bill_the_options_and_keep_a_recurring_coupon(vps):
    customer = make_customer()
    coupon(code="SIEMPRE", duration=CouponDuration.RECURRING, value=Decimal("20"))
    coupon(code="UNAVEZ", duration=CouponDuration.FIRST_PERIOD, value=Decimal("50"))
    recurring = place_cart_order(customer=customer, items=[vps_item(vps)], coupon_code="SIEMPRE")
    once = place_cart_order(
        customer=make_customer(), items=[hosting_item(vps)], coupon_code="UNAVEZ"
    )
    pay(recurring)
    pay(once)
    vps_service = Service.objects.get(customer=customer)
    assert vps_service.coupon is not None and vps_service.coupon.code == "SIEMPRE"
    due = vps_service.next_due_date
    assert due is not None
    run = automation.run_billing(run_date=due - dt.timedelta(days=5))
    assert run.counts["orders_created"] == 2
    assert run.counts["services_billed"] == 2
    renewal = Order.objects.filter(items__service=vps_service, items__kind=ItemKind.RENEWAL).get()
    lines = list(renewal.items.order_by("position"))
    assert [(i.kind, i.quantity, i.unit_price, i.discount) for i in lines] == [
        (ItemKind.RENEWAL, Decimal("1.00"), Decimal("100000.00"), Decimal("20000.00")),
        (ItemKind.OPTION, Decimal("20.00"), Decimal("500.00"), Decimal("2000.00")),
        (ItemKind.OPTION, Decimal("2.00"), Decimal("10000.00"), Decimal("4000.00")),
        (ItemKind.OPTION, Decimal("1.00"), Decimal("40000.00"), Decimal("8000.00")),
    ]
    assert all(line.period_start == due for line in lines)
    assert renewal.subtotal == Decimal("136000.00")
    # The first-period coupon does not follow the hosting into its renewal.
    hosting_renewal = OrderItem.objects.get(kind=ItemKind.RENEWAL, service__product=vps["hosting"])
    assert hosting_renewal.discount == 0
    # Paying the renewal renews the service once (option lines do not renew it again).
    pay(renewal)
    vps_service.refresh_from_db()
    assert vps_service.next_due_date is not None and vps_service.next_due_date > due
    assert vps_service.events.filter(kind="renewed").count() == 1
    # Running again bills nothing twice.
    again = automation.run_billing(run_date=due - dt.timedelta(days=5))
    assert again.counts["orders_created"] == 0


def test_today_is_the_first_period(vps):
    order = place_cart_order(customer=make_customer(), items=[vps_item(vps)])
    first = order.items.order_by("position").first()
    assert first is not None and first.period_start == local_today()


def test_cancelling_one_service_of_a_discounted_order_moves_the_coupon_use_to_the_new_order(vps):
    customer = make_customer()
    coupon(code="TODO10")
    order = place_cart_order(
        customer=customer, items=[vps_item(vps), hosting_item(vps)], coupon_code="TODO10"
    )
    hosting = Service.objects.get(customer=customer, product=vps["hosting"])
    cancellations.request_cancellation(service=hosting, when="immediate", reason="not_needed")
    order.refresh_from_db()
    assert order.state == OrderState.CANCELLED
    reissued = Order.objects.get(customer=customer, state=OrderState.PENDING)
    assert reissued.items.filter(discount__gt=0).count() == 4  # the VPS and its options
    redemption = CouponRedemption.objects.get(coupon__code="TODO10")
    assert redemption.order == reissued
    assert redemption.discount == Decimal("17000.00")  # the VPS lines' discounts only
    # The use still counts: the coupon's per-customer limit holds.
    with pytest.raises(CouponError, match="already used"):
        place_cart_order(customer=customer, items=[hosting_item(vps)], coupon_code="TODO10")


def test_placing_the_same_cart_twice_returns_the_first_order(vps):
    customer = make_customer()
    coupon(code="UNO")
    items = [vps_item(vps), hosting_item(vps)]
    first = place_cart_order(customer=customer, items=items, coupon_code="UNO", cart_token="t1")
    again = place_cart_order(customer=customer, items=items, coupon_code="UNO", cart_token="t1")
    assert again.pk == first.pk
    assert Order.objects.count() == 1 and Service.objects.count() == 2
    # Another customer's token never finds this order.
    other = place_cart_order(customer=make_customer(), items=items, cart_token="t1")
    assert other.pk != first.pk


def test_the_service_history_says_ordered_from_the_catalog_in_the_page_language(vps, client):
    # The history's "Created" line read "ordered from the catalog" in English on Spanish pages.
    customer = make_customer("historia@example.com")
    place_cart_order(customer=customer, items=[vps_item(vps)])
    service = Service.objects.get(customer=customer)
    # A service ordered before the reason was a code keeps the words it was written with.
    older = place_cart_order(customer=customer, items=[vps_item(vps, label="srv2")])
    legacy = Service.objects.filter(order_items__order=older).distinct().get()
    legacy.events.filter(kind="created").update(reason="ordered from the catalog")
    client.force_login(customer.user)
    for one in (service, legacy):
        page = client.get(f"/clientarea/services/{one.pk}/").content.decode()
        assert "pedido desde el catálogo" in page
        assert "ordered from the catalog" not in page
