"""The client area's pages fit a phone (390 px) and keep every column of their tables in view
on a desktop, in a real browser (Chromium) on the demo data."""

from __future__ import annotations

import datetime as dt
import io
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client

from clientarea.accounts.demo import DEMO_ACCESS_CODE
from clientarea.accounts.models import Customer
from clientarea.billing import debit_notes, ledger
from clientarea.billing import services as billing_services
from clientarea.billing.models import ItemKind, Order
from clientarea.billing.tests import make_active_service, make_product
from clientarea.einvoice.models import Invoice
from clientarea.lib.dates import local_today
from clientarea.payments import services as payment_services
from clientarea.payments.tests.helpers import payu_confirmation, post_payu
from clientarea.subscriptions.models import Service
from clientarea.test import staff_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

CUSTOMER_PAGES = [
    "/clientarea/",
    "/clientarea/services/",
    "/clientarea/billing/",
    "/clientarea/billing/statement/",
    "/payments/pay-orders/?all=1",  # the company's: owed, withheld and net per order
    "/clientarea/invoices/",
    "/clientarea/emails/",
    "/clientarea/contacts/",
    "/clientarea/withholdings/",
    "/clientarea/profile/",
]

# Tables (or their scrolling wrappers) whose content is wider than they are.
CLIPPED = """() => Array.from(document.querySelectorAll('.table-wrap, table'))
    .filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => (e.id || e.className) + ' ' + e.scrollWidth + '>' + e.clientWidth)"""

CLIPPED_BODY = (
    "() => Array.from(document.querySelectorAll('.email-body'))"
    ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.scrollWidth)"
)


def log_in(page, base_url: str, email: str) -> None:
    page.goto(base_url + "/clientarea/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", DEMO_ACCESS_CODE)
    with page.expect_navigation():
        page.click("main button[type=submit]")


@contextmanager
def signed_in(browser, live_site, email: str, viewport, language: str | None = None):
    """A page of a new browser context logged in as ``email`` (demo access code), in
    ``language`` when given (the language cookie, as the switcher sets it); closed after."""
    context = browser.new_context(locale="es-CO", viewport=viewport)
    context.set_default_timeout(15000)
    page = context.new_page()
    try:
        log_in(page, live_site.url, email)
        if language is not None:
            context.add_cookies(
                [{"name": "django_language", "value": language, "url": live_site.url}]
            )
        yield page
    finally:
        context.close()


@pytest.fixture
def demo(live_site):
    call_command("demo_data", stdout=io.StringIO())


