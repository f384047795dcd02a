"""A mixed load on ClientArea (Locust): help-center readers, voters and searchers, and customers
who browse Billing and pay through the PayU simulator.

Run it against the production configuration with ``loadtest/run.py`` (which starts it, trusts its
local CA and prints the report), or against any site with the demo data loaded:

    locust -f loadtest/locustfile.py --host https://portal.example.test

Throttling is provoked on purpose: every simulated visitor comes from the proxy's one address,
so votes (30 a minute) and searches (60 a minute) are soon answered 429. Those answers are
correct and are reported as their own rows, "... (throttled)", never as failures. Any other
non-2xx answer, an unexpected redirect or a page missing what it should show is a failure.
"""

from __future__ import annotations

import os
import random
import re
import uuid

import lxml.html
from locust import HttpUser, between, task

DEMO_CUSTOMERS = ("ana@cliente.example", "compras@tiendaandina.example")
DEMO_CODE = "DEMO-CODE-7777"
SEARCHES = ("pagar", "factura", "PSE", "efectvo", "código de acceso", "invoice", "tarjeta")
THROTTLED = 429


def form_fields(html: str, xpath: str, base_url: str) -> tuple[str, dict[str, str]]:
    """The action and the fields (hidden ones included) of the first form matching ``xpath``."""
    if not html.strip():
        raise LookupError(f"empty page instead of a form {xpath}")
    doc = lxml.html.fromstring(html, base_url=base_url)
    forms = doc.xpath(xpath)
    if not forms:
        raise LookupError(f"no form {xpath}")
    form = forms[0]
    return form.get("action") or base_url, dict(form.form_values())


class Visitor(HttpUser):
    """Shared helpers: requests named by kind, throttling told apart, CSRF like a browser."""

    abstract = True

    def on_start(self) -> None:
        # Locust's session ignores REQUESTS_CA_BUNDLE: trust the test proxy's local CA here.
        self.client.verify = os.environ.get("LOADTEST_CA_BUNDLE") or True

    def get(self, path: str, name: str, *, throttled_ok: bool = False, expect: str = ""):
        return self._send("GET", path, name, throttled_ok=throttled_ok, expect=expect)

    def post(self, path: str, data: dict, name: str, *, referer: str, throttled_ok=False):
        headers = {"Referer": referer, "Origin": self.host.rstrip("/")}
        return self._send("POST", path, name, data=data, headers=headers, throttled_ok=throttled_ok)

    def _send(self, method, path, name, *, throttled_ok=False, expect="", **kwargs):
        with self.client.request(
            method, path, name=name, catch_response=True, **kwargs
        ) as response:
            if response.status_code == 0:  # no answer at all (connection, TLS, timeout)
                response.failure(f"no response: {getattr(response, 'error', '')}")
            elif response.status_code == THROTTLED and throttled_ok:
                response.request_meta["name"] = f"{name} (throttled)"
                response.success()
            elif response.status_code >= 400:
                response.failure(f"HTTP {response.status_code}")
            elif expect and expect not in response.text:
                response.failure(f"{expect!r} missing from {path}")
            else:
                response.success()
            return response


class HelpCenterReader(Visitor):
    """Anonymous: the help center's home, articles, searches (some with typos) and votes."""

    weight = 3
    wait_time = between(1, 4)

    def on_start(self) -> None:
        super().on_start()
        home = self.get("/help/", "help: home", expect="/help/search/")
        self.articles = sorted(
            set(re.findall(r'href="(/help/(?!search|category|tag|media)[\w-]+/)"', home.text))
        ) or ["/help/"]

    @task(6)
    def read_article(self) -> None:
        self.get(random.choice(self.articles), "help: article")

    @task(3)
    def search(self) -> None:
        query = random.choice(SEARCHES)
        self.get(f"/help/search/?q={query}", "help: search", throttled_ok=True)

    @task(2)
    def vote(self) -> None:
        article = random.choice(self.articles)
        page = self.get(article, "help: article")
        if 'class="vote-form"' not in page.text:
            return
        action, fields = form_fields(page.text, "//form[@class='vote-form']", page.url)
        fields["value"] = random.choice(("like", "dislike"))
        self.post(action, fields, "help: vote", referer=page.url, throttled_ok=True)


class Customer(Visitor):
    """Logged in: Billing, an order, Services, Invoices; now and then orders a new service and
    pays it by card on the PayU simulator."""

    weight = 2
    wait_time = between(2, 6)

    def on_start(self) -> None:
        super().on_start()
        page = self.get("/clientarea/login/", "customer: login page")
        action, fields = form_fields(page.text, "//main//form[@method='post']", page.url)
        fields.update(username=random.choice(DEMO_CUSTOMERS), password=DEMO_CODE)
        after = self.post(action, fields, "customer: log in", referer=page.url)
        if not (after.url or "").rstrip("/").endswith("/clientarea"):
            raise RuntimeError(f"login did not reach the client area ({after.status_code})")

    @task(4)
    def billing(self) -> None:
        page = self.get("/clientarea/billing/", "customer: billing", expect="data-number")
        numbers = re.findall(r'data-number="([\w-]+)"', page.text)
        if numbers:
            self.get(f"/clientarea/billing/{random.choice(numbers)}/", "customer: order")

    @task(2)
    def services_and_invoices(self) -> None:
        self.get("/clientarea/", "customer: dashboard")
        self.get("/clientarea/services/", "customer: services")
        self.get("/clientarea/invoices/", "customer: invoices")

    @task(1)
    def order_and_pay(self) -> None:
        catalog = self.get("/clientarea/services/new/", "pay: new service form")
        # The catalogue's "Choose" links carry the product and billing cycles it offers.
        offers = re.findall(r'href="\?(product=[^"#]+)#order-form"', catalog.text)
        if not offers:
            raise RuntimeError("the catalogue offers nothing to order")
        query = random.choice(offers).replace("&amp;", "&")
        form_page = self.get(f"/clientarea/services/new/?{query}", "pay: new service form")
        action, fields = form_fields(form_page.text, "//form[@id='order-form']", form_page.url)
        fields["label"] = f"load-{uuid.uuid4().hex[:10]}.co"
        order = self.post(action, fields, "pay: order a service", referer=form_page.url)
        match = re.search(r"/clientarea/billing/([\w-]+)/", order.url or "")
        if not match:
            raise RuntimeError(
                f"ordering a service did not open the new order ({order.status_code})"
            )
        choose = self.get(f"/payments/pay/{match.group(1)}/", "pay: choose gateway")
        action, fields = form_fields(choose.text, "//form[@id='gateway-form-payu']", choose.url)
        fields["method"] = "card"
        redirect = self.post(action, fields, "pay: start PayU payment", referer=choose.url)
        action, fields = form_fields(
            redirect.text, "//form[@id='gateway-redirect-form']", redirect.url
        )
        checkout = self.post(action, fields, "pay: PayU checkout", referer=redirect.url)
        action, fields = form_fields(
            checkout.text, "//form[contains(@action, '/card/')]", checkout.url
        )
        fields.update(
            card_holder="Carga Prueba",
            card_number="4111111111111111",
            card_expiry="12/39",
            card_cvv="123",
        )
        result = self.post(action, fields, "pay: card on the simulator", referer=checkout.url)
        if "/payments/result/" not in (result.url or ""):
            raise RuntimeError("the card payment did not come back to the result page")
