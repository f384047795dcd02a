"""Refunds end to end against the PayU simulator: our adapter's Payments API call, PayU's review,
its confirmation and its Queries API, all over HTTP routed to the simulator's views (no mock of
either side's protocol code). Then what a completed refund leaves: the DIAN credit note, the
ledger pair, the services, the payment, the audit entry and the email."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from decimal import Decimal
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from lxml import html

from clientarea.accounts.models import AuditEvent
from clientarea.billing import selectors as billing_selectors
from clientarea.billing.models import LedgerEntry, LedgerKind
from clientarea.einvoice.models import DocumentKind, Invoice
from clientarea.einvoice.selectors import invoice_balance
from clientarea.einvoice.tests.test_issue_on_payment import make_resolution
from clientarea.lib.http import HttpError, HttpResponse
from clientarea.notifications.models import OutgoingEmail
from clientarea.notifications.services import render_email
from clientarea.payments import services
from clientarea.payments.models import (
    Payment,
    PaymentStatus,
    Refund,
    RefundLine,
    RefundState,
    RefundStatus,
)
from clientarea.payments.sandbox import payu_refunds
from clientarea.payments.sandbox.models import SandboxPayUOrder, SandboxPayURefund
from clientarea.payments.tests.helpers import make_renewal_order
from clientarea.subscriptions.models import ServiceEvent
from clientarea.test import make_customer, make_provider, make_staff
from clientarea.tests.test_form_accessibility import dangling_references

pytestmark = pytest.mark.django_db

CARD_OK = {
    "card_holder": "Alice Gomez",
    "card_number": "4111 1111 1111 1111",
    "card_expiry": "12/39",
    "card_cvv": "123",
    "installments": "1",
}


class Router:
    """``clientarea.lib.http.send`` for tests: every request to this site (our endpoints and the
    simulators') goes to Django's test client, as it would over the network in ``make run``."""

    def __init__(self) -> None:
        self.client = Client()
        self.calls: list[str] = []
        self.down = False

    def __call__(self, method, url, body, headers, timeout=None):
        parts = urllib.parse.urlsplit(url)
        assert parts.netloc == "testserver", url
        self.calls.append(parts.path)
        if self.down:
            raise HttpError("timed out")
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        content_type = {k.lower(): v for k, v in headers.items()}.get(
            "content-type", "application/octet-stream"
        )
        response = self.client.generic(method, path, data=body or b"", content_type=content_type)
        return HttpResponse(
            response.status_code,
            response.content,
            {k.lower(): v for k, v in response.headers.items()},
        )


@pytest.fixture
def network(settings):
    settings.SITE_URL = "http://testserver"
    settings.PAYU_SIGNATURE_ALGORITHM = "SHA256"
    settings.PAYU_SECRET_KEY = ""
    router = Router()
    with mock.patch("clientarea.lib.http.send", router):
        yield router


@pytest.fixture
def english():
    with translation.override("en"):
        yield


def pay_with_payu(captured, customer=None):
    """A renewal order paid by card in the PayU simulator: the confirmation reaches our endpoint,
    the order is paid, its invoice issued and validated (store-only transmitter)."""
    make_provider()
    if not Invoice.objects.exists():
        make_resolution()
    customer = customer or make_customer(preferred_language="es-co")
    order, service = make_renewal_order(customer)  # 100.000 + IVA, the next 30 days
    with captured(execute=True):
        payment, action = services.start_payment(
            order=order, customer=customer, gateway_code="payu", language="es"
        )
    browser = Client()
    response = browser.post(urllib.parse.urlsplit(action.url).path, action.fields)
    assert response.status_code == 303
    sim = SandboxPayUOrder.objects.get(reference_code=payment.reference)
    with captured(execute=True):
        browser.post(f"/sandbox/payu/checkout/{sim.checkout_token}/card/", CARD_OK)
    payment.refresh_from_db()
    order.refresh_from_db()
    service.refresh_from_db()
    assert payment.status == PaymentStatus.APPROVED and order.state == "paid"
    assert payment.gateway_order_id == str(sim.payu_order_id)
    invoice = billing_selectors.order_invoice(order)
    assert invoice is not None and invoice.is_validated
    return payment, order, service, invoice


def resolve_at_payu(captured, *, approve: bool = True) -> SandboxPayURefund:
    sim_refund = SandboxPayURefund.objects.get()
    with captured(execute=True):
        payu_refunds.resolve_refund(sim_refund, approve=approve)
    return sim_refund


def balance_is_sum_of_movements(customer) -> bool:
    account = billing_selectors.account_summary(customer)
    total = sum((e.amount for e in LedgerEntry.objects.filter(customer=customer)), Decimal(0))
    return account.balance == total == account.due - account.credit


def test_a_whole_refund_through_payu_is_reviewed_then_confirmed_and_annuls_the_invoice(
    network, django_capture_on_commit_callbacks, english
):
    captured = django_capture_on_commit_callbacks
    payment, order, service, invoice = pay_with_payu(captured)
    staff = make_staff()
    balance_before = billing_selectors.account_summary(payment.customer).balance
    due_before = service.next_due_date
    with captured(execute=True):
        refund = services.refund_payment(
            payment=payment,
            amount=Decimal("119000.00"),
            method="gateway",
            reason="Customer cancelled within the trial",
            services_action="terminate",
            actor=staff,
        )
    refund.refresh_from_db()
    # PayU accepted the request; its review decides. Nothing is written on the account yet.
    assert refund.state == RefundState.PENDING and refund.gateway_refund_id
    assert refund.attempts == 1
    sim_refund = SandboxPayURefund.objects.get()
    assert str(sim_refund.refund_id) == refund.gateway_refund_id
    assert sim_refund.kind == "REFUND" and sim_refund.value == Decimal("119000")
    assert not LedgerEntry.objects.filter(kind=LedgerKind.CREDIT_NOTE).exists()
    assert not Invoice.objects.filter(kind=DocumentKind.CREDIT_NOTE).exists()

    resolve_at_payu(captured)  # PayU approves and sends the refund's confirmation

    refund.refresh_from_db()
    payment.refresh_from_db()
    order.refresh_from_db()
    service.refresh_from_db()
    assert refund.state == RefundState.COMPLETED
    # The refund's confirmation never touched the payment or its order.
    assert payment.status == PaymentStatus.APPROVED and order.state == "paid"
    assert payment.refund_status == RefundStatus.REFUNDED
    message = payment.messages.filter(transaction_id=refund.gateway_refund_id).get()
    assert message.result == "refunded"
    # Whole order refunded: DIAN concept 2 (annulment), the whole invoice.
    line = RefundLine.objects.get(refund=refund)
    note = line.credit_note
    assert note is not None and note.kind == DocumentKind.CREDIT_NOTE
    assert note.concept == "2" and note.reference == invoice
    assert invoice_balance(invoice) == Decimal("0.00")
    # The ledger: the credit note and the money returned, on the order; balance unchanged.
    kinds = dict(
        LedgerEntry.objects.filter(
            order=order, kind__in=["credit_note", "payment_refunded"]
        ).values_list("kind", "amount")
    )
    assert kinds == {"credit_note": Decimal("-119000.00"), "payment_refunded": Decimal("119000.00")}
    assert billing_selectors.account_summary(payment.customer).balance == balance_before
    assert balance_is_sum_of_movements(payment.customer)
    assert billing_selectors.order_balance_due(order) == Decimal("0.00")
    # Services terminated as staff chose, with the history event and the provisioning event.
    assert service.status == "terminated" and service.next_due_date == due_before
    assert ServiceEvent.objects.filter(service=service, kind="terminated").exists()
    assert AuditEvent.objects.filter(action="payment.refund_completed").exists()
    assert AuditEvent.objects.filter(action="payment.refund_requested", actor=staff).exists()
    email = OutgoingEmail.objects.filter(template="refund_issued").get()
    assert email.to_email == payment.customer.user.email
    assert "119.000" in email.subject and str(note.full_number) in email.body_text
    # A second copy of the confirmation changes nothing.
    assert Refund.objects.get().state == RefundState.COMPLETED
    assert LedgerEntry.objects.filter(kind="payment_refunded").count() == 1


def test_a_partial_refund_found_by_the_sweep_shortens_the_service_in_proportion(
    network, django_capture_on_commit_callbacks, settings, english
):
    captured = django_capture_on_commit_callbacks
    payment, order, service, invoice = pay_with_payu(captured)
    due = service.next_due_date
    item = order.items.get()
    days = (item.period_end - item.period_start).days
    # The confirmation URL is lost: the refund is learnt from PayU's Queries API by the sweep.
    SandboxPayUOrder.objects.update(confirmation_url="")
    with captured(execute=True):
        refund = services.refund_payment(
            payment=payment,
            amount=Decimal("59500.00"),
            method="gateway",
            reason="Half a month of downtime",
            services_action="shorten",
        )
    resolve_at_payu(captured)
    refund.refresh_from_db()
    assert refund.state == RefundState.PENDING
    with captured(execute=True):
        services.sweep_refunds(now=timezone.now() + dt.timedelta(minutes=11))
    refund.refresh_from_db()
    service.refresh_from_db()
    assert refund.state == RefundState.COMPLETED
    note = RefundLine.objects.get(refund=refund).credit_note
    assert note is not None
    # Part of the order: DIAN concept 1 (partial), as close to the amount as cents allow.
    assert note.concept == "1"
    assert Decimal("59499.90") <= note.total <= Decimal("59500.00")
    assert invoice_balance(invoice) == Decimal("119000.00") - note.total
    # Half of the period paid back: the due date moves back by half of its days.
    assert service.next_due_date == due - dt.timedelta(days=round(days / 2))
    assert service.status == "active"
    assert ServiceEvent.objects.filter(service=service, kind="due_date_changed").exists()
    payment.refresh_from_db()
    assert payment.refund_status == RefundStatus.NONE  # half is still the customer's payment
    assert services.refundable(payment) == Decimal("59500.00")
    assert balance_is_sum_of_movements(payment.customer)


def test_a_refund_declined_by_payu_writes_nothing_on_the_account(
    network, django_capture_on_commit_callbacks, english
):
    captured = django_capture_on_commit_callbacks
    payment, _order, _service, _invoice = pay_with_payu(captured)
    entries = LedgerEntry.objects.count()
    with captured(execute=True):
        refund = services.refund_payment(
            payment=payment, amount=Decimal("50.00"), method="gateway", reason="Rounding"
        )
    refund.refresh_from_db()
    # Colombia: PayU refunds at least 100 COP; the refusal comes back at once.
    assert refund.state == RefundState.DECLINED
    assert "100" in refund.gateway_message
    assert LedgerEntry.objects.count() == entries
    assert not RefundLine.objects.filter(credit_note__isnull=False).exists()
    assert not OutgoingEmail.objects.filter(template="refund_issued").exists()
    payment.refresh_from_db()
    assert payment.refund_status == RefundStatus.NONE and services.refundable(payment) == Decimal(
        "119000.00"
    )


def test_an_unknown_answer_is_looked_up_at_the_gateway_before_sending_again(
    network, django_capture_on_commit_callbacks, english
):
    captured = django_capture_on_commit_callbacks
    payment, _order, _service, _invoice = pay_with_payu(captured)
    entries = LedgerEntry.objects.count()
    network.down = True
    with captured(execute=True):
        refund = services.refund_payment(
            payment=payment, amount=Decimal("119000.00"), method="gateway", reason="Duplicate"
        )
    refund.refresh_from_db()
    assert refund.state == RefundState.SENT
    # Our words for what went wrong, in the reader's language; never the exception's text.
    assert refund.gateway_message == ""
    assert (refund.note_code, refund.note_values) == ("refund_unknown", {"failure": "unreachable"})
    with translation.override("en"):
        assert refund.note_text == (
            "the gateway could not be reached: whether the refund reached it is not known (it "
            "is asked before the refund is sent again)"
        )
    with translation.override("es"):
        assert refund.note_text.startswith("no se pudo contactar la pasarela: no se sabe si")
    assert LedgerEntry.objects.count() == entries and not SandboxPayURefund.objects.exists()
    # Within the lease nothing is sent twice.
    network.down = False
    services.sweep_refunds()
    assert not SandboxPayURefund.objects.exists()
    # Past the lease: the Queries API lists no refund, so it is sent again, once.
    with captured(execute=True):
        services.sweep_refunds(now=timezone.now() + dt.timedelta(minutes=3))
    refund.refresh_from_db()
    assert refund.state == RefundState.PENDING and refund.attempts == 2
    assert SandboxPayURefund.objects.count() == 1
    assert refund.note_code == "" and refund.gateway_message  # PayU's words now, ours gone


def test_a_request_that_reached_payu_but_whose_answer_was_lost_is_adopted_not_repeated(
    network, django_capture_on_commit_callbacks, english
):
    captured = django_capture_on_commit_callbacks
    payment, _order, _service, _invoice = pay_with_payu(captured)
    real_send = Router.__call__

    def answer_lost(self, method, url, body, headers, timeout=None):
        response = real_send(self, method, url, body, headers, timeout)
        if "payments-api" in url:
            raise HttpError("read timed out")  # PayU recorded it; we never saw the answer
        return response

    with mock.patch.object(Router, "__call__", answer_lost), captured(execute=True):
        refund = services.refund_payment(
            payment=payment, amount=Decimal("119000.00"), method="gateway", reason="Dup"
        )
    refund.refresh_from_db()
    assert refund.state == RefundState.SENT and not refund.gateway_refund_id
    with captured(execute=True):
        services.sweep_refunds(now=timezone.now() + dt.timedelta(minutes=3))
    refund.refresh_from_db()
    sim_refund = SandboxPayURefund.objects.get()  # still one request at PayU
    assert refund.state == RefundState.PENDING
    assert refund.gateway_refund_id == str(sim_refund.refund_id)


def test_over_refund_and_bad_input_are_refused_with_a_clear_message(
    network, django_capture_on_commit_callbacks, english
):
    captured = django_capture_on_commit_callbacks
    payment, _order, _service, _invoice = pay_with_payu(captured)
    translation.activate("en")  # the simulator's pages left Spanish active
    with pytest.raises(services.RefundRefused, match=r"At most \$ 119\.000 "):
        services.refund_payment(
            payment=payment, amount=Decimal("119000.01"), method="manual",
            bank_reference="T-1", reason="x",
        )  # fmt: skip
    with pytest.raises(services.RefundRefused, match="bank transfer's reference"):
        services.refund_payment(
            payment=payment, amount=Decimal("1000"), method="manual", reason="x"
        )
    with pytest.raises(services.RefundRefused, match="greater than zero"):
        services.refund_payment(
            payment=payment, amount=Decimal("-5"), method="manual", bank_reference="T", reason="x"
        )
    with pytest.raises(services.RefundRefused, match="Say why"):
        services.refund_payment(
            payment=payment, amount=Decimal("5"), method="manual", bank_reference="T", reason=" "
        )
    assert not Refund.objects.exists()
    with captured(execute=True):
        services.refund_payment(
            payment=payment, amount=Decimal("100000"), method="manual",
            bank_reference="Bancolombia 4455", reason="Price agreed",
        )  # fmt: skip
    with pytest.raises(services.RefundRefused, match=r"At most \$ 19\.000 "):
        services.refund_payment(
            payment=payment, amount=Decimal("20000"), method="manual",
            bank_reference="T-2", reason="again",
        )  # fmt: skip
    assert Refund.objects.count() == 1


def test_a_manual_refund_is_completed_at_once_with_its_bank_reference(
    network, django_capture_on_commit_callbacks, english
):
    captured = django_capture_on_commit_callbacks
    payment, order, service, _invoice = pay_with_payu(captured)
    due = service.next_due_date
    with captured(execute=True):
        refund = services.refund_payment(
            payment=payment,
            amount=Decimal("119000"),
            method="manual",
            bank_reference="Transferencia Bancolombia 998877",
            reason="Refunded in PayU's back office",
        )
    refund.refresh_from_db()
    assert refund.state == RefundState.COMPLETED and not SandboxPayURefund.objects.exists()
    service.refresh_from_db()
    assert service.next_due_date == due and service.status == "active"  # "leave as they are"
    payment.refresh_from_db()
    assert payment.refund_status == RefundStatus.REFUNDED
    assert "998877" in payment.refund_note
    note = RefundLine.objects.get().credit_note
    assert note is not None and note.concept == "2"
    email = OutgoingEmail.objects.get(template="refund_issued")
    assert "998877" in email.body_text
    # The customer sees the refund on the order's page and the credit note under Invoices.
    customer = Client()
    customer.force_login(
        payment.customer.user, backend="clientarea.accounts.backends.EmailAccessCodeBackend"
    )
    page = customer.get(reverse("billing:order", kwargs={"number": order.number})).content.decode()
    assert "Pago reembolsado" in page and "Nota crédito por reembolso" in page
    assert str(note.full_number) in page
    invoices = customer.get(reverse("einvoice:list")).content.decode()
    assert str(note.full_number) in invoices


def test_the_refund_issued_email_is_written_in_spanish_and_in_english():
    from types import SimpleNamespace

    customer = SimpleNamespace(display_name="Alice Gómez")
    context = {
        "customer": customer,
        "amount": Decimal("59500.00"),
        "reference": "ODS-000001-1",
        "gateway": "PayU Latam",
        "through_gateway": True,
        "bank_reference": "",
        "from_credit": Decimal("0"),
        "orders": ["ODS-000001"],
        "notes": ["NC7"],
        "notes_pending": False,
        "services_action": "shorten",
        "billing_url": "http://testserver/clientarea/billing/",
    }
    subject, text, html = render_email(template="refund_issued", context=context, language="es-co")
    assert subject == "Reembolso realizado: $ 59.500"
    assert "Reembolsamos $ 59.500 de su pago ODS-000001-1" in text
    assert "NC7" in text and "Facturas" in text and "acortó" in html
    subject, text, _html = render_email(template="refund_issued", context=context, language="en")
    assert subject.startswith("Refund issued") and "We refunded" in text and "NC7" in text


def test_staff_refund_from_the_payment_page(network, django_capture_on_commit_callbacks, client):
    captured = django_capture_on_commit_callbacks
    payment, _order, _service, _invoice = pay_with_payu(captured)
    client.force_login(make_staff())
    url = reverse("admin:payments_payment_refund", args=[payment.pk])
    page = client.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    assert url in page.content.decode()
    form = client.get(url)
    assert form.status_code == 200 and "119.000" in form.content.decode()
    assert dangling_references(html.fromstring(form.content)) == []  # help texts tied to fields
    # Bad input: the form says why, nothing is written.
    response = client.post(
        url,
        {"amount": "500000", "method": "manual", "bank_reference": "T-1", "reason": "x",
         "services_action": "keep"},
    )  # fmt: skip
    assert response.status_code == 200 and not Refund.objects.exists()
    with captured(execute=True):
        response = client.post(
            url,
            {"amount": "19000", "method": "manual", "bank_reference": "T-1",
             "reason": "Descuento acordado", "services_action": "keep"},
        )  # fmt: skip
    assert response.status_code == 302
    assert Refund.objects.get().state == RefundState.COMPLETED
    assert client.get(reverse("admin:payments_refund_changelist")).status_code == 200


def test_a_staff_member_without_the_refund_permission_cannot_refund(
    network, django_capture_on_commit_callbacks, client
):
    from django.contrib.auth.models import Group

    from clientarea.accounts.models import User

    payment, _order, _service, _invoice = pay_with_payu(django_capture_on_commit_callbacks)
    support = User.objects.create_user(email="sam@conexcol.example", password="x", full_name="Sam")
    support.is_staff = True
    support.save()
    support.groups.add(Group.objects.get(name="support"))
    client.force_login(support)
    url = reverse("admin:payments_payment_refund", args=[payment.pk])
    assert client.post(url, {"amount": "1000"}).status_code == 403
    billing = User.objects.create_user(email="bea@conexcol.example", password="x", full_name="Bea")
    billing.is_staff = True
    billing.save()
    billing.groups.add(Group.objects.get(name="billing"))
    client.force_login(billing)
    assert client.get(url).status_code == 200
    assert not Refund.objects.exists()


def test_a_refund_nobody_asked_for_is_flagged_never_unpaid(
    network, django_capture_on_commit_callbacks
):
    """Refunded in PayU's own panel, say: its confirmation arrives; the payment is flagged."""
    captured = django_capture_on_commit_callbacks
    payment, order, _service, _invoice = pay_with_payu(captured)
    sim = SandboxPayUOrder.objects.get()
    parent = sim.transactions.get()
    sim_refund = payu_refunds.request_refund(
        order_id=sim.payu_order_id,
        parent_transaction_id=str(parent.transaction_id),
        kind="REFUND",
        reason="panel",
    )
    with captured(execute=True):
        payu_refunds.resolve_refund(sim_refund, approve=True)
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.APPROVED and order.state == "paid"
    assert payment.needs_review and "not requested here" in payment.review_reason
    assert not Refund.objects.exists()
    assert Payment.objects.filter(duplicate=True).count() == 0  # never a "second charge"


def test_a_refund_after_a_staff_credit_note_posts_only_its_own_movements(
    network, django_capture_on_commit_callbacks, english
):
    """A staff credit note made part of the payment the customer's credit; a manual refund of
    the rest returns money through the bank and posts only its note and the money returned: the
    account keeps the note's credit, nothing more, nothing less."""
    from clientarea.billing import credit_notes

    captured = django_capture_on_commit_callbacks
    payment, order, _service, invoice = pay_with_payu(captured)
    with captured(execute=True):
        staff_note, _entry = credit_notes.issue_credit_note(
            invoice=invoice, concept="1", reason="Parte del servicio", lines={1: Decimal("20000")}
        )
    assert staff_note.total == Decimal("23800.00")
    before = [e.pk for e in LedgerEntry.objects.filter(customer=payment.customer)]
    with captured(execute=True):
        services.refund_payment(
            payment=payment,
            amount=Decimal("95200"),
            method="manual",
            bank_reference="Transferencia 123",
            reason="Devolución del resto",
        )
    new = LedgerEntry.objects.filter(customer=payment.customer).exclude(pk__in=before)
    assert sorted((e.kind, e.amount, e.order_id) for e in new) == sorted(
        [
            (LedgerKind.CREDIT_NOTE, Decimal("-95200.00"), order.pk),
            (LedgerKind.PAYMENT_REFUNDED, Decimal("95200.00"), order.pk),
        ]
    )
    account = billing_selectors.account_summary(payment.customer)
    assert account.credit == Decimal("23800.00") and account.balance == Decimal("-23800.00")
    assert balance_is_sum_of_movements(payment.customer)
    refund_note = RefundLine.objects.get().credit_note
    assert refund_note is not None and invoice_balance(invoice) == 0
    assert credit_notes.credit_note_email_context(refund_note) == {}
    assert credit_notes.credit_note_email_context(staff_note)["note_credited"] is True
