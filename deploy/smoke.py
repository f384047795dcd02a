"""Smoke test of the production configuration: start it, pay an order through the proxy, stop.

    python deploy/smoke.py [--database-url URL] [--redis-url URL] [--keep]

Starts what ``deploy/stack.py`` describes (DEBUG=0, PostgreSQL, Redis, gunicorn with 2
processes, 2 workers, Caddy with TLS in front), then, over HTTPS through Caddy only:

1. the health checks, HTTP → HTTPS redirects (Caddy's, and Django's behind it), HSTS;
2. logs in as the demo customer, opens Billing and a pending order, pays it with a card on the
   PayU simulator (the simulator's confirmation reaches the portal over HTTPS through Caddy);
3. waits until the order is paid and its electronic invoice accepted by the DIAN simulator and
   downloadable;
4. the metrics: 401 without the token, and with it the request counts (multi-process mode);
5. stops everything. Exit status 0 only if every step passed. ``--keep`` keeps the folder,
   database and logs of a failed run.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import ssl
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import lxml.html

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stack as stack_mod

DEMO_EMAIL = "ana@cliente.example"
DEMO_CODE = "DEMO-CODE-7777"
APPROVED_CARD = "4111111111111111"


class SmokeFailure(AssertionError):
    pass


@dataclass
class Page:
    status: int
    url: str
    text: str
    headers: dict[str, str]

    def doc(self) -> lxml.html.HtmlElement:
        return lxml.html.fromstring(self.text, base_url=self.url)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Browser:
    """Just enough of a browser: cookies, redirects, forms with their hidden fields, TLS with
    the given CA. Sends Origin and Referer like a browser (Django's CSRF check over HTTPS)."""

    def __init__(self, base_url: str, context: ssl.SSLContext) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        https = urllib.request.HTTPSHandler(context=context)
        self.opener = urllib.request.build_opener(
            https, urllib.request.HTTPCookieProcessor(self.cookies)
        )
        self.raw = urllib.request.build_opener(https, NoRedirect())
        self.last_url = base_url

    def request(self, url: str, data: dict[str, str] | None = None, *, follow=True) -> Page:
        url = urllib.parse.urljoin(self.last_url, url)
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(url, data=body)
        if body is not None:
            origin = urllib.parse.urlsplit(self.last_url)
            req.add_header("Origin", f"{origin.scheme}://{origin.netloc}")
            req.add_header("Referer", self.last_url)
        opener = self.opener if follow else self.raw
        try:
            with opener.open(req, timeout=60) as response:
                page = Page(
                    response.status,
                    response.geturl(),
                    response.read().decode("utf-8", "replace"),
                    dict(response.headers),
                )
        except urllib.error.HTTPError as exc:
            page = Page(exc.code, url, exc.read().decode("utf-8", "replace"), dict(exc.headers))
        if follow:
            self.last_url = page.url
        return page

    def get(self, url: str, **kw) -> Page:
        return self.request(url, **kw)

    def submit(self, page: Page, form_selector: str, **values: str) -> Page:
        """Fill and send the first form matching the XPath ``form_selector``."""
        forms = page.doc().xpath(form_selector)
        if not forms:
            raise SmokeFailure(f"no form {form_selector!r} on {page.url}")
        return self.submit_form(page, forms[0], **values)

    def submit_form(self, page: Page, form: lxml.html.FormElement, **values: str) -> Page:
        fields = dict(form.form_values())
        fields.update(values)
        action = form.get("action") or page.url
        self.last_url = page.url
        if (form.get("method") or "get").lower() == "get":
            return self.get(
                urllib.parse.urljoin(page.url, action) + "?" + urllib.parse.urlencode(fields)
            )
        return self.request(urllib.parse.urljoin(page.url, action), fields)


def with_class(name: str) -> str:
    return f".//*[contains(concat(' ', normalize-space(@class), ' '), ' {name} ')]"


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)
    print(f"  ok  {message}", flush=True)


def check_transport(stack: stack_mod.Stack, browser: Browser) -> None:
    live = browser.get("/healthz/live")
    expect(live.status == 200, "GET /healthz/live through the TLS proxy answers 200")
    ready = browser.get("/healthz/ready")
    expect(ready.status == 200, "GET /healthz/ready (database and queue) answers 200")
    home = browser.get("/")
    expect(
        "max-age=31536000" in home.headers.get("Strict-Transport-Security", ""),
        "HTTPS responses carry HSTS for a year",
    )
    plain = Browser(stack.http_url, ssl.create_default_context())
    redirect = plain.get("/clientarea/", follow=False)
    expect(
        redirect.status in (301, 308)
        and redirect.headers.get("Location", "").startswith("https://"),
        "plain HTTP to the proxy is redirected to HTTPS",
    )
    direct = Browser(f"http://127.0.0.1:{stack.web_port}", ssl.create_default_context())
    req = urllib.request.Request(
        f"http://127.0.0.1:{stack.web_port}/clientarea/", headers={"Host": "localhost"}
    )
    try:
        with direct.raw.open(req, timeout=30) as response:
            status, location = response.status, response.headers.get("Location", "")
    except urllib.error.HTTPError as exc:
        status, location = exc.code, exc.headers.get("Location", "")
    expect(
        status == 301 and location.startswith("https://localhost/"),
        "gunicorn reached without the proxy's X-Forwarded-Proto redirects to HTTPS (DEBUG=0)",
    )