@pytest.mark.parametrize("email", ["ana@cliente.example", "compras@tiendaandina.example"])
def test_no_client_area_page_is_wider_than_a_phone(browser, live_site, demo, email):
    with signed_in(browser, live_site, email, PHONE) as page:
        too_wide = {}
        for path in CUSTOMER_PAGES:
            page.goto(live_site.url + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                too_wide[path] = width
        # An invoice's email: DIAN's subject ("NIT;Name;Number;01;Name") and its 96-character CUFE.
        page.goto(live_site.url + "/clientarea/emails/")
        with page.expect_navigation():
            page.locator("a", has_text=";01;").first.click()
        width = page.evaluate("document.documentElement.scrollWidth")
        clipped = page.evaluate(CLIPPED_BODY)
        if width > PHONE["width"] or clipped:
            too_wide["the invoice's email"] = (width, clipped)
        # The services, the contacts, an order's items and the withholdings are cards on a
        # phone: nothing scrolled out of view.
        order = Order.objects.filter(customer__user__email=email).order_by("pk").first()
        service = Service.objects.filter(
            customer__user__email=email, order_items__isnull=False
        ).first()
        assert order is not None and service is not None
        for path in (
            "/clientarea/services/",
            "/clientarea/contacts/",
            f"/clientarea/billing/{order.number}/",
            "/clientarea/withholdings/",
            f"/clientarea/services/{service.pk}/",
        ):
            page.goto(live_site.url + path)
            if clipped := page.evaluate(CLIPPED):
                too_wide[path] = clipped
    assert too_wide == {}


def test_a_service_named_by_a_long_hostname_fits_a_phone(browser, live_site, demo):
    """The VPS "app.tiendaandina.com.co": its page's title (product · hostname) did not break
    the hostname and made the page 431 px wide at 390 px, in English and in Spanish."""
    service = Service.objects.get(
        customer__user__email="compras@tiendaandina.example", label="app.tiendaandina.com.co"
    )
    widths = {}
    for language in ("en", "es-co"):
        with signed_in(browser, live_site, "compras@tiendaandina.example", PHONE, language) as page:
            page.goto(live_site.url + f"/clientarea/services/{service.pk}/")
            widths[language] = page.evaluate("document.documentElement.scrollWidth")
    assert widths == {"en": PHONE["width"], "es-co": PHONE["width"]}


def test_the_services_table_shows_every_column_on_a_desktop(browser, live_site, demo):
    """ana's suspended service ("Suspended · overdue payment") pushed the due date out of view."""
    with signed_in(browser, live_site, "ana@cliente.example", DESKTOP) as page:
        page.goto(live_site.url + "/clientarea/services/")
        assert page.locator(".services .badge-pending").count() == 1
        assert page.evaluate(CLIPPED) == []


def test_the_back_office_customer_page_shows_every_value_of_its_cards(browser, live_site, demo):
    """The Contacto card's long label ("Correo de recepción de facturas electrónicas") took all
    its width: the email, phone and address were one character wide, out of sight. Its email
    addresses then broke mid-word ("ana@cliente.exampl" / "e"): they wrap after a dot or the @."""
    ana = Customer.objects.get(user__email="ana@cliente.example")
    context = browser.new_context(locale="es-CO", viewport=DESKTOP)
    context.set_default_timeout(15000)
    page = context.new_page()
    try:
        staff_log_in(page, live_site.url)
        page.goto(live_site.url + f"/backoffice/customers/{ana.pk}/")
        narrow = page.evaluate(
            "() => Array.from(document.querySelectorAll('.bo-dl dd'))"
            ".filter(dd => dd.getBoundingClientRect().width < 100)"
            ".map(dd => dd.textContent.trim())"
        )
        broken = page.evaluate(FORCED_BREAKS.replace("main td, main th", ".bo-dl dd"))
    finally:
        context.close()
    assert narrow == [] and broken == []


# Small desktops: no page may scroll sideways, and no table may hide a column (the amount to pay)
# behind its scrollbar.
DESKTOPS = [{"width": 1280, "height": 800}, {"width": 1024, "height": 768}]

# The page, or a table's scrolling wrapper (the selector), whose content is wider than it is.
SCROLLS_SIDEWAYS = """(wrapper) => {
    const page = document.documentElement;
    const found = Array.from(document.querySelectorAll(wrapper))
        .filter(e => e.scrollWidth > e.clientWidth)
        .map(e => 'table ' + (e.querySelector('table') || e).className + ' '
                  + e.scrollWidth + '>' + e.clientWidth);
    if (page.scrollWidth > page.clientWidth) found.push('page ' + page.scrollWidth + '>' + page.clientWidth);
    return found;
}"""

LONG_DOMAIN = "tienda-virtual-de-artesanias-colombianas-del-pacifico.com.co"


@pytest.fixture
def wide_account(demo):
    """Tienda Andina's account with what widened its tables past a desktop's width: a service
    with a long name and domain whose renewal is overdue and partly paid, an order of six long
    items partly paid, a debit note on its invoice, a refund of a card payment (and its credit
    note) and a server's domain in a concept."""
    customer = Customer.objects.get(user__email="compras@tiendaandina.example")
    today = local_today()
    product = make_product(
        "hosting-corporativo-plus",
        name="Hosting Corporativo Plus con correo ilimitado y copias diarias",
        prices={"monthly": "1234567"},
    )
    service = make_active_service(
        customer, product, label=LONG_DOMAIN, start=today - dt.timedelta(days=20)
    )
    renewal = billing_services.create_order(
        customer=customer,
        lines=[
            billing_services.LineSpec(
                kind=ItemKind.RENEWAL,
                description=f"{product.name} · {service.label}",
                unit_price=service.price,
                service=service,
                period_start=today,
                period_end=today + dt.timedelta(days=30),
            )
        ],
        issue_date=today - dt.timedelta(days=20),
        due_date=today - dt.timedelta(days=5),
        notify=False,
    )
    many = billing_services.create_order(
        customer=customer,
        lines=[
            billing_services.LineSpec(
                kind=ItemKind.OTHER,
                description=(
                    f"Migración del buzón corporativo número {i} desde el proveedor anterior "
                    f"(servidor-correo-{i}.artesaniasdelpacifico.com.co)"
                ),
                unit_price=Decimal("1250000"),
            )
            for i in range(1, 7)
        ],
        issue_date=today,
        due_date=today + dt.timedelta(days=10),
        notify=False,
    )
    for number, order in enumerate((many, renewal), start=1):
        ledger.record_payment(
            customer_id=customer.pk,
            amount=Decimal("1000"),
            allocations=[ledger.Allocation(order_id=order.pk, amount=Decimal("1000"))],
            reference=f"Transferencia Bancolombia 2043187{number}",
            via="manual",
            method="transfer",
            notify=False,
        )
    invoice = Invoice.objects.filter(order__customer=customer, kind="invoice").first()
    assert invoice is not None
    _, note_order = debit_notes.issue_debit_note(
        invoice=invoice,
        concept="1",
        reason="Intereses de mora por el pago tardío de la factura del periodo anterior",
        amount=Decimal("12345"),
    )
    paid = billing_services.create_manual_order(
        customer=customer, description="Certificado SSL Wildcard", unit_price=Decimal("300000")
    )
    payment, _ = payment_services.start_payment(
        order=paid, customer=customer, gateway_code="payu", language="es"
    )
    response = post_payu(Client(), payu_confirmation(payment.reference, f"{payment.amount:.2f}"))
    assert response.status_code == 200  # approved and applied at once (Huey's immediate mode)
    refund = payment_services.refund_payment(
        payment=payment,
        amount=Decimal("50000"),
        method="manual",
        bank_reference="Davivienda 0550012345678901",
        reason="Descuento acordado con el cliente",
    )
    pending = (
        Order.objects.filter(customer=customer, state="pending")
        .exclude(pk__in=[renewal.pk, many.pk, note_order.pk])
        .first()
    )
    assert pending is not None
    # At 1024 px the concept "… srv1.restrepogomez.com.co" broke as "srv1.restrepogomez.c" / "o".
    billing_services.create_manual_order(
        customer=customer,
        description="Servidor VPS administrado · srv1.restrepogomez.com.co",
        unit_price=Decimal("250000"),
    )
    return {
        "billing": "/clientarea/billing/",
        "billing, pending": "/clientarea/billing/?state=pending",
        "billing, paid": "/clientarea/billing/?state=paid",
        "billing, cancelled": "/clientarea/billing/?state=cancelled",
        "a pending order": f"/clientarea/billing/{pending.number}/",
        "a paid order": f"/clientarea/billing/{paid.number}/",
        "the debit note's order": f"/clientarea/billing/{note_order.number}/",
        "the order of many items, partly paid": f"/clientarea/billing/{many.number}/",
        "the overdue renewal, partly paid": f"/clientarea/billing/{renewal.number}/",
        "pay several": "/payments/pay-orders/?all=1",
        "statement": "/clientarea/billing/statement/",
        "refunds": "/clientarea/billing/refunds/",
        "a refund": f"/clientarea/billing/refunds/{refund.pk}/",
        "invoices": "/clientarea/invoices/",
        "services": "/clientarea/services/",
        "the long service": f"/clientarea/services/{service.pk}/",
        "dashboard": "/clientarea/",
        "contacts": "/clientarea/contacts/",
        "emails": "/clientarea/emails/",
        "profile": "/clientarea/profile/",
        "withholdings": "/clientarea/withholdings/",
        "help center": "/help/",
    }


@pytest.mark.parametrize("viewport", DESKTOPS, ids=lambda v: f"{v['width']}px")
def test_no_customer_page_scrolls_sideways_on_a_desktop(browser, live_site, wide_account, viewport):
    """At 1280 px the Billing table was 1032 px wide in an 842 px box: the Total column (what a
    customer has to pay) sat behind the table's scrollbar."""
    scrolled = on_every_page(
        browser, live_site, wide_account, viewport, SCROLLS_SIDEWAYS, ".table-wrap"
    )
    assert scrolled == {}


def on_every_page(browser, live_site, pages, viewport, script: str, *args) -> dict:
    """Logged in as Tienda Andina, in Spanish and in English: what ``script`` finds on each of
    ``pages`` (name → path), for the pages where it finds something."""
    found_on = {}
    for language in ("es-co", "en"):
        with signed_in(
            browser, live_site, "compras@tiendaandina.example", viewport, language
        ) as page:
            for name, path in pages.items():
                response = page.goto(live_site.url + path)
                assert response is not None and response.status == 200, path
                if found := page.evaluate(script, *args):
                    found_on[f"{name} ({language})"] = found
    return found_on


# Amounts (right-aligned cells) whose text runs over more than one line.
SPLIT_AMOUNTS = """() => Array.from(document.querySelectorAll('td.num'))
    .filter(td => { const range = document.createRange(); range.selectNodeContents(td);
                    return new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top))).size > 1; })
    .map(td => td.textContent.trim())"""


@pytest.mark.parametrize("viewport", DESKTOPS, ids=lambda v: f"{v['width']}px")
def test_the_back_office_customer_page_and_dashboard_fit_a_desktop(
    browser, live_site, wide_account, viewport
):
    """The customer page's price of a long-named service split after its "$" at 1280 px; at
    1024 px its emails table (a long recipient address) scrolled sideways."""
    andina = Customer.objects.get(user__email="compras@tiendaandina.example")
    context = browser.new_context(locale="es-CO", viewport=viewport)
    context.set_default_timeout(15000)
    page = context.new_page()
    found = {}
    try:
        staff_log_in(page, live_site.url)
        for path in (f"/backoffice/customers/{andina.pk}/", "/admin/reports/"):
            page.goto(live_site.url + path)
            problems = page.evaluate(SCROLLS_SIDEWAYS, ".bo-table-wrap")
            problems += page.evaluate(SPLIT_AMOUNTS)
            if problems:
                found[path] = problems
    finally:
        context.close()
    assert found == {}


# Line breaks a browser forced inside a word (overflow-wrap), in the cells of the tables: a break
# after a space, a hyphen, a dash, a slash or a <wbr> (where one text node ends) is a reader's.
FORCED_BREAKS = """() => {
    const found = [];
    for (const cell of document.querySelectorAll('main td, main th')) {
        const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const text = node.textContent;
            let top = null;
            for (let i = 0; i < text.length; i++) {
                const range = document.createRange();
                range.setStart(node, i);
                range.setEnd(node, i + 1);
                const rect = range.getClientRects()[0];
                if (!rect) continue;
                if (top !== null && rect.top > top + 2 && !/[\\s\\-\u2013\\/]/.test(text[i - 1])
                        && !/\\s/.test(text[i]))
                    found.push(text.slice(Math.max(0, i - 20), i) + ' / ' + text.slice(i, i + 20));
                top = rect.top;
            }
        }
    }
    return found;
}"""


@pytest.mark.parametrize("viewport", DESKTOPS, ids=lambda v: f"{v['width']}px")
def test_no_word_of_a_customer_table_breaks_mid_word_on_a_desktop(
    browser, live_site, wide_account, viewport
):
    """At 1024 px Billing's concept broke a domain mid-word ("artesaniasdelpacifi" / "co.com.co",
    "srv1.restrepogomez.c" / "o"), Refunds a bank transfer's reference ("05500123456789" / "01")
    and Contacts an email address, at 1280 px too ("tiendaandina.exampl" / "e"): a domain or an
    address now wraps after a dot or its @, a reference not at all."""
    broken = on_every_page(browser, live_site, wide_account, viewport, FORCED_BREAKS)
    assert broken == {}


# Order and invoice numbers ("ODS-000006", "SETP990000005") and the words of references
# ("ODS-000012-1/R1") in a table that run over more than one line: the browser breaks "ODS-" /
# "000006" after the hyphen in a narrow column. (A screen reader's hidden label: not looked at.)
SPLIT_NUMBERS = """() => {
    const found = [];
    for (const element of document.querySelectorAll('main table a, main table strong, main table .reference')) {
        if (element.closest('.visually-hidden')) continue;
        const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (const word of node.textContent.matchAll(/\\S+/g)) {
                if (!element.matches('.reference') && !/^[A-Z]{2,6}-?[0-9]{5,}$/.test(word[0])) continue;
                const range = document.createRange();
                range.setStart(node, word.index);
                range.setEnd(node, word.index + word[0].length);
                if (new Set(Array.from(range.getClientRects(), r => Math.round(r.top))).size > 1)
                    found.push(word[0]);
            }
        }
    }
    return found;
}"""


@pytest.mark.parametrize("viewport", [*DESKTOPS, PHONE], ids=lambda v: f"{v['width']}px")
def test_no_order_or_invoice_number_breaks(browser, live_site, wide_account, viewport):
    """Invoices broke every order number after its hyphen ("ODS-" / "000006") at 1280 px, beside
    the "being validated by DIAN" note, and Statement a payment's reference ("ODS-000012-" /
    "1/R1"): numbers and the words of references never break (a reference wraps between words)."""
    pages = {
        name: wide_account[name]
        for name in ("invoices", "billing", "statement", "withholdings", "pay several", "refunds")
    }
    split = on_every_page(browser, live_site, pages, viewport, SPLIT_NUMBERS)
    assert split == {}


# Cells and links of a table that lie outside its box (scrolled out of view) or the screen.
OUT_OF_VIEW = """(table) => {
    const box = document.querySelector(table).closest('.table-wrap').getBoundingClientRect();
    const right = Math.min(box.right, document.documentElement.clientWidth);
    return Array.from(document.querySelectorAll(`${table} td, ${table} a`))
        .filter(e => { const r = e.getBoundingClientRect();
                       return r.left < box.left - 1 || r.right > right + 1; })
        .map(e => e.textContent.trim().slice(0, 40));
}"""


def test_the_invoices_page_is_cards_on_a_phone(browser, live_site, wide_account):
    """At 390 px the Invoices table, with a credit note and a debit note under their invoices,
    scrolled sideways inside its box: the totals, the notes' amounts and states and every PDF
    and XML link were out of view."""
    notes = Invoice.objects.filter(
        customer__user__email="compras@tiendaandina.example",
        kind__in=["credit_note", "debit_note"],
    )
    assert set(notes.values_list("kind", flat=True)) == {"credit_note", "debit_note"}
    documents = Invoice.objects.filter(customer__user__email="compras@tiendaandina.example").count()
    found = {}
    for language in ("es-co", "en"):
        with signed_in(browser, live_site, "compras@tiendaandina.example", PHONE, language) as page:
            page.goto(live_site.url + "/clientarea/invoices/")
            # Every invoice and note, each with its PDF and XML.
            pdf = page.locator("main table a", has_text="PDF")
            assert pdf.count() == page.locator("main table a", has_text="XML").count() == documents
            for note in notes:
                row = page.locator("main table table tbody tr", has_text=note.full_number)
                assert row.locator("a", has_text="PDF").is_visible()
            problems = page.evaluate(CLIPPED) + page.evaluate(
                OUT_OF_VIEW, "main .table-wrap > table"
            )
            if page.evaluate("document.documentElement.scrollWidth") > PHONE["width"]:
                problems.append("page")
            if problems:
                found[language] = problems
    assert found == {}


def test_the_cart_is_cards_on_a_phone(browser, live_site, demo):
    """At 390 px the cart's table (a VPS with options and a coupon) scrolled sideways inside its
    box: the unit prices, the coupon's discounts and the subtotals were out of view."""
    with signed_in(browser, live_site, "ana@cliente.example", PHONE) as page:
        page.goto(live_site.url + "/clientarea/order/vps-2-4/")
        page.check("input[name=cycle][value=monthly]")
        page.fill("#id_label", "srv2.restrepogomez.co")
        page.locator("input[type=number][name^=option_]").first.fill("20")  # extra disk
        with page.expect_navigation():
            page.click("#add-to-cart")
        page.fill("#id_code", "VPS20")
        with page.expect_navigation():
            page.click("#coupon-form button[type=submit]")
        assert page.locator("#cart-discount").is_visible()
        problems = page.evaluate(CLIPPED)
        if page.evaluate("document.documentElement.scrollWidth") > PHONE["width"]:
            problems.append("page")
        # Every line's subtotal is in view.
        for cell in page.locator("#cart-items tbody tr td:nth-child(5)").all():
            box = cell.bounding_box()
            if box is None or box["x"] + box["width"] > PHONE["width"]:
                problems.append(f"subtotal {cell.inner_text()} at {box}")
    assert problems == []


def _cart_with_two_items(page, base_url: str) -> None:
    """A VPS with extra disk (its line, the option's line, the setup fee) and a hosting plan."""
    page.goto(base_url + "/clientarea/order/vps-2-4/")
    page.check("input[name=cycle][value=monthly]")
    page.fill("#id_label", "srv2.restrepogomez.co")
    page.locator("input[type=number][name^=option_]").first.fill("20")  # extra disk
    with page.expect_navigation():
        page.click("#add-to-cart")
    page.goto(base_url + "/clientarea/order/hosting-basico/")
    page.check("input[name=cycle][value=monthly]")
    page.fill("#id_label", "tienda.restrepogomez.co")
    with page.expect_navigation():
        page.click("#add-to-cart")


REMOVE_PLACES = """() => Array.from(document.querySelectorAll('#cart-items tbody.cart-item')).map(
  item => {
    const first = item.querySelector('tr').getBoundingClientRect();
    const button = item.querySelector('td.cart-remove button').getBoundingClientRect();
    const text = item.querySelector('tr td').getBoundingClientRect();
    return {
      rows: item.querySelectorAll('tr').length,
      inFirstRow: button.top >= first.top - 1 && button.bottom <= first.bottom + 1,
      besideText: button.left >= text.right - 1 || button.bottom <= text.top + 1,
      inView: button.left >= 0 && button.right <= window.innerWidth,
      height: button.height,
    };
  })"""


@pytest.mark.parametrize(
    "viewport, language",
    [({"width": 1366, "height": 900}, "es-co"), (PHONE, "en")],
    ids=["desktop-es", "phone-en"],
)
def test_an_items_remove_is_on_its_row(browser, live_site, demo, viewport, language):
    """The cart's "Remove" sat on a row of its own under each item: on a desktop it is on the
    item's first line, in its own column; on a phone, at the top right of the item's first
    card, beside the description and big enough for a finger; it removes that item."""
    with signed_in(browser, live_site, "ana@cliente.example", viewport, language) as page:
        _cart_with_two_items(page, live_site.url)
        places = page.evaluate(REMOVE_PLACES)
        assert [place["rows"] for place in places] == [3, 1]  # VPS, disk, setup fee; hosting
        for place in places:
            assert place["inFirstRow"] and place["besideText"] and place["inView"], place
        if viewport is PHONE:
            assert all(place["height"] >= 44 for place in places), places
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=f"/tmp/ca-cart-remove-{language}.png", full_page=True)
        with page.expect_navigation():
            page.locator("#cart-items tbody.cart-item").nth(1).locator("button").click()
        assert page.locator("#cart-items tbody.cart-item").count() == 1


