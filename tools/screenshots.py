"""Capture the help center's screenshots from the demo site, in Spanish and English.

    python tools/screenshots.py --base-url http://127.0.0.1:8000 [--out DIR] [--languages es,en]
                                [--flows paying,order,plan,options,cancel,contacts,twofactor]

Run it against a site loaded with ``clientarea demo-data``. Each flow logs in as a demo
customer, walks through the steps one help article describes and writes
``DIR/<es|en>/<flow>/NN-step.png``:

- ``paying``: “How can I pay my bill online?” (``01-client-access.png`` … ``08-invoice-email.png``);
- ``order``: ordering from the catalog: the catalog, a VPS with its options, the cart with the
  VPS20 coupon, and the new service order (placed, never paid);
- ``plan``: a plan change: the service's “Change plan” button and the plans with their amounts
  (nothing is confirmed);
- ``options``: a change of options on the demo company's VPS: the “Change options” form, then
  the price of one more quantity after “See the price”
  (``03-change-options.png``, ``04-options-price.png``, numbered after the plan flow's two in the
  same article; nothing is confirmed);
- ``cancel``: the cancellation of a service with no pending orders: the link, the filled form,
  and the request with its “Keep the service” button, which the script then presses, so the
  service is left as it was;
- ``contacts``: the Contacts page and the filled “Add a contact” form (not saved);
- ``twofactor``: the Profile link, the security page and the QR code page (the code is never
  entered: two-factor login stays off).

By default DIR is the folder the help center serves them from (``static/helpcenter/screenshots``);
an article shows a screenshot as soon as its file exists, and leaves it out while it does not.

Everything the script clicks or highlights is in ``SELECTORS`` below. A step whose selector
is ``None`` is skipped and reported; ``--strict`` turns skipped steps into a failing exit
code. Nothing is paid, not even in the sandbox: the paying flow stops on the gateway choice.
The order flow places one order per language, and the VPS20 coupon allows two per customer:
run it again on fresh demo data (``clientarea demo-data`` on a new database).

Only Playwright and a Chromium are needed (``CHROMIUM_PATH``, default /usr/bin/chromium); Django is not imported.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

# Everything the script touches on the pages. A step whose selector is None is skipped.
SELECTORS: dict[str, str | None] = {
    # 01: home page, the "Client access" button in the header
    "client_access": "#client-access",
    # 02: login form
    "login_form": "main form.form",
    "login_email": "input[name=username]",
    "login_code": "input[name=password]",
    "login_submit": "main form.form button[type=submit]",
    # 03: client area side menu, the "Billing" entry
    "nav_billing": "#nav-billing",
    # 04: in Billing, the link that opens a pending (red) order
    "pending_order": "tr.state-row-pending th a",
    # 05: on the order page, the items table
    "order_items": "table.items",
    # 06: the blue "Pay now" button
    "pay_now": "#pay-now",
    # 07: the gateway choice (PayU Latam / Payvalida)
    "gateway_choice": "div.gateways",
    # 08: in "My emails", the link that opens an electronic invoice email. DIAN fixes the subject:
    # "NIT;Name;Number;01;Trade name", where 01 is the invoice document type.
    "invoice_email": "main table a:has-text(';01;')",
    # 08: on the email page, what to highlight (the attachments list follows the body)
    "email_body": "pre.email-body",
    # --- order: ordering from the catalog ---
    # 01: Services, the "Order a new service" button, then the catalog card of the product to order
    "nav_services": "#nav-services",
    "order_new": "#order-new",
    "order_product_card": "li.product-card:has(a[href$='/order/vps-2-4/'])",
    "order_configure": "li.product-card:has(a[href$='/order/vps-2-4/']) a.btn-primary",
    # 02: the product page: billing cycle, name, options
    "product_form": "#product-form",
    "product_cycle": "#product-form input[name=cycle]",
    "product_label": "#product-form input[name=label]",
    "product_choice_option": "#product-form select",
    "add_to_cart": "#add-to-cart",
    # 03: the cart, the coupon form, the totals with the discount
    "coupon_code": "#coupon-form input[name=code]",
    "coupon_apply": "#coupon-form button[type=submit]",
    "cart_discount": "#cart-discount",
    "cart_totals": "#cart-totals",
    # 04: "Place the order", then the new order's "Pay now" button (never clicked)
    "checkout": "#checkout",
    # --- plan: changing plan ---
    # the services the script tries, in order, until one offers other plans
    "active_services": "tr.service-row.status-active th a",
    "change_plan": "#change-plan",
    "plan_choices": "fieldset.plans",
    "plan_option": "label.plan-option",
    "confirm_plan_change": "#confirm-plan-change",
    # --- options: changing a service's options (never confirmed) ---
    "change_options": "#change-options",
    "options_form": "#options-form",
    # the quantity the flow changes (the first one: the VPS's extra disk)
    "options_quantity": "#options-form input[type=number]",
    "preview_options": "#preview-options",
    "options_preview": "#options-preview",
    # --- cancel: cancelling a service (one whose orders are all settled) ---
    "request_cancellation": "#request-cancellation",
    "pending_order_badge": "table.orders .badge-pending",
    "cancel_form": "main form.form",
    "cancel_when_end": "input[name=when][value=end_of_period]",
    "cancel_reason": "select[name=reason]",
    "cancel_confirm": "input[name=confirm]",
    "confirm_cancellation": "#confirm-cancellation",
    "cancellation_pending": "#cancellation-pending",
    "withdraw_cancellation": "#withdraw-cancellation",
    # --- contacts: the Contacts page and the "Add a contact" form (never saved) ---
    "nav_contacts": "#nav-contacts",
    "contact_add": "#contact-add",
    "contact_form": "main form.form",
    "contact_name": "input[name=full_name]",
    "contact_email": "input[name=email]",
    "contact_billing": "input[name=billing]",
    # --- twofactor: Profile, the security page, the QR code (never confirmed) ---
    "security_link": "#security-link",
    "two_factor_on": "#two-factor-on",
    "two_factor_qr": "div.qr",
}
EMAILS_PATH = "/clientarea/emails/"
LOGIN_PATH = "/clientarea/login/"
PROFILE_PATH = "/clientarea/profile/"
DEMO_EMAIL = "ana@cliente.example"
DEMO_CODE = "DEMO-CODE-7777"
# Ana's only active service with other plans has a renewal order waiting, which rightly blocks
# a plan change; the demo company's Enterprise Hosting has none, so the plan flow logs in as it.
# The options flow too: the company's VPS is the demo service with options.
PLAN_EMAIL = "compras@tiendaandina.example"
FLOWS = ("paying", "order", "plan", "options", "cancel", "contacts", "twofactor")
# What the order flow types: a coupon the demo catalog has, and a name for the new server.
ORDER_COUPON = "VPS20"
ORDER_LABEL = "srv2.restrepogomez.co"
# What the options flow types in the first quantity (the demo VPS has 40 GB of extra disk).
OPTIONS_QUANTITY = "80"
CONTACT_EXAMPLE = {
    "es": ("Laura Restrepo", "contabilidad@restrepogomez.example"),
    "en": ("Laura Restrepo", "accounting@restrepogomez.example"),
}
LANGUAGE_COOKIES = {"es": "es-co", "en": "en"}
DEFAULT_OUT = (
    Path(__file__).resolve().parent.parent
    / "clientarea"
    / "helpcenter"
    / "static"
    / "helpcenter"
    / "screenshots"
)
VIEWPORT: ViewportSize = {"width": 1200, "height": 760}
HIGHLIGHT_JS = """el => {
  el.scrollIntoView({block: "center"});
  el.style.outline = "4px solid #ffbf47";
  el.style.outlineOffset = "3px";
}"""
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


class StepSkipped(Exception):
    """A selector this step needs is not set yet."""


@dataclass
class Report:
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _selector(key: str) -> str:
    value = SELECTORS.get(key)
    if not value:
        raise StepSkipped(key)
    return value


class Capture:
    """One language's walk through the steps of one flow (one help article)."""

    def __init__(
        self,
        page,
        *,
        base_url: str,
        out: Path,
        language: str,
        flow: str,
        report: Report,
        timeout_ms: int,
    ) -> None:
        self.page, self.base_url, self.language, self.flow, self.report = (
            page,
            base_url.rstrip("/"),
            language,
            flow,
            report,
        )
        self.folder = out / language / flow
        self.folder.mkdir(parents=True, exist_ok=True)
        page.set_default_timeout(timeout_ms)

    def entry(self, name: str) -> str:
        return f"{self.language}/{self.flow}/{name}"

    def shot(self, name: str, key: str) -> None:
        """Highlight the element and save the visible part of the page."""
        locator = self.page.locator(_selector(key)).first
        locator.wait_for(state="visible")
        self.page.evaluate(
            "() => document.activeElement && document.activeElement.blur()"
        )  # no focus ring
        locator.evaluate(HIGHLIGHT_JS)
        path = self.folder / name
        self.page.screenshot(path=str(path))
        self.report.written.append(str(path))

    def click(self, key: str) -> None:
        self.page.locator(_selector(key)).first.click()
        self.page.wait_for_load_state()

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)

    def set_language_cookie(self) -> None:
        host = urlsplit(self.base_url).hostname or "127.0.0.1"
        self.page.context.add_cookies(
            [
                {
                    "name": "django_language",
                    "value": LANGUAGE_COOKIES[self.language],
                    "domain": host,
                    "path": "/",
                }
            ]
        )

    def submit_login(self, email: str, code: str) -> None:
        """Fill the login form on the current page, send it and switch back to this language."""
        page = self.page
        page.fill(_selector("login_email"), email)
        page.fill(_selector("login_code"), code)
        self.click("login_submit")
        if "/login" in page.url:
            raise RuntimeError(f"login as {email} failed (is the demo data loaded?)")
        # Logging in switches to the customer's preferred language: switch back.
        self.set_language_cookie()
        self.page.reload()

    def log_in(self, email: str, code: str) -> None:
        """Log in without screenshots (the paying flow shows the login page)."""
        self.set_language_cookie()
        self.goto(LOGIN_PATH)
        _selector("login_submit")
        self.submit_login(email, code)

    def run_chain(self, steps) -> None:
        """Run dependent steps in order; after a skipped or failed step the rest of the chain is skipped."""
        for index, (name, action) in enumerate(steps):
            try:
                action()
            except StepSkipped as exc:
                rest = [n for n, _ in steps[index:]]
                self.report.skipped.extend(
                    f"{self.entry(n)} (selector {exc} not set)" for n in rest[:1]
                )
                self.report.skipped.extend(f"{self.entry(n)} (after {rest[0]})" for n in rest[1:])
                return
            except Exception as exc:
                self.report.failed.append(
                    f"{self.entry(name)}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                )
                rest = [n for n, _ in steps[index + 1 :]]
                self.report.skipped.extend(f"{self.entry(n)} (after {name} failed)" for n in rest)
                return

    def run(self, *, email: str, code: str) -> None:
        flow = getattr(self, f"flow_{self.flow}")
        if self.flow == "paying":
            flow(email=email, code=code)
            return
        account = PLAN_EMAIL if self.flow in ("plan", "options") else email
        steps = flow()
        self.run_chain([("log-in", lambda: self.log_in(account, code)), *steps])

    # --- paying: "How can I pay my bill online?" ---
    def flow_paying(self, *, email: str, code: str) -> None:
        page = self.page

        def home():
            self.set_language_cookie()
            page.goto(self.base_url + "/")
            self.shot("01-client-access.png", "client_access")
            self.click("client_access")

        def log_in():
            page.fill(_selector("login_email"), email)
            page.fill(_selector("login_code"), code)
            self.shot("02-log-in.png", "login_form")
            self.submit_login(email, code)

        def billing():
            self.shot("03-billing.png", "nav_billing")
            self.click("nav_billing")

        def pending_order():
            self.shot("04-pending-order.png", "pending_order")
            self.click("pending_order")

        def order_items():
            self.shot("05-order-items.png", "order_items")

        def pay_now():
            self.shot("06-pay-now.png", "pay_now")
            self.click("pay_now")

        def choose_gateway():
            self.shot("07-choose-gateway.png", "gateway_choice")  # stop here: never pay

        def invoice_email():
            _selector("invoice_email")
            page.goto(self.base_url + EMAILS_PATH)
            self.click("invoice_email")
            self.shot("08-invoice-email.png", "email_body")

        self.run_chain(
            [
                ("01-client-access.png", home),
                ("02-log-in.png", log_in),
                ("03-billing.png", billing),
                ("04-pending-order.png", pending_order),
                ("05-order-items.png", order_items),
                ("06-pay-now.png", pay_now),
                ("07-choose-gateway.png", choose_gateway),
            ]
        )
        if any(
            entry.startswith(self.entry("02-"))
            for entry in self.report.failed + self.report.skipped
        ):
            self.report.skipped.append(f"{self.entry('08-invoice-email.png')} (not logged in)")
            return
        self.run_chain([("08-invoice-email.png", invoice_email)])

    # --- order: "How to order services from the catalog" ---
    def flow_order(self):
        page = self.page

        def catalog():
            self.click("nav_services")
            self.click("order_new")
            self.shot("01-catalog.png", "order_product_card")
            self.click("order_configure")

        def product():
            page.locator(_selector("product_cycle")).first.check()
            page.fill(_selector("product_label"), ORDER_LABEL)
            choices = page.locator(_selector("product_choice_option"))
            if choices.count():  # a list option (the control panel): pick the first one offered
                choices.first.select_option(index=1)
            self.shot("02-product-options.png", "product_form")
            self.click("add_to_cart")

        def cart_coupon():
            page.fill(_selector("coupon_code"), ORDER_COUPON)
            self.click("coupon_apply")
            if not page.locator(_selector("cart_discount")).count():
                alert = page.locator(".alert-error").first
                reason = alert.inner_text() if alert.count() else "no discount in the cart"
                raise RuntimeError(
                    f"coupon {ORDER_COUPON} not applied: {reason.strip()} (fresh demo data needed?)"
                )
            self.shot("03-cart-coupon.png", "cart_totals")

        def place_order():
            self.click("checkout")  # creates the service order; it is never paid
            self.shot("04-order-pay-now.png", "pay_now")

        return [
            ("01-catalog.png", catalog),
            ("02-product-options.png", product),
            ("03-cart-coupon.png", cart_coupon),
            ("04-order-pay-now.png", place_order),
        ]

    # --- plan: "How to change plan" ---
    def _find_service(self, accept) -> str:
        """The URL of the first active service (Services page) for which ``accept()`` is true on its page."""
        self.click("nav_services")
        links = self.page.locator(_selector("active_services"))
        urls = [links.nth(i).get_attribute("href") or "" for i in range(links.count())]
        for url in urls:
            self.goto(url)
            if accept():
                return url
        raise RuntimeError("no demo service fits this flow (is the demo data loaded?)")

    def flow_plan(self):
        page = self.page
        found: dict[str, str] = {}

        def offers_plans() -> bool:
            button = page.locator(_selector("change_plan"))
            if not button.count():
                return False
            self.click("change_plan")
            return page.locator(_selector("plan_choices")).count() > 0

        def service():
            _selector("plan_choices")
            found["url"] = self._find_service(offers_plans)
            self.goto(found["url"])
            self.shot("01-change-plan.png", "change_plan")
            self.click("change_plan")

        def choose():
            option = page.locator(_selector("plan_option")).first
            option.click()  # chosen, never confirmed
            self.shot("02-choose-plan.png", "plan_option")

        return [("01-change-plan.png", service), ("02-choose-plan.png", choose)]

    # --- options: "How to change plan", its options section ---
    def flow_options(self):
        page = self.page

        def offers_options() -> bool:
            return page.locator(_selector("change_options")).count() > 0

        def form():
            _selector("options_form")
            self.goto(self._find_service(offers_options))
            self.click("change_options")
            self.shot("03-change-options.png", "options_form")

        def price():
            page.fill(_selector("options_quantity"), OPTIONS_QUANTITY)
            self.click("preview_options")  # only the price: "Confirm the change" is never pressed
            self.shot("04-options-price.png", "options_preview")

        return [("03-change-options.png", form), ("04-options-price.png", price)]

    # --- cancel: "How to cancel a service" ---
    def flow_cancel(self):
        page = self.page

        def settled() -> bool:
            """A service that can be cancelled and has no pending order (a request would cancel it)."""
            return (
                page.locator(_selector("request_cancellation")).count() > 0
                and page.locator(_selector("pending_order_badge")).count() == 0
            )

        def service():
            self.goto(self._find_service(settled))
            self.shot("01-cancel-link.png", "request_cancellation")
            self.click("request_cancellation")

        def form():
            page.locator(_selector("cancel_when_end")).check()
            page.locator(_selector("cancel_reason")).select_option(index=1)
            page.locator(_selector("cancel_confirm")).check()
            self.shot("02-cancel-form.png", "cancel_form")

        def withdraw():
            _selector("withdraw_cancellation")
            self.click("confirm_cancellation")
            try:
                self.shot("03-keep-the-service.png", "cancellation_pending")
            finally:  # leave the demo service as it was
                self.click("withdraw_cancellation")
            page.locator(_selector("request_cancellation")).wait_for(state="visible")

        return [
            ("01-cancel-link.png", service),
            ("02-cancel-form.png", form),
            ("03-keep-the-service.png", withdraw),
        ]

    # --- contacts: "Contacts and permissions" ---
    def flow_contacts(self):
        page = self.page

        def contacts():
            self.click("nav_contacts")
            self.shot("01-contacts.png", "contact_add")
            self.click("contact_add")

        def add_contact():
            name, email = CONTACT_EXAMPLE[self.language]
            page.fill(_selector("contact_name"), name)
            page.fill(_selector("contact_email"), email)
            page.locator(_selector("contact_billing")).check()
            self.shot("02-add-contact.png", "contact_form")  # never saved

        return [("01-contacts.png", contacts), ("02-add-contact.png", add_contact)]

    # --- twofactor: "Two-factor login" ---
    def flow_twofactor(self):
        def profile():
            self.goto(PROFILE_PATH)
            self.shot("01-profile-security.png", "security_link")
            self.click("security_link")

        def security():
            self.shot("02-turn-on.png", "two_factor_on")
            self.click("two_factor_on")

        def qr_code():
            self.shot("03-scan-code.png", "two_factor_qr")  # never confirmed: it stays off

        return [
            ("01-profile-security.png", profile),
            ("02-turn-on.png", security),
            ("03-scan-code.png", qr_code),
        ]


def capture(
    *,
    base_url: str,
    out: Path,
    languages: list[str],
    flows: list[str] | tuple[str, ...] = FLOWS,
    email: str = DEMO_EMAIL,
    code: str = DEMO_CODE,
    chromium: str | None = None,
    timeout_ms: int = 15000,
) -> Report:
    """Take the screenshots of each flow in each language and return what was written, skipped and failed."""
    from playwright.sync_api import sync_playwright

    report = Report()
    executable = chromium or os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            # Flow by flow, so both languages see the same demo data (the order flow adds an order).
            for flow in flows:
                for language in languages:
                    context = browser.new_context(
                        locale="en-US" if language == "en" else "es-CO", viewport=VIEWPORT
                    )
                    try:
                        Capture(
                            context.new_page(),
                            base_url=base_url,
                            out=out,
                            language=language,
                            flow=flow,
                            report=report,
                            timeout_ms=timeout_ms,
                        ).run(email=email, code=code)
                    finally:
                        context.close()
        finally:
            browser.close()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--base-url", required=True, help="the running site, e.g. http://127.0.0.1:8000"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})"
    )
    parser.add_argument("--languages", default="es,en", help="comma-separated: es,en")
    parser.add_argument(
        "--flows",
        default=",".join(FLOWS),
        help=f"comma-separated flows to capture (default: all of {','.join(FLOWS)})",
    )
    parser.add_argument("--email", default=DEMO_EMAIL)
    parser.add_argument("--code", default=DEMO_CODE)
    parser.add_argument(
        "--chromium",
        default=None,
        help="Chromium executable (default: $CHROMIUM_PATH or /usr/bin/chromium)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail when a step is skipped because its selector is not set",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=15000,
        help="milliseconds to wait for each element (default 15000)",
    )
    args = parser.parse_args(argv)
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
    if not languages or any(lang not in LANGUAGE_COOKIES for lang in languages):
        parser.error("--languages must be es, en or es,en")
    flows = [flow.strip() for flow in args.flows.split(",") if flow.strip()]
    if not flows or any(flow not in FLOWS for flow in flows):
        parser.error(f"--flows must be one or more of {','.join(FLOWS)}")
    report = capture(
        base_url=args.base_url,
        out=args.out,
        languages=languages,
        flows=flows,
        email=args.email,
        code=args.code,
        chromium=args.chromium,
        timeout_ms=args.timeout,
    )
    for path in report.written:
        print(f"wrote   {path}")
    for entry in report.skipped:
        print(f"skipped {entry}")
    for entry in report.failed:
        print(f"FAILED  {entry}", file=sys.stderr)
    if report.failed or (args.strict and report.skipped):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
