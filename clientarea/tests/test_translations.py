"""No untranslated or raw text on the main pages (issue 11.14).

Pages rendered in English carry no Spanish leftovers and pages in Spanish no English ones
(from a list of strings known to have leaked), the back office names every app, model and
column in the staff member's language, order events read as sentences (never raw JSON), and
the help center speaks to customers as "usted" in Spanish.
"""

from __future__ import annotations

import io
import re
import tomllib
from urllib.parse import urlsplit

import pytest
from django.contrib import admin
from django.contrib.admin.utils import label_for_field
from django.core.management import call_command
from django.utils import translation

from clientarea.accounts.models import Customer, User
from clientarea.billing.models import Order, OrderState
from clientarea.helpcenter import content
from clientarea.payments import services as payments
from clientarea.payments.models import Payment, PaymentStatus

# Words that read the same in both languages, or that a library we do not control names
# without gettext (django-axes' "status" column).
# Words Spanish uses as they are ("software"), and DIAN's own protocol names ("ZipKey").
SAME_IN_BOTH = {"ID", "NIT", "URL", "total", "slug", "Status", "software", "ZipKey"}

SPANISH_LEFTOVERS = [
    "Lunes a viernes",  # the provider's support hours
    "Orden de servicio –",  # the printable order's note
    "(payvalida)",
    "(payu)",
    "Soporte:",
    "Pendiente",
    "Pagada",
    "Vence:",
    # the gateway simulators' pages (payments/sandbox)
    "Simulador:",
    "Resumen de la compra",
    "seleccione su banco",
    "Persona natural",
    "Recibo de pago",
]
ENGLISH_LEFTOVERS = [
    "(payvalida)",
    "(payu)",
    "not a tax invoice",
    "Support:",
    "Powered by",
    "Pending",
    "Overdue",
    # the gateway simulators' pages (payments/sandbox)
    "Simulator",
    "Purchase summary",
    "Pay with card",
    "Choose your bank",
    "Natural person",
    "Payment voucher",
    "Amount to pay",
]


def test_every_back_office_app_model_and_column_is_translated():
    untranslated = []
    for model, model_admin in admin.site._registry.items():
        labels = {}
        for language in ("es-co", "en"):
            with translation.override(language):
                labels[language] = (
                    str(model._meta.app_config.verbose_name),
                    str(model._meta.verbose_name_plural),
                    *(
                        str(label_for_field(name, model, model_admin))
                        for name in model_admin.list_display
                        if name != "action_checkbox"
                    ),
                )
        for spanish, english in zip(labels["es-co"], labels["en"], strict=True):
            if spanish == english and spanish not in SAME_IN_BOTH:
                untranslated.append(f"{model._meta.label}: {spanish!r}")
    assert sorted(set(untranslated)) == []


@pytest.fixture
def demo(db):
    """The demo, with ana's pending order showing a Payvalida payment in process (no method yet)."""
    call_command("demo_data", stdout=io.StringIO())
    ana = Customer.objects.get(user__email="ana@cliente.example")
    pending = Order.objects.filter(customer=ana, state=OrderState.PENDING).order_by("pk").first()
    assert pending is not None
    payment, _action = payments.start_payment(order=pending, customer=ana, gateway_code="payu")
    Payment.objects.filter(pk=payment.pk).update(
        gateway="payvalida", method="", requested_method="", status=PaymentStatus.PENDING
    )
    return ana, pending


def customer_pages(ana: Customer, pending: Order) -> list[str]:
    paid = Order.objects.filter(customer=ana, state=OrderState.PAID).first()
    assert paid is not None
    return [
        "/",
        "/clientarea/",
        "/clientarea/billing/",
        f"/clientarea/billing/{pending.number}/",
        f"/clientarea/billing/{pending.number}/print/",
        f"/clientarea/billing/{paid.number}/",
        f"/clientarea/billing/{paid.number}/print/",
        "/clientarea/order/",
        "/clientarea/order/vps-2-4/",
        "/clientarea/order/cart/",
        "/clientarea/contacts/",
        "/clientarea/contacts/add/",
        "/clientarea/profile/",
        "/clientarea/profile/emails/",
        "/help/",
    ]


@pytest.mark.parametrize(
    ("language", "leftovers"), [("en", SPANISH_LEFTOVERS), ("es-co", ENGLISH_LEFTOVERS)]
)
def test_customer_pages_have_no_text_in_the_other_language(client, demo, language, leftovers):
    ana, pending = demo
    _log_in_speaking(client, ana, language)
    assert _leftovers(client, customer_pages(ana, pending), leftovers) == {}


