"""Capture the screenshots for the help article “How can I pay my bill online?”, in Spanish and English.

    python tools/screenshots.py --base-url http://127.0.0.1:8000 [--out DIR] [--languages es,en]

Run it against a site loaded with ``clientarea demo-data``: it logs in as the demo customer
(ana@cliente.example / DEMO-CODE-7777), walks through the payment steps and writes
``DIR/<es|en>/paying/01-client-access.png`` … ``08-invoice-email.png``. By default DIR is
the folder the help center serves them from (``static/helpcenter/screenshots``); an article
shows a screenshot as soon as its file exists, and leaves it out while it does not.

Everything the script clicks or highlights is in ``SELECTORS`` below. A step whose selector
is ``None`` is skipped and reported; ``--strict`` turns skipped steps into a failing exit
code. The script stops on the gateway choice: nothing is paid, not even in the sandbox.

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
}
EMAILS_PATH = "/clientarea/emails/"
DEMO_EMAIL = "ana@cliente.example"
DEMO_CODE = "DEMO-CODE-7777"
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
    """One language's walk through the payment steps."""

    def __init__(
        self, page, *, base_url: str, out: Path, language: str, report: Report, timeout_ms: int
    ) -> None:
        self.page, self.base_url, self.language, self.report = (
            page,
            base_url.rstrip("/"),
            language,
            report,
        )
        self.folder = out / language / "paying"
        self.folder.mkdir(parents=True, exist_ok=True)
        page.set_default_timeout(timeout_ms)

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

    def run_chain(self, steps) -> None:
        """Run dependent steps in order; after a skipped or failed step the rest of the chain is skipped."""
        for index, (name, action) in enumerate(steps):
            try:
                action()
            except StepSkipped as exc:
                rest = [n for n, _ in steps[index:]]
                self.report.skipped.extend(
                    f"{self.language}/{n} (selector {exc} not set)" for n in rest[:1]
                )
                self.report.skipped.extend(
                    f"{self.language}/{n} (after {rest[0]})" for n in rest[1:]
                )
                return
            except Exception as exc:
                self.report.failed.append(
                    f"{self.language}/{name}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                )
                rest = [n for n, _ in steps[index + 1 :]]
                self.report.skipped.extend(
                    f"{self.language}/{n} (after {name} failed)" for n in rest
                )
                return

    def run(self, *, email: str, code: str) -> None:
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
            self.click("login_submit")
            if "/login" in page.url:
                raise RuntimeError(f"login as {email} failed (is the demo data loaded?)")
            # Logging in switches to the customer's preferred language: switch back.
            self.set_language_cookie()
            page.reload()

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
            entry.startswith(f"{self.language}/02-")
            for entry in self.report.failed + self.report.skipped
        ):
            self.report.skipped.append(f"{self.language}/08-invoice-email.png (not logged in)")
            return
        self.run_chain([("08-invoice-email.png", invoice_email)])


def capture(
    *,
    base_url: str,
    out: Path,
    languages: list[str],
    email: str = DEMO_EMAIL,
    code: str = DEMO_CODE,
    chromium: str | None = None,
    timeout_ms: int = 15000,
) -> Report:
    """Take the screenshots for each language and return what was written, skipped and failed."""
    from playwright.sync_api import sync_playwright

    report = Report()
    executable = chromium or os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
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
    report = capture(
        base_url=args.base_url,
        out=args.out,
        languages=languages,
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
