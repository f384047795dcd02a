"""Credit notes on the invoice of an order a withholding agent paid net: the note is the full
amount with IVA (DIAN's document), but the customer is owed back only what it paid: what it
withheld on the credited part went to DIAN, and it recovers that from its own withholding return
(DUR 1625/2016 art. 1.2.4.17). Staff credit notes, refunds and plan changes alike."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from clientarea.billing import credit_notes, ledger, selectors
from clientarea.billing.models import LedgerEntry, LedgerKind
from clientarea.billing.tests.test_debit_notes import accepted_invoice
from clientarea.catalog.tests.test_ordering import vps
from clientarea.einvoice.models import DocumentKind, Invoice
from clientarea.lib.dates import local_today
from clientarea.payments import services as payment_services
from clientarea.payments.models import PaymentStatus, RefundLine
from clientarea.payments.sandbox.models import SandboxPayUOrder
from clientarea.payments.tests.helpers import make_renewal_order
from clientarea.payments.tests.test_refunds import CARD_OK, balance_is_sum_of_movements
from clientarea.test import make_customer, make_provider, make_staff
from clientarea.withholdings.calculation import gross_for_net, withheld_share
from clientarea.withholdings.models import WithholdingRule
from clientarea.withholdings.tests.helpers import make_agent, make_rules

pytestmark = pytest.mark.django_db

__all__ = ["vps"]  # the catalog tests' fixture, used here


@pytest.fixture
def agent():
    make_provider()
    make_rules(local_today().year)
    company = make_customer(
        "compras@andina.example",
        person_type="juridica",
        document_type="31",
        document_number="901234567",
        check_digit="7",
    )
    make_agent(company)
    return company


def movements(customer) -> list[tuple[str, Decimal, bool]]:
    return [
        (e.kind, e.amount, e.order_id is not None)
        for e in LedgerEntry.objects.filter(customer=customer).order_by("id")
    ]


def test_the_share_of_the_withholdings_is_proportional_in_whole_pesos_and_adds_up():
    args = {"withheld": Decimal("78160"), "total": Decimal("1190000")}
    half = withheld_share(**args, credited_before=Decimal(0), credited=Decimal("595000"))
    other = withheld_share(**args, credited_before=Decimal("595000"), credited=Decimal("595000"))
    assert (half, other) == (Decimal("39080.00"), Decimal("39080.00"))
    # Three notes of a third: each rounded on the running total, so they add up to what was
    # withheld, never a peso more or less.
    thirds = [Decimal("396666.67"), Decimal("396666.67"), Decimal("396666.66")]
    shares, before = [], Decimal(0)
    for part in thirds:
        shares.append(withheld_share(**args, credited_before=before, credited=part))
        before += part
    assert sum(shares) == Decimal("78160") and shares == [
        Decimal("26053"),
        Decimal("26054"),
        Decimal("26053"),
    ]
    # Never negative, never more than the note, nothing beyond the order's total.
    assert withheld_share(**args, credited_before=Decimal("1190000"), credited=Decimal("10")) == 0
    assert withheld_share(**args, credited_before=Decimal(0), credited=Decimal("0.50")) <= Decimal(
        "0.50"
    )
    assert (
        withheld_share(
            withheld=Decimal(0),
            total=Decimal(100),
            credited_before=Decimal(0),
            credited=Decimal(50),
        )
        == 0
    )
    # The gross of a refund of money: all the net left is all the order left.
    assert gross_for_net(**args, credited_before=Decimal(0), net=Decimal("1111840")) == Decimal(
        "1190000"
    )
    assert gross_for_net(**args, credited_before=Decimal(0), net=Decimal("555920")) == Decimal(
        "595000.00"
    )


def test_a_cancellation_credits_the_agent_what_it_paid_not_what_it_withheld(
    django_capture_on_commit_callbacks, agent
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, agent, price="1000000")
    order = invoice.order
    assert order is not None
    assert selectors.account_summary(agent).balance == 0
    # The agent paid 1.111.840 and withheld 78.160 (ReteFuente 40.000, ReteIVA 28.500, ReteICA 9.660).
    assert LedgerEntry.objects.get(kind=LedgerKind.WITHHOLDING).amount == Decimal("-78160.00")
    with django_capture_on_commit_callbacks(execute=True):
        note, _entry = credit_notes.issue_credit_note(
            invoice=invoice, concept="2", reason="Servicio cancelado"
        )
    # The DIAN document is the whole sale, IVA included.
    assert note.total == Decimal("1190000.00") and note.concept == "2"
    assert movements(agent)[-4:] == [
        (LedgerKind.INVOICE_NOTE, Decimal("-1190000.00"), True),
        (LedgerKind.WITHHOLDING_REVERSED, Decimal("78160.00"), True),
        (LedgerKind.NOTE_TO_CREDIT, Decimal("1111840.00"), True),
        (LedgerKind.NOTE_TO_CREDIT, Decimal("-1111840.00"), False),
    ]
    account = selectors.account_summary(agent)
    assert account.credit == Decimal("1111840.00")  # what it paid us, not 1.190.000
    assert selectors.order_balance_due(order) == 0
    assert balance_is_sum_of_movements(agent)
    # Staff read why on the movement; the note's email says it.
    credit = LedgerEntry.objects.filter(kind=LedgerKind.NOTE_TO_CREDIT, order__isnull=True).get()
    assert (note.full_number or "-") in credit.memo and "$ 78.160,00" in credit.memo
    assert "DIAN" in credit.memo and "menos las retenciones" in credit.memo
    context = credit_notes.credit_note_email_context(note)
    assert (context["credited"], context["withheld"]) == (
        Decimal("1111840.00"),
        Decimal("78160.00"),
    )


def test_partial_credit_notes_take_off_their_share_and_add_up_to_what_was_withheld(
    django_capture_on_commit_callbacks, agent
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, agent, price="1000000")
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            note, _entry = credit_notes.issue_credit_note(
                invoice=invoice, concept="1", reason="Mitad del servicio", amount=Decimal("500000")
            )
        assert note.total == Decimal("595000.00")
    reversed_ = LedgerEntry.objects.filter(kind=LedgerKind.WITHHOLDING_REVERSED)
    assert [e.amount for e in reversed_.order_by("id")] == [Decimal("39080.00")] * 2
    assert selectors.account_summary(agent).credit == Decimal("1111840.00")
    assert balance_is_sum_of_movements(agent)


def test_staff_are_told_what_was_credited_to_an_agent_not_the_notes_total(
    django_capture_on_commit_callbacks, agent, client: Client
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, agent, price="1000000")
    client.force_login(make_staff())
    url = reverse("admin:billing_order_credit-note", args=[invoice.order_id])
    with django_capture_on_commit_callbacks(execute=True), translation.override("en"):
        response = client.post(
            url,
            {
                "concept": "1",
                "reason": "Mitad del servicio",
                "scope": "amount",
                "amount": "500000",
                "destination": "credit",
            },
            follow=True,
            headers={"accept-language": "en"},
        )
    text = " ".join(str(m) for m in response.context["messages"])
    # 595,000 with IVA, less the 39,080 withheld on that half: 555,920 credited.
    assert "issued for $ 595.000,00; $ 555.920,00 was added to the customer's credit" in text
    assert "less the $ 39.080,00 the customer withheld" in text
    assert selectors.account_summary(agent).credit == Decimal("555920.00")


def test_a_customer_that_withheld_nothing_is_credited_the_whole_note(
    django_capture_on_commit_callbacks, agent
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, agent, price="50000")  # < 2 UVT
    with django_capture_on_commit_callbacks(execute=True):
        note, _entry = credit_notes.issue_credit_note(
            invoice=invoice, concept="2", reason="Anulada"
        )
    assert selectors.account_summary(agent).credit == note.total == Decimal("59500.00")
    assert not LedgerEntry.objects.filter(kind=LedgerKind.WITHHOLDING_REVERSED).exists()


def test_the_statement_shows_the_withholdings_line(
    django_capture_on_commit_callbacks, agent, client
):
    invoice = accepted_invoice(django_capture_on_commit_callbacks, agent, price="1000000")
    with django_capture_on_commit_callbacks(execute=True):
        note, _entry = credit_notes.issue_credit_note(
            invoice=invoice, concept="2", reason="Anulada"
        )
    client.force_login(agent.user, backend="clientarea.accounts.backends.EmailAccessCodeBackend")
    with translation.override("es"):
        page = client.get(
            "/clientarea/billing/statement/", HTTP_ACCEPT_LANGUAGE="es"
        ).content.decode()
    assert "Retenciones sobre lo acreditado: el cliente las recupera de la DIAN" in page
    assert note.full_number in page


def _pay_net_with_payu(captured, customer):
    """A renewal (100.000 + IVA) paid by card in the PayU simulator, net of 7.816 withheld."""
    from clientarea.einvoice.tests.test_issue_on_payment import make_resolution

    WithholdingRule.objects.update(min_base_uvt=0)  # the renewal is under 2 UVT
    make_resolution()
    order, _service = make_renewal_order(customer)
    with captured(execute=True):
        payment, action = payment_services.start_payment(
            order=order, customer=customer, gateway_code="payu", language="es"
        )
    browser = Client()
    browser.post(urllib.parse.urlsplit(action.url).path, action.fields)
    sim = SandboxPayUOrder.objects.get(reference_code=payment.reference)
    with captured(execute=True):
        browser.post(f"/sandbox/payu/checkout/{sim.checkout_token}/card/", CARD_OK)
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.APPROVED and order.state == "paid"
    assert payment.amount == Decimal("111184.00")
    invoice = selectors.order_invoice(order)
    assert invoice is not None and invoice.is_validated
    return payment, order


@pytest.mark.usefixtures("_payu_network")
def test_refunding_all_an_agent_paid_annuls_the_invoice_and_returns_only_the_money(
    django_capture_on_commit_callbacks, agent
):
    captured = django_capture_on_commit_callbacks
    payment, order = _pay_net_with_payu(captured, agent)
    balance = selectors.account_summary(agent).balance
    with captured(execute=True):
        payment_services.refund_payment(
            payment=payment,
            amount=Decimal("111184"),
            method="manual",
            bank_reference="Davivienda 77",
            reason="Cancelado",
        )
    note = RefundLine.objects.get().credit_note
    # The whole sale annulled for DIAN; the money returned is what the agent paid.
    assert note is not None and note.concept == "2" and note.total == Decimal("119000.00")
    on_order = [(k, a) for k, a, o in movements(agent) if o][-3:]
    assert on_order == [
        (LedgerKind.CREDIT_NOTE, Decimal("-119000.00")),
        (LedgerKind.WITHHOLDING_REVERSED, Decimal("7816.00")),
        (LedgerKind.PAYMENT_REFUNDED, Decimal("111184.00")),
    ]
    assert selectors.account_summary(agent).balance == balance
    assert selectors.order_balance_due(order) == 0
    assert balance_is_sum_of_movements(agent)


@pytest.mark.usefixtures("_payu_network")
def test_refunding_half_an_agent_paid_credits_half_the_sale(
    django_capture_on_commit_callbacks, agent
):
    captured = django_capture_on_commit_callbacks
    payment, order = _pay_net_with_payu(captured, agent)
    service = order.items.get(service__isnull=False).service
    due = service.next_due_date
    with captured(execute=True):
        payment_services.refund_payment(
            payment=payment,
            amount=Decimal("55592"),
            method="manual",
            bank_reference="Davivienda 78",
            reason="Mitad",
            services_action="shorten",
        )
    note = RefundLine.objects.get().credit_note
    assert note is not None and note.concept == "1" and note.total == Decimal("59500.00")
    assert LedgerEntry.objects.get(kind=LedgerKind.WITHHOLDING_REVERSED).amount == Decimal(
        "3908.00"
    )
    assert LedgerEntry.objects.get(kind=LedgerKind.PAYMENT_REFUNDED).amount == Decimal("55592.00")
    # Withholdings expects no certificate for what the agent recovers from DIAN (per kind).
    reversed_ = dict(order.withholdings.values_list("kind", "reversed_amount"))
    assert reversed_ == {"06": Decimal("2000"), "05": Decimal("1425"), "07": Decimal("483")}
    assert balance_is_sum_of_movements(agent)
    assert Invoice.objects.filter(kind=DocumentKind.CREDIT_NOTE).count() == 1
    # Half the sale credited: half of the 30 paid days go back (not 14, the net's share).
    service.refresh_from_db()
    assert service.next_due_date == due - dt.timedelta(days=15)


@pytest.fixture
def _payu_network(settings):
    from unittest import mock

    from clientarea.payments.tests.test_refunds import Router

    settings.SITE_URL = "http://testserver"
    settings.PAYU_SIGNATURE_ALGORITHM = "SHA256"
    settings.PAYU_SECRET_KEY = ""
    with mock.patch("clientarea.lib.http.send", Router()):
        yield


def test_a_plan_downgrade_credits_an_agent_less_the_withholdings_on_it(
    vps, django_capture_on_commit_callbacks, agent, settings
):
    from clientarea.billing import planchanges
    from clientarea.billing.catalog_orders import place_cart_order
    from clientarea.billing.tests import make_product
    from clientarea.catalog.models import ProductKind
    from clientarea.catalog.tests.test_ordering import vps_item
    from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
    from clientarea.subscriptions.models import Service

    settings.PLAN_CHANGE_DOWNGRADE_AT = "now"
    settings.BILLING_AUTO_APPLY_CREDIT = False
    WithholdingRule.objects.update(min_base_uvt=0)
    make_resolution()
    order = place_cart_order(customer=agent, items=[vps_item(vps)], coupon_code="")
    with django_capture_on_commit_callbacks(execute=True):
        posting = ledger.record_payment(
            customer_id=agent.pk,
            amount=selectors.withholdings_selectors.net_to_pay(order),
            allocations=[ledger.Allocation(order_id=order.pk)],
            reference="TRF-9",
            via="manual",
            method="transfer",
        )
    assert posting.paid
    withheld = -LedgerEntry.objects.get(kind=LedgerKind.WITHHOLDING).amount
    assert withheld > 0
    service = Service.objects.get(customer=agent)
    small = make_product("vps-small", kind=ProductKind.VPS, prices={"monthly": "60000"})
    change = planchanges.request_plan_change(
        service=service, product=small, cycle="monthly", actor=agent.user
    )
    reversed_ = LedgerEntry.objects.get(kind=LedgerKind.WITHHOLDING_REVERSED).amount
    order.refresh_from_db()
    assert reversed_ == withheld_share(
        withheld=withheld, total=order.total, credited_before=Decimal(0), credited=change.amount
    )
    assert reversed_ > 0
    assert selectors.credit_available(agent) == change.amount - reversed_
    assert balance_is_sum_of_movements(agent)