def _log_in_speaking(client, customer: Customer, language: str) -> None:
    """``client`` logged in as ``customer``, who chose ``language`` (profile and cookie)."""
    Customer.objects.filter(pk=customer.pk).update(preferred_language=language)
    client.force_login(customer.user, backend="clientarea.accounts.backends.EmailAccessCodeBackend")
    client.cookies["django_language"] = language


def _leftovers(client, urls: list[str], leftovers) -> dict[str, list[str]]:
    """The texts of ``leftovers`` found on each of ``urls`` (each must answer 200)."""
    found = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        if hits := [text for text in leftovers if text in page]:
            found[url] = hits
    return found


def simulator_pages(client, ana: Customer) -> list[str]:
    """The PayU simulator's checkout, PSE bank and cash voucher for a new order of ana's,
    reached the way her browser reaches them (the gateway's auto-submitted form)."""
    order = Order.objects.filter(customer=ana, state=OrderState.PENDING).order_by("-pk").first()
    assert order is not None

    def checkout() -> str:
        _payment, action = payments.start_payment(order=order, customer=ana, gateway_code="payu")
        return client.post(urlsplit(action.url).path, action.fields)["Location"]

    pse = {"person_type": "N", "document_type": "CC", "document_number": "1020304050"}
    bank = client.post(f"{checkout()}pse/", {**pse, "bank": "1007"})["Location"]
    voucher = client.post(f"{checkout()}cash/", {"network": "BALOTO"})["Location"]
    return [checkout(), bank, voucher, "/sandbox/payu/cash-point/"]


@pytest.mark.parametrize(
    ("language", "leftovers"), [("en", SPANISH_LEFTOVERS), ("es-co", ENGLISH_LEFTOVERS)]
)
def test_gateway_simulator_pages_have_no_text_in_the_other_language(
    client, demo, language, leftovers
):
    ana, _pending = demo
    _log_in_speaking(client, ana, language)
    assert _leftovers(client, simulator_pages(client, ana), leftovers) == {}


def test_the_order_names_the_gateway_of_a_payment_in_process(client, demo):
    ana, pending = demo
    client.force_login(ana.user, backend="clientarea.accounts.backends.EmailAccessCodeBackend")
    client.cookies["django_language"] = "es-co"
    page = client.get(f"/clientarea/billing/{pending.number}/").content.decode()
    assert "Hay un pago en proceso: Payvalida" in page


def test_back_office_order_history_reads_as_sentences_not_json(client, demo):
    staff = User.objects.get(email="soporte@conexcol.example")
    client.force_login(staff)
    client.cookies["django_language"] = "en"
    paid = Order.objects.filter(state=OrderState.PAID, paid_via="manual").first()
    assert paid is not None
    page = client.get(f"/admin/billing/order/{paid.pk}/change/").content.decode()
    assert '"via"' not in page and "&quot;via&quot;" not in page
    assert "&quot;total&quot;" not in page and '"total"' not in page
    assert "bank transfer" in page
    assert re.search(r"services activated or renewed: [^<]*\(#\d+\)", page)


def test_the_help_center_says_usted_in_spanish():
    """Category names and blurbs, like the articles, address the customer as "usted"."""
    tuteo = re.compile(r"\b(tú|tu|tus|te|ti|recibes|puedes|pagas|tienes|debes|quieres)\b", re.I)
    data = tomllib.loads((content.CONTENT_DIR / "categories.toml").read_text(encoding="utf-8"))
    texts = [c[k] for c in data["category"] for k in ("name_es", "description_es")]
    texts += [p.read_text(encoding="utf-8") for p in (content.CONTENT_DIR / "es").glob("*.md")]
    assert [m.group(0) for text in texts for m in tuteo.finditer(text)] == []


def test_the_back_office_names_its_sections_for_what_staff_find_there(client, demo):
    """The admin index showed a "Biblioteca" section (the internal app "lib"), holding the
    periodic job runs: it is named for them."""
    client.force_login(User.objects.get(email="soporte@conexcol.example"))
    client.cookies["django_language"] = "es-co"
    index = client.get("/admin/").content.decode()
    assert "Biblioteca" not in index
    assert "Tareas programadas" in index and "Ejecuciones de tareas periódicas" in index