def log_in(browser: Browser) -> None:
    login = browser.get("/clientarea/login/")
    expect(login.status == 200, "the login page answers")
    after = browser.submit(
        login, "//main//form[@method='post']", username=DEMO_EMAIL, password=DEMO_CODE
    )
    expect(after.url.rstrip("/").endswith("/clientarea"), f"logged in as {DEMO_EMAIL}")
    session = [c for c in browser.cookies if c.name == "sessionid"]
    expect(bool(session) and session[0].secure, "the session cookie is Secure")


def pending_order(browser: Browser) -> str:
    billing = browser.get("/clientarea/billing/")
    expect(billing.status == 200, "Billing answers")
    for row in billing.doc().xpath("//tr[@data-number]"):
        if row.xpath(with_class("badge-pending")):
            number = row.get("data-number")
            print(f"      pending order {number}")
            return number
    raise SmokeFailure("the demo customer has no pending order")


def pay_with_payu(browser: Browser, number: str) -> str:
    choose = browser.get(f"/payments/pay/{number}/")
    expect(choose.status == 200, f"Pay now for {number} answers")
    redirect = browser.submit(choose, "//form[@id='gateway-form-payu']", method="card")
    expect(redirect.status == 200, "the portal prepared a PayU payment")
    checkout = browser.submit(redirect, "//form[@id='gateway-redirect-form']")
    expect(
        checkout.status == 200 and "/sandbox/payu/checkout/" in checkout.url,
        "the PayU simulator accepted the signed checkout form",
    )
    card_form = next(
        (f for f in checkout.doc().xpath("//form") if "/card/" in (f.get("action") or "")),
        None,
    )
    if card_form is None:
        raise SmokeFailure("the PayU checkout offers no card form")
    fields = {
        "card_holder": "Ana Cliente",
        "card_number": APPROVED_CARD,
        "card_expiry": "12/39",
        "card_cvv": "123",
    }
    names = set(dict(card_form.form_values())) | {
        i.get("name") for i in card_form.xpath(".//input | .//select")
    }
    fields = {k: v for k, v in fields.items() if k in names}
    result = browser.submit_form(checkout, card_form, **fields)
    expect(
        result.status == 200 and "/payments/result/" in result.url,
        "paid by card on the simulator and came back to the portal's result page",
    )
    return result.url


def wait_until_paid_and_invoiced(browser: Browser, number: str, *, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    paid = False
    while time.monotonic() < deadline:
        order = browser.get(f"/clientarea/billing/{number}/")
        if order.doc().xpath(with_class("badge-paid")):
            paid = True
            break
        time.sleep(1)
    expect(paid, f"order {number} is paid (the confirmation went simulator → proxy → worker)")
    invoice_link = ""
    while time.monotonic() < deadline:
        invoices = browser.get("/clientarea/invoices/")
        for row in invoices.doc().xpath("//tbody/tr"):
            if number in row.text_content():
                links = [a.get("href") for a in row.xpath(".//a") if a.text_content() == "PDF"]
                invoice_link = links[0] if links else ""
        if invoice_link:
            break
        time.sleep(1)
    expect(bool(invoice_link), "its invoice was accepted by the DIAN simulator and rendered")
    pdf = browser.get(invoice_link)
    expect(pdf.status == 200 and pdf.text.startswith("%PDF"), "the invoice PDF downloads")


def check_metrics(stack: stack_mod.Stack, browser: Browser) -> None:
    anonymous = browser.get("/metrics")
    expect(anonymous.status == 401, "/metrics without the token answers 401")
    req = urllib.request.Request(
        f"{stack.base_url}/metrics", headers={"Authorization": f"Bearer {stack.metrics_token}"}
    )
    with urllib.request.urlopen(req, timeout=30, context=stack.ssl_context()) as response:
        text = response.read().decode()
    expect("clientarea_database_up 1.0" in text, "/metrics with the token: the database is up")
    served = sum(
        float(value)
        for value in re.findall(r"^clientarea_http_responses_total\{[^}]*\} (\S+)$", text, re.M)
    )
    expect(served >= 10, f"/metrics counts the requests served ({served:.0f}, multi-process mode)")


def run(stack: stack_mod.Stack) -> None:
    browser = Browser(stack.base_url, stack.ssl_context())
    check_transport(stack, browser)
    log_in(browser)
    number = pending_order(browser)
    pay_with_payu(browser, number)
    wait_until_paid_and_invoiced(browser, number)
    check_metrics(stack, browser)
    stack_mod.ensure_running(stack)
    expect(True, "every process is still running")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/clientarea_smoke"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--keep", action="store_true", help="keep the folder and database")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="clientarea-smoke-"))
    print(f"== production configuration in {workdir}", flush=True)
    started = time.monotonic()
    stack = stack_mod.start(
        workdir=workdir, database_url=args.database_url, redis_url=args.redis_url
    )
    print(f"== started in {time.monotonic() - started:.0f} s: {stack.base_url}", flush=True)
    failed = False
    try:
        run(stack)
    except (SmokeFailure, stack_mod.StackError, OSError) as exc:
        failed = True
        print(f"FAILED: {exc}", file=sys.stderr)
        for name in ("web", "worker-1", "worker-2", "caddy"):
            log = stack.log(name)
            if log.exists():
                print(
                    f"--- {name} log (end)\n{log.read_text(errors='replace')[-2500:]}",
                    file=sys.stderr,
                )
    finally:
        stack_mod.stop(stack, keep=failed and args.keep)
    if not (failed and args.keep):
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    print("== smoke test " + ("FAILED" if failed else "passed"), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