def test_a_products_prices_are_cards_on_a_phone(browser, live_site, demo):
    """At 390 px a catalog product's table of prices per billing cycle scrolled sideways inside
    its box: each cycle's total with IVA, the amount to pay, was out of view."""
    with signed_in(browser, live_site, "ana@cliente.example", PHONE) as page:
        page.goto(live_site.url + "/clientarea/order/vps-2-4/")
        problems = page.evaluate(CLIPPED)
        if page.evaluate("document.documentElement.scrollWidth") > PHONE["width"]:
            problems.append("page")
        totals = page.locator("table.offers tbody td:last-child").all()
        assert len(totals) == 2  # monthly and quarterly
        for cell in totals:
            box = cell.bounding_box()
            if box is None or box["x"] + box["width"] > PHONE["width"]:
                problems.append(f"total {cell.inner_text()} at {box}")
    assert problems == []


def test_the_statement_shows_no_empty_debit_or_credit_on_a_phone(browser, live_site, demo):
    """At 390 px each statement line is a card, and every card showed both "Debit:" and
    "Credit:", one of them with nothing after it."""
    with signed_in(browser, live_site, "ana@cliente.example", PHONE) as page:
        page.goto(live_site.url + "/clientarea/billing/statement/")
        lines = page.locator("#statement tbody tr").count()
        assert lines > 3  # the opening balance, movements, the closing balance
        bare = page.evaluate(
            """() => Array.from(document.querySelectorAll('#statement td[data-label]'))
                .filter(td => td.offsetParent !== null && td.textContent.trim() === '')
                .map(td => td.dataset.label)"""
        )
    assert bare == []


