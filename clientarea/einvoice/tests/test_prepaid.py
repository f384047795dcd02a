"""An order paid in part or wholly with account credit: the invoice carries cac:PrepaidPayment
and LegalMonetaryTotal/PrepaidAmount, PayableAmount (and with it the CUFE's ValTot) is what is
left, and the PDF shows the prepayment. DIAN's simulator accepts it (its rule FAU14)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone
from lxml import etree

from clientarea.billing import ledger
from clientarea.billing import services as billing
from clientarea.billing.models import Order, OrderState
from clientarea.einvoice import cufe, qr, ubl, validation
from clientarea.einvoice.demo import DIAN_TEST_TECHNICAL_KEY
from clientarea.einvoice.documents import Prepayment
from clientarea.einvoice.models import Invoice, InvoiceStatus, NumberingResolution
from clientarea.einvoice.pdf import render_invoice_pdf
from clientarea.einvoice.services import issue_credit_note, issue_waiting_invoices
from clientarea.einvoice.tests import factories
from clientarea.test import make_customer, make_provider

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
SIMULATOR = "clientarea.einvoice.sandbox"
PDFTOTEXT = shutil.which("pdftotext")


def make_resolution(**overrides) -> NumberingResolution:
    data = dict(
        number="18760000001", prefix="SETP", range_from=990000000, range_to=995000000,
        next_number=990000000, valid_from=dt.date(2019, 1, 19), valid_to=dt.date(2030, 1, 19),
        technical_key=DIAN_TEST_TECHNICAL_KEY, environment="2",
    )  # fmt: skip
    data.update(overrides)
    return NumberingResolution.objects.create(**data)


def order_for(customer, price: str = "100000") -> Order:
    # 100.000 + IVA 19 % = 119.000
    return billing.create_manual_order(
        customer=customer, description="Migración de sitio", unit_price=Decimal(price), notify=False
    )


def give_credit(customer, amount: str) -> None:
    ledger.record_payment(
        customer_id=customer.pk, amount=Decimal(amount), reference="transfer-1", via="manual",
        method="transfer", notify=False,
    )  # fmt: skip


def totals(xml: bytes) -> dict[str, str]:
    root = etree.fromstring(xml)
    total = root.find("cac:LegalMonetaryTotal", NS)
    return {etree.QName(child).localname: child.text for child in total}


def prepaid_payments(xml: bytes) -> list[dict[str, str]]:
    root = etree.fromstring(xml)
    return [
        {etree.QName(child).localname: child.text for child in node}
        for node in root.findall("cac:PrepaidPayment", NS)
    ]


@pytest.mark.django_db
def test_credit_covering_part_of_an_order_is_a_prepayment_on_its_invoice(
    settings, django_capture_on_commit_callbacks
):
    settings.BILLING_AUTO_APPLY_CREDIT = False
    make_provider()
    make_resolution()
    customer = make_customer()
    give_credit(customer, "30000")
    order = order_for(customer)
    assert order.total == Decimal("119000.00")
    ledger.apply_credit(customer_id=customer.pk, order_ids=[order.pk])
    with django_capture_on_commit_callbacks(execute=True):
        ledger.record_payment(
            customer_id=customer.pk, amount=Decimal("89000"),
            allocations=[ledger.Allocation(order_id=order.pk)], reference="payu:tx-1",
            via="payu", method="card", notify=False,
        )  # fmt: skip
    order.refresh_from_db()
    assert order.state == OrderState.PAID
    invoice = Invoice.objects.get(order=order)
    signed = bytes(invoice.xml_signed)
    assert validation.validate_invoice(signed) == []
    assert totals(signed) == {
        "LineExtensionAmount": "100000.00",
        "TaxExclusiveAmount": "100000.00",
        "TaxInclusiveAmount": "119000.00",
        "PrepaidAmount": "30000.00",
        "PayableAmount": "89000.00",  # what the gateway charged
    }
    (prepaid,) = prepaid_payments(signed)
    today = timezone.localdate().isoformat()
    assert prepaid["PaidAmount"] == "30000.00" and prepaid["ReceivedDate"] == today
    assert prepaid["ID"].startswith("ANT-")
    # The CUFE hashes PayableAmount as written (after the prepayment), and the one fixed at
    # payment is what the document's own fields give.
    fields = cufe.cufe_fields_from_xml(etree.fromstring(signed))
    assert fields.val_tot == "89000.00"
    assert cufe.cufe_from_xml(signed, DIAN_TEST_TECHNICAL_KEY) == invoice.cufe
    assert invoice.total == Decimal("119000.00")  # the sale's value stays the order's total


@pytest.mark.django_db
def test_an_order_paid_wholly_with_credit_has_nothing_left_to_pay(
    settings, django_capture_on_commit_callbacks
):
    settings.BILLING_AUTO_APPLY_CREDIT = True
    make_provider()
    make_resolution()
    customer = make_customer()
    give_credit(customer, "200000")
    with django_capture_on_commit_callbacks(execute=True):
        order = order_for(customer)  # credit pays it at once
    order.refresh_from_db()
    assert order.state == OrderState.PAID
    signed = bytes(Invoice.objects.get(order=order).xml_signed)
    assert totals(signed)["PrepaidAmount"] == "119000.00"
    assert totals(signed)["PayableAmount"] == "0.00"
    assert [p["PaidAmount"] for p in prepaid_payments(signed)] == ["119000.00"]


@pytest.mark.django_db
def test_an_order_paid_without_credit_has_no_prepayment(django_capture_on_commit_callbacks):
    make_provider()
    make_resolution()
    customer = make_customer()
    order = order_for(customer)
    with django_capture_on_commit_callbacks(execute=True):
        billing.mark_order_paid(
            order_id=order.pk, paid_at=timezone.now(), via="payu", method="card", reference="t"
        )
    signed = bytes(Invoice.objects.get(order=order).xml_signed)
    assert prepaid_payments(signed) == []
    assert "PrepaidAmount" not in totals(signed)
    assert totals(signed)["PayableAmount"] == "119000.00"


@pytest.mark.django_db
def test_a_waiting_invoice_keeps_its_prepayments_until_issued(
    settings, django_capture_on_commit_callbacks
):
    settings.BILLING_AUTO_APPLY_CREDIT = False
    make_provider()
    customer = make_customer()
    give_credit(customer, "19000")
    order = order_for(customer)
    ledger.apply_credit(customer_id=customer.pk, order_ids=[order.pk])
    ledger.record_payment(
        customer_id=customer.pk, amount=Decimal("100000"),
        allocations=[ledger.Allocation(order_id=order.pk)], reference="payu:tx-2", via="payu",
        method="card", notify=False,
    )  # fmt: skip
    invoice = Invoice.objects.get(order=order)
    assert invoice.status == InvoiceStatus.WAITING  # no numbering resolution yet
    assert [p["amount"] for p in invoice.prepayments] == ["19000.00"]
    make_resolution()
    with django_capture_on_commit_callbacks(execute=True):
        assert issue_waiting_invoices()["issued"] == 1
    invoice.refresh_from_db()
    assert totals(bytes(invoice.xml_signed))["PrepaidAmount"] == "19000.00"
    assert totals(bytes(invoice.xml_signed))["PayableAmount"] == "100000.00"


@pytest.mark.django_db
def test_a_credit_note_on_a_prepaid_invoice_carries_no_prepayment(
    settings, django_capture_on_commit_callbacks
):
    settings.BILLING_AUTO_APPLY_CREDIT = True
    make_provider()
    make_resolution()
    customer = make_customer()
    give_credit(customer, "119000")
    with django_capture_on_commit_callbacks(execute=True):
        order = order_for(customer)
    invoice = Invoice.objects.get(order=order)
    with django_capture_on_commit_callbacks(execute=True):
        note = issue_credit_note(
            invoice=invoice, concept="1", reason="Servicio no prestado", amount=Decimal("10000")
        )
    note.refresh_from_db()
    signed = bytes(note.xml_signed)
    assert prepaid_payments(signed) == []
    assert totals(signed)["PayableAmount"] == "11900.00"


def test_the_document_refuses_a_prepayment_larger_than_the_invoice():
    doc = factories.invoice()
    too_much = Prepayment(id="ANT-1", amount=doc.document_total + 1, received=doc.issue_date)
    with pytest.raises(ValueError, match="prepaid amount is larger"):
        factories.invoice(prepayments=(too_much,))
    with pytest.raises(ValueError, match="positive"):
        Prepayment(id="ANT-1", amount=Decimal("0"), received=doc.issue_date)


def test_prepayments_survive_the_document_snapshot():
    from clientarea.einvoice import builder

    doc = factories.invoice(
        prepayments=(
            Prepayment(id="ANT-7", amount=Decimal("1000.00"), received=dt.date(2026, 1, 2)),
        )
    )
    again = builder.document_from_json(builder.document_to_json(doc))
    assert again == doc and again.payable_amount == doc.document_total - Decimal("1000.00")
    assert ubl.expected_cufe(again) == ubl.invoice_cufe(ubl.build_invoice_xml(doc))


@pytest.mark.skipif(PDFTOTEXT is None, reason="pdftotext (poppler-utils) not installed")
@pytest.mark.parametrize(
    ("language", "words"),
    [
        # A long label wraps beside its amount (the amount itself never wraps).
        ("es", ["Total de la factura", "Anticipo: saldo a favor aplicado ANT-7", "(02/01/2026)"]),
        ("en", ["Invoice total", "Prepaid: account credit applied ANT-7", "(2026-01-02)"]),
    ],
)
def test_the_pdf_shows_the_prepayment_and_what_was_left_to_pay(tmp_path, language, words):
    doc = factories.invoice(
        prepayments=(
            Prepayment(id="ANT-7", amount=Decimal("1000.00"), received=dt.date(2026, 1, 2)),
        )
    )
    key = ubl.invoice_cufe(ubl.build_invoice_xml(doc))
    pdf = render_invoice_pdf(doc, key, qr.qr_text(doc, key), language=language)
    path = tmp_path / "invoice.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        [str(PDFTOTEXT), "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    text = " ".join(text.split())
    for word in words:
        assert word in text
    payable = doc.document_total - Decimal("1000.00")
    whole, cents = f"{payable:.2f}".split(".")
    assert f"{int(whole):,}".replace(",", ".") + "," + cents in text


@pytest.mark.skipif(not apps.is_installed(SIMULATOR), reason="the DIAN simulator is off")
@pytest.mark.django_db(transaction=True)
def test_dian_accepts_an_invoice_paid_partly_with_credit(
    live_server, settings, django_capture_on_commit_callbacks
):
    call_command("dian_sandbox_seed")
    settings.EINVOICE_TRANSMITTER = "clientarea.einvoice.dian.transmitter.DianTransmitter"
    settings.DIAN_SANDBOX = True
    settings.DIAN_WS_URL = ""
    settings.DIAN_WS_TIMEOUT = 10
    settings.SITE_URL = live_server.url
    settings.BILLING_AUTO_APPLY_CREDIT = False
    make_provider()
    make_resolution()
    customer = make_customer()
    give_credit(customer, "45000")
    order = order_for(customer)
    ledger.apply_credit(customer_id=customer.pk, order_ids=[order.pk])
    with django_capture_on_commit_callbacks(execute=True):
        ledger.record_payment(
            customer_id=customer.pk, amount=Decimal("74000"),
            allocations=[ledger.Allocation(order_id=order.pk)], reference="payu:tx-3",
            via="payu", method="card", notify=False,
        )  # fmt: skip
    invoice = Invoice.objects.get(order=order)
    attempt = invoice.transmissions.last()
    assert attempt is not None
    assert invoice.status == InvoiceStatus.ACCEPTED, (attempt.message, attempt.rule_messages)
    assert totals(bytes(invoice.xml_signed))["PayableAmount"] == "74000.00"


@pytest.mark.skipif(PDFTOTEXT is None, reason="pdftotext (poppler-utils) not installed")
def test_the_prepayment_amount_stays_on_its_line(tmp_path):
    """A long prepayment label squeezed its amount: "-$" on one line, "95.200,00" on the next."""
    doc = factories.invoice()
    amount = (doc.document_total * Decimal("0.8")).quantize(Decimal("1.00"))
    doc = factories.invoice(
        prepayments=(Prepayment(id="ANT-35", amount=amount, received=dt.date(2026, 12, 4)),)
    )
    key = ubl.invoice_cufe(ubl.build_invoice_xml(doc))
    pdf = render_invoice_pdf(doc, key, qr.qr_text(doc, key), language="es")
    path = tmp_path / "invoice.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        [str(PDFTOTEXT), "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    [line] = [line for line in text.splitlines() if "ANT-35" in line]
    whole, cents = f"{amount:.2f}".split(".")
    assert "-$ " + f"{int(whole):,}".replace(",", ".") + "," + cents in line, line