def test_the_printable_order_is_no_wider_than_a_phone(browser, live_site, demo):
    """At 390 px the printable order's items table (seven columns) made the page 545 px wide."""
    order = Order.objects.filter(customer__user__email="ana@cliente.example").first()
    assert order is not None
    with signed_in(browser, live_site, "ana@cliente.example", PHONE) as page:
        page.goto(live_site.url + f"/clientarea/billing/{order.number}/print/")
        assert page.locator("table").first.is_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]


def test_the_header_content_keeps_off_its_edges_on_a_phone(browser, live_site, demo):
    """At 390 px the header wraps to three rows: the brand touched its top edge and the language
    switcher its bottom edge (the row had no padding of its own, only a minimum height)."""
    found = {}
    for path in ("/", "/clientarea/login/"):
        context = browser.new_context(locale="es-CO", viewport=PHONE)
        page = context.new_page()
        try:
            page.goto(live_site.url + path)
            gaps = page.evaluate(
                """() => {
                    const header = document.querySelector('.site-header').getBoundingClientRect();
                    const brand = document.querySelector('.brand').getBoundingClientRect();
                    const lang = document.querySelector('.lang-switcher').getBoundingClientRect();
                    return [brand.top - header.top, header.bottom - lang.bottom];
                }"""
            )
        finally:
            context.close()
        if min(gaps) < 6:
            found[path] = gaps
    assert found == {}


def test_log_out_lines_up_with_the_menu_links_on_a_phone(browser, live_site, demo):
    """On a phone the menu is a row of links that wraps, and "Log out" sat 12 px below the links
    of its line (the desktop column's gap above it)."""
    found = {}
    for language in ("es-co", "en"):
        with signed_in(browser, live_site, "ana@cliente.example", PHONE, language) as page:
            page.goto(live_site.url + "/clientarea/billing/")
            tops = page.evaluate(
                """() => {
                    const out = document.querySelector('.side-nav form button').getBoundingClientRect();
                    return Array.from(document.querySelectorAll('.side-nav a'))
                        .map(a => a.getBoundingClientRect())
                        .filter(r => r.bottom > out.top && r.top < out.bottom)
                        .map(r => r.top - out.top);
                }"""
            )
        if any(abs(gap) > 2 for gap in tops):  # none: it has a line of its own
            found[language] = tops
    assert found == {}


def test_the_pay_all_due_button_keeps_off_the_link_beside_it(browser, live_site, demo):
    """Billing's "Pay all due" button touched "See pending orders" (a space's width apart)."""
    with signed_in(browser, live_site, "ana@cliente.example", DESKTOP) as page:
        page.goto(live_site.url + "/clientarea/billing/")
        gap = page.evaluate(
            """() => {
                const button = document.querySelector('#pay-all-due').getBoundingClientRect();
                const link = document.querySelector('#pay-all-due + a').getBoundingClientRect();
                return link.left - button.right;
            }"""
        )
    assert gap >= 12
